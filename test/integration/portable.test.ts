import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  GetUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserTagsCommand,
} from '@aws-sdk/client-iam';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compose, type Composition } from '../../src/compose';
import { parseConfig, type ManagedKey } from '../../src/config';
import { rotateNow, type RotateNowReport } from '../../src/engine/rotate-now';
import { JenkinsClient } from '../../src/jenkins/client';
import { itemPath } from '../../src/jenkins/paths';
import type { CredentialDocument } from '../../src/jenkins/types';
import { createLogger } from '../../src/observability/logger';
import { seedKey, type SeededCredential, type SeededKey } from '../support/seed-api';
import { jenkinsJson, readTargetPlan, startTarget, type Target } from '../support/target';

/**
 * The rotator end to end through public APIs only: seeding, rotating and every assertion use IAM, STS, Secrets
 * Manager, ECR and the Jenkins REST API, so the suite runs unchanged against the local cloud (the default) or
 * against LocalStack, moto, a sandbox account and a real Jenkins (test/support/target.ts reads JKR_IT_*).
 */

const plan = readTargetPlan();
const T = plan.timeouts;

let target: Target;
let iam: IAMClient;
let sm: SecretsManagerClient;
let jenkins: JenkinsClient;

interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}

beforeAll(async () => {
  target = await startTarget(plan);
  const base = {
    region: target.aws.region,
    ...(target.aws.endpoint ? { endpoint: target.aws.endpoint } : {}),
    ...(target.aws.credentials ? { credentials: target.aws.credentials } : {}),
  };
  iam = new IAMClient(base);
  sm = new SecretsManagerClient(base);
  jenkins = new JenkinsClient({
    baseUrl: target.jenkins.url,
    auth: { username: target.jenkins.user, apiToken: target.jenkins.token },
    timeoutMs: 30_000,
  });
}, T.hookMs);

afterAll(async () => {
  iam?.destroy();
  sm?.destroy();
  await target?.close();
}, T.hookMs);

// ---- public-API probes -----------------------------------------------------------------------------------------

/** Client configuration signed with `key` itself, never retried by the SDK (the suite polls). */
const signedWith = (key: Key) => ({
  region: target.aws.region,
  ...(target.aws.endpoint ? { endpoint: target.aws.endpoint } : {}),
  credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
  maxAttempts: 1,
});

async function callerArn(key: Key): Promise<string> {
  const sts = new STSClient(signedWith(key));
  try {
    const r = await sts.send(new GetCallerIdentityCommand({}));
    if (!r.Arn) throw new Error('GetCallerIdentity answered without an ARN');
    return r.Arn;
  } finally {
    sts.destroy();
  }
}

const describeError = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/**
 * Polls `probe` until it returns a value, for at most `timeoutMs` (IAM changes take seconds to reach every
 * endpoint of real AWS). A thrown error counts as "not yet"; the last one is reported on timeout.
 */
