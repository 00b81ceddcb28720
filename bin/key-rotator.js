#!/usr/bin/env node
// The `key-rotator` command: runs the CLI's build (dist/cli/main.js, made by `npm run build`, which `npm ci` runs
// through `prepare`). Without a build (npm ci --ignore-scripts), it runs the TypeScript source through tsx instead,
// which works the same but starts slower, and says so.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write(
    'key-rotator: note: no build in dist/ (npm run build makes it); running the TypeScript source through tsx, which starts slower\n',
  );
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
