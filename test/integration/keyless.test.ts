import { CreateAccessKeyCommand, DeleteAccessKeyCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialId } from '../../localcloud/jenkins/credentials';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { LOCAL_ROTATE_LAMBDA_ARN, wireRotationHook } from '../../localcloud/wire';
import { KEYLESS_JOBS, prepareKeyless, seedDemo, switchJobsToKeyless } from '../../scripts/demo-seed';
import type { Composition } from '../../src/compose';
import type { ManagedKey } from '../../src/config';
import { systemClock, type Clock } from '../../src/engine/ports';
import { rotateNow } from '../../src/engine/rotate-now';
import { applyKeyless, KeylessError, type ApplyOptions } from '../../src/keyless/apply';
import { planKeyless } from '../../src/keyless/discover';
import { cloudFormationTemplate } from '../../src/keyless/plan';
import { rollbackKeyless } from '../../src/keyless/rollback';
import { createLogger } from '../../src/observability/logger';
import { collectInventory, readSecretStates, planScan } from '../../src/scan';
import { authenticates } from '../support/aws';

/**
 * The keyless migration over the wire: the Jenkins emulator's oidc-provider issues the builds' ID tokens, the AWS
 * emulator's STS validates them against the IAM OIDC provider and the role's trust policy, CloudTrail shows the
 * sessions. The key is retired only after that proof, the migration resumes after any stop, and rollback brings
 * the key back.
 */

/** Waits are shortened (the canary's second try, CloudTrail polling); time itself is real. */
const fastClock: Clock = {
  now: () => systemClock.now(),
  sleep: (ms, s) => systemClock.sleep(Math.min(ms, 50), s),
};

interface World {
  cloud: LocalCloud;
  composition: Composition;
  key: ManagedKey;
  oldKey: { accessKeyId: string; secretAccessKey: string };
  iam: IAMClient;
  close(): Promise<void>;
}

async function world(opts: { plugin?: boolean; switchJobs?: boolean } = {}): Promise<World> {
  const cloud = await startLocalCloud({ aws: { propagationDelayMs: 0 } });
  const { config, seeded } = await seedDemo(cloud, { flaws: false });
  if (opts.plugin !== false) prepareKeyless(cloud);
  if (opts.switchJobs !== false) switchJobsToKeyless(cloud);
  const { composition } = wireRotationHook(
    cloud,
    config,
    createLogger('keyless-test', 'SILENT'),
    LOCAL_ROTATE_LAMBDA_ARN,
  );
  const key = composition.config.keys.find((k) => k.name === 'prod-ecr-push');
  if (!key) throw new Error('no prod key');
  const id = seeded.find((s) => s.name === 'prod-ecr-push')?.accessKeyId ?? '';
  const oldKey = {
    accessKeyId: id,
    secretAccessKey: cloud.aws.state.accessKeys.get(id)?.secretAccessKey ?? '',
  };
  const iam = new IAMClient(cloud.aws.adminClientConfig());
  return {
    cloud,
    composition,
    key,
    oldKey,
    iam,
    close: async () => {
      iam.destroy();
      await cloud.close();
    },
  };
}

const apply = (w: World, o: ApplyOptions = {}) =>
  applyKeyless(w.composition, w.key, {
    canaries: [...KEYLESS_JOBS],
    proofTimeoutMs: 5_000,
    clock: fastClock,
    ...o,
  });

const works = (w: World, creds: { accessKeyId: string; secretAccessKey: string }) =>
  authenticates(w.cloud.aws.url, creds);

const state = (w: World) => w.cloud.aws.state;
const account = (w: World) => state(w).account(state(w).defaultAccountId);
const userTags = (w: World) => account(w).users.get(w.key.iamUser)?.tags ?? [];

/** Runs a job of the Jenkins emulator as the rotator's Jenkins user would, with AWS_ROLE_ARN. */
async function build(w: World, job: string, roleArn: string) {
  const target = w.key.jenkins[0];
  if (!target) throw new Error('no target');
  const client = await w.composition.jenkinsClient(w.key, target);
  const run = await client.runJob(job, { AWS_ROLE_ARN: roleArn }, { timeoutMs: 30_000 });
  return { ...run, console: (await client.consoleTail(job, run.number, 40)).join('\n') };
}

