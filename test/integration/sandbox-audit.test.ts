import { execFile } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../support/sandbox';

/** The check: `key-rotator audit --json` against `SANDBOX_SEED=demo npm run sandbox`. */

interface AuditJson {
  users: {
    userName: string;
    managed: boolean;
    managedKey?: string;
    keys: { accessKeyId: string; ageDays: number }[];
  }[];
}

let sandbox: RunningSandbox;
let dir = '';
let lineFile = '';
let seeded: { iamUser: string; accessKeyId: string }[] = [];

beforeAll(async () => {
  sandbox = await startSandbox();
  seeded = sandbox.seeded;
  dir = await mkdtemp(join(tmpdir(), 'jkr-sandbox-audit-'));
  lineFile = join(dir, 'sandbox.json');
  await writeFile(lineFile, sandbox.line);
}, 60_000);

afterAll(async () => {
  sandbox.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The configuration comes from the sandbox line, not from the environment. */
const { KEY_ROTATOR_CONFIG: _ignored, ...cliEnv } = process.env;

describe('key-rotator audit --json against the demo sandbox', () => {
  it('lists every seeded key with its age and managed flag', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['bin/key-rotator.js', '--sandbox', lineFile, 'audit', '--json'],
        { env: cliEnv },
        (err, out) => (err ? reject(new Error(err.message)) : resolve(out)),
      ),
    );
    const audit = JSON.parse(stdout) as AuditJson;
    const byUser = new Map(audit.users.map((u) => [u.userName, u]));
    expect(seeded.map((s) => s.iamUser).sort()).toEqual(['jenkins-dev', 'jenkins-prod']);
    const prod = byUser.get('jenkins-prod');
    expect(prod).toMatchObject({ managed: true, managedKey: 'prod-ecr-push' });
    expect(prod?.keys).toEqual([
      expect.objectContaining({
        accessKeyId: seeded.find((s) => s.iamUser === 'jenkins-prod')?.accessKeyId,
        ageDays: 120,
      }),
    ]);
    const dev = byUser.get('jenkins-dev');
    expect(dev).toMatchObject({ managed: true, managedKey: 'dev-ecr-push' });
    expect(dev?.keys).toEqual([
      expect.objectContaining({
        accessKeyId: seeded.find((s) => s.iamUser === 'jenkins-dev')?.accessKeyId,
        ageDays: 10,
      }),
    ]);
    expect(byUser.get('localcloud-admin')?.managed).toBe(false);
  }, 60_000);
});
