import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanHandler, METRICS_NAMESPACE } from '../../handlers/scan';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { compose } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { systemClock, type Clock } from '../../src/engine/ports';
import { rotateNow } from '../../src/engine/rotate-now';
import { createLogger } from '../../src/observability/logger';
import { checkJenkinsTargets, ScanFailedError, type ScanSummary } from '../../src/scan';
import { captureOutput, rememberSecrets, type Capture } from '../support/capture';
import { jenkinsCredential } from '../support/jenkins';
import { lambdaContext, ROTATE_LAMBDA_ARN, wireRotator } from '../support/rotator';

const DAY = 86_400_000;
const REGION = 'us-east-1';
const PROD_SECRET = 'jenkins/prod/aws-key';
const HOOK_PATH = '/services/T0000/B0000/FAKEhookTOKEN0000000000';

const KEYS: ScenarioKey[] = [
  {
    name: 'prod-ecr-push',
    iamUser: 'jenkins-prod',
    ageDays: 120,
    secretName: PROD_SECRET,
    credentials: [
      { store: 'system', credentialId: 'aws-prod', kind: 'aws' },
      { store: { folder: 'team-a/deploy' }, credentialId: 'aws-prod-userpass', kind: 'usernamePassword' },
    ],
    canary: true,
  },
  {
    name: 'dev-ecr-push',
    iamUser: 'jenkins-dev',
    ageDays: 10,
    secretName: 'jenkins/dev/aws-key',
    credentials: [{ store: { folder: 'dev' }, credentialId: 'aws-dev', kind: 'aws' }],
  },
];

let cloud: LocalCloud;
let capture: Capture;
let sm: SecretsManagerClient;
let hookServer: Server;
const hookCalls: { path: string; body: { text: string } }[] = [];
let topicArn: string;
let invoke: () => Promise<ScanSummary>;
let rawConfig: Record<string, unknown>;
let awsSetup: Parameters<typeof compose>[1];
/** Ids of the keys seeded around the managed ones. */
const ids = {
  prodCurrent: '',
  prodOldPastGrace: '',
  devCurrent: '',
  devOldInGrace: '',
  aliceOld: '',
  bobYoung: '',
};
const secretsSeen = new Set<string>();

const state = () => cloud.aws.state;
const acct = () => state().defaultAccountId;
const keyOf = (id: string) => state().accessKeys.get(id);
const tagsOf = (user: string) => state().account(acct()).users.get(user)?.tags ?? [];
const currentKeyId = async (secretId: string) =>
  (
    JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}') as {
      accessKeyId: string;
    }
  ).accessKeyId;

/** The scan runs on the emulated clock, which the tests move forward by days. */
const emulatedClock: Clock = {
  now: () => new Date(state().now()),
  sleep: (ms, signal) => systemClock.sleep(ms, signal),
};
const advanceDays = (days: number) => (state().clockOffsetMs += days * DAY);

function emfLines(text: string) {
  return text
    .split('\n')
    .filter((l) => l.includes('"_aws"'))
    .map(
      (l) =>
        JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string }[] } },
    );
}

/** Seeds, directly in emulator state, a key and (optionally) this tool's deactivation tag on its user. */
function seedKey(
  userName: string,
  opts: {
    ageDays: number;
    status?: 'Active' | 'Inactive';
    lastUsedDaysAgo?: number;
    deactivatedDaysAgo?: number;
  },
) {
  const a = state().account(acct());
  const user =
    a.users.get(userName) ?? state().createUser(acct(), userName, { createDate: state().now() - 400 * DAY });
  const now = state().now();
  const k = state().createAccessKey(user, {
    createDate: now - opts.ageDays * DAY,
    status: opts.status ?? 'Active',
    established: true,
  });
  if (opts.lastUsedDaysAgo !== undefined)
    k.lastUsed = { date: now - opts.lastUsedDaysAgo * DAY, serviceName: 'ecr', region: REGION };
  if (opts.deactivatedDaysAgo !== undefined)
    user.tags.push({
      Key: `key-rotator:deactivated:${k.accessKeyId}`,
      Value: new Date(now - opts.deactivatedDaysAgo * DAY).toISOString(),
    });
  secretsSeen.add(k.secretAccessKey);
  return k.accessKeyId;
}