describe('keyless plan', () => {
  let w: World;
  beforeAll(async () => (w = await world()));
  afterAll(async () => w.close());

  it('is read-only, and names the credentials, providers, roles and exact subjects', async () => {
    const callsBefore = state(w).calls.calls.filter((c) => /Create|Put|Update|Tag/.test(c.point)).length;
    const plan = await planKeyless(w.composition, w.key);
    expect(plan.blockers).toEqual([]);
    const root = w.cloud.jenkins.url;
    expect(plan.credentials.map((c) => [c.id, c.issuer])).toEqual([
      ['aws-prod-id-token', `${root}/oidc`],
      ['aws-prod-userpass-id-token', `${root}/oidc/job/team-a/job/deploy`],
    ]);
    expect(plan.roles.map((r) => [r.scope.kind, r.scope.path, r.sub.operator, r.sub.value])).toEqual([
      ['job', 'ecr-canary-prod-ecr-push', 'StringEquals', `${root}/job/ecr-canary-prod-ecr-push/`],
      ['folder', 'team-a/deploy', 'StringLike', `${root}/job/team-a/job/deploy/job/*`],
    ]);
    expect(plan.roles[0]?.trustPolicy.Statement[0]?.Condition).toEqual({
      StringEquals: {
        [`127.0.0.1:${new URL(root).port}/oidc:aud`]: 'sts.amazonaws.com',
        [`127.0.0.1:${new URL(root).port}/oidc:sub`]: `${root}/job/ecr-canary-prod-ecr-push/`,
      },
    });
    expect(plan.repositories).toEqual(['arn:aws:ecr:us-east-1:111122223333:repository/team-a/app']);
    const template = cloudFormationTemplate(plan) as { Resources: Record<string, { Type: string }> };
    expect(
      Object.values(template.Resources)
        .map((r) => r.Type)
        .sort(),
    ).toEqual(['AWS::IAM::OIDCProvider', 'AWS::IAM::OIDCProvider', 'AWS::IAM::Role', 'AWS::IAM::Role']);
    // Nothing was written: no provider, no role, no credential, no write call.
    expect(account(w).oidcProviders.size).toBe(0);
    expect([...account(w).roles.keys()].filter((r) => r.startsWith('jenkins-prod'))).toEqual([]);
    expect(
      w.cloud.jenkins.state
        .store('system')
        .domains.get('_')
        ?.credentials.some((c) => /id-token/.test(credentialId(c) ?? '')),
    ).not.toBe(true);
    expect(state(w).calls.calls.filter((c) => /Create|Put|Update|Tag/.test(c.point)).length).toBe(
      callsBefore,
    );
  });
});

