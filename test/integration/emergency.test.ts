import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createEmergencyHandler,
  EmergencyFailedError,
  MAX_ERROR_MESSAGE_BYTES,
} from '../../handlers/emergency';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { InputError } from '../../src/domain/errors';
import {
  emergencyRotate,
  HEALTH_LIMITS,
  HEALTH_REASON,
  type EmergencyReport,
  type HealthReport,
} from '../../src/engine/emergency';
import { rotateNow } from '../../src/engine/rotate-now';
import { createLogger } from '../../src/observability/logger';
import { authenticates as authenticatesAt, type Creds } from '../support/aws';
import { captureOutput, leakedSecrets, rememberSecrets, type Capture } from '../support/capture';
import { clearJenkinsFaults, jenkinsCredential, jenkinsFault } from '../support/jenkins';
import { lambdaContext, wireRotator } from '../support/rotator';

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
  {
    name: 'dev-ecr-push',
    iamUser: 'jenkins-dev',
    ageDays: 10,
    secretName: 'jenkins/dev/aws-key',
    credentials: [{ store: 'system', credentialId: 'aws-dev', kind: 'aws' }],
  },
];
const PROD = { secret: 'jenkins/prod/aws-key', user: 'jenkins-prod', name: 'prod-ecr-push' };
const DEV = { secret: 'jenkins/dev/aws-key', user: 'jenkins-dev', name: 'dev-ecr-push' };
/** A rotation function that stops a Secrets Manager rotation after setSecret, as if it were still running. */
const STALLED_LAMBDA_ARN = 'arn:aws:lambda:us-east-1:111122223333:function:jenkins-key-rotator-stalled';

let cloud: LocalCloud;
let sm: SecretsManagerClient;
let capture: Capture;
let wired: ReturnType<typeof wireRotator>;
let invoke: (event: unknown) => Promise<EmergencyReport | HealthReport>;
/** An IAM user nobody configured: its key must never be touched. */
let bobKey: string;
const secretsSeen = new Set<string>();

const remember = () => rememberSecrets(cloud, secretsSeen);

async function current(secret: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const r = await sm.send(new GetSecretValueCommand({ SecretId: secret }));
  return JSON.parse(r.SecretString ?? '{}') as { accessKeyId: string; secretAccessKey: string };
}

async function stages(secret: string): Promise<Record<string, string[]>> {
  return (await sm.send(new DescribeSecretCommand({ SecretId: secret }))).VersionIdsToStages ?? {};
}

const keyOf = (id: string) => cloud.aws.state.accessKeys.get(id);
const managedKey = (name: string) => {
  const k = wired.config.keys.find((x) => x.name === name);
  if (!k) throw new Error(`no key ${name}`);
  return k;
};

const authenticates = (creds: Creds) => authenticatesAt(cloud.aws.url, creds);

/** Both emulators' whole state, without what a mere read changes (clock, last-accessed and last-used dates). */
async function snapshot(): Promise<string> {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !['now', 'lastAccessedDate', 'lastUsed'].includes(k))
          .map(([k, x]) => [k, strip(x)]),
      );
    return v;
  };
  const [aws, jenkins] = await Promise.all(
    [cloud.aws.url, cloud.jenkins.url].map(async (u): Promise<unknown> =>
      (await fetch(`${u}/_localcloud/state`)).json(),
    ),
  );
  return JSON.stringify(strip({ aws, jenkins }));
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

