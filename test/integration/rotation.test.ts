import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { authenticates as authenticatesAt, type Creds } from '../support/aws';
import { captureOutput, rememberSecrets, type Capture } from '../support/capture';
import { jenkinsCredential, jenkinsFault, clearJenkinsFaults } from '../support/jenkins';
import { ROTATE_LAMBDA_ARN, wireRotator } from '../support/rotator';

const KEYS: ScenarioKey[] = [
  {
    name: 'prod-ecr-push',
    iamUser: 'jenkins-prod',
    ageDays: 120,
    secretName: 'jenkins/prod/aws-key',
    credentials: [
      {
        store: 'system',
        credentialId: 'aws-prod',
        kind: 'aws',
        description: 'prod & <deploy> "key"',
        iamRoleArn: 'arn:aws:iam::111122223333:role/ecr-push',
        iamExternalId: 'ext-123',
        iamMfaSerialNumber: 'arn:aws:iam::111122223333:mfa/ci',
        stsTokenDuration: 1800,
      },
      {
        store: { folder: 'team-a/deploy' },
        credentialId: 'aws-prod-userpass',
        kind: 'usernamePassword',
        description: 'legacy jobs',
        usernameSecret: true,
      },
    ],
    canary: true,
  },
];

let cloud: LocalCloud;
let sm: SecretsManagerClient;
let capture: Capture;
let wired: ReturnType<typeof wireRotator>;
const SECRET = 'jenkins/prod/aws-key';
/** The SDK retries a 5xx up to 3 attempts: a fault must outlast them to reach the engine. */
const SDK_ATTEMPTS = 3;
const USER = 'jenkins-prod';
/** Every secret value that ever existed in the suite, to prove none reached a log line. */
const secretsSeen = new Set<string>();

const remember = () => rememberSecrets(cloud, secretsSeen);

async function currentSecret(): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const r = await sm.send(new GetSecretValueCommand({ SecretId: SECRET }));
  return JSON.parse(r.SecretString ?? '{}') as { accessKeyId: string; secretAccessKey: string };
}

const keysOfUser = () => cloud.aws.state.keysOf(cloud.aws.state.defaultAccountId, USER);

async function rotateAndWait(): Promise<string> {
  const r = await sm.send(
    new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: ROTATE_LAMBDA_ARN }),
  );
  await waitForRotations(cloud.aws.state, 60_000);
  remember();
  return r.VersionId ?? '';
}

const lastRun = () => cloud.aws.state.rotations.at(-1);

const authenticates = (creds: Creds) => authenticatesAt(cloud.aws.url, creds);

/** Runs the four steps again with the same token, as Secrets Manager's retry of a failed rotation does. */
async function retryRotation(token: string) {
  const arn = (await sm.send(new DescribeSecretCommand({ SecretId: SECRET }))).ARN;
  for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'])
    await wired.invoke({ Step, SecretId: arn, ClientRequestToken: token });
  remember();
}

async function expectSafeState(oldKey: { accessKeyId: string; secretAccessKey: string }) {
  expect((await currentSecret()).accessKeyId).toBe(oldKey.accessKeyId);
  const old = keysOfUser().find((k) => k.accessKeyId === oldKey.accessKeyId);
  expect(old?.status).toBe('Active');
  expect(await authenticates(oldKey)).toBe(true);
  expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(oldKey.accessKeyId);
  expect((await jenkinsCredential(cloud, { folder: 'team-a/deploy' }, 'aws-prod-userpass'))['username']).toBe(
    oldKey.accessKeyId,
  );
  // No orphan: every key of the user is either AWSCURRENT's or recorded in AWSPENDING.
  const d = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
  const recorded = new Set<string>([oldKey.accessKeyId]);
  for (const [versionId, stages] of Object.entries(d.VersionIdsToStages ?? {}))
    if (stages.includes('AWSPENDING')) {
      const v = await sm
        .send(
          new GetSecretValueCommand({ SecretId: SECRET, VersionId: versionId, VersionStage: 'AWSPENDING' }),
        )
        .catch(() => undefined);
      if (v?.SecretString) recorded.add((JSON.parse(v.SecretString) as { accessKeyId: string }).accessKeyId);
    }
  for (const k of keysOfUser()) expect(recorded.has(k.accessKeyId)).toBe(true);
}

async function expectRotated(oldKey: { accessKeyId: string; secretAccessKey: string }) {
  const now = await currentSecret();
  expect(now.accessKeyId).not.toBe(oldKey.accessKeyId);
  expect(await authenticates(now)).toBe(true);
  expect(await authenticates(oldKey)).toBe(false);
  expect(keysOfUser().find((k) => k.accessKeyId === oldKey.accessKeyId)?.status).toBe('Inactive');
  const sys = await jenkinsCredential(cloud, 'system', 'aws-prod');
  expect(sys).toMatchObject({ accessKey: now.accessKeyId, secretKey: now.secretAccessKey });
  const up = await jenkinsCredential(cloud, { folder: 'team-a/deploy' }, 'aws-prod-userpass');
  expect(up).toMatchObject({ username: now.accessKeyId, password: now.secretAccessKey });
  return now;
}

