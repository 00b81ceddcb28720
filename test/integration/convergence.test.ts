import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import type { RotationError } from '../../src/domain/errors';
import { ConcurrentRotationError } from '../../src/domain/errors';
import { emergencyRotate } from '../../src/engine/emergency';
import { abandonRotation, resumeRotation, rotateNow } from '../../src/engine/rotate-now';
import { authenticates as authenticatesAt, type Creds } from '../support/aws';
import { captureOutput, rememberSecrets, type Capture } from '../support/capture';
import { clearJenkinsFaults, jenkinsCredential, jenkinsFault } from '../support/jenkins';
import { wireRotator } from '../support/rotator';

/**
 * Item by item of "every failure converges": a retry after finishSecret, concurrent invocations of one token,
 * concurrent emergencies, and the way out of a stuck rotation (resume, abandon) on the local cloud.
 */
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
    canary: true,
  },
];
const SECRET = 'jenkins/prod/aws-key';
const USER = 'jenkins-prod';
/** A rotation function that does nothing: RotateSecret then leaves just the empty AWSPENDING version. */
const IDLE_LAMBDA_ARN = 'arn:aws:lambda:us-east-1:111122223333:function:jenkins-key-rotator-idle';
/** Enough failures to outlast the SDK's own retries (3 attempts). */
const SDK_ATTEMPTS = 3;

let cloud: LocalCloud;
let sm: SecretsManagerClient;
let capture: Capture;
let wired: ReturnType<typeof wireRotator>;
const secretsSeen = new Set<string>();
const remember = () => rememberSecrets(cloud, secretsSeen);

const keysOfUser = () => cloud.aws.state.keysOf(cloud.aws.state.defaultAccountId, USER);
const tagsOfUser = () =>
  Object.fromEntries(
    (cloud.aws.state.account(cloud.aws.state.defaultAccountId).users.get(USER)?.tags ?? []).map((t) => [
      t.Key,
      t.Value,
    ]),
  );
const authenticates = (creds: Creds) => authenticatesAt(cloud.aws.url, creds);
const key = () => {
  const k = wired.config.keys[0];
  if (!k) throw new Error('no key');
  return k;
};

async function currentSecret(): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const r = await sm.send(new GetSecretValueCommand({ SecretId: SECRET }));
  return JSON.parse(r.SecretString ?? '{}') as { accessKeyId: string; secretAccessKey: string };
}
async function stages(): Promise<Record<string, string[]>> {
  return (await sm.send(new DescribeSecretCommand({ SecretId: SECRET }))).VersionIdsToStages ?? {};
}
async function arn(): Promise<string> {
  return (await sm.send(new DescribeSecretCommand({ SecretId: SECRET }))).ARN ?? SECRET;
}

/** RotateSecret with a function that does nothing: the token's empty AWSPENDING version, as the hook first sees it. */
async function pendingToken(): Promise<string> {
  const r = await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: IDLE_LAMBDA_ARN }));
  await waitForRotations(cloud.aws.state, 10_000);
  return r.VersionId ?? '';
}

async function steps(token: string, from = 0) {
  const SecretId = await arn();
  for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'].slice(from))
    await wired.invoke({ Step, SecretId, ClientRequestToken: token });
  remember();
}

/**
 * A rotation through testSecret, then finishSecret's first write (AWSCURRENT moved to the token) done by hand:
 * where a finishSecret that died right after its UpdateSecretVersionStage leaves things.
 */
async function promotedByHand(): Promise<{ token: string; SecretId: string }> {
  const token = await pendingToken();
  const SecretId = await arn();
  for (const Step of ['createSecret', 'setSecret', 'testSecret'])
    await wired.invoke({ Step, SecretId, ClientRequestToken: token });
  const current = Object.entries(await stages()).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
  await wired.composition.secrets.moveStage(SECRET, 'AWSCURRENT', token, current);
  return { token, SecretId };
}

