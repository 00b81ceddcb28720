import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** bin/key-rotator.js: the build when there is one (vitest's globalSetup made it), the source through tsx otherwise. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const node = (args: string[], cwd = ROOT) =>
  spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { PATH: process.env['PATH'] } });

let unbuilt = '';

beforeAll(async () => {
  // A checkout without dist/ (npm ci --ignore-scripts): the same files, linked, but no build.
  unbuilt = await mkdtemp(join(tmpdir(), 'jkr-unbuilt-'));
  await mkdir(join(unbuilt, 'bin'));
  await copyFile(join(ROOT, 'bin/key-rotator.js'), join(unbuilt, 'bin/key-rotator.js'));
  for (const entry of ['src', 'node_modules', 'config', 'package.json', 'tsconfig.json'])
    await symlink(join(ROOT, entry), join(unbuilt, entry));
});

afterAll(async () => {
  await rm(unbuilt, { recursive: true, force: true });
});

describe('the key-rotator bin', () => {
  it('runs the build in dist/cli/, silently', () => {
    const r = node(['bin/key-rotator.js', '--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(r.stderr).toBe('');
  });

  it('without a build, runs the source through tsx and says so in one line', () => {
    const r = node([join(unbuilt, 'bin/key-rotator.js'), 'audit', '--help'], unbuilt);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      'key-rotator: note: no build in dist/ (npm run build makes it); running the TypeScript source through tsx, which starts slower\n',
    );
    expect(r.stdout).toMatch(/^Usage: key-rotator audit /);
  }, 30_000);
});