beforeAll(async () => {
  capture = captureOutput();
  cloud = await startLocalCloud({ aws: { propagationDelayMs: 300 } });
  const { config } = await seedScenario(cloud, KEYS);
  wired = wireRotator(cloud, config);
  const bob = cloud.aws.state.createUser(cloud.aws.state.defaultAccountId, 'bob', { path: '/people/' });
  bobKey = cloud.aws.state.createAccessKey(bob, { established: true }).accessKeyId;
  const handler = createEmergencyHandler({
    composition: () => Promise.resolve(wired.composition),
    logger: createLogger('jenkins-key-rotator-test-emergency'),
  });
  invoke = (event) => handler(event, lambdaContext());
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

describe('emergency rotation on the local cloud', () => {
  it('by user name: rotates, and the compromised key is dead before Jenkins is even touched', async () => {
    const leaked = await current(PROD.secret);
    const atSetSecret: { status?: string; jenkins?: unknown } = {};
    const report = await emergencyRotate(
      wired.composition,
      { userName: PROD.user, reason: 'key pasted in a public gist' },
      {
        onStep: (e) => {
          if (e.step !== 'setSecret' || e.phase !== 'started') return;
          atSetSecret.status = keyOf(leaked.accessKeyId)?.status;
          atSetSecret.jenkins = cloud.jenkins.state.credentialView('system', 'aws-prod')?.fields['accessKey'];
        },
      },
    );
    remember();
    expect(atSetSecret).toEqual({ status: 'Inactive', jenkins: leaked.accessKeyId });
    expect(report).toMatchObject({
      outcome: 'rotated',
      reason: 'key pasted in a public gist',
      compromisedKey: {
        accessKeyId: leaked.accessKeyId,
        wasCurrent: true,
        before: 'Active',
        after: 'Inactive',
      },
    });
    const now = await current(PROD.secret);
    expect(now.accessKeyId).toBe(report.newKeyId);
    expect(await authenticates(leaked)).toBe(false);
    expect(await authenticates(now)).toBe(true);
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(now.accessKeyId);
    expect(
      (await jenkinsCredential(cloud, { folder: 'team-a/deploy' }, 'aws-prod-userpass'))['username'],
    ).toBe(now.accessKeyId);
    expect(Object.values(await stages(PROD.secret)).flat()).not.toContain('AWSPENDING');
  });

  it('by leaked access key id, through the Lambda: returns the report', async () => {
    const leaked = await current(DEV.secret);
    const report = (await invoke({
      accessKeyId: leaked.accessKeyId,
      reason: 'found in a log',
    })) as EmergencyReport;
    remember();
    expect(report).toMatchObject({
      outcome: 'rotated',
      user: DEV.user,
      target: { accessKeyId: leaked.accessKeyId },
      compromisedKey: { after: 'Inactive' },
    });
    expect(report.summary).toContain(`Compromised key ${leaked.accessKeyId} of ${DEV.user} is DEACTIVATED`);
    expect(keyOf(leaked.accessKeyId)?.status).toBe('Inactive');
    expect((await current(DEV.secret)).accessKeyId).toBe(report.newKeyId);
  });

  it('deleteOld deletes the compromised key; a later normal rotation copes with AWSPREVIOUS holding it', async () => {
    const leaked = await current(DEV.secret);
    const report = (await invoke({
      userName: DEV.user,
      reason: 'leaked',
      deleteOld: true,
    })) as EmergencyReport;
    remember();
    expect(report).toMatchObject({ outcome: 'rotated', compromisedKey: { after: 'deleted' } });
    expect(report.summary).toMatch(/DEACTIVATED and DELETED/);
    expect(keyOf(leaked.accessKeyId)).toBeUndefined();
    const previous = Object.entries(await stages(DEV.secret)).find(([, s]) => s.includes('AWSPREVIOUS'))?.[0];
    const prevValue = await sm.send(new GetSecretValueCommand({ SecretId: DEV.secret, VersionId: previous }));
    expect(prevValue.SecretString).toContain(leaked.accessKeyId);

    const later = await rotateNow(wired.composition, managedKey(DEV.name));
    remember();
    expect(later).toMatchObject({ outcome: 'rotated', oldKeyId: report.newKeyId });
    expect(keyOf(report.newKeyId ?? '')?.status).toBe('Inactive');
  });

  it('Jenkins failing: the compromised key is still deactivated, and the invocation fails saying Jenkins failed', async () => {
    const leaked = await current(PROD.secret);
    await jenkinsFault(cloud, { method: 'POST', path: '/credentials/', status: 503, count: 100 });
    const err = await failure(invoke({ userName: PROD.user, reason: 'leaked' }));
    remember();
    expect(err).toBeInstanceOf(EmergencyFailedError);
    const report = (err as EmergencyFailedError).report as EmergencyReport;
    expect(report.outcome).toBe('contained');
    expect(report.compromisedKey).toMatchObject({ accessKeyId: leaked.accessKeyId, after: 'Inactive' });
    expect(report.failures).toEqual([expect.stringMatching(/rotation failed at setSecret: .*503/)]);
    expect(err.message).toMatch(new RegExp(`${leaked.accessKeyId} of ${PROD.user} is DEACTIVATED, BUT`));
    expect(err.message).toContain('"outcome":"contained"');
    expect(await authenticates(leaked)).toBe(false);

    // Jenkins is back: running the emergency again takes the unfinished rotation over and completes it.
    await clearJenkinsFaults(cloud);
    const again = (await invoke({
      userName: PROD.user,
      reason: 'leaked, second attempt',
    })) as EmergencyReport;
    remember();
    expect(again.outcome).toBe('rotated');
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(again.newKeyId);
    expect(cloud.aws.state.keysOf(cloud.aws.state.defaultAccountId, PROD.user)).toHaveLength(2);
  });

  it('a leaked old key that is not the current one is deleted without rotating anything', async () => {
    const d = await stages(PROD.secret);
    const previous = Object.entries(d).find(([, s]) => s.includes('AWSPREVIOUS'))?.[0];
    const old = JSON.parse(
      (await sm.send(new GetSecretValueCommand({ SecretId: PROD.secret, VersionId: previous })))
        .SecretString ?? '{}',
    ) as { accessKeyId: string };
    const before = await current(PROD.secret);
    const report = (await invoke({
      accessKeyId: old.accessKeyId,
      reason: 'old key leaked',
      deleteOld: true,
    })) as EmergencyReport;
    expect(report).toMatchObject({
      outcome: 'revoked',
      compromisedKey: {
        accessKeyId: old.accessKeyId,
        wasCurrent: false,
        before: 'Inactive',
        after: 'deleted',
      },
    });
    expect(report.rotation).toBeUndefined();
    expect(keyOf(old.accessKeyId)).toBeUndefined();
    expect((await current(PROD.secret)).accessKeyId).toBe(before.accessKeyId);
    expect(keyOf(before.accessKeyId)?.status).toBe('Active');
  });

  it('each bad input is refused, naming the field, and changes nothing on either emulator', async () => {
    const prod = await current(PROD.secret);
    const bad: [unknown, RegExp][] = [
      [{}, /reason: required.*userName: required/],
      [{ userName: PROD.user }, /reason: required/],
      ['rotate jenkins-prod please', /\(payload\): must be a JSON object/],
      [
        { userName: PROD.user, accessKeyId: prod.accessKeyId, reason: 'x' },
        /accessKeyId: give userName or accessKeyId, not both/,
      ],
      [{ userName: 'jenkins-staging', reason: 'x' }, /userName: jenkins-staging is not a managed IAM user/],
      [
        { accessKeyId: bobKey, reason: 'x' },
        /accessKeyId: key AKIA\w+ belongs to IAM user bob, which this rotator does not manage/,
      ],
      [{ accessKeyId: cloud.aws.admin.accessKeyId, reason: 'x' }, /belongs to IAM user localcloud-admin/],
      [
        { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', reason: 'x' },
        /accessKeyId: key AKIAIOSFODNN7EXAMPLE is not a key of any managed user/,
      ],
      [
        { userName: PROD.user, reason: 'x', accountId: '999988887777' },
        /accountId: no managed key in account 999988887777/,
      ],
      [{ userName: PROD.user, reason: 'x', deleteOld: 'yes' }, /deleteOld: /],
    ];
    const before = await snapshot();
    for (const [input, message] of bad) {
      const err = await failure(invoke(input));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(/nothing was changed/);
    }
    expect(await snapshot()).toBe(before);
    expect(keyOf(bobKey)?.status).toBe('Active');
  });

  it('a reason holding the secret, in any form, is refused; nothing changes and the secret reaches no output', async () => {
    const prod = await current(PROD.secret);
    const secret = prod.secretAccessKey;
    const reasons: [string, RegExp][] = [
      [`aws_secret_access_key=${secret}`, /reason: holds an AWS secret access key at character 23/],
      [`the jenkins password: ${secret}`, /reason: holds an AWS secret access key at character 23/],
      [
        `leaked in ${encodeURIComponent(`https://example.com/?aws_secret_access_key=${secret}`)}`,
        /reason: holds an AWS secret access key \(URL-encoded or escaped\)/,
      ],
      [
        `found {"secretAccessKey": "${secret.replace(/\//g, '\\/')}"}`,
        /reason: holds an AWS secret access key/,
      ],
    ];
    const before = await snapshot();
    const from = capture.text().length;
    for (const [reason, message] of reasons) {
      const err = await failure(invoke({ userName: PROD.user, reason }));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(/nothing was changed.*never paste a secret here/);
      expect(leakedSecrets(err.message, [secret])).toBe(0);
    }
    expect(await snapshot()).toBe(before);
    expect(keyOf(prod.accessKeyId)?.status).toBe('Active');
    expect(await current(PROD.secret)).toEqual(prod);
    const out = capture.text().slice(from);
    expect(out.match(/emergency rotation refused or failed before acting/g)).toHaveLength(reasons.length);
    expect(leakedSecrets(out, [secret])).toBe(0);
  });

  it('an AWS Health credentials-exposed event rotates a managed key', async () => {
    const leaked = await current(DEV.secret);
    const report = (await invoke(healthEvent([leaked.accessKeyId]))) as HealthReport;
    remember();
    expect(report.outcome).toBe('handled');
    expect(report.results).toEqual([
      expect.objectContaining({
        accessKeyId: leaked.accessKeyId,
        accountId: cloud.aws.state.defaultAccountId,
        outcome: 'rotated',
      }),
    ]);
    const r = report.results[0];
    expect(r && 'report' in r ? r.report.reason : '').toMatch(new RegExp(`^${HEALTH_REASON}`));
    expect(keyOf(leaked.accessKeyId)?.status).toBe('Inactive');
  });

  it('a Health event naming an unmanaged key too: the managed one is rotated, the other untouched, the invocation fails', async () => {
    const leaked = await current(DEV.secret);
    const err = await failure(invoke(healthEvent([leaked.accessKeyId, bobKey])));
    remember();
    expect(err).toBeInstanceOf(EmergencyFailedError);
    const report = (err as EmergencyFailedError).report as HealthReport;
    expect(report.results.map((r) => [r.accessKeyId, r.outcome])).toEqual([
      [leaked.accessKeyId, 'rotated'],
      [bobKey, 'unmanaged'],
    ]);
    expect(err.message).toMatch(
      /belongs to IAM user bob, which this rotator does not manage: it was NOT touched/,
    );
    expect(keyOf(leaked.accessKeyId)?.status).toBe('Inactive');
    expect(keyOf(bobKey)?.status).toBe('Active');
  });
});

describe('an AWS Health event listing 2,000 keys', () => {
  it('costs a bounded number of IAM calls and a bounded message, and still rotates the managed key in it', async () => {
    const leaked = await current(DEV.secret);
    const unknown = Array.from({ length: 1998 }, (_, i) => `AKIA${String(i).padStart(16, '0')}`);
    const ids = [...unknown.slice(0, 1000), leaked.accessKeyId, bobKey, ...unknown.slice(1000)];
    const calls = cloud.aws.state.callLog.length;
    const from = capture.text().length;
    const err = await failure(invoke(healthEvent(ids)));
    remember();

    // Sorting 2,000 keys out: each managed user's keys listed once, owners looked up for 20 keys; then one
    // rotation. Bound: 2 listings + 20 lookups + the rotation's own IAM calls (under 20). It was 4,000.
    const iam = cloud.aws.state.callLog.slice(calls).filter((c) => c.service === 'iam');
    expect(iam.filter((c) => c.action === 'GetAccessKeyLastUsed')).toHaveLength(HEALTH_LIMITS.ownerLookups);
    expect(iam.length).toBeLessThanOrEqual(2 + HEALTH_LIMITS.ownerLookups + 20);

    expect(err).toBeInstanceOf(EmergencyFailedError);
    const report = (err as EmergencyFailedError).report as HealthReport;
    expect(report.counts).toMatchObject({
      exposed: 2000,
      managed: 1,
      rotated: 1,
      unmanaged: 1999,
      errors: 0,
      omitted: 1999 - HEALTH_LIMITS.listed,
    });
    expect(report.results.find((r) => r.accessKeyId === leaked.accessKeyId)?.outcome).toBe('rotated');
    expect(report.results).toHaveLength(1 + HEALTH_LIMITS.listed);
    expect(keyOf(leaked.accessKeyId)?.status).toBe('Inactive');
    expect((await current(DEV.secret)).accessKeyId).not.toBe(leaked.accessKeyId);
    expect(keyOf(bobKey)?.status).toBe('Active');

    // The error (what the caller and CloudWatch get) and every log line stay well under CloudWatch's 256 KB.
    expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    expect(err.message).toMatch(
      /^2000 exposed keys: 1 rotated, 1999 unmanaged \(NOT touched; 1979 owners not looked up\)/,
    );
    expect(err.message).toContain(`Compromised key ${leaked.accessKeyId} of ${DEV.user} is DEACTIVATED`);
    const lines = capture.text().slice(from).split('\n');
    expect(lines.length).toBeLessThan(60);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThan(32 * 1024);
  });
});

describe('rotateNow (the CLI rotate, not an emergency)', () => {
  it('rotates in-process: new key current and in Jenkins, old key inactive', async () => {
    const before = await current(PROD.secret);
    const steps: string[] = [];
    const report = await rotateNow(wired.composition, managedKey(PROD.name), {
      onStep: (e) => steps.push(`${e.step}:${e.phase}`),
    });
    remember();
    expect(report).toMatchObject({ outcome: 'rotated', emergency: false, oldKeyId: before.accessKeyId });
    expect(steps.filter((s) => s.endsWith(':finished'))).toHaveLength(4);
    expect((await current(PROD.secret)).accessKeyId).toBe(report.newKeyId);
    expect(keyOf(before.accessKeyId)?.status).toBe('Inactive');
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(report.newKeyId);
  });

  it('refuses while Secrets Manager is rotating the secret, changing nothing; an emergency takes that over', async () => {
    // A Secrets Manager rotation that has stored its key and pushed it to Jenkins, and not finished.
    cloud.aws.state.rotationFunctions.set(STALLED_LAMBDA_ARN, async (event) => {
      if (event.Step === 'testSecret') throw new Error('still running (stalled for the test)');
      return wired.invoke(event);
    });
    await sm.send(new RotateSecretCommand({ SecretId: PROD.secret, RotationLambdaARN: STALLED_LAMBDA_ARN }));
    await waitForRotations(cloud.aws.state, 60_000);
    remember();
    const pendingVersion = Object.entries(await stages(PROD.secret)).find(([, s]) =>
      s.includes('AWSPENDING'),
    )?.[0];
    const smKey = JSON.parse(
      (await sm.send(new GetSecretValueCommand({ SecretId: PROD.secret, VersionId: pendingVersion })))
        .SecretString ?? '{}',
    ) as { accessKeyId: string };
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(smKey.accessKeyId);

    const before = await snapshot();
    const refused = await rotateNow(wired.composition, managedKey(PROD.name));
    expect(refused).toMatchObject({
      outcome: 'failed',
      failedStep: 'createSecret',
      error: { code: 'RotationInProgress' },
    });
    expect(refused.error?.message).toContain(`AWSPENDING on version ${pendingVersion ?? '?'}`);
    expect(await snapshot()).toBe(before);

    const leaked = await current(PROD.secret);
    const report = await emergencyRotate(wired.composition, {
      userName: PROD.user,
      reason: 'leaked mid-rotation',
    });
    remember();
    expect(report.outcome).toBe('rotated');
    expect(report.warnings.join(' ')).toContain(
      `took over the rotation in flight (version ${pendingVersion ?? '?'})`,
    );
    expect(keyOf(smKey.accessKeyId)).toBeUndefined();
    expect(keyOf(leaked.accessKeyId)?.status).toBe('Inactive');
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(report.newKeyId);
    expect((await current(PROD.secret)).accessKeyId).toBe(report.newKeyId);
  });
});

describe('logs', () => {
  it('are loud about emergencies and never contain a secret access key', () => {
    remember();
    const out = capture.text();
    expect(out).toContain('EMERGENCY ROTATION CONTAINED');
    expect(out).toContain('emergency rotation rotated');
    expect(leakedSecrets(out, secretsSeen)).toBe(0);
  });
});

function healthEvent(keyIds: string[]) {
  return {
    version: '0',
    id: '7bf73129-1428-4cd3-a780-95db273d1602',
    'detail-type': 'AWS Health Event',
    source: 'aws.health',
    account: cloud.aws.state.defaultAccountId,
    time: '2026-11-25T06:27:57Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      eventArn:
        'arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_TEST',
      service: 'RISK',
      eventTypeCode: 'AWS_RISK_CREDENTIALS_EXPOSED',
      eventTypeCategory: 'issue',
      startTime: 'Wed, 25 Nov 2026 06:27:57 GMT',
      eventDescription: [
        { language: 'en_US', latestDescription: 'Your access key was found exposed publicly.' },
      ],
      affectedEntities: keyIds.map((entityValue) => ({ entityValue })),
    },
  };
}