/** The end state every case must reach: one working current key, everywhere, the old one off and recorded. */
async function expectConverged(old: { accessKeyId: string; secretAccessKey: string }) {
  const now = await currentSecret();
  expect(now.accessKeyId).not.toBe(old.accessKeyId);
  expect(await authenticates(now)).toBe(true);
  expect(await authenticates(old)).toBe(false);
  const keys = keysOfUser();
  expect(keys.map((k) => [k.accessKeyId, k.status]).sort()).toEqual(
    [
      [now.accessKeyId, 'Active'],
      [old.accessKeyId, 'Inactive'],
    ].sort(),
  );
  expect(tagsOfUser()[`key-rotator:deactivated:${old.accessKeyId}`]).toMatch(/^\d{4}-/);
  expect(Object.keys(tagsOfUser()).filter((t) => t.startsWith('key-rotator:attempt:'))).toEqual([]);
  expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(now.accessKeyId);
  expect((await jenkinsCredential(cloud, { folder: 'team-a/deploy' }, 'aws-prod-userpass'))['username']).toBe(
    now.accessKeyId,
  );
  expect(Object.values(await stages()).flat()).not.toContain('AWSPENDING');
  return now;
}

/** Deletes the user's inactive keys (what the clean-up does after the grace period), so each case starts alike. */
function cleanUp() {
  for (const k of keysOfUser()) if (k.status === 'Inactive') cloud.aws.state.accessKeys.delete(k.accessKeyId);
}

beforeAll(async () => {
  capture = captureOutput();
  cloud = await startLocalCloud({ aws: { propagationDelayMs: 200 } });
  const { config } = await seedScenario(cloud, KEYS);
  wired = wireRotator(cloud, config);
  cloud.aws.state.rotationFunctions.set(IDLE_LAMBDA_ARN, () => Promise.resolve(undefined));
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
  cleanUp();
});

describe('a retry after finishSecret converges (same token, every step again)', () => {
  for (const action of ['iam:UpdateAccessKey', 'iam:TagUser'])
    it(`${action} failing after AWSCURRENT moved: the full retry deactivates, tags and succeeds`, async () => {
      const old = await currentSecret();
      const token = await pendingToken();
      const SecretId = await arn();
      for (const Step of ['createSecret', 'setSecret', 'testSecret'])
        await wired.invoke({ Step, SecretId, ClientRequestToken: token });
      cloud.aws.state.faults.push({
        id: 'finish',
        action,
        remaining: SDK_ATTEMPTS,
        error: { code: 'ServiceFailure', status: 500 },
      });
      await expect(
        wired.invoke({ Step: 'finishSecret', SecretId, ClientRequestToken: token }),
      ).rejects.toThrow();
      expect((await currentSecret()).accessKeyId).not.toBe(old.accessKeyId);
      cloud.aws.state.faults = [];
      // Secrets Manager retries the whole rotation with the same token: every step must now succeed.
      await steps(token);
      await expectConverged(old);
    });

  it('a crash between moving AWSCURRENT and removing AWSPENDING: every step of the retry completes it', async () => {
    const old = await currentSecret();
    const { token, SecretId } = await promotedByHand();
    expect((await stages())[token]).toEqual(expect.arrayContaining(['AWSCURRENT', 'AWSPENDING']));
    // Secrets Manager's retry starts again at createSecret, which completes what finishSecret left.
    const r = await wired.invoke({ Step: 'createSecret', SecretId, ClientRequestToken: token });
    expect(r.actions).toEqual(
      expect.arrayContaining([
        'removed AWSPENDING from the new current version',
        `deactivated the previous key ${old.accessKeyId}`,
      ]),
    );
    await steps(token, 1);
    await expectConverged(old);
  });

  it('never deactivates a previous key that this tool deactivated and someone reactivated since', async () => {
    const old = await currentSecret();
    const token = await pendingToken();
    await steps(token);
    await expectConverged(old);
    const k = cloud.aws.state.accessKeys.get(old.accessKeyId);
    if (k) k.status = 'Active'; // reactivated by hand: something still needs it
    const r = await wired.invoke({ Step: 'finishSecret', SecretId: await arn(), ClientRequestToken: token });
    expect(r.changed).toBe(false);
    expect(r.warnings?.join(' ')).toMatch(/reactivated since: left active/);
    expect(cloud.aws.state.accessKeys.get(old.accessKeyId)?.status).toBe('Active');
    if (k) k.status = 'Inactive';
  });
});