describe('keyless apply, then --retire-key, the scan, and rollback', () => {
  let w: World;
  beforeAll(async () => (w = await world()));
  afterAll(async () => w.close());

  it('creates and proves everything, and leaves the key alone without --retire-key', async () => {
    const r = await apply(w);
    expect(r.proofs.map((p) => p.proven)).toEqual([true, true]);
    expect(r.proofs[1]?.by).toBe(`${w.cloud.jenkins.url}/job/team-a/job/deploy/job/ecr-push/`);
    expect(r.retired).toBe(false);
    // (Not used here: a use of the old key after the proof stops the retirement, as the next tests rely on.)
    expect(state(w).accessKeys.get(w.oldKey.accessKeyId)?.status).toBe('Active');
  });

  it('the trust policies admit exactly the planned jobs, and no other', async () => {
    const plan = await planKeyless(w.composition, w.key);
    const [jobRole, folderRole] = plan.roles;
    if (!jobRole || !folderRole) throw new Error('roles');
    w.cloud.jenkins.state.seed({
      folders: ['team-a/deploy/nested', 'team-a/other'],
      jobs: [
        // The root credential and the canary's role, but another job (a name with the canary's as prefix).
        {
          path: 'ecr-canary-prod-ecr-push-2',
          type: 'pipeline',
          parameters: ['AWS_ROLE_ARN'],
          check: 'web-identity',
          credentialId: 'aws-prod-id-token',
          region: 'us-east-1',
        },
        {
          path: 'intruder',
          type: 'pipeline',
          parameters: ['AWS_ROLE_ARN'],
          check: 'web-identity',
          credentialId: 'aws-prod-id-token',
          region: 'us-east-1',
        },
        // A job below the folder: admitted by the folder's role.
        {
          path: 'team-a/deploy/nested/release',
          type: 'pipeline',
          parameters: ['AWS_ROLE_ARN'],
          check: 'web-identity',
          credentialId: 'aws-prod-userpass-id-token',
          region: 'us-east-1',
        },
        // A sibling folder, with the root issuer's token, asking for the folder's role.
        {
          path: 'team-a/other/deploy',
          type: 'pipeline',
          parameters: ['AWS_ROLE_ARN'],
          check: 'web-identity',
          credentialId: 'aws-prod-id-token',
          region: 'us-east-1',
        },
      ],
    });
    const refused = async (job: string, role: string) => {
      const b = await build(w, job, role);
      expect(b.result, `${job} → ${role}`).toBe('FAILURE');
      expect(b.console).toMatch(/step sts:AssumeRoleWithWebIdentity failed: AccessDenied/);
    };
    await refused('ecr-canary-prod-ecr-push-2', jobRole.arn);
    await refused('intruder', jobRole.arn);
    await refused('intruder', folderRole.arn);
    await refused('team-a/other/deploy', folderRole.arn);
    expect((await build(w, 'team-a/deploy/nested/release', folderRole.arn)).result).toBe('SUCCESS');
    expect((await build(w, KEYLESS_JOBS[0], jobRole.arn)).result).toBe('SUCCESS');
  });

  it('runs again without changing anything (idempotent), the proofs kept', async () => {
    const writes = () =>
      state(w).calls.calls.filter((c) =>
        /CreateRole|CreateOpenIDConnectProvider|UpdateAssumeRolePolicy|TagRole/.test(c.point),
      ).length;
    const before = writes();
    const r = await apply(w, { canaries: [] });
    expect(
      r.steps
        .filter((s) => s.step.startsWith('Jenkins credential') || s.step.startsWith('IAM'))
        .map((s) => s.status),
    ).toEqual(['already', 'already', 'already', 'already', 'already', 'already']);
    expect(r.proofs.map((p) => p.detail)).toEqual(['proven earlier', 'proven earlier']);
    expect(writes()).toBe(before);
  });

  it('--retire-key retires the key only now: deactivated, refused, recorded, marked keyless, schedule off', async () => {
    const r = await apply(w, { canaries: [], retireKey: true });
    expect(r.retired).toBe(true);
    expect(state(w).accessKeys.get(w.oldKey.accessKeyId)?.status).toBe('Inactive');
    expect(await works(w, w.oldKey)).toBe(false);
    expect(userTags(w).map((t) => t.Key)).toEqual(
      expect.arrayContaining(['key-rotator:keyless', `key-rotator:deactivated:${w.oldKey.accessKeyId}`]),
    );
    // The Jenkins AWS credential is kept by default (it holds the dead key).
    expect(
      w.cloud.jenkins.state
        .store('system')
        .domains.get('_')
        ?.credentials.some((c) => credentialId(c) === 'aws-prod'),
    ).toBe(true);
  });

  it('the scan reports the key keyless and rotates nothing; a new access key on the user is a failure', async () => {
    const now = new Date(state(w).now() + 200 * 86_400_000);
    const scan = async () => {
      const inventory = await collectInventory(w.composition, {
        source: 'list',
        clock: { now: () => now, sleep: (ms, s) => fastClock.sleep(ms, s) },
      });
      return planScan(inventory, w.composition.config, await readSecretStates(w.composition), now);
    };
    const first = await scan();
    expect(first.keyless).toEqual([expect.objectContaining({ key: 'prod-ecr-push', activeKeys: [] })]);
    expect(first.rotate.map((r) => r.key)).not.toContain('prod-ecr-push');
    expect(first.failed.filter((f) => f.key === 'prod-ecr-push')).toEqual([]);
    // After the grace period the retired key is deleted like any key this tool deactivated.
    expect(first.skipped.filter((x) => x.accessKeyId === w.oldKey.accessKeyId)).toEqual([]);
    expect(first.delete.map((d) => d.accessKeyId)).toContain(w.oldKey.accessKeyId);
    const made = await w.iam.send(new CreateAccessKeyCommand({ UserName: w.key.iamUser }));
    const id = made.AccessKey?.AccessKeyId ?? '';
    const second = await scan();
    expect(second.failed).toContainEqual(
      expect.objectContaining({
        key: 'prod-ecr-push',
        accessKeyId: id,
        reason: expect.stringMatching(/is keyless since .* has an active access key/) as unknown,
      }),
    );
    await w.iam.send(new DeleteAccessKeyCommand({ UserName: w.key.iamUser, AccessKeyId: id }));
  });

  it('the rotation refuses a keyless key: no access key is created', async () => {
    const keysBefore = state(w).keysOf(state(w).defaultAccountId, w.key.iamUser).length;
    const r = await rotateNow(w.composition, w.key, { clock: fastClock });
    expect(r.outcome).toBe('failed');
    expect(r.error?.message).toMatch(/is keyless since .*keyless rollback prod-ecr-push/);
    expect(state(w).keysOf(state(w).defaultAccountId, w.key.iamUser)).toHaveLength(keysBefore);
  });

  it('rollback brings the key path back: a new key in Secrets Manager and every Jenkins credential', async () => {
    const r = await rollbackKeyless(w.composition, w.key, { clock: fastClock });
    expect(r.wasKeyless).toBe(true);
    expect({ outcome: r.rotation.outcome, error: r.rotation.error?.message }).toEqual({
      outcome: 'rotated',
      error: undefined,
    });
    const sm = new SecretsManagerClient(w.cloud.aws.adminClientConfig());
    const current = JSON.parse(
      (await sm.send(new GetSecretValueCommand({ SecretId: w.key.secretId }))).SecretString ?? '{}',
    ) as { accessKeyId: string; secretAccessKey: string };
    sm.destroy();
    expect(current.accessKeyId).toBe(r.rotation.newKeyId);
    expect(await works(w, current)).toBe(true);
    expect(userTags(w).map((t) => t.Key)).not.toContain('key-rotator:keyless');
    for (const t of w.key.jenkins) {
      const client = await w.composition.jenkinsClient(w.key, t);
      expect(await client.readAccessKeyId(t.store, t.credentialId)).toBe(current.accessKeyId);
    }
  });
});

