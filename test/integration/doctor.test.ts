import { adminEnv, runCli, type CliRun } from '../support/cli';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanEntry, METRICS_NAMESPACE } from '../../handlers/scan';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { startJenkinsEmulator, type JenkinsEmulator } from '../../localcloud/jenkins/server';
import { seedScenario } from '../../localcloud/scenario';
import { lambdaContext } from '../../localcloud/wire';
import { compose } from '../../src/compose';
import { parseConfig } from '../../src/config';
import type { DoctorReport, DoctorTarget } from '../../src/doctor';
import { nodeSupportNote } from '../../src/cli/node-support';
import { InputError } from '../../src/domain/errors';
import { createLogger } from '../../src/observability/logger';
import { makeTestPki } from '../support/tls';

/**
 * `key-rotator doctor` as a user runs it (a child process) against the local cloud: a healthy target over http
 * and one over HTTPS with its CA, a TLS-failing one (no CA configured), an unauthorised one (wrong token), a user
 * without Credentials/Update or Create, and unreachable ones (a closed port, a name that does not resolve). Then
 * the same report from the deployed scan's `{"action":"doctor"}`, and plan's reachability lines.
 */

const pki = makeTestPki();
const TOKEN = `11${'b2'.repeat(16)}`;
const VIEWER_TOKEN = `11${'c3'.repeat(16)}`;
const WRONG_TOKEN = `11${'d4'.repeat(16)}`;
const PASSWORD = 'pw-doctor-synthetic-1';

let cloud: LocalCloud;
let https: JenkinsEmulator;
let dir: string;
let configPath: string;
let planConfigPath: string;
let closedPort: number;
let rawConfig: Record<string, unknown>;

type Run = CliRun;

const cli = (args: string[]): Promise<Run> =>
  runCli([...args, '--endpoint', cloud.aws.url], {
    env: adminEnv(cloud.aws.admin),
    cwd: dir,
    timeoutMs: 120_000,
  });

/** A port nothing listens on: taken from the system, then released. */
async function closedTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const target = (over: Record<string, unknown>) => ({
  user: 'rotator',
  tokenSecretId: 'key-rotator/jenkins-token',
  store: 'system',
  credentialKind: 'aws',
  ...over,
});
const key = (name: string, jenkins: unknown[], extra: Record<string, unknown> = {}) => ({
  name,
  iamUser: `u-${name}`,
  secretId: `jenkins/${name}/aws-key`,
  jenkins,
  verify: { ecr: { region: 'us-east-1' } },
  ...extra,
});

/** What a rotation could change in either Jenkins: credentials, jobs, builds and the queue (sessions aside). */
function jenkinsState() {
  const state = (e: JenkinsEmulator) => {
    const { stores, jobs, builds, queue } = e.state.snapshot() as Record<string, unknown>;
    return JSON.stringify({ stores, jobs, builds, queue });
  };
  return { http: state(cloud.jenkins), https: state(https) };
}

