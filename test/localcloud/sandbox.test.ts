import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  IAMClient,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  type ListAccessKeysCommandOutput,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../support/aws';

/**
 * The sandbox as a user runs it (`tsx scripts/sandbox.ts` in a child process) and the "done when" check
 * (scripts/sandbox-check.ts) run against it, as a second child process, with the sandbox's JSON line on stdin.
 */

const TSX = 'node_modules/.bin/tsx';
/** Upper bounds on waits for child processes; generous, so a slow machine is not a failure. */
const START_BOUND_MS = 60_000;
const CHECK_BOUND_MS = 90_000;
const EXIT_BOUND_MS = 20_000;

interface SandboxLine {
  aws: {
    endpoint: string;
    region: string;
    accountId: string;
    accessKeyId: string;
    secretAccessKey: string;
    admin: string;
    propagationDelayMs: number;
  };
  jenkins: { url: string; username: string; apiToken: string; admin: string };
}

interface StepLine {
  step: string;
  ok: boolean;
  detail: Record<string, unknown>;
}

const EXPECTED_STEPS = [
  'input',
  'create-user',
  'create-key',
  'refused-before-propagation',
  'accepted-after-propagation',
  'deactivated-refused',
  'reactivated-accepted',
  'grant-ecr',
  'policy-limits-key',
  'ecr-token',
  'registry-with-token',
  'registry-without-token',
  'done',
];

let sandbox: ChildProcess;
let sandboxStderr = '';
let line = '';
let info: SandboxLine;

