/**
 * `npm run build` (also run by `npm ci` and `npm install` through `prepare`): bundles the operator CLI
 * (src/cli/main.ts) with esbuild into dist/cli/, which bin/key-rotator.js runs, so the command starts without
 * compiling TypeScript at run time.
 *
 * - ES modules with code splitting: main.js holds the front (help, version, usage errors) and imports the rest
 *   (run.ts: the AWS SDK clients, the engine) only when a command runs; `key-rotator --help` loads a few KiB.
 * - dist/cli/ is two folders deep, as src/cli/ and src/config/ are, so the files they read relative to themselves
 *   (../../package.json, ../../config/example.json) are found from the build as from the source.
 * - Minified with names kept (readable stack traces with --verbose); linked source maps, which
 *   NODE_OPTIONS=--enable-source-maps uses to show src/ lines.
 */
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const CLI_OUT_DIR = fileURLToPath(new URL('../dist/cli/', import.meta.url));

export async function buildCli(outdir = CLI_OUT_DIR): Promise<void> {
  // Chunk names carry content hashes: clear the old ones rather than let them pile up.
  await rm(outdir, { recursive: true, force: true });
  await build({
    entryPoints: [fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))],
    outdir,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The ES module builds of the AWS SDK and friends, as the Lambda bundles use (serverless.yml).
    mainFields: ['module', 'main'],
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    // CommonJS dependencies inside an ES module bundle still call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildCli();