beforeAll(async () => {
  cloud = await startLocalCloud();
  https = await startJenkinsEmulator({ tls: pki.good });
  closedPort = await closedTcpPort();
  for (const emu of [cloud.jenkins, https])
    emu.state.seed({
      users: [
        {
          id: 'rotator',
          apiTokens: [TOKEN],
          password: PASSWORD,
          permissions: [
            'Overall/Read',
            'Credentials/View',
            'Credentials/Update',
            'Credentials/Create',
            'Job/Read',
            'Job/Build',
          ],
        },
        {
          id: 'viewer',
          apiTokens: [VIEWER_TOKEN],
          permissions: ['Overall/Read', 'Credentials/View', 'Job/Read'],
        },
      ],
      folders: ['team-a'],
      credentials: [
        { store: 'system', kind: 'aws', id: 'aws-prod', accessKey: 'AKIAHEALTHY000000001', secretKey: 'x1' },
        { store: 'system', kind: 'aws', id: 'aws-other', accessKey: 'AKIAOTHER00000000001', secretKey: 'x2' },
        { store: 'system', kind: 'aws', id: 'aws-pw', accessKey: 'AKIAPASSWORD00000001', secretKey: 'x4' },
        {
          store: { folder: 'team-a' },
          kind: 'usernamePassword',
          id: 'aws-team',
          username: 'AKIATEAM000000000001',
          password: 'x3',
        },
      ],
      jobs: [
        { path: 'ecr-canary', parameters: ['REASON'], check: 'noop' },
        { path: 'team-a/disabled-canary', parameters: ['REASON'], check: 'noop', disabled: true },
      ],
    });
  const sm = new SecretsManagerClient(cloud.aws.adminClientConfig('us-east-1'));
  for (const [Name, SecretString] of [
    ['key-rotator/jenkins-token', TOKEN],
    ['key-rotator/viewer-token', JSON.stringify({ apiToken: VIEWER_TOKEN })],
    ['key-rotator/wrong-token', WRONG_TOKEN],
    ['key-rotator/jenkins-password', JSON.stringify({ password: PASSWORD })],
    ['key-rotator/jenkins-ca', pki.ca.cert],
  ])
    await sm.send(new CreateSecretCommand({ Name, SecretString }));
  sm.destroy();

  rawConfig = {
    version: 1,
    keys: [
      key(
        'healthy',
        [
          target({
            name: 'http-local',
            url: cloud.jenkins.url,
            credentialId: 'aws-prod',
            createIfMissing: true,
          }),
          // Password sign-in: the probes need a crumb and the session cookie, as a rotation's writes do.
          target({
            name: 'http-password',
            url: cloud.jenkins.url,
            credentialId: 'aws-pw',
            authType: 'password',
            tokenSecretId: 'key-rotator/jenkins-password',
          }),
          target({
            name: 'https-ca',
            url: https.url,
            credentialId: 'aws-prod',
            caCertificates: { secretId: 'key-rotator/jenkins-ca' },
          }),
        ],
        { verify: { ecr: { region: 'us-east-1' }, canary: { jenkins: 'http-local', job: 'ecr-canary' } } },
      ),
      key('tls-fail', [target({ name: 'https-no-ca', url: https.url, credentialId: 'aws-other' })]),
      key('unauthorised', [
        target({
          name: 'wrong-token',
          url: cloud.jenkins.url,
          credentialId: 'aws-other',
          tokenSecretId: 'key-rotator/wrong-token',
        }),
      ]),
      key(
        'no-write',
        [
          target({
            name: 'viewer',
            url: cloud.jenkins.url,
            user: 'viewer',
            tokenSecretId: 'key-rotator/viewer-token',
            store: { folder: 'team-a' },
            credentialId: 'aws-team',
            credentialKind: 'usernamePassword',
          }),
          target({
            name: 'viewer-create',
            url: cloud.jenkins.url,
            user: 'viewer',
            tokenSecretId: 'key-rotator/viewer-token',
            store: { folder: 'team-a' },
            credentialId: 'aws-team-new',
            createIfMissing: true,
          }),
        ],
        {
          verify: {
            ecr: { region: 'us-east-1' },
            canary: { jenkins: 'viewer', job: 'team-a/disabled-canary' },
          },
        },
      ),
      key('unreachable', [
        target({ name: 'closed-port', url: `http://127.0.0.1:${closedPort}`, credentialId: 'a1' }),
        target({ name: 'no-dns', url: 'https://jenkins.doctor-test.invalid', credentialId: 'a2' }),
      ]),
    ],
  };
  dir = await mkdtemp(join(tmpdir(), 'key-rotator-doctor-it-'));
  configPath = join(dir, 'rotator.config.json');
  await writeFile(configPath, JSON.stringify(rawConfig, null, 2));

  // For plan: a seeded key on the same local cloud, plus a target on the HTTPS Jenkins without its CA.
  const seeded = await seedScenario(cloud, [
    {
      name: 'prod-ecr-push',
      iamUser: 'jenkins-prod',
      ageDays: 10,
      secretName: 'jenkins/prod/aws-key',
      credentials: [{ store: 'system', credentialId: 'aws-prod-plan', kind: 'aws' }],
    },
  ]);
  const [prod] = seeded.config.keys;
  const planConfig = {
    ...seeded.config,
    keys: [
      {
        ...prod,
        jenkins: [
          ...(prod?.jenkins ?? []),
          target({
            name: 'https-no-ca',
            url: https.url,
            credentialId: 'aws-prod',
            tokenSecretId: 'key-rotator/jenkins-token',
          }),
        ],
      },
    ],
  };
  planConfigPath = join(dir, 'plan.config.json');
  await writeFile(planConfigPath, JSON.stringify(planConfig, null, 2));
});

afterAll(async () => {
  await Promise.all([cloud.close(), https.close()]);
  await rm(dir, { recursive: true, force: true });
});

const byName = (r: DoctorReport, key: string, name: string): DoctorTarget => {
  const t = r.targets.find((x) => x.key === key && x.target === name);
  if (!t) throw new Error(`no target ${key}/${name} in the report`);
  return t;
};
const check = (t: DoctorTarget, name: string) => t.checks.find((c) => c.name === name);

