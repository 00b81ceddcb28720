/**
 * Bundle size of each Lambda handler, bundled as serverless.yml has serverless-esbuild do it (ESM, node22,
 * minified, ES module builds preferred), and the cold import of each: a fresh `node` process importing it, median
 * of several runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type BenchSection, median } from '../section';

async function bundles(RUNS: number) {
  const dir = mkdtempSync(join(tmpdir(), 'jkr-bench-'));
  const handlers = readdirSync('handlers').filter((f) => f.endsWith('.ts') && f !== 'runtime.ts');
  const out: { handler: string; bytes: number; coldImportMs: number }[] = [];
  for (const h of handlers) {
    const outfile = join(dir, h.replace(/\.ts$/, '.mjs'));
    await build({
      entryPoints: [join('handlers', h)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      keepNames: true,
      mainFields: ['module', 'main'],
      outfile,
      logLevel: 'silent',
      banner: {
        js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
    });
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = execFileSync(
        process.execPath,
        [
          '-e',
          `const t=performance.now();await import(${JSON.stringify(outfile)});console.log(performance.now()-t)`,
          '--input-type=module',
        ],
        { encoding: 'utf8', env: { ...process.env, KEY_ROTATOR_CONFIG: 'config/example.json' } },
      );
      times.push(Number(t.trim().split('\n').at(-1)));
    }
    out.push({
      handler: h,
      bytes: statSync(outfile).size,
      coldImportMs: Math.round(median(times) * 10) / 10,
    });
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}

export const section: BenchSection = {
  name: 'bundles',
  title: 'Lambda handler bundles and cold import',
  async run(ctx) {
    const result = await bundles(ctx.runs);
    const lines = [
      `${'handler'.padEnd(16)} ${'bundle KiB'.padStart(11)} ${'cold import ms'.padStart(15)}`,
      ...result.map(
        (b) =>
          `${b.handler.padEnd(16)} ${(b.bytes / 1024).toFixed(0).padStart(11)} ${String(b.coldImportMs).padStart(15)}`,
      ),
    ];
    return { lines, json: result };
  },
};