async function eventually<V>(
  what: string,
  probe: () => Promise<V | undefined>,
  timeoutMs = T.propagationMs,
): Promise<V> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      last = 'not yet';
    } catch (err) {
      last = describeError(err);
    }
    if (Date.now() + delay > deadline)
      throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s (last: ${last})`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** The ARN STS names for `key`, once it accepts the key. */
const acceptedAs = (key: Key, who: string) =>
  eventually(`STS accepting the key ${key.accessKeyId} of ${who}`, () => callerArn(key));

/** The error STS answers for `key`, once it refuses the key (real AWS may accept a deactivated key for seconds). */
const refusal = (key: Key) =>
  eventually(`STS refusing the key ${key.accessKeyId}`, async () => {
    try {
      await callerArn(key);
      return undefined;
    } catch (err) {
      if (err instanceof Error && /InvalidClientTokenId|UnrecognizedClient/.test(err.name)) return err.name;
      throw err;
    }
  });

async function ecrToken(key: Key) {
  const ecr = new ECRClient(signedWith(key));
  try {
    const r = await ecr.send(new GetAuthorizationTokenCommand({}));
    const data = r.authorizationData?.[0];
    if (!data?.authorizationToken || !data.proxyEndpoint)
      throw new Error('GetAuthorizationToken answered without a token or proxyEndpoint');
    return { token: data.authorizationToken, proxyEndpoint: data.proxyEndpoint };
  } finally {
    ecr.destroy();
  }
}

/** The AWSCURRENT (or another stage's) key of a secret: ids only leave this function, never the secret key. */
async function secretKey(secretId: string, stage = 'AWSCURRENT') {
  const r = await sm.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
  const v = JSON.parse(r.SecretString ?? '{}') as { userName?: string } & Partial<Key>;
  if (!v.accessKeyId || !v.secretAccessKey) throw new Error(`${stage} of ${secretId} holds no key`);
  return {
    versionId: r.VersionId,
    userName: v.userName,
    key: { accessKeyId: v.accessKeyId, secretAccessKey: v.secretAccessKey },
  };
}

async function accessKeys(userName: string) {
  const r = await iam.send(new ListAccessKeysCommand({ UserName: userName }));
  return (r.AccessKeyMetadata ?? [])
    .map((k) => ({ id: k.AccessKeyId ?? '', status: k.Status ?? '' }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** A credential's visible fields without the key id, which the rotation is meant to change. */
function untouchedFields(doc: CredentialDocument | undefined): Record<string, string> {
  if (!doc) throw new Error('credential not found');
  const { accessKey: _a, username: _u, ...rest } = doc.fields;
  return rest;
}

/** Ids and outcome of a report, for assertion messages (it never holds a secret). */
const summary = (r: RotateNowReport | undefined) =>
  r
    ? JSON.stringify({
        outcome: r.outcome,
        failedStep: r.failedStep,
        error: r.error,
        steps: r.steps.map((s) => ({ step: s.step, actions: s.actions })),
        actions: r.actions,
        warnings: r.warnings,
      })
    : 'no report: the rotation did not run';

interface Rotator {
  composition: Composition;
  key: ManagedKey;
  rotate(): Promise<RotateNowReport>;
}

function rotatorFor(seed: SeededKey): Rotator {
  const config = parseConfig(seed.config);
  const key = config.keys[0]!;
  const composition = compose(config, target.aws, createLogger('jenkins-key-rotator-it', 'SILENT'));
  return { composition, key, rotate: () => rotateNow(composition, key) };
}

function destroy(r: Rotator | undefined) {
  if (!r) return;
  r.composition.clients.iam.destroy();
  r.composition.clients.secrets.destroy();
  r.composition.clients.sts.destroy();
}

/** The numbers of a job's builds (the job must exist). */
async function buildNumbers(job: string): Promise<number[]> {
  const body = (await jenkinsJson(
    target.jenkins,
    `${itemPath('canary job', job)}/api/json?tree=${encodeURIComponent('builds[number]')}`,
  )) as { builds?: { number: number }[] } | undefined;
  if (!body) throw new Error(`canary job ${job} not found`);
  return (body.builds ?? []).map((b) => b.number);
}

/** Result and CRED_ID parameter of the job's builds after build `after`. */
async function buildsAfter(job: string, after: number) {
  const tree = 'result,actions[parameters[name,value]]';
  const out: { number: number; result: string | null; credId: unknown }[] = [];
  for (const n of (await buildNumbers(job)).filter((x) => x > after)) {
    const b = (await jenkinsJson(
      target.jenkins,
      `${itemPath('canary job', job)}/${n}/api/json?tree=${encodeURIComponent(tree)}`,
    )) as
      | { result?: string | null; actions?: ({ parameters?: { name: string; value: unknown }[] } | null)[] }
      | undefined;
    if (!b) continue;
    const params = (b.actions ?? []).flatMap((a) => a?.parameters ?? []);
    out.push({
      number: n,
      result: b.result ?? null,
      credId: params.find((p) => p.name === 'CRED_ID')?.value,
    });
  }
  return out;
}

/** A case's title, with the reason when it is skipped. */
const titled = (title: string, skipped: boolean, why: string) =>
  skipped ? `${title} (skipped: ${why})` : title;

// ---- the cases -------------------------------------------------------------------------------------------------

describe('a rotation with rotateNow, checked through public APIs', () => {
  let seed: SeededKey;
  let rotator: Rotator;
  let report: RotateNowReport | undefined;
  let oldKey: Key;
  const before = new Map<string, Record<string, string>>();
  let lastCanaryBuild = 0;

  beforeAll(async () => {
    seed = await seedKey(target, { folder: plan.hasFolder, canary: plan.hasCanary });
    oldKey = { accessKeyId: seed.accessKeyId, secretAccessKey: seed.secretAccessKey };
    for (const c of seed.credentials)
      before.set(c.id, untouchedFields(await jenkins.getCredential(c.store, c.id)));
    if (seed.canaryJob) lastCanaryBuild = Math.max(0, ...(await buildNumbers(seed.canaryJob)));
    // The seeded key works before the rotation, so its refusal afterwards is the rotation's doing.
    expect(await acceptedAs(oldKey, 'the seeded user')).toBe(seed.userArn);
    rotator = rotatorFor(seed);
    report = await rotator.rotate();
  }, T.hookMs);

  afterAll(async () => {
    destroy(rotator);
    await seed?.cleanup();
  }, T.hookMs);

  const rotated = () => {
    expect(report?.outcome, summary(report)).toBe('rotated');
    return report!;
  };

  it(
    'ends with the new key AWSCURRENT (the old one AWSPREVIOUS), Active, and accepted by STS as the user',
    async () => {
      const r = rotated();
      const current = await secretKey(seed.secretId);
      expect(current.key.accessKeyId).not.toBe(oldKey.accessKeyId);
      expect(current.key.accessKeyId).toBe(r.newKeyId);
      expect(current.userName).toBe(seed.iamUser);
      expect(current.versionId).toBe(r.token);
      expect((await secretKey(seed.secretId, 'AWSPREVIOUS')).key.accessKeyId).toBe(oldKey.accessKeyId);
      const stages = (await sm.send(new DescribeSecretCommand({ SecretId: seed.secretId })))
        .VersionIdsToStages;
      expect(Object.values(stages ?? {}).filter((s) => s.includes('AWSPENDING'))).toEqual([]);
      expect(await accessKeys(seed.iamUser)).toContainEqual({
        id: current.key.accessKeyId,
        status: 'Active',
      });
      expect(await acceptedAs(current.key, seed.iamUser)).toBe(seed.userArn);
    },
    T.testMs,
  );

  it(
    'the new key gets an ECR authorization token',
    async () => {
      rotated();
      const { key } = await secretKey(seed.secretId);
      const data = await eventually('an ECR token for the new key', () => ecrToken(key));
      // A boolean, so that a failure never prints the token.
      const decoded = Buffer.from(data.token, 'base64').toString('utf8');
      expect(/^AWS:./.test(decoded), 'the token decodes to AWS:<password>').toBe(true);
    },
    T.testMs,
  );

  it.skipIf(!plan.registryLogin)(
    titled(
      "the registry answers 200 on /v2/ to the new key's ECR token",
      !plan.registryLogin,
      plan.why.noRegistryLogin,
    ),
    async () => {
      rotated();
      const { key } = await secretKey(seed.secretId);
      const data = await eventually('an ECR token for the new key', () => ecrToken(key));
      const res = await fetch(new URL('/v2/', data.proxyEndpoint), {
        headers: { authorization: `Basic ${data.token}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      });
      await res.body?.cancel();
      expect(res.status).toBe(200);
    },
    T.testMs,
  );

  const checkCredential = async (c: SeededCredential, newKeyId: string) => {
    const doc = await jenkins.getCredential(c.store, c.id);
    expect(doc?.kind, `${c.id}`).toBe(c.kind);
    expect(doc?.accessKeyId, `${c.id}`).toBe(newKeyId);
    expect(untouchedFields(doc), `${c.id}`).toEqual(before.get(c.id));
    expect(doc?.description).toBe(c.description);
    if (c.kind === 'aws') expect(doc?.fields['iamRoleArn'] ?? '').toBe(c.iamRoleArn ?? '');
    expect(await jenkins.readAccessKeyId(c.store, c.id)).toBe(newKeyId);
  };

  it(
    'every system-store AWS credential holds the new key id, its description and IAM role ARN intact',
    async () => {
      const r = rotated();
      const system = seed.credentials.filter((c) => c.store.kind === 'system');
      expect(system.map((c) => c.kind)).toEqual(['aws', 'aws']);
      expect(system.some((c) => c.iamRoleArn)).toBe(true);
      for (const c of system) await checkCredential(c, r.newKeyId!);
    },
    T.testMs,
  );

  it.skipIf(!plan.hasFolder)(
    titled(
      'the folder-store usernamePassword credential holds the new key id, its other fields intact',
      !plan.hasFolder,
      plan.why.noFolder,
    ),
    async () => {
      const r = rotated();
      const inFolder = seed.credentials.filter((c) => c.store.kind === 'folder');
      expect(inFolder.map((c) => c.kind)).toEqual(['usernamePassword']);
      for (const c of inFolder) await checkCredential(c, r.newKeyId!);
    },
    T.testMs,
  );

  it.skipIf(!plan.hasCanary)(
    titled(
      'testSecret ran the canary job, which logged in to ECR with the rotated credential',
      !plan.hasCanary,
      plan.why.noCanary,
    ),
    async () => {
      const r = rotated();
      const job = seed.canaryJob;
      expect(job, 'the configuration includes the canary job').toBeDefined();
      expect(rotator.key.verify.canary?.job).toBe(job);
      const test = r.steps.find((s) => s.step === 'testSecret');
      expect(test?.actions.some((a) => a.startsWith(`canary job ${job}`) && a.endsWith(': ok'))).toBe(true);
      const builds = (await buildsAfter(job!, lastCanaryBuild)).filter(
        (b) => b.credId === seed.canaryCredentialId,
      );
      expect(builds.map((b) => b.result)).toContain('SUCCESS');
    },
    T.testMs,
  );

  it(
    'the old key is Inactive',
    async () => {
      const r = rotated();
      expect(r.oldKeyId).toBe(oldKey.accessKeyId);
      expect(await accessKeys(seed.iamUser)).toEqual(
        [
          { id: oldKey.accessKeyId, status: 'Inactive' },
          { id: r.newKeyId!, status: 'Active' },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
    },
    T.testMs,
  );

  it.skipIf(!plan.refusesInactiveKeys)(
    titled('STS refuses the old key', !plan.refusesInactiveKeys, plan.why.noRefusal),
    async () => {
      rotated();
      expect(await refusal(oldKey)).toMatch(/InvalidClientTokenId|UnrecognizedClient/);
    },
    T.testMs,
  );

  // Runs last: it changes what the cases above look at.
  it(
    'a second rotation right after deletes the inactive previous key to make room (IAM allows two keys)',
    async () => {
      const first = rotated();
      const firstKey = (await secretKey(seed.secretId)).key;
      expect(await accessKeys(seed.iamUser), 'two keys before the second rotation').toHaveLength(2);
      const second = await rotator.rotate();
      expect(second.outcome, summary(second)).toBe('rotated');
      const create = second.steps.find((s) => s.step === 'createSecret');
      expect(
        create?.actions.some((a) => a.includes(oldKey.accessKeyId) && /delete/i.test(a)),
        summary(second),
      ).toBe(true);
      const current = await secretKey(seed.secretId);
      expect(current.key.accessKeyId).toBe(second.newKeyId);
      expect(current.key.accessKeyId).not.toBe(first.newKeyId);
      expect((await secretKey(seed.secretId, 'AWSPREVIOUS')).key.accessKeyId).toBe(first.newKeyId);
      expect(await accessKeys(seed.iamUser)).toEqual(
        [
          { id: firstKey.accessKeyId, status: 'Inactive' },
          { id: current.key.accessKeyId, status: 'Active' },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
      expect(await acceptedAs(current.key, seed.iamUser)).toBe(seed.userArn);
      for (const c of seed.credentials)
        expect(await jenkins.readAccessKeyId(c.store, c.id), c.id).toBe(current.key.accessKeyId);
    },
    T.testMs,
  );
});

describe('a second active key the rotator does not know', () => {
  let seed: SeededKey;
  let rotator: Rotator;

  beforeAll(async () => {
    seed = await seedKey(target);
    rotator = rotatorFor(seed);
  }, T.hookMs);

  afterAll(async () => {
    destroy(rotator);
    await seed?.cleanup();
  }, T.hookMs);

  /** Everything a refused rotation must leave as it was: ids, stages and statuses only. */
  const observe = async () => {
    const current = await secretKey(seed.secretId);
    const tags = (await iam.send(new ListUserTagsCommand({ UserName: seed.iamUser }))).Tags ?? [];
    return {
      stages: (await sm.send(new DescribeSecretCommand({ SecretId: seed.secretId }))).VersionIdsToStages,
      current: { versionId: current.versionId, accessKeyId: current.key.accessKeyId },
      keys: await accessKeys(seed.iamUser),
      tags: tags.map((t) => `${t.Key ?? ''}=${t.Value ?? ''}`).sort(),
      jenkins: await Promise.all(seed.credentials.map((c) => jenkins.readAccessKeyId(c.store, c.id))),
    };
  };

  it(
    'makes rotateNow refuse with an error naming that key, and nothing changes',
    async () => {
      const created = await iam.send(new CreateAccessKeyCommand({ UserName: seed.iamUser }));
      const stranger = created.AccessKey?.AccessKeyId;
      expect(stranger).toBeDefined();
      try {
        const beforeState = await observe();
        expect(beforeState.keys).toEqual(
          [
            { id: seed.accessKeyId, status: 'Active' },
            { id: stranger!, status: 'Active' },
          ].sort((a, b) => a.id.localeCompare(b.id)),
        );
        const report = await rotator.rotate();
        expect(report.outcome, summary(report)).toBe('failed');
        expect(report.failedStep).toBe('createSecret');
        expect(report.error?.message).toContain(stranger);
        expect(report.newKeyId).toBeUndefined();
        expect(await observe()).toEqual(beforeState);
      } finally {
        await iam.send(new DeleteAccessKeyCommand({ UserName: seed.iamUser, AccessKeyId: stranger }));
      }
    },
    T.testMs,
  );

  it(
    "the seed's cleanup removes the user, its keys and policy, both secrets and the Jenkins credentials, and may run twice",
    async () => {
      await seed.cleanup();
      await expect(iam.send(new GetUserCommand({ UserName: seed.iamUser }))).rejects.toMatchObject({
        name: 'NoSuchEntityException',
      });
      for (const secretId of [seed.secretId, seed.tokenSecretId])
        await eventually(`${secretId} gone`, async () => {
          try {
            await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
            return undefined;
          } catch (err) {
            if (err instanceof Error && err.name === 'ResourceNotFoundException') return true;
            throw err;
          }
        });
      for (const c of seed.credentials)
        expect(await jenkins.getCredential(c.store, c.id), c.id).toBeUndefined();
      await seed.cleanup();
    },
    T.testMs,
  );
});