describe('key-rotator doctor (CLI, from this machine)', () => {
  let report: DoctorReport;
  let run: Run;
  let before: ReturnType<typeof jenkinsState>;

  beforeAll(async () => {
    before = jenkinsState();
    run = await cli(['doctor', '--json', '--config', configPath]);
    report = JSON.parse(run.stdout) as DoctorReport;
  });

  it('exits 1 because targets fail, reports every target from this machine', () => {
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('key-rotator: error: 6 of 9 Jenkins target(s) failed a check');
    expect(report).toMatchObject({ from: 'cli', ok: false, counts: { targets: 9, failed: 6 } });
    expect(report.fromDetail).toMatch(/^this machine \(/);
  });

  it('a healthy http target: every check ok, the probes granted, the canary job visible; mode direct', () => {
    const t = byName(report, 'healthy', 'http-local');
    expect(t.ok).toBe(true);
    expect(t.checks.map((c) => `${c.name}:${c.status}`)).toEqual([
      'secrets:ok',
      'dns:ok',
      'tcp:ok',
      'tls:skip',
      'auth:ok',
      'credential:ok',
      'update:ok',
      'create:ok',
      'canary:ok',
      'build:unproven',
    ]);
    expect(check(t, 'dns')?.detail).toBe('127.0.0.1 is an IP address: 127.0.0.1 (loopback)');
    expect(check(t, 'auth')?.detail).toBe('token accepted: signed in as rotator; has Overall/Read');
    expect(check(t, 'update')?.detail).toMatch(
      /^Credentials\/Update on the system store: granted \(Jenkins refused the unparsable probe body after its permission check \(500\): nothing changed\)$/,
    );
    expect(check(t, 'create')?.detail).toBe(
      'Credentials/Create on the system store: granted (Jenkins refused the empty probe request after its permission check (400): nothing was created)',
    );
    expect(check(t, 'canary')?.detail).toBe('job ecr-canary is visible (Job/Read) and enabled');
    expect(t.mode).toBe('direct');
    const pw = byName(report, 'healthy', 'http-password');
    expect(pw.ok).toBe(true);
    expect(check(pw, 'update')?.status).toBe('ok');
  });

  it('a healthy HTTPS target with its CA from a secret: the chain, verified with the configured CA', () => {
    const t = byName(report, 'healthy', 'https-ca');
    expect(t.ok).toBe(true);
    expect(check(t, 'secrets')?.detail).toMatch(
      /^token secret key-rotator\/jenkins-token read; 1 CA certificate\(s\) configured: CN=key-rotator test CA, O=key-rotator tests \(until \d{4}-/,
    );
    expect(check(t, 'tls')?.detail).toMatch(
      /^TLSv1\.3; chain: CN=localhost \(issued by CN=key-rotator test CA, O=key-rotator tests, valid until \d{4}-\d\d-\d\d\) ← CN=key-rotator test CA, O=key-rotator tests \(issued by CN=key-rotator test CA, O=key-rotator tests, valid until \d{4}-\d\d-\d\d\); verified with the public CAs \+ 1 configured CA certificate\(s\), and issued for 127\.0\.0\.1$/,
    );
    expect(t.mode).toBe('direct');
  });

  it('a TLS-failing target (no CA configured): the certificate, the cause and the fix; nothing tried over HTTP', () => {
    const t = byName(report, 'tls-fail', 'https-no-ca');
    expect(t.ok).toBe(false);
    const tls = check(t, 'tls');
    expect(tls?.status).toBe('fail');
    expect(tls?.detail).toMatch(
      /^TLS: the certificate of 127\.0\.0\.1:\d+ \(CN=localhost, issued by CN=key-rotator test CA, O=key-rotator tests\) is signed by an unknown CA: no public CA vouches for it, and no keys\[\]\.jenkins\[\]\.caCertificates are configured \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); chain served: CN=localhost/,
    );
    expect(tls?.fix).toBe(
      'add the root certificate of the CA that issued it (key-rotator test CA) as PEM to keys[].jenkins[].caCertificates (pem, or secretId of a secret holding it). Verification cannot be turned off',
    );
    expect(check(t, 'auth')).toMatchObject({ status: 'skip', detail: 'not tried: TLS failed' });
    expect(t.cause).toMatch(/^tls: TLS: the certificate of 127\.0\.0\.1/);
    expect(t.mode).toBe('direct');
  });

  it('an unauthorised target (wrong token): 401, which user and secret, and how to make a token', () => {
    const t = byName(report, 'unauthorised', 'wrong-token');
    expect(t.ok).toBe(false);
    expect(check(t, 'auth')).toEqual({
      name: 'auth',
      status: 'fail',
      detail: 'Jenkins refused user rotator with the API token from key-rotator/wrong-token (401)',
      fix: 'check keys[].jenkins[].user (rotator) and the secret: create an API token for rotator in Jenkins (user menu → Security → API Token) and store it in key-rotator/wrong-token',
    });
    expect(check(t, 'credential')).toBeUndefined();
    expect(t.mode).toBe('direct');
  });

  it('a user without write permissions: Update and Create missing, named; the disabled canary job too', () => {
    const viewer = byName(report, 'no-write', 'viewer');
    expect(check(viewer, 'credential')?.status).toBe('ok');
    expect(check(viewer, 'update')).toMatchObject({
      status: 'fail',
      detail:
        'viewer lacks Credentials/Update on the folder store team-a (Jenkins refused the probe: 403, needs Credentials/Update)',
      fix: 'grant Credentials/Update to viewer on the folder store team-a',
    });
    expect(check(viewer, 'canary')).toMatchObject({
      status: 'fail',
      detail: 'job team-a/disabled-canary is disabled: Jenkins would refuse the canary build (409)',
    });
    const create = byName(report, 'no-write', 'viewer-create');
    expect(check(create, 'credential')?.detail).toContain(
      'aws-team-new does not exist yet: the first rotation creates it',
    );
    expect(check(create, 'update')?.status).toBe('skip');
    expect(check(create, 'create')).toMatchObject({
      status: 'fail',
      detail:
        'viewer lacks Credentials/Create on the folder store team-a (Jenkins refused the probe: 403, needs Credentials/Create)',
    });
  });

  it('unreachable targets: a closed port (nothing listens) and a name that does not resolve, with the mode', () => {
    const closed = byName(report, 'unreachable', 'closed-port');
    expect(check(closed, 'tcp')).toMatchObject({
      status: 'fail',
      detail: `nothing accepts connections on 127.0.0.1:${closedPort} (ECONNREFUSED)`,
    });
    expect(check(closed, 'auth')?.status).toBe('skip');
    expect(closed.mode).toBe('direct');
    const noDns = byName(report, 'unreachable', 'no-dns');
    expect(check(noDns, 'dns')?.detail).toMatch(
      /^jenkins\.doctor-test\.invalid does not resolve \((ENOTFOUND|EAI_AGAIN|ETIMEDOUT)\)$/,
    );
    expect(check(noDns, 'tcp')).toMatchObject({ status: 'skip' });
    expect(noDns).toMatchObject({ mode: 'vpc', alternative: 'self-rotation' });
    expect(noDns.modeReason).toMatch(
      /^jenkins\.doctor-test\.invalid does not resolve from this machine \(\w+\): check the URL; if the name exists only in your network's DNS, VPC mode if AWS has a network route/,
    );
  });

  it('changed nothing in either Jenkins: no credential written or created, no build started', () => {
    expect(jenkinsState()).toEqual(before);
    expect(cloud.jenkins.state.credentialView({ folder: 'team-a' }, 'aws-team-new')).toBeUndefined();
  });

  it('prints one block per target, FAIL lines with their fix, and the mode', async () => {
    const text = await cli(['doctor', '--config', configPath]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^Jenkins reachability, checked from this machine \(/);
    expect(text.stdout).toContain('The rotation runs in Lambda: check from there too');
    expect(text.stdout).toContain(
      `tls-fail / https-no-ca: ${https.url} (user rotator, system store, credential aws-other)`,
    );
    expect(text.stdout).toMatch(/\n {2}FAIL {2}tls {9}TLS: the certificate of 127\.0\.0\.1:\d+/);
    expect(text.stdout).toMatch(/\n {20}fix: add the root certificate of the CA that issued it/);
    expect(text.stdout).toContain(
      '  mode  VPC (the functions in a VPC with a route to Jenkins), else self-rotation: jenkins.doctor-test.invalid does not resolve',
    );
    expect(text.stdout).toContain(
      '\n6 of 9 Jenkins target(s) failed: tls-fail/https-no-ca (tls), unauthorised/wrong-token (auth), no-write/viewer (update), no-write/viewer-create (create), unreachable/closed-port (tcp), unreachable/no-dns (dns)\n',
    );
    expect(text.stdout).not.toContain(TOKEN);
    expect(text.stdout).not.toContain(WRONG_TOKEN);
    // The AWS SDK's Node.js notice: never its own 9 lines, but one line here when this Node.js is concerned.
    expect(text.stderr).not.toMatch(/NodeVersionSupportWarning|will require node/);
    const note = nodeSupportNote(process.version);
    if (note) expect(text.stdout.endsWith(`\nnote: ${note}\n`)).toBe(true);
    else expect(text.stdout).not.toContain('note: Node.js');
  });

  it('--key picks one managed key (by name or IAM user): all fine, exit 0', async () => {
    const r = await cli(['doctor', '--key', 'u-healthy', '--json', '--config', configPath]);
    expect(r.code, r.stderr).toBe(0);
    const one = JSON.parse(r.stdout) as DoctorReport;
    expect(one.targets.map((t) => `${t.key}/${t.target}`)).toEqual([
      'healthy/http-local',
      'healthy/http-password',
      'healthy/https-ca',
    ]);
    expect(one.ok).toBe(true);
  });

  it('--key with an unknown name is an error naming the managed keys', async () => {
    const r = await cli(['doctor', '--key', 'nope', '--config', configPath]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'key-rotator: error: "nope" is not a managed key name or IAM user in the configuration (managed: healthy (u-healthy)',
    );
  });
});

describe('the deployed scan, invoked with {"action":"doctor"}', () => {
  const logger = createLogger('jenkins-key-rotator-doctor-test', 'SILENT');
  const entry = () =>
    createScanEntry({
      composition: () =>
        Promise.resolve(compose(parseConfig(rawConfig), cloud.aws.adminClientConfig(), logger)),
      logger,
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'jenkins-key-rotator-test' }),
    });

  it('answers the same checks from the Lambda, and the mode for a Lambda', async () => {
    const r = (await entry()({ action: 'doctor' }, lambdaContext())) as DoctorReport;
    expect(r.from).toBe('lambda');
    expect(r.fromDetail).toMatch(/^Lambda /);
    expect(r.counts).toEqual({ targets: 9, failed: 6 });
    expect(check(byName(r, 'tls-fail', 'https-no-ca'), 'tls')?.status).toBe('fail');
    expect(byName(r, 'unauthorised', 'wrong-token').cause).toMatch(/^auth: Jenkins refused user rotator/);
    // From a Lambda, a loopback URL is the Lambda itself.
    expect(byName(r, 'healthy', 'http-local').modeReason).toMatch(
      /loopback address, which in a Lambda is the Lambda itself/,
    );
  });

  it('takes a key, and refuses an unknown action or key naming the field', async () => {
    const one = (await entry()({ action: 'doctor', key: 'healthy' }, lambdaContext())) as DoctorReport;
    expect(one.targets).toHaveLength(3);
    await expect(entry()({ action: 'rotate-everything' }, lambdaContext())).rejects.toThrow(InputError);
    await expect(entry()({ action: 'rotate-everything' }, lambdaContext())).rejects.toThrow(
      /^action: unknown action "rotate-everything"/,
    );
    await expect(entry()({ action: 'doctor', key: 'nope' }, lambdaContext())).rejects.toThrow(
      /^key: "nope" is not a managed key/,
    );
  });
});

