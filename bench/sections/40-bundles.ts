/**
 * Each Lambda handler bundled with serverless.yml's own esbuild settings (custom.esbuild, read from the file),
 * beside a baseline bundle built the same way that imports only the same AWS SDK clients (the client classes of
 * every @aws-sdk/client-* package the handler's bundle holds) and @middy/core. Both as bytes and as the CPU time
 * (user + system, process.cpuUsage) of importing them cold: a fresh `node` process per import, median of several,
 * handler and baseline alternating. The handler is also imported with NODE_OPTIONS=--enable-source-maps, which the
 * sourceMaps stage parameter turns on.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { parse } from 'yaml';
import { type BenchSection, median, ratio } from '../section';

/** Issue 12's target: each handler within this factor of its baseline, in bytes and in import CPU. */
const TARGET = 1.15;

interface SlsEsbuild {
  minify?: boolean;
  keepNames?: boolean;
  sourcemap?: boolean;
  mainFields?: string[];
  target?: string;
  platform?: 'node';
  format?: 'esm';
  banner?: { js: string };
  alias?: Record<string, string>;
}

/** serverless.yml's custom.esbuild, as serverless-esbuild hands it to esbuild. */
function slsSettings(): BuildOptions {
  const yml = parse(readFileSync('serverless.yml', 'utf8'), { logLevel: 'error' }) as {
    custom: { esbuild: SlsEsbuild };
  };
  const e = yml.custom.esbuild;
  return {
    bundle: true,
    platform: e.platform ?? 'node',
    format: e.format ?? 'esm',
    ...(e.target ? { target: e.target } : {}),
    ...(e.minify !== undefined ? { minify: e.minify } : {}),
    ...(e.keepNames !== undefined ? { keepNames: e.keepNames } : {}),
    ...(e.sourcemap !== undefined ? { sourcemap: e.sourcemap } : {}),
    ...(e.mainFields ? { mainFields: e.mainFields } : {}),
    ...(e.banner ? { banner: e.banner } : {}),
    ...(e.alias
      ? { alias: Object.fromEntries(Object.entries(e.alias).map(([k, v]) => [k, resolve(v)])) }
      : {}),
    metafile: true,
    logLevel: 'silent',
  };
}

/** The @aws-sdk/client-* packages a bundle holds, by their client class name (`IAMClient`). */
function sdkClients(meta: Metafile): { pkg: string; client: string }[] {
  const pkgs = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const m = /node_modules\/(@aws-sdk\/client-[a-z0-9-]+)\//.exec(input);
    if (m?.[1]) pkgs.add(m[1]);
  }
  return [...pkgs].sort().map((pkg) => {
    const source = readFileSync(join('node_modules', pkg, 'dist-types', 'index.d.ts'), 'utf8');
    const client = /export \* from "\.\/(\w+Client)"/.exec(source)?.[1];
    if (!client) throw new Error(`bench: no client class found in ${pkg}`);
    return { pkg, client };
  });
}