describe('keyless apply refuses, changing nothing, or stops before the key', () => {
  it('without the plugin: blocked, and nothing is created', async () => {
    const w = await world({ plugin: false });
    try {
      w.cloud.jenkins.state.seed({ systemReadPermission: true });
      const rotator = w.cloud.jenkins.state.users.get('key-rotator');
      if (rotator) rotator.permissions.add('Overall/SystemRead');
      const plan = await planKeyless(w.composition, w.key);
      expect(plan.blockers.join('\n')).toMatch(
        /the OpenID Connect Provider plugin \(oidc-provider\) is not installed/,
      );
      await expect(apply(w)).rejects.toThrow(/nothing was changed, because .*oidc-provider/);
      expect(account(w).oidcProviders.size).toBe(0);
      expect(await works(w, w.oldKey)).toBe(true);
    } finally {
      await w.close();
    }
  });

  it('an issuer that is not https: blocked, naming it', async () => {
    const w = await world();
    try {
      w.cloud.jenkins.state.seed({ rootUrl: 'http://jenkins.example.com/' });
      const plan = await planKeyless(w.composition, w.key);
      expect(plan.blockers.join('\n')).toMatch(
        /the issuer http:\/\/jenkins\.example\.com\/oidc is not HTTPS/,
      );
    } finally {
      await w.close();
    }
  });

  it('a canary that does not use the role proves nothing: the key is not retired', async () => {
    const w = await world({ switchJobs: false }); // the canary still pushes with the long-lived key
    try {
      await expect(
        apply(w, { canaries: [KEYLESS_JOBS[0]], retireKey: true, proofTimeoutMs: 300 }),
      ).rejects.toThrow(
        /was not retired: 2 role\(s\) not proven .*CloudTrail showed no web-identity session/,
      );
      expect(state(w).accessKeys.get(w.oldKey.accessKeyId)?.status).toBe('Active');
      expect(await works(w, w.oldKey)).toBe(true);
    } finally {
      await w.close();
    }
  });

  it('an issuer AWS cannot reach: the canary fails with the cause, the key untouched; fixed, apply resumes', async () => {
    const w = await world();
    try {
      const real = w.cloud.jenkins.state.rootUrl;
      // Jenkins' configured URL names a port nothing listens on: AWS cannot fetch the issuer's keys.
      w.cloud.jenkins.state.seed({ rootUrl: 'http://127.0.0.1:9/' });
      const err: unknown = await apply(w, { retireKey: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeylessError);
      expect((err as Error).message).toMatch(
        /the canary ecr-canary-prod-ecr-push \(build #\d+\) ended FAILURE \(.*IDPCommunicationError/,
      );
      expect((err as Error).message).toMatch(/the long-lived key was not touched/);
      expect(state(w).accessKeys.get(w.oldKey.accessKeyId)?.status).toBe('Active');
      expect(await works(w, w.oldKey)).toBe(true);
      // Back to the real URL: the plan is made again for it, the roles are updated, and the proof goes through.
      w.cloud.jenkins.state.seed({ rootUrl: real });
      const r = await apply(w, { retireKey: true });
      expect(r.retired).toBe(true);
      expect(await works(w, w.oldKey)).toBe(false);
    } finally {
      await w.close();
    }
  });

  it('a stop in the middle (Jenkins down at the canary) resumes to the end; --credential delete, then rollback', async () => {
    const w = await world();
    try {
      await fetch(`${w.cloud.jenkins.url}/_localcloud/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path: 'buildWithParameters', status: 503, count: 100 }),
      });
      await expect(apply(w, { retireKey: true })).rejects.toThrow();
      expect(account(w).oidcProviders.size).toBe(2);
      expect(state(w).accessKeys.get(w.oldKey.accessKeyId)?.status).toBe('Active');
      await fetch(`${w.cloud.jenkins.url}/_localcloud/faults`, { method: 'DELETE' });
      // --credential delete without Credentials/Delete: refused before the key is touched.
      await expect(apply(w, { retireKey: true, credential: 'delete' })).rejects.toThrow(
        /could not be deleted .*CredentialsProvider\.Delete.*the long-lived key was not touched/,
      );
      expect(state(w).accessKeys.get(w.oldKey.accessKeyId)?.status).toBe('Active');
      w.cloud.jenkins.state.users.get('key-rotator')?.permissions.add('Credentials/Delete');
      const r = await apply(w, { retireKey: true, credential: 'delete' });
      expect(r.steps.filter((s) => s.step.startsWith('IAM')).every((s) => s.status === 'already')).toBe(true);
      expect(r.retired).toBe(true);
      // --credential delete removed the Jenkins AWS credentials; rollback puts them back with the new key.
      const held = async () => {
        const out: (string | undefined)[] = [];
        for (const t of w.key.jenkins) {
          const client = await w.composition.jenkinsClient(w.key, t);
          out.push(
            (await client.describeAccess(t.store, t.credentialId)).exists
              ? await client.readAccessKeyId(t.store, t.credentialId)
              : undefined,
          );
        }
        return out;
      };
      expect(await held()).toEqual([undefined, undefined]);
      const back = await rollbackKeyless(w.composition, w.key, { clock: fastClock });
      expect({ o: back.rotation.outcome, e: back.rotation.error?.message }).toEqual({
        o: 'rotated',
        e: undefined,
      });
      expect(await held()).toEqual([back.rotation.newKeyId, back.rotation.newKeyId]);
    } finally {
      await w.close();
    }
  });
});
