import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/cli/audit';
import type { PlanReport } from '../../src/cli/plan';
import type { EmergencyReport } from '../../src/engine/emergency';
import type { RecoveryReport, RotateNowReport } from '../../src/engine/rotate-now';
import { serializeState } from '../../localcloud/aws/admin';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey, type SeededKey } from '../../localcloud/scenario';
import { adminEnv, runCli, type CliRun } from '../support/cli';
import { clearJenkinsFaults, jenkinsCredential, jenkinsFault } from '../support/jenkins';

/**
 * The operator CLI run as a user runs it (`node bin/key-rotator.js …`, a child process) against the local cloud
 * started in this process.
 */

const DAY = 86_400_000;
/** The API token of a Jenkins user who may view credentials but not change them (synthetic). */
const VIEWER_TOKEN = '11aa22bb33cc44dd55ee66ff77889900aa';
const ROTATION_LAMBDA_ARN = 'arn:aws:lambda:us-east-1:111122223333:function:jenkins-key-rotator-rotate';

const KEYS: ScenarioKey[] = [
  {
    name: 'prod-ecr-push',
    iamUser: 'jenkins-prod',
    ageDays: 120,
    secretName: 'jenkins/prod/aws-key',
    credentials: [
      { store: 'system', credentialId: 'aws-prod', kind: 'aws' },
      { store: { folder: 'team-a/deploy' }, credentialId: 'aws-prod-userpass', kind: 'usernamePassword' },
    ],
  },
  {
    name: 'dev-ecr-push',
    iamUser: 'jenkins-dev',
    ageDays: 10,
    secretName: 'jenkins/dev/aws-key',
    credentials: [{ store: { folder: 'dev' }, credentialId: 'aws-dev', kind: 'aws' }],
  },
  {
    name: 'stage-ecr-push',
    iamUser: 'jenkins-stage',
    ageDays: 30,
    secretName: 'jenkins/stage/aws-key',
    credentials: [{ store: 'system', credentialId: 'aws-stage', kind: 'aws' }],
  },
  {
    name: 'qa-ecr-push',
    iamUser: 'jenkins-qa',
    ageDays: 40,
    secretName: 'jenkins/qa/aws-key',
    credentials: [{ store: 'system', credentialId: 'aws-qa', kind: 'aws' }],
  },
  // Two keys for the way out of a stuck rotation: a system store and a folder store each.
  ...['ops', 'ci'].map((n): ScenarioKey => ({
    name: `${n}-ecr-push`,
    iamUser: `jenkins-${n}`,
    ageDays: 50,
    secretName: `jenkins/${n}/aws-key`,
    credentials: [
      { store: 'system', credentialId: `aws-${n}`, kind: 'aws' },
      { store: { folder: `${n}/deploy` }, credentialId: `aws-${n}-folder`, kind: 'usernamePassword' },
    ],
  })),
];

let cloud: LocalCloud;
let dir: string;
let configPath: string;
let seeded: SeededKey[];
let sm: SecretsManagerClient;
let legacy: { old: string; inactive: string };
/** Everything the CLI printed, to check that no secret ever appears in it. */
const printed: string[] = [];

type Run = CliRun;