describe('key-rotator plan: one reachability line per target', () => {
  it('ok for the reachable target, FAIL with the TLS cause for the other, and the mode', async () => {
    const r = await cli(['plan', '--config', planConfigPath]);
    expect(r.stdout).toMatch(
      /\nJenkins reachability from this machine \([^)]*\) \(key-rotator doctor shows every check\)\n/,
    );
    expect(r.stdout).toMatch(
      /\nok {4}prod-ecr-push\/jenkins-0 {2}127\.0\.0\.1 is an IP address: 127\.0\.0\.1 \(loopback\), token accepted: signed in as key-rotator → direct\n/,
    );
    expect(r.stdout).toMatch(
      /\nFAIL {2}prod-ecr-push\/https-no-ca {2}tls: TLS: the certificate of 127\.0\.0\.1:\d+ .* signed by an unknown CA.* → direct\n/,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('1 Jenkins target(s) not reachable');
    const j = await cli(['plan', '--json', '--config', planConfigPath]);
    const plan = JSON.parse(j.stdout) as { ok: boolean; reachability: DoctorTarget[] };
    expect(plan.ok).toBe(false);
    expect(plan.reachability.map((t) => [t.target, t.ok, t.mode])).toEqual([
      ['jenkins-0', true, 'direct'],
      ['https-no-ca', false, 'direct'],
    ]);
    // Reachability only: no permission probe in a plan.
    expect(plan.reachability.flatMap((t) => t.checks.map((c) => c.name))).not.toContain('update');
  });
});