/** CPU ms (user + system) of importing `file` in a fresh process. */
function importCpuMs(file: string, env: NodeJS.ProcessEnv): number {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const c0 = process.cpuUsage(); await import(${JSON.stringify(file)}); const c = process.cpuUsage(c0); console.log((c.user + c.system) / 1000);`,
    ],
    { encoding: 'utf8', env },
  );
  return Number(out.trim().split('\n').at(-1));
}

async function bundles(runs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'jkr-bench-'));
  try {
    const settings = slsSettings();
    const yml = parse(readFileSync('serverless.yml', 'utf8'), { logLevel: 'error' }) as {
      functions: Record<string, { handler: string }>;
    };
    const env = { PATH: process.env['PATH'] ?? '', KEY_ROTATOR_CONFIG: resolve('config/example.json') };
    const out = [];
    for (const [fn, { handler }] of Object.entries(yml.functions)) {
      const outfile = join(dir, `${fn}.mjs`);
      const built = await build({
        ...settings,
        entryPoints: [`${handler.replace(/\.[^.]+$/, '')}.ts`],
        outfile,
      });
      const clients = sdkClients(built.metafile ?? { inputs: {}, outputs: {} });
      const entry = join(dir, `${fn}-baseline.ts`);
      writeFileSync(
        entry,
        [
          "import middy from '@middy/core';",
          ...clients.map((c) => `import { ${c.client} } from '${c.pkg}';`),
          `export const clients = [${clients.map((c) => c.client).join(', ')}];`,
          'export const handler = middy(async () => clients.length);',
        ].join('\n'),
      );
      const baseFile = join(dir, `${fn}-baseline.mjs`);
      await build({
        ...settings,
        entryPoints: [entry],
        outfile: baseFile,
        nodePaths: [resolve('node_modules')],
      });
      const cpu = { handler: [] as number[], sourceMaps: [] as number[], baseline: [] as number[] };
      // At least 9: a single import is a few tens of ms, and the machine is shared.
      for (let i = 0; i < Math.max(runs, 9); i++) {
        cpu.baseline.push(importCpuMs(baseFile, env));
        cpu.handler.push(importCpuMs(outfile, env));
        cpu.sourceMaps.push(importCpuMs(outfile, { ...env, NODE_OPTIONS: '--enable-source-maps' }));
      }
      const m = (xs: number[]) => Math.round(median(xs) * 10) / 10;
      out.push({
        fn,
        clients: clients.map((c) => c.pkg.replace('@aws-sdk/client-', '')),
        bytes: statSync(outfile).size,
        baselineBytes: statSync(baseFile).size,
        mapBytes: statSync(`${outfile}.map`).size,
        importCpuMs: m(cpu.handler),
        baselineImportCpuMs: m(cpu.baseline),
        sourceMapsImportCpuMs: m(cpu.sourceMaps),
      });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const section: BenchSection = {
  name: 'bundles',
  title: 'Lambda handler bundles and cold import, against a bundle of the same AWS SDK clients + @middy/core',
  async run(ctx) {
    const result = await bundles(ctx.runs);
    const kib = (b: number) => `${Math.round(b / 1024)} KiB`;
    const ms = (x: number) => `${x.toFixed(1)} ms`;
    const ok = (x: number, base: number) => (x / base <= TARGET ? 'met' : 'missed');
    const lines = [
      `${'handler'.padEnd(10)} ${'bundle'.padStart(9)} ${'baseline'.padStart(9)} ${'ratio'.padStart(6)} ${'import CPU'.padStart(11)} ${'baseline'.padStart(9)} ${'ratio'.padStart(6)} ${'with maps'.padStart(10)}`,
      ...result.map(
        (b) =>
          `${b.fn.padEnd(10)} ${kib(b.bytes).padStart(9)} ${kib(b.baselineBytes).padStart(9)} ${ratio(b.bytes, b.baselineBytes).padStart(6)} ${ms(b.importCpuMs).padStart(11)} ${ms(b.baselineImportCpuMs).padStart(9)} ${ratio(b.importCpuMs, b.baselineImportCpuMs).padStart(6)} ${ms(b.sourceMapsImportCpuMs).padStart(10)}`,
      ),
      `target <= ${TARGET}x: size ${result.map((b) => `${b.fn} ${ok(b.bytes, b.baselineBytes)}`).join(', ')}; import CPU ${result.map((b) => `${b.fn} ${ok(b.importCpuMs, b.baselineImportCpuMs)}`).join(', ')}`,
      `"with maps": the handler's import under NODE_OPTIONS=--enable-source-maps (stage parameter sourceMaps=true); baselines import only the SDK clients (${[...new Set(result.flatMap((b) => b.clients))].join(', ')})`,
    ];
    return { lines, json: { target: TARGET, handlers: result } };
  },
};