describe('invocations of one token never undo each other', () => {
  it('ten concurrent createSecret calls: one key, every caller converges or gets a typed retryable error', async () => {
    const old = await currentSecret();
    const token = await pendingToken();
    const SecretId = await arn();
    const before = new Set(keysOfUser().map((k) => k.accessKeyId));
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        wired.invoke({ Step: 'createSecret', SecretId, ClientRequestToken: token }),
      ),
    );
    const created = keysOfUser().filter((k) => !before.has(k.accessKeyId));
    expect(created).toHaveLength(1);
    const stored = JSON.parse(
      (await sm.send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' })))
        .SecretString ?? '{}',
    ) as { accessKeyId: string };
    expect(stored.accessKeyId).toBe(created[0]?.accessKeyId);
    for (const r of results) {
      if (r.status === 'fulfilled') expect(r.value.newKeyId).toBe(stored.accessKeyId);
      else {
        expect(r.reason).toBeInstanceOf(ConcurrentRotationError);
        expect((r.reason as RotationError).retryable).toBe(true);
      }
    }
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);
    await steps(token, 1);
    await expectConverged(old);
  });

  it('a second createSecret while the first is storing its key waits for it instead of deleting it', async () => {
    const old = await currentSecret();
    const token = await pendingToken();
    const SecretId = await arn();
    // The first call's PutSecretValue is slow: the second arrives between its CreateAccessKey and its store.
    cloud.aws.state.faults.push({
      id: 'slow',
      action: 'secretsmanager:PutSecretValue',
      remaining: 1,
      latencyMs: 1500,
    });
    const first = wired.invoke({ Step: 'createSecret', SecretId, ClientRequestToken: token });
    await new Promise((r) => setTimeout(r, 600));
    const second = await wired.invoke({ Step: 'createSecret', SecretId, ClientRequestToken: token });
    const firstResult = await first;
    expect(second.newKeyId).toBe(firstResult.newKeyId);
    expect(second.actions.join(' ')).not.toMatch(/deleted key/);
    expect(keysOfUser().some((k) => k.accessKeyId === firstResult.newKeyId)).toBe(true);
    await steps(token, 1);
    await expectConverged(old);
  });

  it('ten concurrent emergency rotations of one user: one rotation, ten reports of it, no false "contained"', async () => {
    const old = await currentSecret();
    const comp = wired.composition;
    const before = new Set(keysOfUser().map((k) => k.accessKeyId));
    const reports = await Promise.all(
      Array.from({ length: 10 }, () => emergencyRotate(comp, { userName: USER, reason: 'posted in a gist' })),
    );
    remember();
    expect(reports.map((r) => r.outcome)).toEqual(Array(10).fill('rotated'));
    const now = await currentSecret();
    expect(
      keysOfUser()
        .filter((k) => !before.has(k.accessKeyId))
        .map((k) => k.accessKeyId),
    ).toEqual([now.accessKeyId]);
    for (const r of reports) {
      expect(r.compromisedKey).toMatchObject({ accessKeyId: old.accessKeyId, after: 'Inactive' });
      expect(r.newKeyId).toBe(now.accessKeyId);
    }
    expect(reports.filter((r) => r.rotation?.outcome === 'rotated')).toHaveLength(1);
    await expectConverged(old);
  });
});

