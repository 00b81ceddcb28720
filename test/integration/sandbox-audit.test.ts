import { execFile } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
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

/** `key-rotator --sandbox LINE <args>`, with no AWS variable from this environment: the line says where and as whom. */
const sandboxCli = (...args: string[]) => runCli(['--sandbox', lineFile, ...args], { env: {} });

describe('audit for CI on the demo sandbox: --fail-on-stale and --format csv', () => {
  it('--format csv parses (with a CSV library) into the same rows as --json', async () => {
    const [csv, js] = await Promise.all([
      sandboxCli('audit', '--format', 'csv'),
      sandboxCli('audit', '--json'),
    ]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(js.code, js.stderr).toBe(0);
    // Nothing on stderr: in particular not the AWS SDK's Node.js notice, which the CLI turns off by itself.
    expect(csv.stderr + js.stderr).toBe('');
    const rows = parseCsv<Record<string, string>>(csv.stdout, { columns: true });
    const audit = JSON.parse(js.stdout) as {
      accountId: string;
      users: {
        userName: string;
        accountId: string;
        managedKey: string | null;
        keys: Record<string, unknown>[];
      }[];
    };
    const text = (v: unknown) =>
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
    const fromJson = audit.users.flatMap((u) =>
      u.keys.map((k) => {
        const row: Record<string, string> = {
          accountId: u.accountId,
          userName: u.userName,
          managedKey: text(u.managedKey),
        };
        for (const [name, value] of Object.entries(k)) row[name] = text(value);
        return row;
      }),
    );
    // The caller's own key (the sandbox admin's) was last used by the other of the two audits: that one date differs.
    const settled = (list: Record<string, string>[]) =>
      list.map((r) => (r['userName'] === 'localcloud-admin' ? { ...r, lastUsedDate: '(the caller)' } : r));
    expect(settled(rows)).toEqual(settled(fromJson));
    expect(rows.map((r) => r['userName']).sort()).toEqual([
      'jenkins-dev',
      'jenkins-prod',
      'localcloud-admin',
    ]);
    expect(rows.find((r) => r['userName'] === 'jenkins-prod')).toMatchObject({
      ageDays: '120',
      stale: 'true',
    });
  }, 60_000);

  it("docs/cli-in-ci.md's example as written: key-rotator --sandbox /tmp/sandbox.json plan (exit 0, changes nothing)", async () => {
    // Nothing but the sandbox line: no --rotation-lambda-arn, no ROTATION_LAMBDA_ARN; the line names the function.
    const line = JSON.parse(await readFile(lineFile, 'utf8')) as { aws: { rotationLambdaArn?: string } };
    expect(line.aws.rotationLambdaArn).toMatch(/^arn:aws:lambda:us-east-1:111122223333:function:/);
    const r = await sandboxCli('plan');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      new RegExp(
        `^rotate\\s+prod-ecr-push\\s+jenkins-prod\\s+AKIA\\w+\\s+.*setting its rotation function ${line.aws.rotationLambdaArn}`,
        'm',
      ),
    );
    expect(r.stdout).toMatch(/^skip\s+dev-ecr-push\s+jenkins-dev\s+AKIA\w+\s+not due: 10 days old/m);
    expect(r.stdout).toMatch(/^ok\s+prod-ecr-push\s+jenkins-0\s+system\s+aws-prod\s+exists; writable: /m);
    // A plan changes nothing: the audit still shows prod's old key, active and stale.
    const audit = await sandboxCli('audit', '--json');
    const prod = (JSON.parse(audit.stdout) as AuditJson).users.find((u) => u.userName === 'jenkins-prod');
    expect(prod?.keys.map((k) => k.accessKeyId)).toEqual([
      seeded.find((s) => s.iamUser === 'jenkins-prod')?.accessKeyId,
    ]);
  }, 60_000);

  it('colour only when asked for: none when piped or with NO_COLOR, even with FORCE_COLOR', async () => {
    const esc = '\u001b[';
    const run = (env: NodeJS.ProcessEnv) =>
      runCli(['--sandbox', lineFile, 'audit', '--fail-on-stale'], { env });
    const piped = await run({});
    expect(piped.code).toBe(1);
    expect(piped.stdout + piped.stderr).not.toContain(esc);
    const forced = await run({ FORCE_COLOR: '1' });
    expect(forced.stdout).toContain(`${esc}31mSTALE`);
    expect(forced.stderr.startsWith(`${esc}1m${esc}31mkey-rotator: error:`)).toBe(true);
    const no = await run({ FORCE_COLOR: '1', NO_COLOR: '1' });
    expect(no.stdout + no.stderr).not.toContain(esc);
    // The same text once the colour codes are removed.
    expect(stripVTControlCharacters(forced.stdout).split('\n').slice(2)).toEqual(
      piped.stdout.split('\n').slice(2),
    );
  }, 60_000);

  it('--fail-on-stale exits 1 naming the stale key before the rotation, 0 after it', async () => {
    const prodKey = seeded.find((s) => s.iamUser === 'jenkins-prod')?.accessKeyId ?? '';
    const before = await sandboxCli('audit', '--fail-on-stale');
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/jenkins-prod .*STALE/);
    expect(before.stderr.trim().split('\n')).toEqual([
      `key-rotator: error: 1 managed key past the rotation line (--fail-on-stale): ${prodKey} of jenkins-prod (120 days, max 90)`,
    ]);
    // Without the gate the same audit passes: staleness alone is not an error.
    expect((await sandboxCli('audit')).code).toBe(0);

    const rotated = await sandboxCli('rotate', 'jenkins-prod');
    expect(rotated.code, rotated.stderr).toBe(0);

    const gate = await sandboxCli('audit', '--fail-on-stale');
    expect(gate.code, gate.stderr).toBe(0);
    const after = await sandboxCli('audit', '--fail-on-stale', '--include-unmanaged', '--json');
    expect(after.code, after.stderr).toBe(0);
    const audit = JSON.parse(after.stdout) as { users: { keys: { stale: boolean }[] }[] };
    expect(audit.users.flatMap((u) => u.keys).some((k) => k.stale)).toBe(false);
  }, 120_000);
});