/** Runs the CLI (test/support/cli.ts) with the admin's credentials by default, remembering what it printed. */
async function cli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Promise<Run> {
  const r = await runCli(args, {
    env: opts.env ?? adminEnv(cloud.aws.admin),
    cwd: opts.cwd ?? dir,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  printed.push(r.stdout, r.stderr);
  return r;
}

const withEndpoint = (...args: string[]) => [...args, '--config', configPath, '--endpoint', cloud.aws.url];
const acct = () => cloud.aws.state.defaultAccountId;
const keysOf = (user: string) => cloud.aws.state.keysOf(acct(), user);
const seededKey = (name: string) => {
  const k = seeded.find((s) => s.name === name);
  if (!k) throw new Error(`not seeded: ${name}`);
  return k;
};

async function currentKeyId(secretId: string): Promise<string> {
  const r = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
  return (JSON.parse(r.SecretString ?? '{}') as { accessKeyId: string }).accessKeyId;
}

/**
 * The AWS emulator's whole state, minus what reads change (as in AWS): the caller key's last use and the secrets'
 * last access dates; and minus the clock.
 */
const READ_MARKS = new Set(['now', 'lastUsed', 'lastAccessedDate']);
function awsSnapshot(): unknown {
  return JSON.parse(
    JSON.stringify(serializeState(cloud.aws.state), (k, v: unknown) => (READ_MARKS.has(k) ? undefined : v)),
  ) as unknown;
}

async function jenkinsSnapshot(): Promise<unknown[]> {
  const all: [Parameters<typeof jenkinsCredential>[1], string][] = KEYS.flatMap((k) =>
    k.credentials.map((c): [Parameters<typeof jenkinsCredential>[1], string] => [c.store, c.credentialId]),
  );
  return Promise.all(all.map(([store, id]) => jenkinsCredential(cloud, store, id)));
}

beforeAll(async () => {
  cloud = await startLocalCloud({ aws: { propagationDelayMs: 300 } });
  const result = await seedScenario(cloud, KEYS);
  seeded = result.seeded;
  // A user the configuration does not manage: an old active key, and a young inactive one.
  const user = cloud.aws.state.createUser(acct(), 'legacy-deployer', {
    createDate: cloud.aws.state.now() - 400 * DAY,
  });
  const old = cloud.aws.state.createAccessKey(user, {
    createDate: cloud.aws.state.now() - 200 * DAY,
    established: true,
  });
  old.lastUsed = { date: cloud.aws.state.now() - 5 * DAY, serviceName: 's3', region: 'us-east-1' };
  const inactive = cloud.aws.state.createAccessKey(user, {
    createDate: cloud.aws.state.now() - 3 * DAY,
    established: true,
    status: 'Inactive',
  });
  legacy = { old: old.accessKeyId, inactive: inactive.accessKeyId };
  dir = await mkdtemp(join(tmpdir(), 'key-rotator-cli-it-'));
  configPath = join(dir, 'rotator.config.json');
  await writeFile(configPath, JSON.stringify(result.config, null, 2));
  sm = new SecretsManagerClient({
    region: 'us-east-1',
    endpoint: cloud.aws.url,
    credentials: {
      accessKeyId: cloud.aws.admin.accessKeyId,
      secretAccessKey: cloud.aws.admin.secretAccessKey,
    },
  });
});

afterAll(async () => {
  sm.destroy();
  await cloud.close();
  await rm(dir, { recursive: true, force: true });
});

describe('key-rotator audit', () => {
  it('--json lists every seeded key with its age, status, last use and managed flag', async () => {
    const r = await cli(withEndpoint('audit', '--json'));
    expect(r.code, r.stderr).toBe(0);
    const audit = JSON.parse(r.stdout) as AuditReport;
    expect(audit.accountId).toBe(acct());
    const keys = audit.users.flatMap((u) => u.keys.map((k) => ({ ...k, user: u })));
    const find = (id: string) => {
      const k = keys.find((x) => x.accessKeyId === id);
      if (!k) throw new Error(`key ${id} not in the audit`);
      return k;
    };
    for (const s of KEYS) {
      const k = find(seededKey(s.name).accessKeyId);
      expect(k).toMatchObject({
        status: 'Active',
        ageDays: s.ageDays,
        lastUsedService: 'ecr',
        maxAgeDays: 90,
      });
      expect(k.user).toMatchObject({
        userName: s.iamUser,
        path: '/jenkins/',
        managed: true,
        managedKey: s.name,
      });
      expect(k.rotationDue).toBe(new Date(Date.parse(k.createDate) + 90 * DAY).toISOString());
      expect(k.stale).toBe(s.ageDays >= 90);
    }
    expect(find(legacy.old)).toMatchObject({
      status: 'Active',
      ageDays: 200,
      lastUsedService: 's3',
      rotationDue: null,
      stale: true,
    });
    expect(find(legacy.old).user).toMatchObject({
      userName: 'legacy-deployer',
      managed: false,
      managedKey: null,
    });
    expect(find(legacy.inactive)).toMatchObject({
      status: 'Inactive',
      ageDays: 3,
      lastUsedDate: null,
      stale: false,
    });
    expect(audit.problems).toEqual([]);
  });

  it('prints a table by default', async () => {
    const r = await cli(withEndpoint('audit'));
    expect(r.code, r.stderr).toBe(0);
    const row = (id: string) => r.stdout.split('\n').find((l) => l.includes(id)) ?? '';
    expect(row(seededKey('prod-ecr-push').accessKeyId)).toMatch(
      /^jenkins-prod\s+AKIA\w+\s+active\s+120d\s+\d{4}-\d\d-\d\d ecr\s+prod-ecr-push\s+\d{4}-\d\d-\d\d\s+STALE$/,
    );
    expect(row(seededKey('dev-ecr-push').accessKeyId)).toMatch(
      /^jenkins-dev\s+AKIA\w+\s+active\s+10d\s+.*dev-ecr-push\s+\d{4}-\d\d-\d\d$/,
    );
    expect(row(legacy.old)).toMatch(/^legacy-deployer\s+AKIA\w+\s+active\s+200d\s+\S+ s3\s+no\s+-\s+STALE$/);
  });

  it('without a configuration file shows every key as unmanaged, and says so', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'key-rotator-cli-noconf-'));
    try {
      const r = await cli(['audit', '--json', '--endpoint', cloud.aws.url], { cwd: empty });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/no configuration .*every key is shown as unmanaged/);
      const audit = JSON.parse(r.stdout) as AuditReport;
      expect(audit.users.find((u) => u.userName === 'jenkins-prod')).toMatchObject({ managed: false });
      expect(audit.users.every((u) => !u.managed)).toBe(true);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('--sandbox reads endpoint, region and credentials from the sandbox line (file or stdin)', async () => {
    const line = JSON.stringify({
      aws: {
        endpoint: cloud.aws.url,
        region: 'us-east-1',
        accountId: acct(),
        accessKeyId: cloud.aws.admin.accessKeyId,
        secretAccessKey: cloud.aws.admin.secretAccessKey,
      },
      jenkins: { url: cloud.jenkins.url },
    });
    const text = `\n> jenkins-key-rotator@0.1.0 sandbox\n> tsx scripts/sandbox.ts\n\n${line}\n`;
    const file = join(dir, 'sandbox.json');
    await writeFile(file, text);
    // No AWS variables at all: everything comes from the sandbox line.
    for (const run of [
      () => cli(['audit', '--json', '--config', configPath, '--sandbox', file], { env: {} }),
      () => cli(['audit', '--json', '--config', configPath, '--sandbox', '-'], { env: {}, input: text }),
    ]) {
      const r = await run();
      expect(r.code, r.stderr).toBe(0);
      const audit = JSON.parse(r.stdout) as AuditReport;
      expect(audit.users.find((u) => u.userName === 'jenkins-dev')).toMatchObject({
        managedKey: 'dev-ecr-push',
      });
    }
    // A sandbox line that names its configuration needs no --config.
    const withConfig = JSON.stringify({ ...(JSON.parse(line) as object), configFile: configPath });
    const empty = await mkdtemp(join(tmpdir(), 'key-rotator-cli-sandbox-'));
    try {
      const r = await cli(['audit', '--json', '--sandbox', '-'], {
        env: {},
        input: `${withConfig}\n`,
        cwd: empty,
      });
      expect(r.code, r.stderr).toBe(0);
      const audit = JSON.parse(r.stdout) as AuditReport;
      expect(audit.configFile).toBe(configPath);
      expect(audit.users.find((u) => u.userName === 'jenkins-prod')).toMatchObject({
        managedKey: 'prod-ecr-push',
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('key-rotator plan', () => {
  it('reports the old key due and the young key not, checks Jenkins, and changes nothing', async () => {
    const aws = awsSnapshot();
    const jenkins = await jenkinsSnapshot();
    const calls = cloud.aws.state.callLog.length;
    const requests = cloud.jenkins.state.requests.length;

    const r = await cli(withEndpoint('plan', '--json', '--rotation-lambda-arn', ROTATION_LAMBDA_ARN));
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as PlanReport;
    const decision = (key: string) => plan.decisions.filter((d) => d.key === key);
    expect(plan.decisions.filter((d) => d.action === 'rotate')).toEqual([
      expect.objectContaining({
        key: 'prod-ecr-push',
        user: 'jenkins-prod',
        accessKeyId: seededKey('prod-ecr-push').accessKeyId,
        ageDays: 120,
        maxAgeDays: 90,
      }),
    ]);
    expect(decision('dev-ecr-push')).toEqual([
      expect.objectContaining({
        action: 'skip',
        accessKeyId: seededKey('dev-ecr-push').accessKeyId,
        reason: expect.stringMatching(/^not due: 10 days old/) as string,
      }),
    ]);
    expect(plan.decisions.filter((d) => d.action === 'report')).toEqual([
      expect.objectContaining({ user: 'legacy-deployer', accessKeyId: legacy.old, ageDays: 200 }),
    ]);
    expect(plan.counts.fail).toBe(0);
    expect(plan.jenkins.map((j) => [j.key, j.credentialId, j.ok])).toEqual([
      ['prod-ecr-push', 'aws-prod', true],
      ['prod-ecr-push', 'aws-prod-userpass', true],
      ['dev-ecr-push', 'aws-dev', true],
      ['stage-ecr-push', 'aws-stage', true],
      ['qa-ecr-push', 'aws-qa', true],
      ['ops-ecr-push', 'aws-ops', true],
      ['ops-ecr-push', 'aws-ops-folder', true],
      ['ci-ecr-push', 'aws-ci', true],
      ['ci-ecr-push', 'aws-ci-folder', true],
    ]);
    expect(plan.ok).toBe(true);

    // Read-only: the same state, and nothing but reads on either side.
    expect(awsSnapshot()).toEqual(aws);
    expect(await jenkinsSnapshot()).toEqual(jenkins);
    const made = cloud.aws.state.callLog.slice(calls).map((c) => `${c.service}:${c.action}`);
    expect(made).toContain('iam:ListAccessKeys');
    expect(made).toContain('secretsmanager:DescribeSecret');
    expect(made.filter((a) => !/^\w+:(Get|List|Describe)\w*$/.test(a))).toEqual([]);
    // Jenkins: reads, and per credential one write probe that Jenkins refused after its permission check (500:
    // the body is not XML), so the store is unchanged (above).
    const made2 = cloud.jenkins.state.requests.slice(requests);
    expect(made2.length).toBeGreaterThan(0);
    const writes = made2.filter((q) => q.method !== 'GET' && !q.path.endsWith('/crumbIssuer/api/json'));
    expect(
      writes.map((q) => `${q.method} ${q.status} ${q.path.split('/').slice(-3).join('/')}`).sort(),
    ).toEqual(plan.jenkins.map((j) => `POST 500 credential/${j.credentialId}/config.xml`).sort());
    expect(plan.jenkins.every((j) => j.write === 'granted')).toBe(true);
    expect(plan.jenkins[0]?.detail).toBe(
      'exists; writable: Jenkins refused the unparsable probe body after its permission check (500): nothing changed',
    );
  });

  it("proves each credential writable by the rotator's user: a user who may only view it fails the plan, and nothing changes", async () => {
    // A Jenkins user who may see the credentials but not change them, and a configuration that rotates dev with it.
    cloud.jenkins.state.seed({
      users: [
        {
          id: 'viewer',
          apiTokens: [VIEWER_TOKEN],
          permissions: ['Overall/Read', 'Credentials/View', 'Job/Read'],
        },
      ],
    });
    await sm.send(new CreateSecretCommand({ Name: 'key-rotator/viewer-token', SecretString: VIEWER_TOKEN }));
    const config = JSON.parse(await readFile(configPath, 'utf8')) as {
      keys: { name: string; jenkins: Record<string, unknown>[] }[];
    };
    for (const t of config.keys.find((k) => k.name === 'dev-ecr-push')?.jenkins ?? [])
      Object.assign(t, { user: 'viewer', tokenSecretId: 'key-rotator/viewer-token' });
    const viewerConfig = join(dir, 'viewer.config.json');
    await writeFile(viewerConfig, JSON.stringify(config));
    const aws = awsSnapshot();
    const jenkins = await jenkinsSnapshot();

    const viewerPlan = (...args: string[]) =>
      cli([
        'plan',
        ...args,
        '--rotation-lambda-arn',
        ROTATION_LAMBDA_ARN,
        '--config',
        viewerConfig,
        '--endpoint',
        cloud.aws.url,
      ]);
    const r = await viewerPlan('--json');
    expect(r.code).toBe(1);
    const plan = JSON.parse(r.stdout) as PlanReport;
    expect(plan.jenkins.find((j) => j.key === 'dev-ecr-push')).toMatchObject({
      ok: false,
      exists: true,
      write: 'denied',
      detail:
        'exists, but not writable by this user: it lacks Credentials/Update (Jenkins refused the probe: 403, needs Credentials/Update); the rotation would fail at setSecret',
    });
    expect(
      plan.jenkins.filter((j) => j.key !== 'dev-ecr-push').every((j) => j.ok && j.write === 'granted'),
    ).toBe(true);
    expect(r.stderr).toMatch(
      /^key-rotator: error: the plan found problems: 1 Jenkins credential check\(s\) failed\n$/,
    );
    expect(awsSnapshot()).toEqual(aws);
    expect(await jenkinsSnapshot()).toEqual(jenkins);

    const text = await viewerPlan();
    expect(text.stdout).toMatch(
      /^FAIL\s+dev-ecr-push\s+jenkins-0\s+dev\s+aws-dev\s+exists, but not writable by this user: it lacks Credentials\/Update/m,
    );
  });

  it('exits 1 and names the failure when the run would fail (no rotation function known)', async () => {
    const aws = awsSnapshot();
    const r = await cli(withEndpoint('plan'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^FAIL\s+prod-ecr-push\s+jenkins-prod\s+-\s+due \(120 days old, max 90\), but secret .* has no rotation function/m,
    );
    expect(r.stdout).toMatch(/^skip\s+dev-ecr-push\s+jenkins-dev\s+AKIA\w+\s+not due: 10 days old/m);
    expect(r.stderr).toMatch(/^key-rotator: error: the plan found problems: 1 key\(s\) would fail\n$/);
    expect(awsSnapshot()).toEqual(aws);
  });
});

describe('key-rotator rotate', () => {
  it('rotates jenkins-prod: new key current and in Jenkins, old key inactive; progress on stderr', async () => {
    const old = seededKey('prod-ecr-push').accessKeyId;
    const r = await cli(withEndpoint('rotate', 'jenkins-prod'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/waiting for the new key to propagate… attempt \d+, 1\/3 consecutive successes/);
    expect(r.stderr).toMatch(/waiting for the new key to propagate… attempt \d+, 3\/3 consecutive successes/);
    expect(r.stderr).toMatch(/^\[1\/4\] createSecret: .*created key AKIA/m);
    expect(r.stderr).toMatch(/^\[4\/4\] finishSecret: .*deactivated the previous key/m);
    const now = await currentKeyId('jenkins/prod/aws-key');
    expect(now).not.toBe(old);
    expect(r.stdout).toMatch(new RegExp(`^Rotated prod-ecr-push \\(IAM user jenkins-prod\\)`));
    expect(r.stdout).toContain(`new key ${now}: AWSCURRENT`);
    expect(r.stdout).toContain(`old key ${old}: inactive`);
    expect(keysOf('jenkins-prod').map((k) => [k.accessKeyId, k.status])).toEqual([
      [old, 'Inactive'],
      [now, 'Active'],
    ]);
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(now);
    expect(
      (await jenkinsCredential(cloud, { folder: 'team-a/deploy' }, 'aws-prod-userpass'))['username'],
    ).toBe(now);
  });

  it('a failed rotation exits 1 and is undone: the old key stays current and active', async () => {
    const old = seededKey('dev-ecr-push').accessKeyId;
    cloud.aws.state.faults.push({
      id: 'cli-ecr-down-dev',
      action: 'ecr:GetAuthorizationToken',
      remaining: 20,
      error: { code: 'ServerException', message: 'injected by the test', status: 500 },
    });
    try {
      const r = await cli(withEndpoint('rotate', 'jenkins-dev'));
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^Rotation of dev-ecr-push \(IAM user jenkins-dev\) FAILED at testSecret/);
      expect(r.stderr).toMatch(/^\[3\/4\] testSecret FAILED: /m);
      expect(r.stderr).toMatch(
        /^key-rotator: error: the rotation of dev-ecr-push failed at testSecret: .*ECR login/m,
      );
      expect(await currentKeyId('jenkins/dev/aws-key')).toBe(old);
      expect(keysOf('jenkins-dev').map((k) => [k.accessKeyId, k.status])).toEqual([[old, 'Active']]);
      expect((await jenkinsCredential(cloud, { folder: 'dev' }, 'aws-dev'))['accessKey']).toBe(old);
    } finally {
      cloud.aws.state.faults = [];
    }
  });

  it('--emergency deactivates the leaked key at once, even though the verification then fails', async () => {
    const leaked = seededKey('qa-ecr-push').accessKeyId;
    cloud.aws.state.faults.push({
      id: 'cli-ecr-down',
      action: 'ecr:GetAuthorizationToken',
      remaining: 20,
      error: { code: 'ServerException', message: 'injected by the test', status: 500 },
    });
    try {
      const r = await cli(
        withEndpoint('rotate', 'jenkins-qa', '--emergency', '--reason', 'key pasted in a ticket', '--json'),
      );
      expect(r.code).toBe(1);
      const report = JSON.parse(r.stdout) as EmergencyReport;
      expect(report).toMatchObject({
        outcome: 'contained',
        reason: 'key pasted in a ticket',
        user: 'jenkins-qa',
        compromisedKey: { accessKeyId: leaked, wasCurrent: true, before: 'Active', after: 'Inactive' },
        rotation: { failedStep: 'testSecret' },
      });
      // At once: createSecret revoked it, before the verification failed (not the clean-up after the failure).
      expect(report.rotation?.steps[0]?.actions).toContainEqual(
        expect.stringMatching(new RegExp(`^revoked the current key at once: deactivated key ${leaked}`)),
      );
      expect(report.warnings.join('\n')).not.toMatch(/revoked after the rotation failed/);
      expect(keysOf('jenkins-qa').find((k) => k.accessKeyId === leaked)?.status).toBe('Inactive');
      // Jenkins stays on the new key: the old one is dead.
      expect((await jenkinsCredential(cloud, 'system', 'aws-qa'))['accessKey']).toBe(
        report.rotation?.newKeyId,
      );
      expect(r.stderr).toMatch(/^key-rotator: error: emergency contained: .*\n$/m);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('key-rotator: error:'))).toHaveLength(1);
    } finally {
      cloud.aws.state.faults = [];
    }
  });

  it('--emergency --delete-old: rotated, the leaked key deleted', async () => {
    const leaked = seededKey('stage-ecr-push').accessKeyId;
    const r = await cli(withEndpoint('rotate', 'jenkins-stage', '--emergency', '--delete-old', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/EMERGENCY rotation of stage-ecr-push \(IAM user jenkins-stage\)/);
    expect(r.stderr).toMatch(/waiting for the new key to propagate… attempt \d+/);
    const report = JSON.parse(r.stdout) as EmergencyReport;
    const now = await currentKeyId('jenkins/stage/aws-key');
    expect(report).toMatchObject({
      outcome: 'rotated',
      newKeyId: now,
      compromisedKey: { accessKeyId: leaked, before: 'Active', after: 'deleted' },
    });
    expect(report.rotation?.outcome satisfies RotateNowReport['outcome'] | undefined).toBe('rotated');
    expect(keysOf('jenkins-stage').map((k) => k.accessKeyId)).toEqual([now]);
    expect((await jenkinsCredential(cloud, 'system', 'aws-stage'))['accessKey']).toBe(now);
  });
});

describe('the rollback key of the last rotation is never deleted silently', () => {
  it('a second rotation right after the first is refused without --yes, naming the key; --yes goes ahead', async () => {
    // jenkins-prod was rotated above: its old key is inactive and inside its grace period.
    const before = keysOf('jenkins-prod').map((k) => [k.accessKeyId, k.status]);
    const rollback = keysOf('jenkins-prod').find((k) => k.status === 'Inactive')?.accessKeyId ?? '';
    expect(rollback).toBe(seededKey('prod-ecr-push').accessKeyId);
    const current = await currentKeyId('jenkins/prod/aws-key');

    const refused = await cli(withEndpoint('rotate', 'jenkins-prod'));
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^Rotation of prod-ecr-push \(IAM user jenkins-prod\) NOT STARTED/);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^key-rotator: error: rotating prod-ecr-push now deletes key ${rollback} \\(deactivated .*inside its grace period until .*\\): the key a rollback of the last rotation would need\\. Nothing was changed\\. Confirm to go ahead with --yes \\(key-rotator rotate jenkins-prod --yes\\)$`,
        'm',
      ),
    );
    expect(keysOf('jenkins-prod').map((k) => [k.accessKeyId, k.status])).toEqual(before);
    expect(await currentKeyId('jenkins/prod/aws-key')).toBe(current);

    const confirmed = await cli(withEndpoint('rotate', 'jenkins-prod', '--yes', '--json'));
    expect(confirmed.code, confirmed.stderr).toBe(0);
    const report = JSON.parse(confirmed.stdout) as RotateNowReport;
    expect(report.outcome).toBe('rotated');
    expect(report.warnings.join('\n')).toMatch(
      new RegExp(`deleted key ${rollback} to make room although it is inside its grace period`),
    );
    expect(keysOf('jenkins-prod').map((k) => k.accessKeyId)).not.toContain(rollback);
  });
});

describe('a stuck rotation has a way out without Secrets Manager surgery', () => {
  /** A CLI rotation that fails at the folder store, and whose undo cannot reach that store either. */
  async function failedRotation(user: string, folder: string, extra: () => Promise<void> = async () => {}) {
    await jenkinsFault(cloud, { path: `/job/${folder}/job/deploy/credentials/`, status: 503, count: 1000 });
    await extra();
    try {
      const r = await cli(withEndpoint('rotate', user));
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/FAILED at setSecret/);
      return r;
    } finally {
      await clearJenkinsFaults(cloud);
    }
  }
  const inFlightFix = (user: string) =>
    `fix: key-rotator rotate ${user} --resume (or key-rotator rotate ${user} --abandon to undo it)`;

  it('audit shows what a failed CLI rotation left first, with its fix, and exits 1; --resume completes it', async () => {
    const old = seededKey('ops-ecr-push').accessKeyId;
    const failed = await failedRotation('jenkins-ops', 'ops');
    // The failed rotation's own report prints the commands, read from what it left.
    expect(failed.stdout).toContain('What the failed rotation left (read again now), and how to fix it:');
    expect(failed.stdout).toContain(inFlightFix('jenkins-ops'));
    const pending = keysOf('jenkins-ops').find((k) => k.accessKeyId !== old)?.accessKeyId ?? '';
    expect(pending).toMatch(/^AKIA/);

    const audit = await cli(withEndpoint('audit'));
    expect(audit.code).toBe(1);
    // (jenkins-qa's contained emergency above, when it ran, left a rotation in flight too.)
    const at = audit.stdout.search(/^Problems \(\d+ problems?, 0 of severity error; most severe first\):$/m);
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(audit.stdout.indexOf('USER  '));
    expect(audit.stdout).toMatch(
      new RegExp(
        `^ {2}WARNING {2}ops-ecr-push, user jenkins-ops: a rotation is unfinished \\(version [\\w-]+, started 0 h ago, new key ${pending}\\)`,
        'm',
      ),
    );
    expect(audit.stdout).toContain(inFlightFix('jenkins-ops'));
    expect(audit.stderr).toMatch(/^key-rotator: error: \d rotation problem\(s\) that block rotations/);
    const json = JSON.parse((await cli(withEndpoint('audit', '--json'))).stdout) as AuditReport;
    expect(json.problems.filter((p) => p.key === 'ops-ecr-push')).toEqual([
      expect.objectContaining({
        key: 'ops-ecr-push',
        user: 'jenkins-ops',
        kind: 'rotation-in-flight',
        severity: 'warning',
        accessKeyId: pending,
        fix: 'key-rotator rotate jenkins-ops --resume (or key-rotator rotate jenkins-ops --abandon to undo it)',
      }),
    ]);

    // A plain rotate is refused, naming the way out.
    const again = await cli(withEndpoint('rotate', 'jenkins-ops'));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/unfinished rotation .*key-rotator rotate jenkins-ops --resume.*--abandon/);

    const r = await cli(withEndpoint('rotate', 'jenkins-ops', '--resume', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming the rotation of ops-ecr-push/);
    const report = JSON.parse(r.stdout) as RecoveryReport;
    expect(report).toMatchObject({
      action: 'resume',
      outcome: 'resumed',
      found: [expect.objectContaining({ kind: 'rotation-in-flight', accessKeyId: pending })],
      rotation: { outcome: 'rotated', newKeyId: pending, oldKeyId: old },
    });
    expect(await currentKeyId('jenkins/ops/aws-key')).toBe(pending);
    expect(keysOf('jenkins-ops').map((k) => [k.accessKeyId, k.status])).toEqual([
      [old, 'Inactive'],
      [pending, 'Active'],
    ]);
    expect((await jenkinsCredential(cloud, 'system', 'aws-ops'))['accessKey']).toBe(pending);
    expect((await jenkinsCredential(cloud, { folder: 'ops/deploy' }, 'aws-ops-folder'))['username']).toBe(
      pending,
    );
    const after = JSON.parse((await cli(withEndpoint('audit', '--json'))).stdout) as AuditReport;
    expect(after.problems.map((p) => p.key)).not.toContain('ops-ecr-push');
    // Nothing left: a second --resume has nothing to do.
    const nothing = await cli(withEndpoint('rotate', 'jenkins-ops', '--resume'));
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout).toMatch(/^Nothing to resume for ops-ecr-push/);
  });

  it('--abandon puts every Jenkins credential back on the current key and deletes the pending key; rotate works again', async () => {
    const old = seededKey('ci-ecr-push').accessKeyId;
    // The system store takes the new key, then refuses to be put back: it is left holding the pending key.
    await failedRotation('jenkins-ci', 'ci', () =>
      jenkinsFault(cloud, {
        method: 'POST',
        path: '/credentials/store/system/domain/_/credential/aws-ci/',
        status: 503,
        skip: 1,
        count: 1000,
      }),
    );
    const pending = keysOf('jenkins-ci').find((k) => k.accessKeyId !== old)?.accessKeyId ?? '';
    expect((await jenkinsCredential(cloud, 'system', 'aws-ci'))['accessKey']).toBe(pending);

    const r = await cli(withEndpoint('rotate', 'jenkins-ci', '--abandon'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Abandoned the rotation in flight of ci-ecr-push \(IAM user jenkins-ci\)/);
    expect(r.stdout).toContain('  - restored Jenkins target jenkins-0 to the current key\n');
    expect(r.stdout).toContain(`  - deleted the new key ${pending}\n`);
    expect(keysOf('jenkins-ci').map((k) => [k.accessKeyId, k.status])).toEqual([[old, 'Active']]);
    expect((await jenkinsCredential(cloud, 'system', 'aws-ci'))['accessKey']).toBe(old);
    expect((await jenkinsCredential(cloud, { folder: 'ci/deploy' }, 'aws-ci-folder'))['username']).toBe(old);
    expect(await currentKeyId('jenkins/ci/aws-key')).toBe(old);

    const twice = await cli(withEndpoint('rotate', 'jenkins-ci', '--abandon', '--json'));
    expect(twice.code).toBe(0);
    expect((JSON.parse(twice.stdout) as RecoveryReport).outcome).toBe('nothing-to-do');

    const ok = await cli(withEndpoint('rotate', 'jenkins-ci'));
    expect(ok.code, ok.stderr).toBe(0);
    const now = await currentKeyId('jenkins/ci/aws-key');
    expect(now).not.toBe(old);
    expect((await jenkinsCredential(cloud, 'system', 'aws-ci'))['accessKey']).toBe(now);
  });
});

describe('key-rotator validate-config', () => {
  it('OK with a summary for the scenario configuration', async () => {
    const r = await cli(['validate-config', configPath], { env: {} });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^OK: .*rotator\.config\.json: 6 managed keys, 9 Jenkins credentials\n/);
  });

  it('fails with the path of each issue', async () => {
    const bad = JSON.parse(await readFile(configPath, 'utf8')) as {
      keys: { jenkins: { url: string }[]; secretId: string }[];
    };
    bad.keys[1]!.jenkins[0]!.url = 'jenkins.internal';
    bad.keys[3]!.secretId = 'https://example.com/secret';
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify(bad));
    const r = await cli(['validate-config', '--config', file], { env: {} });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^INVALID: .*bad\.json \(2 issues\)/);
    expect(r.stdout).toMatch(/^ {2}keys\[1\]\.jenkins\[0\]\.url: must be an absolute http\(s\) URL/m);
    expect(r.stdout).toMatch(
      /^ {2}keys\[3\]\.secretId: must be a Secrets Manager secret name or ARN, not a URL/m,
    );
    expect(r.stderr).toMatch(/^key-rotator: error: .*bad\.json is not a valid configuration \(2 issues\)\n$/);
  });
});

describe('key-rotator validate-config --check-iam', () => {
  const OTHER = '999988887777';
  type RawConfig = { keys: Record<string, unknown>[] };
  interface Result {
    valid: boolean;
    issues: { path: string; message: string }[];
    iam: {
      key: string;
      iamUser: string;
      accountId: string | null;
      status: string;
      path: string | null;
      detail: string | null;
    }[];
  }
  const variant = async (name: string, edit: (c: RawConfig) => void) => {
    const c = JSON.parse(await readFile(configPath, 'utf8')) as RawConfig;
    edit(c);
    const file = join(dir, name);
    await writeFile(file, JSON.stringify(c));
    return file;
  };
  const check = (file: string, env?: NodeJS.ProcessEnv) =>
    cli(
      [
        'validate-config',
        file,
        '--param',
        'userPath=/jenkins/',
        '--check-iam',
        '--json',
        '--endpoint',
        cloud.aws.url,
      ],
      env ? { env } : {},
    );

  it('reads each managed user (read-only) and finds them all on the userPath', async () => {
    const before = awsSnapshot();
    const r = await check(configPath);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as Result;
    expect(result.valid).toBe(true);
    expect(result.iam.map((c) => [c.iamUser, c.status, c.path])).toEqual(
      KEYS.map((k) => [k.iamUser, 'ok', '/jenkins/']),
    );
    expect(awsSnapshot()).toEqual(before);
  });

  it('names a user off the path, one that does not exist, and one in another account reached through its role', async () => {
    const role = cloud.aws.state.createRole(OTHER, 'jenkins-key-rotator-target', {
      trustedPrincipals: [`arn:aws:iam::${acct()}:user/${cloud.aws.admin.userName}`],
      permissions: [
        { effect: 'Allow', actions: ['iam:GetUser'], resources: [`arn:aws:iam::${OTHER}:user/*`] },
      ],
    });
    cloud.aws.state.createUser(OTHER, 'jenkins-other', { path: '/ci/' });
    const file = await variant('iam-misfits.json', (c) => {
      c.keys[1]!['iamUser'] = 'legacy-deployer';
      c.keys[2]!['iamUser'] = 'jenkins-ghost';
      c.keys[3]!['iamUser'] = 'jenkins-other';
      c.keys[3]!['assumeRoleArn'] = role.arn;
    });
    const r = await check(file);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout) as Result;
    expect(result.iam.map((c) => [c.iamUser, c.accountId, c.status, c.path])).toEqual([
      ['jenkins-prod', null, 'ok', '/jenkins/'],
      ['legacy-deployer', null, 'off-path', '/'],
      ['jenkins-ghost', null, 'no-such-user', null],
      ['jenkins-other', OTHER, 'off-path', '/ci/'],
      ['jenkins-ops', null, 'ok', '/jenkins/'],
      ['jenkins-ci', null, 'ok', '/jenkins/'],
    ]);
    expect(result.issues).toEqual([
      {
        path: 'keys[1].iamUser',
        message: expect.stringMatching(
          /^IAM user legacy-deployer is on path \/, outside the stack's userPath "\/jenkins\/": the stack's roles .*--new-path \/jenkins\//,
        ) as unknown,
      },
      {
        path: 'keys[2].iamUser',
        message: expect.stringMatching(/^IAM user jenkins-ghost does not exist/) as unknown,
      },
      {
        path: 'keys[3].iamUser',
        message: expect.stringMatching(
          new RegExp(`^IAM user jenkins-other is on path /ci/, .*the role in account ${OTHER}`),
        ) as unknown,
      },
    ]);
    expect(r.stderr).toMatch(
      /key-rotator: error: .*iam-misfits\.json is not a valid configuration for these parameters \(3 issues\)\n$/,
    );
    const text = await cli([
      'validate-config',
      file,
      '--param',
      'userPath=/jenkins/',
      '--check-iam',
      '--endpoint',
      cloud.aws.url,
    ]);
    expect(text.stdout).toMatch(
      /^IAM users \(--check-iam\):\n {2}jenkins-prod: path \/jenkins\/, on the stack's userPath\n {2}legacy-deployer: ERROR: IAM user legacy-deployer is on path \//m,
    );
  });

  it('reports a user it may not read as not checked, never as clean (exit 1)', async () => {
    const user = cloud.aws.state.createUser(acct(), 'ci-validator', {
      permissions: [{ effect: 'Allow', actions: ['sts:GetCallerIdentity'] }],
    });
    const key = cloud.aws.state.createAccessKey(user, { established: true });
    const r = await check(configPath, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    });
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout) as Result;
    expect(result.valid).toBe(true);
    expect(result.issues).toEqual([]);
    for (const c of result.iam) {
      expect(c.status).toBe('not-checked');
      expect(c.detail).toMatch(/^not checked: AWS denied access \(AccessDenied/);
    }
    expect(r.stderr).toMatch(
      new RegExp(
        `key-rotator: error: the IAM check is incomplete: ${result.iam.length} users could not be read`,
      ),
    );
    expect(result.iam.length).toBeGreaterThan(1);
  });
});

describe('key-rotator check', () => {
  it('lists the findings with their fixes, read-only; --fail-on high is a CI gate', async () => {
    const before = awsSnapshot();
    const r = await cli(withEndpoint('check'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Security checks at .* \(read-only: nothing was changed\)/);
    // The emulated account has no trail: a high finding with the commands that fix it.
    expect(r.stdout).toMatch(/\[no-cloudtrail\] no CloudTrail trail covers account \d{12} in us-east-1/);
    expect(r.stdout).toMatch(/fix: +aws cloudtrail create-trail /);
    expect(awsSnapshot()).toEqual(before);
    const gate = await cli(withEndpoint('check', '--fail-on', 'high'));
    expect(gate.code).toBe(1);
    expect(gate.stdout).toBe(
      r.stdout.replace(/at [\d-]+ [\d:]+ UTC/, gate.stdout.match(/at [\d-]+ [\d:]+ UTC/)?.[0] ?? ''),
    );
  });

  it('--emit-policy writes <key>.policy.json, a policy document put-user-policy accepts as is', async () => {
    const out = join(dir, 'policies');
    const r = await cli(withEndpoint('check', '--key', 'prod-ecr-push', '--emit-policy', out, '--json'));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { policies: { key: string }[] };
    expect(report.policies.map((p) => p.key)).toEqual(['prod-ecr-push']);
    const doc = JSON.parse(await readFile(join(out, 'prod-ecr-push.policy.json'), 'utf8')) as {
      Version: string;
      Statement: { Action: string[] | string }[];
    };
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement.flatMap((st) => st.Action)).toContain('ecr:GetAuthorizationToken');
    expect(doc.Statement.flatMap((st) => st.Action)).not.toContain('ecr:DeleteRepository');
  });
});

describe('errors', () => {
  it('usage errors exit 2 with one error line', async () => {
    for (const args of [
      ['rotate'],
      ['frobnicate'],
      ['audit', '--bogus'],
      ['rotate', 'jenkins-prod', '--reason', 'x'],
    ]) {
      const r = await cli(args, { env: {} });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toMatch(/^key-rotator: error: /);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('key-rotator: error:'))).toHaveLength(1);
    }
  });

  it('an unreachable endpoint is one line (exit 1), the details only with --verbose', async () => {
    const r = await cli(['audit', '--config', configPath, '--endpoint', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'key-rotator: error: cannot reach http://127.0.0.1:1 (ECONNREFUSED): is the endpoint (local cloud) running?\n(--verbose shows the details)\n',
    );
    const v = await cli(['audit', '--config', configPath, '--endpoint', 'http://127.0.0.1:1', '--verbose']);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/^key-rotator: error: cannot reach http:\/\/127\.0\.0\.1:1/);
    expect(v.stderr).toMatch(/\n\s+at /);
  });

  it('no secret access key, token or password was ever printed', () => {
    const secrets = [
      ...[...cloud.aws.state.accessKeys.values()].map((k) => k.secretAccessKey),
      cloud.aws.admin.secretAccessKey,
      cloud.jenkins.admin.apiToken,
      ...[...cloud.jenkins.state.users.values()].flatMap((u) => [
        ...u.apiTokens,
        ...(u.password ? [u.password] : []),
      ]),
    ];
    expect(secrets.length).toBeGreaterThan(KEYS.length);
    const out = printed.join('\n');
    expect(out.length).toBeGreaterThan(1000);
    for (const s of secrets) expect(out.includes(s), 'a secret was printed').toBe(false);
  });
});