/** Resolves with the exit code and signal, or undefined if the process is still running after `boundMs`. */
function exitOf(
  child: ChildProcess,
  boundMs: number,
): Promise<{ code: number | null; signal: string | null } | undefined> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), boundMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** The first line the sandbox prints on stdout; rejects if it exits first or prints nothing within the bound. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => reject(new Error(`no line from the sandbox: ${sandboxStderr}`)),
      START_BOUND_MS,
    );
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the sandbox exited (${code}) before printing its line: ${sandboxStderr}`));
    });
  });
}

/** Runs the check script with `input` on stdin (and optional args); answers its exit code and stdout lines. */
async function runCheck(input: string, args: string[] = []) {
  const child = spawn(TSX, ['scripts/sandbox-check.ts', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  child.stdin.end(input);
  const exit = await exitOf(child, CHECK_BOUND_MS);
  if (!exit) child.kill('SIGKILL');
  const steps = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as StepLine);
  return { exit, stdout, stderr, steps };
}

beforeAll(async () => {
  sandbox = spawn(TSX, ['scripts/sandbox.ts'], {
    env: {
      ...process.env,
      SANDBOX_PROPAGATION_DELAY_MS: '1500',
      SANDBOX_AWS_PORT: '',
      SANDBOX_JENKINS_PORT: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sandbox.stderr!.on('data', (c: Buffer) => (sandboxStderr += c.toString('utf8')));
  line = await firstLine(sandbox);
  info = JSON.parse(line) as SandboxLine;
}, START_BOUND_MS + 5_000);

afterAll(async () => {
  if (sandbox.exitCode === null && sandbox.signalCode === null) {
    sandbox.kill('SIGKILL');
    await exitOf(sandbox, EXIT_BOUND_MS);
  }
});

describe('npm run sandbox', () => {
  it('prints one JSON line with the endpoints and the seeded admin credentials, which work', async () => {
    expect(info.aws).toMatchObject({
      endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as unknown,
      region: 'us-east-1',
      accountId: expect.stringMatching(/^\d{12}$/) as unknown,
      accessKeyId: expect.stringMatching(/^AKIA[A-Z2-7]{16}$/) as unknown,
      secretAccessKey: expect.stringMatching(/^\S{40}$/) as unknown,
      propagationDelayMs: 1500,
    });
    expect(info.aws.admin).toBe(`${info.aws.endpoint}/_localcloud/`);
    expect(info.jenkins).toMatchObject({
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as unknown,
      username: expect.any(String) as unknown,
      apiToken: expect.stringMatching(/^\S{16,}$/) as unknown,
    });
    expect(info.jenkins.admin).toBe(`${info.jenkins.url}/_localcloud/`);

    const sts = new STSClient(clientConfig(info.aws.endpoint, info.aws, info.aws.region));
    const me = await sts.send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({
      Account: info.aws.accountId,
      Arn: expect.stringMatching(/:user\/.+/) as unknown,
    });
    sts.destroy();

    const basic = Buffer.from(`${info.jenkins.username}:${info.jenkins.apiToken}`).toString('base64');
    const whoAmI = await fetch(`${info.jenkins.url}/whoAmI/api/json`, {
      headers: { authorization: `Basic ${basic}` },
    });
    expect(whoAmI.status).toBe(200);
    expect(await whoAmI.json()).toMatchObject({ name: info.jenkins.username, authenticated: true });
  });

  it(
    'passes the check script: every step holds, and it exits 0 without printing a secret',
    async () => {
      const { exit, stdout, stderr, steps } = await runCheck(`${line}\n`);
      expect(exit, stderr).toEqual({ code: 0, signal: null });
      expect(steps.map((s) => s.step)).toEqual(EXPECTED_STEPS);
      expect(steps.filter((s) => !s.ok)).toEqual([]);

      const byStep = new Map(steps.map((s) => [s.step, s.detail]));
      expect(byStep.get('refused-before-propagation')).toMatchObject({ error: 'InvalidClientTokenId' });
      expect(byStep.get('deactivated-refused')).toMatchObject({ error: 'InvalidClientTokenId' });
      expect(byStep.get('policy-limits-key')).toMatchObject({ error: 'AccessDenied' });
      expect(byStep.get('ecr-token')).toMatchObject({ proxyEndpoint: info.aws.endpoint, tokenUser: 'AWS' });
      expect(byStep.get('registry-with-token')).toMatchObject({
        url: `${info.aws.endpoint}/v2/`,
        status: 200,
      });
      expect(byStep.get('registry-without-token')).toMatchObject({ status: 401 });

      // What the check reports it did is what the sandbox holds.
      const { userName, arn } = byStep.get('create-user') as { userName: string; arn: string };
      const { accessKeyId } = byStep.get('create-key') as { accessKeyId: string };
      expect(byStep.get('accepted-after-propagation')).toMatchObject({ arn });
      const iam = new IAMClient(clientConfig(info.aws.endpoint, info.aws, info.aws.region));
      const keys: ListAccessKeysCommandOutput = await iam.send(
        new ListAccessKeysCommand({ UserName: userName }),
      );
      expect(keys.AccessKeyMetadata?.map((k) => [k.AccessKeyId, k.Status])).toEqual([
        [accessKeyId, 'Active'],
      ]);
      const policies = await iam.send(new ListUserPoliciesCommand({ UserName: userName }));
      expect(policies.PolicyNames).toEqual(['sandbox-check-ecr-login']);
      iam.destroy();

      // Neither the admin's secret nor the new key's (read from the sandbox's admin state) is printed.
      const state = (await (await fetch(`${info.aws.admin}state`)).json()) as {
        accounts: {
          users: { userName: string; keys: { accessKeyId: string; secretAccessKey: string }[] }[];
        }[];
      };
      const newKey = state.accounts
        .flatMap((a) => a.users)
        .find((u) => u.userName === userName)
        ?.keys.find((k) => k.accessKeyId === accessKeyId);
      expect(newKey?.secretAccessKey).toMatch(/^\S{40}$/);
      for (const secret of [info.aws.secretAccessKey, newKey!.secretAccessKey]) {
        expect(stdout).not.toContain(secret);
        expect(stderr).not.toContain(secret);
      }
    },
    CHECK_BOUND_MS + 10_000,
  );

  it(
    'the check exits 1 and stops at the first step that does not hold',
    async () => {
      const wrongSecret = JSON.stringify({ ...info, aws: { ...info.aws, secretAccessKey: 'x'.repeat(40) } });
      // The sandbox's line from a file argument this time.
      const file = join(await mkdtemp(join(tmpdir(), 'sandbox-check-')), 'sandbox.json');
      await writeFile(file, `${wrongSecret}\n`);
      const refused = await runCheck('', [file]);
      expect(refused.exit).toEqual({ code: 1, signal: null });
      expect(refused.steps.map((s) => [s.step, s.ok])).toEqual([
        ['input', true],
        ['create-user', false],
      ]);
      expect(refused.steps[1]?.detail).toMatchObject({ error: 'SignatureDoesNotMatch', httpStatus: 403 });
      await rm(dirname(file), { recursive: true });

      // npm's banner lines before the sandbox's are skipped; a line that starts like JSON but is not, is refused.
      const garbage = await runCheck('> jenkins-key-rotator@0.1.0 sandbox\n{not json\n');
      expect(garbage.exit).toEqual({ code: 1, signal: null });
      expect(garbage.steps).toEqual([
        {
          step: 'input',
          ok: false,
          detail: expect.objectContaining({ message: 'the input line is not JSON' }) as unknown,
        },
      ]);
      const empty = await runCheck('no sandbox here\n');
      expect(empty.exit).toEqual({ code: 1, signal: null });
      expect(empty.steps[0]).toMatchObject({
        step: 'input',
        ok: false,
        detail: { message: expect.stringMatching(/^no input/) as unknown },
      });

      const missing = await runCheck('{"jenkins": {}}\n');
      expect(missing.exit).toEqual({ code: 1, signal: null });
      expect(missing.steps[0]).toMatchObject({
        step: 'input',
        ok: false,
        detail: { message: expect.stringContaining('not a sandbox line') as unknown },
      });
    },
    3 * CHECK_BOUND_MS,
  );

  it(
    'stops on SIGTERM with exit code 0, closing its endpoints',
    async () => {
      sandbox.kill('SIGTERM');
      expect(await exitOf(sandbox, EXIT_BOUND_MS)).toEqual({ code: 0, signal: null });
      await expect(fetch(`${info.aws.endpoint}/v2/`)).rejects.toThrow();
      await expect(fetch(`${info.jenkins.url}/whoAmI/api/json`)).rejects.toThrow();
    },
    EXIT_BOUND_MS + 10_000,
  );
});