beforeAll(async () => {
  capture = captureOutput();
  hookServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hookCalls.push({
        path: req.url ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text: string },
      });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}${HOOK_PATH}`;

  cloud = await startLocalCloud();
  const aws = cloud.aws.adminClientConfig(REGION);
  sm = new SecretsManagerClient(aws);
  const sns = new SNSClient(aws);
  topicArn = (await sns.send(new CreateTopicCommand({ Name: 'key-rotator-reports' }))).TopicArn ?? '';
  sns.destroy();
  await sm.send(new CreateSecretCommand({ Name: 'key-rotator/slack-webhook', SecretString: hookUrl }));

  const seeded = await seedScenario(cloud, KEYS);
  ids.prodCurrent = seeded.seeded[0]?.accessKeyId ?? '';
  ids.devCurrent = seeded.seeded[1]?.accessKeyId ?? '';
  ids.prodOldPastGrace = seedKey('jenkins-prod', {
    ageDays: 210,
    status: 'Inactive',
    lastUsedDaysAgo: 11,
    deactivatedDaysAgo: 10,
  });
  ids.devOldInGrace = seedKey('jenkins-dev', {
    ageDays: 100,
    status: 'Inactive',
    lastUsedDaysAgo: 3,
    deactivatedDaysAgo: 2,
  });
  ids.aliceOld = seedKey('alice', { ageDays: 200, lastUsedDaysAgo: 1 });
  ids.bobYoung = seedKey('bob', { ageDays: 30 });
  rememberSecrets(cloud, secretsSeen);
  secretsSeen.add(HOOK_PATH.split('/').at(-1) ?? '');

  const raw = {
    ...seeded.config,
    notifications: { snsTopicArn: topicArn, slackWebhookSecretId: 'key-rotator/slack-webhook' },
  };
  // The rotation hook, registered with the emulated Secrets Manager as ROTATE_LAMBDA_ARN.
  wireRotator(cloud, raw, { silent: true });
  const logger = createLogger('jenkins-key-rotator-scan-test');
  rawConfig = raw;
  awsSetup = aws;
  const composition = compose(parseConfig(raw), aws, logger, emulatedClock);
  const handler = createScanHandler({
    composition: () => Promise.resolve(composition),
    logger,
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'jenkins-key-rotator-test' }),
    rotationLambdaArn: ROTATE_LAMBDA_ARN,
    options: { clock: emulatedClock },
  });
  invoke = () => handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, lambdaContext());
});

afterAll(async () => {
  capture.stop();
  sm.destroy();
  await new Promise<void>((r) => hookServer.close(() => r()));
  await cloud.close();
});

describe('the scheduled scan against the local cloud', () => {
  let first: ScanSummary;
  let outputBefore = 0;

  it('starts the rotation of the 120-day key and leaves the 10-day key alone', async () => {
    outputBefore = capture.text().length;
    first = await invoke();
    expect(first.inventory.source).toBe('credential-report');
    expect(first.started).toEqual([
      expect.objectContaining({
        key: 'prod-ecr-push',
        secretId: PROD_SECRET,
        accessKeyId: ids.prodCurrent,
        ageDays: 120,
      }),
    ]);
    expect(first.skipped).toContainEqual(
      expect.objectContaining({
        key: 'dev-ecr-push',
        accessKeyId: ids.devCurrent,
        reason: expect.stringMatching(/^not due: 10 days old/) as unknown,
      }),
    );
    expect(first.failed).toEqual([]);
    expect(first.counts).toMatchObject({ started: 1, failed: 0, deleted: 1, unmanagedStale: 1 });

    await waitForRotations(state(), 60_000);
    expect(state().rotations.at(-1)).toMatchObject({ status: 'succeeded' });
    const now = await currentKeyId(PROD_SECRET);
    expect(now).not.toBe(ids.prodCurrent);
    expect(keyOf(ids.prodCurrent)?.status).toBe('Inactive');
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(now);
    expect(await currentKeyId('jenkins/dev/aws-key')).toBe(ids.devCurrent);
    expect(keyOf(ids.devCurrent)?.status).toBe('Active');
    rememberSecrets(cloud, secretsSeen);
  });

  it('reported the unmanaged old key and did not touch it', () => {
    // Audited from the credential report's own columns, without ListAccessKeys: the report has no key ids, so the
    // key is named by its slot.
    expect(first.unmanagedStale).toEqual([
      expect.objectContaining({ user: 'alice', keySlot: 1, ageDays: 200, accountId: acct() }),
    ]);
    expect(first.unmanagedStale[0]).not.toHaveProperty('accessKeyId');
    expect(keyOf(ids.aliceOld)?.status).toBe('Active');
    expect(keyOf(ids.bobYoung)?.status).toBe('Active');
  });

  it('deleted the key it deactivated past the grace period, with its tag, and kept the one within it', () => {
    expect(first.deleted).toEqual([
      { key: 'prod-ecr-push', user: 'jenkins-prod', accountId: acct(), accessKeyId: ids.prodOldPastGrace },
    ]);
    expect(keyOf(ids.prodOldPastGrace)).toBeUndefined();
    expect(tagsOf('jenkins-prod').map((t) => t.Key)).not.toContain(
      `key-rotator:deactivated:${ids.prodOldPastGrace}`,
    );
    expect(keyOf(ids.devOldInGrace)?.status).toBe('Inactive');
    expect(first.skipped).toContainEqual(
      expect.objectContaining({
        accessKeyId: ids.devOldInGrace,
        reason: expect.stringMatching(/grace period/) as unknown,
      }),
    );
  });

  it('published the summary to the SNS topic and the webhook, logged it once and printed the metrics', () => {
    const messages = state().sns.messages.filter((m) => m.topicArn === topicArn);
    expect(messages).toHaveLength(1);
    const sent = JSON.parse(messages[0]?.message ?? '') as ScanSummary;
    expect(sent.counts).toEqual(first.counts);
    expect(sent.started).toEqual(first.started);
    // The security checks ran too (no trail in this account): their new high findings end the title.
    expect(first.checks?.ran && first.checks.newHighCount).toBeGreaterThan(0);
    expect(messages[0]?.subject).toBe(
      `Key rotation scan ok: 1 started, 0 failed, 1 deleted, 1 unmanaged stale, ${first.checks?.ran ? first.checks.newHighCount : 0} NEW HIGH findings`,
    );
    expect(first.notifications).toEqual([
      { channel: 'sns', ok: true },
      { channel: 'webhook', ok: true },
    ]);
    expect(hookCalls).toHaveLength(1);
    expect(hookCalls[0]?.path).toBe(HOOK_PATH);
    expect(hookCalls[0]?.body.text).toContain(`alice: access key 1 (credential report), 200 days`);

    const out = capture.text().slice(outputBefore);
    const logLines = out.split('\n').filter((l) => l.includes('"message":"scan finished"'));
    expect(logLines).toHaveLength(1);
    const logged = JSON.parse(logLines[0] ?? '{}') as { summary: ScanSummary };
    expect(logged.summary.counts).toEqual(first.counts);
    const emf = emfLines(out);
    expect(emf).toHaveLength(1);
    expect(emf[0]?._aws.CloudWatchMetrics[0]?.Namespace).toBe(METRICS_NAMESPACE);
    expect(emf[0]).toMatchObject({
      RotationsStarted: 1,
      RotationFailures: 0,
      KeysDeleted: 1,
      UnmanagedStaleKeys: 1,
    });
  });

  it('a second run right after reports the completed rotation and starts nothing', async () => {
    const second = await invoke();
    const now = await currentKeyId(PROD_SECRET);
    expect(second.rotated).toEqual([expect.objectContaining({ key: 'prod-ecr-push', accessKeyId: now })]);
    expect(second.started).toEqual([]);
    expect(second.deleted).toEqual([]);
    expect(second.inProgress).toEqual([]);
    // The key the rotation deactivated waits out its grace period.
    expect(second.skipped).toContainEqual(
      expect.objectContaining({
        accessKeyId: ids.prodCurrent,
        reason: expect.stringMatching(/grace period/) as unknown,
      }),
    );
    expect(keyOf(ids.prodCurrent)?.status).toBe('Inactive');
  });

  it('after the grace period, deletes the keys this tool deactivated, and only those', async () => {
    advanceDays(8);
    const r = await invoke();
    expect(r.deleted.map((d) => d.accessKeyId).sort()).toEqual([ids.prodCurrent, ids.devOldInGrace].sort());
    expect(keyOf(ids.prodCurrent)).toBeUndefined();
    expect(keyOf(ids.devOldInGrace)).toBeUndefined();
    expect(tagsOf('jenkins-prod').filter((t) => t.Key.startsWith('key-rotator:deactivated:'))).toEqual([]);
    expect(tagsOf('jenkins-dev').filter((t) => t.Key.startsWith('key-rotator:deactivated:'))).toEqual([]);
    expect(keyOf(ids.aliceOld)?.status).toBe('Active');
    expect(r.started).toEqual([]);
  });

  it('processes every target, then throws when a rotation cannot start', async () => {
    advanceDays(85); // both current keys are now past 90 days
    const outputBefore = capture.text().length;
    const messagesBefore = state().sns.messages.length;
    state().faults.push({
      id: 'rotate-denied',
      action: 'secretsmanager:RotateSecret',
      remaining: 1,
      error: {
        code: 'AccessDeniedException',
        status: 400,
        message: 'Secrets Manager cannot invoke the specified Lambda function.',
      },
    });
    const err = await invoke().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ScanFailedError);
    const summary = (err as ScanFailedError).summary;
    expect(summary.failed).toEqual([
      {
        key: 'prod-ecr-push',
        accessKeyId: expect.any(String) as unknown,
        reason: expect.stringMatching(
          /due, but the rotation could not start: Secrets Manager cannot invoke/,
        ) as unknown,
      },
    ]);
    expect(summary.started.map((s) => s.key)).toEqual(['dev-ecr-push']);
    expect((err as Error).message).toMatch(/^scan finished with 1 failure\(s\): prod-ecr-push: /);
    // Reported everywhere before failing.
    expect(state().sns.messages.length).toBe(messagesBefore + 1);
    expect(state().sns.messages.at(-1)?.subject).toMatch(/FAILED: 1 started, 1 failed/);
    expect(emfLines(capture.text().slice(outputBefore))[0]).toMatchObject({
      RotationsStarted: 1,
      RotationFailures: 1,
    });
    await waitForRotations(state(), 60_000);
    expect(await currentKeyId('jenkins/dev/aws-key')).not.toBe(ids.devCurrent);
  });

  it('never wrote a secret access key or the webhook URL to the output', () => {
    rememberSecrets(cloud, secretsSeen);
    const out = capture.text();
    expect(out).toContain('scan finished');
    for (const s of secretsSeen) expect(out.includes(s)).toBe(false);
  });
});

describe("checkJenkinsTargets (the CLI plan's read-only Jenkins check)", () => {
  type RawKey = { name: string; jenkins: Record<string, unknown>[] };
  const compositionWith = (edit: (keys: RawKey[]) => void) => {
    const raw = JSON.parse(JSON.stringify(rawConfig)) as { keys: RawKey[] };
    edit(raw.keys);
    return compose(parseConfig(raw), awsSetup, createLogger('scan-test', 'SILENT'), emulatedClock);
  };

  it('finds each configured credential, of either kind, in the system and folder stores', async () => {
    const c = compositionWith(() => undefined);
    const prod = c.config.keys[0]!;
    const checks = await checkJenkinsTargets(c, prod);
    expect(checks).toEqual([
      expect.objectContaining({
        key: 'prod-ecr-push',
        store: 'system',
        credentialId: 'aws-prod',
        ok: true,
        exists: true,
        kind: 'aws',
      }),
      expect.objectContaining({
        store: 'team-a/deploy',
        credentialId: 'aws-prod-userpass',
        ok: true,
        exists: true,
        kind: 'usernamePassword',
      }),
    ]);
  });

  it('fails a missing credential unless the rotation may create it, and an unknown folder', async () => {
    const c = compositionWith((keys) => {
      const prod = keys[0]!;
      prod.jenkins = [
        { ...prod.jenkins[0], credentialId: 'no-such-credential' },
        { ...prod.jenkins[0], name: 'jenkins-1', credentialId: 'to-be-created', createIfMissing: true },
        { ...prod.jenkins[1], name: 'jenkins-2', store: { folder: 'no-such-folder' } },
      ];
    });
    const checks = await checkJenkinsTargets(c, c.config.keys[0]!);
    expect(checks.map((x) => [x.ok, x.exists])).toEqual([
      [false, false],
      [true, false],
      [false, false],
    ]);
    expect(checks[0]?.detail).toMatch(/does not exist and createIfMissing is false/);
    expect(checks[1]?.detail).toMatch(/the rotation creates it/);
    expect(checks[2]?.detail).toMatch(/no-such-folder/);
  });
});

describe('the scan repairs what it safely can, and reports the rest', () => {
  const HOUR = 3_600_000;
  const sdkAttempts = 3;
  let rc: LocalCloud;
  let rsm: SecretsManagerClient;
  let comp: ReturnType<typeof compose>;
  let scan: () => Promise<ScanSummary>;
  const clock: Clock = {
    now: () => new Date(rc.aws.state.now()),
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  };
  const withFolder = (name: string, user: string, ageDays: number): ScenarioKey => ({
    name,
    iamUser: user,
    ageDays,
    secretName: `jenkins/${name}/aws-key`,
    credentials: [
      { store: 'system', credentialId: `aws-${name}`, kind: 'aws' },
      { store: { folder: `${name}/deploy` }, credentialId: `aws-${name}-folder`, kind: 'usernamePassword' },
    ],
  });
  const REPAIR_KEYS = [
    withFolder('promoted', 'jenkins-promoted', 30),
    withFolder('stuck', 'jenkins-stuck', 120),
    withFolder('young', 'jenkins-young', 10),
    withFolder('gone', 'jenkins-gone', 10),
  ];
  const managed = (name: string) => {
    const k = comp.config.keys.find((x) => x.name === name);
    if (!k) throw new Error(`no key ${name}`);
    return k;
  };
  const keysOf = (user: string) => rc.aws.state.keysOf(rc.aws.state.defaultAccountId, user);
  const tagsOfUser = (user: string) =>
    Object.fromEntries(
      (rc.aws.state.account(rc.aws.state.defaultAccountId).users.get(user)?.tags ?? []).map((t) => [
        t.Key,
        t.Value,
      ]),
    );
  const stagesOf = async (name: string) =>
    (await rsm.send(new DescribeSecretCommand({ SecretId: `jenkins/${name}/aws-key` }))).VersionIdsToStages ??
    {};
  const currentOf = async (name: string) =>
    (
      JSON.parse(
        (await rsm.send(new GetSecretValueCommand({ SecretId: `jenkins/${name}/aws-key` }))).SecretString ??
          '{}',
      ) as { accessKeyId: string }
    ).accessKeyId;
  const held = async (name: string) => [
    (await jenkinsCredential(rc, 'system', `aws-${name}`))['accessKey'],
    (await jenkinsCredential(rc, { folder: `${name}/deploy` }, `aws-${name}-folder`))['username'],
  ];

  /**
   * What a CLI rotation that died after setSecret leaves: the new key AWSPENDING and in every Jenkins credential,
   * both keys active, and (unless `endAttempt`) its attempt record until its lease runs out a minute later.
   */
  async function crashedAfterSetSecret(name: string, endAttempt: boolean) {
    const key = managed(name);
    const ctx = { token: randomUUID(), deadline: clock.now().getTime() + 60_000, direct: true };
    const created = await comp.engine.run('createSecret', key, ctx);
    await comp.engine.run('setSecret', key, ctx);
    if (endAttempt && created.attemptId) await comp.engine.endAttempt(key, created.attemptId);
    rememberSecrets(rc, secretsSeen);
    return { token: ctx.token, pendingKeyId: created.newKeyId ?? '' };
  }

  const stuck = { old: '', token: '', pendingKeyId: '' };
  const young = { token: '', pendingKeyId: '' };
  const gone = { token: '', pendingKeyId: '' };
  const promoted = { old: '', now: '' };

  beforeAll(async () => {
    rc = await startLocalCloud({ aws: { propagationDelayMs: 200 } });
    const aws = rc.aws.adminClientConfig(REGION);
    rsm = new SecretsManagerClient(aws);
    const { config } = await seedScenario(rc, REPAIR_KEYS);
    wireRotator(rc, config, { silent: true });
    const logger = createLogger('jenkins-key-rotator-scan-repair-test', 'SILENT');
    comp = compose(parseConfig(config), aws, logger, clock);
    const handler = createScanHandler({
      composition: () => Promise.resolve(comp),
      logger: createLogger('jenkins-key-rotator-scan-repair-test'),
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'jenkins-key-rotator-test' }),
      rotationLambdaArn: ROTATE_LAMBDA_ARN,
      options: { clock },
    });
    scan = () => handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, lambdaContext());

    // A rotation that was promoted, but whose finishSecret could not deactivate the old key.
    promoted.old = await currentOf('promoted');
    rc.aws.state.faults.push({
      id: 'no-deactivation',
      action: 'iam:UpdateAccessKey',
      remaining: sdkAttempts,
      error: { code: 'ServiceFailure', status: 500 },
    });
    const r = await rotateNow(comp, managed('promoted'));
    rc.aws.state.faults = [];
    expect(r).toMatchObject({ outcome: 'failed', failedStep: 'finishSecret' });
    promoted.now = await currentOf('promoted');

    // A crashed rotation, then 25 hours pass: older than abandonStuckAfterHours (24 by default).
    stuck.old = await currentOf('stuck');
    Object.assign(stuck, await crashedAfterSetSecret('stuck', false));
    rc.aws.state.clockOffsetMs += 25 * HOUR;
    // Then a crash just now, and one whose pending key someone deleted by hand.
    Object.assign(young, await crashedAfterSetSecret('young', true));
    Object.assign(gone, await crashedAfterSetSecret('gone', true));
    rc.aws.state.accessKeys.delete(gone.pendingKeyId);
  }, 120_000);

  afterAll(async () => {
    rsm.destroy();
    await rc.close();
  });

  it('finishes the promoted rotation and abandons the old one, reports the rest, and fails on an error left', async () => {
    expect(await held('stuck')).toEqual([stuck.pendingKeyId, stuck.pendingKeyId]);
    const outputBefore = capture.text().length;
    const err = await scan().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ScanFailedError);
    const s = (err as ScanFailedError).summary;
    expect(s.repaired).toEqual([
      expect.objectContaining({ key: 'promoted', kind: 'previous-still-active', action: 'finish' }),
      expect.objectContaining({
        key: 'stuck',
        kind: 'rotation-in-flight',
        action: 'abandon',
        versionId: stuck.token,
        detail: expect.stringContaining(`deleted the new key ${stuck.pendingKeyId}`) as unknown,
      }),
    ]);
    expect(s.problems.map((p) => [p.key, p.kind, p.severity])).toEqual([
      ['gone', 'pending-key-gone', 'error'],
      ['young', 'rotation-in-flight', 'warning'],
    ]);
    expect(s.problems[0]?.fix).toBe('key-rotator rotate jenkins-gone --abandon');
    expect(s.failed).toEqual([]);
    expect((err as Error).message).toMatch(
      /^scan finished with 1 problem\(s\) of severity error: gone: AWSPENDING .* \(fix: key-rotator rotate jenkins-gone --abandon\)$/,
    );

    // promoted: the old key deactivated and recorded for the clean-up.
    expect(keysOf('jenkins-promoted').find((k) => k.accessKeyId === promoted.old)?.status).toBe('Inactive');
    expect(tagsOfUser('jenkins-promoted')[`key-rotator:deactivated:${promoted.old}`]).toMatch(/^\d{4}-/);
    // stuck: Jenkins back on the current key, the pending key deleted, AWSPENDING gone, not restarted this run.
    expect(await held('stuck')).toEqual([stuck.old, stuck.old]);
    expect(keysOf('jenkins-stuck').map((k) => k.accessKeyId)).toEqual([stuck.old]);
    expect(Object.values(await stagesOf('stuck')).flat()).not.toContain('AWSPENDING');
    expect(Object.keys(tagsOfUser('jenkins-stuck')).filter((t) => t.includes(':attempt:'))).toEqual([]);
    expect(s.started).toEqual([]);
    expect(s.skipped).toContainEqual(
      expect.objectContaining({
        key: 'stuck',
        reason: expect.stringMatching(/^rotation left to the next run/) as unknown,
      }),
    );
    // young and gone: reported, untouched.
    expect((await stagesOf('young'))[young.token]).toEqual(['AWSPENDING']);
    expect(keysOf('jenkins-young').map((k) => k.accessKeyId)).toContain(young.pendingKeyId);
    expect((await stagesOf('gone'))[gone.token]).toEqual(['AWSPENDING']);

    const out = capture.text().slice(outputBefore);
    expect(emfLines(out)[0]).toMatchObject({
      RotationsRepaired: 2,
      RotationProblems: 2,
      RotationFailures: 0,
    });
  });

  it('the next run abandons what is now old enough and rotates the key it abandoned before', async () => {
    rc.aws.state.clockOffsetMs += 25 * HOUR;
    const s = await scan();
    expect(s.repaired.map((r) => [r.key, r.kind, r.action])).toEqual([
      ['gone', 'pending-key-gone', 'abandon'],
      ['young', 'rotation-in-flight', 'abandon'],
    ]);
    expect(s.problems).toEqual([]);
    expect(s.started.map((x) => x.key)).toEqual(['stuck']);
    expect(await held('gone')).toEqual([await currentOf('gone'), await currentOf('gone')]);
    expect(keysOf('jenkins-young').map((k) => k.accessKeyId)).not.toContain(young.pendingKeyId);
    await waitForRotations(rc.aws.state, 60_000);
    const now = await currentOf('stuck');
    expect(now).not.toBe(stuck.old);
    expect(await held('stuck')).toEqual([now, now]);
  });

  it('never wrote a secret access key to the output', () => {
    rememberSecrets(rc, secretsSeen);
    const out = capture.text();
    for (const secret of secretsSeen) expect(out.includes(secret)).toBe(false);
  });
});