beforeAll(async () => {
  capture = captureOutput();
  cloud = await startLocalCloud({ aws: { propagationDelayMs: 300 } });
  const { config } = await seedScenario(cloud, KEYS);
  wired = wireRotator(cloud, config);
  sm = new SecretsManagerClient(cloud.aws.adminClientConfig('us-east-1'));
  remember();
});

afterAll(async () => {
  capture.stop();
  sm.destroy();
  await cloud.close();
});

beforeEach(async () => {
  cloud.aws.state.faults = [];
  await clearJenkinsFaults(cloud);
});

describe('RotateSecret through the emulated Secrets Manager', () => {
  it('rotates: new key current, accepted, in Jenkins with every other field intact, old key inactive', async () => {
    const before = await currentSecret();
    const sysBefore = await jenkinsCredential(cloud, 'system', 'aws-prod');
    const upBefore = await jenkinsCredential(cloud, { folder: 'team-a/deploy' }, 'aws-prod-userpass');
    await rotateAndWait();
    expect(lastRun()).toMatchObject({ status: 'succeeded' });
    expect(lastRun()?.steps.map((s) => s.step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    await expectRotated(before);
    const sys = await jenkinsCredential(cloud, 'system', 'aws-prod');
    for (const f of [
      'scope',
      'id',
      'description',
      'iamRoleArn',
      'iamExternalId',
      'iamMfaSerialNumber',
      'stsTokenDuration',
    ])
      expect(sys[f]).toEqual(sysBefore[f]);
    expect(sys['description']).toBe('prod & <deploy> "key"');
    const up = await jenkinsCredential(cloud, { folder: 'team-a/deploy' }, 'aws-prod-userpass');
    for (const f of ['scope', 'id', 'description', 'usernameSecret']) expect(up[f]).toEqual(upBefore[f]);
    const d = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
    const stages = Object.values(d.VersionIdsToStages ?? {}).flat();
    expect(stages.filter((s) => s === 'AWSPENDING')).toEqual([]);
    expect(stages).toContain('AWSPREVIOUS');
    // The intent record is gone; the deactivation is recorded for the clean-up after the grace period.
    const tags = cloud.aws.state.account(cloud.aws.state.defaultAccountId).users.get(USER)?.tags ?? [];
    expect(tags.map((t) => t.Key)).not.toContain('key-rotator:creating');
    expect(tags.find((t) => t.Key === `key-rotator:deactivated:${before.accessKeyId}`)?.Value).toMatch(
      /^\d{4}-/,
    );
  });

  it('running a finished step again changes nothing', async () => {
    const d = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
    const current =
      Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'))?.[0] ?? '';
    const keysBefore = JSON.stringify(keysOfUser());
    const r = await wired.invoke({ Step: 'finishSecret', SecretId: d.ARN, ClientRequestToken: current });
    expect(r.changed).toBe(false);
    const c = await wired.invoke({ Step: 'createSecret', SecretId: d.ARN, ClientRequestToken: current });
    expect(c.changed).toBe(false);
    expect(JSON.stringify(keysOfUser())).toBe(keysBefore);
  });

  it('rotates again: the inactive previous key is deleted to make room under the 2-key limit', async () => {
    const before = await currentSecret();
    expect(keysOfUser()).toHaveLength(2);
    await rotateAndWait();
    expect(lastRun()).toMatchObject({ status: 'succeeded' });
    await expectRotated(before);
    expect(keysOfUser()).toHaveLength(2);
  });
});

describe('a failure at each step leaves the old key working and converges on retry', () => {
  it('createSecret: storing the new key fails -> the new key is deleted, nothing else changes', async () => {
    const before = await currentSecret();
    const keysBefore = keysOfUser().map((k) => k.accessKeyId);
    cloud.aws.state.faults.push({
      id: 'f1',
      action: 'secretsmanager:PutSecretValue',
      remaining: SDK_ATTEMPTS,
      error: { code: 'InternalServiceError', status: 500 },
    });
    const token = await rotateAndWait();
    expect(lastRun()).toMatchObject({ status: 'failed' });
    expect(lastRun()?.steps.at(-1)).toMatchObject({ step: 'createSecret', ok: false });
    // The inactive previous key made room and is gone; the key created for this token was deleted again.
    expect(keysOfUser().map((k) => k.accessKeyId)).toEqual(
      keysBefore.filter((id) => id === before.accessKeyId),
    );
    await expectSafeState(before);
    await retryRotation(token);
    await expectRotated(before);
  });

  it('createSecret: a crash after CreateAccessKey leaves an orphan that the retry deletes, never leaks', async () => {
    const before = await currentSecret();
    // The grace-period clean-up has removed the inactive previous key, so the only deletion is the clean-up.
    for (const k of keysOfUser())
      if (k.status === 'Inactive') cloud.aws.state.accessKeys.delete(k.accessKeyId);
    // Storing fails and so does the clean-up: the closest a live run gets to a crash between the two calls.
    cloud.aws.state.faults.push(
      {
        id: 'f2',
        action: 'secretsmanager:PutSecretValue',
        remaining: SDK_ATTEMPTS,
        error: { code: 'InternalServiceError', status: 500 },
      },
      {
        id: 'f3',
        action: 'iam:DeleteAccessKey',
        remaining: SDK_ATTEMPTS,
        error: { code: 'ServiceFailure', status: 500 },
      },
    );
    const token = await rotateAndWait();
    expect(lastRun()).toMatchObject({ status: 'failed' });
    const orphan = keysOfUser().find((k) => k.accessKeyId !== before.accessKeyId && k.status === 'Active');
    expect(orphan).toBeDefined();
    cloud.aws.state.faults = [];
    await retryRotation(token);
    const now = await expectRotated(before);
    expect(keysOfUser().map((k) => k.accessKeyId)).not.toContain(orphan?.accessKeyId);
    expect(keysOfUser().map((k) => k.accessKeyId)).toContain(now.accessKeyId);
  });

  it('setSecret: Jenkins fails on the second target -> the first is put back on the old key', async () => {
    const before = await currentSecret();
    await jenkinsFault(cloud, {
      method: 'POST',
      path: '/job/team-a/job/deploy/credentials/',
      status: 503,
      count: 20,
    });
    const token = await rotateAndWait();
    expect(lastRun()?.steps.at(-1)).toMatchObject({ step: 'setSecret', ok: false });
    await expectSafeState(before);
    await clearJenkinsFaults(cloud);
    await retryRotation(token);
    await expectRotated(before);
  });

  it('testSecret: ECR refuses the new key -> Jenkins is rolled back, the old key stays active', async () => {
    const before = await currentSecret();
    cloud.aws.state.faults.push({
      id: 'f4',
      action: 'ecr:GetAuthorizationToken',
      remaining: 1,
      error: {
        code: 'AccessDeniedException',
        status: 400,
        message: 'not authorized to perform ecr:GetAuthorizationToken',
      },
    });
    const token = await rotateAndWait();
    const failed = lastRun()?.steps.at(-1);
    expect(failed).toMatchObject({ step: 'testSecret', ok: false });
    expect(failed?.error).toMatch(/ECR login/);
    await expectSafeState(before);
    await retryRotation(token);
    await expectRotated(before);
  });

  it('finishSecret: moving AWSCURRENT fails -> the old key stays active; the retry completes', async () => {
    const before = await currentSecret();
    cloud.aws.state.faults.push({
      id: 'f5',
      action: 'secretsmanager:UpdateSecretVersionStage',
      remaining: SDK_ATTEMPTS,
      error: { code: 'InternalServiceError', status: 500 },
    });
    const token = await rotateAndWait();
    expect(lastRun()?.steps.at(-1)).toMatchObject({ step: 'finishSecret', ok: false });
    expect((await currentSecret()).accessKeyId).toBe(before.accessKeyId);
    expect(keysOfUser().find((k) => k.accessKeyId === before.accessKeyId)?.status).toBe('Active');
    expect(await authenticates(before)).toBe(true);
    await retryRotation(token);
    await expectRotated(before);
  });

  it('finishSecret: deactivating the old key fails after AWSCURRENT moved -> a re-run deactivates it', async () => {
    const before = await currentSecret();
    cloud.aws.state.faults.push({
      id: 'f6',
      action: 'iam:UpdateAccessKey',
      remaining: SDK_ATTEMPTS,
      error: { code: 'ServiceFailure', status: 500 },
    });
    const token = await rotateAndWait();
    expect(lastRun()?.steps.at(-1)).toMatchObject({ step: 'finishSecret', ok: false });
    expect((await currentSecret()).accessKeyId).not.toBe(before.accessKeyId);
    expect(keysOfUser().find((k) => k.accessKeyId === before.accessKeyId)?.status).toBe('Active');
    const arn = (await sm.send(new DescribeSecretCommand({ SecretId: SECRET }))).ARN;
    await wired.invoke({ Step: 'finishSecret', SecretId: arn, ClientRequestToken: token });
    await expectRotated(before);
  });
});

describe('logs', () => {
  it('no log line of this suite contains a secret access key or a Jenkins token', () => {
    remember();
    const out = capture.text();
    expect(out.length).toBeGreaterThan(0);
    expect(out).toContain('rotation step finished');
    for (const s of secretsSeen) expect(out.includes(s)).toBe(false);
  });
});