describe('a stuck rotation has a way out without Secrets Manager surgery', () => {
  it('a CLI rotation that failed at Jenkins and could not be undone: --resume completes it', async () => {
    const old = await currentSecret();
    await jenkinsFault(cloud, { path: '/job/team-a/job/deploy/credentials/', status: 503, count: 1000 });
    const failed = await rotateNow(comp(), key(), { deadline: Date.now() + 60_000 });
    expect(failed).toMatchObject({ outcome: 'failed', failedStep: 'setSecret' });
    expect(failed.warnings.join(' ')).toMatch(/rotate jenkins-prod --resume/);
    // A plain re-run is refused, naming the way out.
    const again = await rotateNow(comp(), key(), { deadline: Date.now() + 60_000 });
    expect(again.error?.message).toMatch(/--resume.*--abandon/);
    await clearJenkinsFaults(cloud);
    const r = await resumeRotation(comp(), key(), { deadline: Date.now() + 60_000 });
    expect(r.found.map((p) => p.kind)).toEqual(['rotation-in-flight']);
    expect(r.outcome).toBe('resumed');
    await expectConverged(old);
  });

  it('--abandon puts Jenkins back on the current key, deletes the pending key and a plain rotate works again', async () => {
    const old = await currentSecret();
    await jenkinsFault(cloud, { path: '/job/team-a/job/deploy/credentials/', status: 503, count: 1000 });
    const failed = await rotateNow(comp(), key(), { deadline: Date.now() + 60_000 });
    expect(failed.outcome).toBe('failed');
    const pendingKey = failed.newKeyId;
    // The system store took the new key before the folder store failed; the undo could not reach the folder.
    await clearJenkinsFaults(cloud);
    const r = await abandonRotation(comp(), key());
    expect(r.outcome).toBe('abandoned');
    expect(keysOfUser().map((k) => k.accessKeyId)).toEqual([old.accessKeyId]);
    expect(r.abandon?.deletedKeyId).toBe(pendingKey);
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(old.accessKeyId);
    expect(Object.values(await stages()).flat()).not.toContain('AWSPENDING');
    const ok = await rotateNow(comp(), key(), { deadline: Date.now() + 60_000 });
    expect(ok.outcome).toBe('rotated');
    await expectConverged(old);
  });

  it('--resume completes a promoted rotation whose old key was never deactivated', async () => {
    const old = await currentSecret();
    const { token } = await promotedByHand();
    await wired.composition.secrets.moveStage(SECRET, 'AWSPENDING', undefined, token);
    const r = await resumeRotation(comp(), key());
    expect(r.found.map((p) => p.kind)).toEqual(['previous-still-active']);
    expect(r.outcome).toBe('finished');
    await expectConverged(old);
  });
});

describe('every bad event gets a typed error naming the field, and changes nothing', () => {
  /** Everything a step could change, and every canary build started. */
  const snapshot = async () =>
    JSON.stringify({
      keys: keysOfUser().map((k) => [k.accessKeyId, k.status]),
      tags: tagsOfUser(),
      stages: await stages(),
      jenkins: await jenkinsCredential(cloud, 'system', 'aws-prod'),
      builds: cloud.jenkins.state.requests.filter((r) => r.path.endsWith('/buildWithParameters')).length,
    });

  it("a ClientRequestToken that is not a version of the secret, another secret's, or junk", async () => {
    const SecretId = await arn();
    const other = await sm.send(new DescribeSecretCommand({ SecretId: 'key-rotator/jenkins-api-token' }));
    const foreign = Object.keys(other.VersionIdsToStages ?? {})[0] ?? '';
    const current = Object.entries(await stages()).find(([, s]) => s.includes('AWSCURRENT'))?.[0] ?? '';
    const previous = Object.entries(await stages()).find(([, s]) => s.includes('AWSPREVIOUS'))?.[0];
    const before = await snapshot();
    for (const token of ['00000000-0000-4000-8000-000000000000', foreign, ...(previous ? [previous] : [])])
      for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
        const err = await wired.invoke({ Step, SecretId, ClientRequestToken: token }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, `${Step} ${token}`).toMatchObject({
          name: 'InputError',
          code: 'InvalidInput',
          details: { fields: ['ClientRequestToken'] },
        });
      }
    expect(await snapshot()).toBe(before);
    // The current version is a rotation that finished: every step completes nothing more and succeeds.
    const r = await wired.invoke({ Step: 'testSecret', SecretId, ClientRequestToken: current });
    expect(r.changed).toBe(false);
    expect(await snapshot()).toBe(before);
  });

  it("a SecretId that does not exist, or that is not a managed key's", async () => {
    const before = await snapshot();
    for (const SecretId of [
      'arn:aws:secretsmanager:us-east-1:111122223333:secret:nope-AbCdEf',
      'key-rotator/jenkins-api-token',
    ]) {
      const err = await wired
        .invoke({ Step: 'testSecret', SecretId, ClientRequestToken: '00000000-0000-4000-8000-000000000000' })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err, SecretId).toMatchObject({ name: 'InputError', details: { fields: ['SecretId'] } });
      expect((err as Error).message).toMatch(/^SecretId: /);
    }
    expect(await snapshot()).toBe(before);
  });
});

const comp = () => wired.composition;
