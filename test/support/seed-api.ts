import { randomBytes } from 'node:crypto';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateSecretCommand, DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { createAwsClients, type AwsClients } from '../../src/aws/clients';
import { JenkinsClient } from '../../src/jenkins/client';
import type { CredentialKind, StoreRef } from '../../src/jenkins/types';
import type { Target } from './target';

/**
 * Seeds one managed key through public APIs only (IAM, Secrets Manager, the Jenkins REST API), so that it works
 * against the local cloud and against any external endpoint alike. The one emulator-specific step, creating the
 * rotator's Jenkins user, its folders and a canary job in the Jenkins emulator, is `seedJenkinsEmulator` below.
 */

export const IT_USER_PATH = '/jenkins-it/';
export const IT_TAG = { Key: 'created-by', Value: 'jenkins-key-rotator-integration-tests' };

/** ecr:GetAuthorizationToken only: the key can log in to ECR and do nothing else. */
const ECR_LOGIN_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }],
});
const POLICY_NAME = 'ecr-login';
/** What the rotator's own Jenkins user needs (docs/configuration.md). */
const ROTATOR_JENKINS_PERMISSIONS = [
  'Overall/Read',
  'Credentials/View',
  'Credentials/Update',
  'Job/Read',
  'Job/Build',
];

export interface SeedOptions {
  /** Also a usernamePassword credential in a folder store (the target must have one: `plan.hasFolder`). */
  folder?: boolean;
  /** Put the canary job into the configuration (the target must have one: `plan.hasCanary`). */
  canary?: boolean;
}

export interface SeededCredential {
  /** The rotator's Jenkins target name for it. */
  target: string;
  store: StoreRef;
  id: string;
  kind: CredentialKind;
  description: string;
  iamRoleArn?: string;
}

export interface SeededKey {
  /** Unique per seed: `jkr-it-<8 hex>`; also the IAM user name. */
  id: string;
  iamUser: string;
  userArn: string;
  /** Secrets Manager name of the key's secret. */
  secretId: string;
  /** Secrets Manager name of the secret holding the rotator's Jenkins API token. */
  tokenSecretId: string;
  /** The seeded (soon old) key. Kept in memory only: never log it. */
  accessKeyId: string;
  secretAccessKey: string;
  credentials: SeededCredential[];
  /** The canary job the configuration runs, when asked for. */
  canaryJob?: string;
  /** The canary job's CRED_ID parameter: the credential the job logs in to ECR with. */
  canaryCredentialId?: string;
  /** A rotator configuration (the shape of config/example.json) for this key alone. */
  config: RawConfig;
  /**
   * Deletes everything the seed created, whatever the rotator did since (keys it added included). Tolerant of
   * things already gone, so it may run again; throws, naming them, when things could not be deleted.
   */
  cleanup(): Promise<void>;
}

/** The JSON document the rotator loads; `parseConfig` validates it. */
export interface RawConfig {
  version: 1;
  defaults: Record<string, number>;
  keys: Record<string, unknown>[];
}

function destroyClients(c: AwsClients): void {
  c.iam.destroy();
  c.secrets.destroy();
  c.sts.destroy();
}

const errName = (err: unknown) => (err instanceof Error ? err.name : '');
const gone = (err: unknown) => /^(NoSuchEntity|ResourceNotFound)/.test(errName(err));

/** Deletes an IAM user with every key and inline policy it has now (the rotator may have added keys). */
async function deleteIamUser(clients: AwsClients, userName: string): Promise<void> {
  const { iam } = clients;
  try {
    for (let marker: string | undefined, more = true; more;) {
      const r = await iam.send(
        new ListAccessKeysCommand({ UserName: userName, ...(marker ? { Marker: marker } : {}) }),
      );
      for (const k of r.AccessKeyMetadata ?? [])
        await iam
          .send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: k.AccessKeyId }))
          .catch((err: unknown) => {
            if (!gone(err)) throw err;
          });
      more = r.IsTruncated === true;
      marker = r.Marker;
    }
    const policies = await iam.send(new ListUserPoliciesCommand({ UserName: userName }));
    for (const name of policies.PolicyNames ?? [])
      await iam
        .send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: name }))
        .catch((err: unknown) => {
          if (!gone(err)) throw err;
        });
    await iam.send(new DeleteUserCommand({ UserName: userName }));
  } catch (err) {
    if (!gone(err)) throw err;
  }
}

async function forceDeleteSecret(clients: AwsClients, secretId: string): Promise<void> {
  try {
    await clients.secrets.send(
      new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }),
    );
  } catch (err) {
    if (!gone(err)) throw err;
  }
}

/** The Jenkins emulator's user, folders and canary job for one seed: the only emulator-specific seeding. */
async function seedJenkinsEmulator(
  jenkinsUrl: string,
  seed: { user: string; token: string; folders: string[]; job?: Record<string, unknown> },
): Promise<void> {
  const res = await fetch(`${jenkinsUrl}/_localcloud/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      users: [{ id: seed.user, apiTokens: [seed.token], permissions: ROTATOR_JENKINS_PERMISSIONS }],
      folders: seed.folders,
      jobs: seed.job ? [seed.job] : [],
    }),
  });
  // The body names what is wrong with the seed; it never echoes the token.
  if (!res.ok) throw new Error(`seeding the Jenkins emulator failed: ${res.status} ${await res.text()}`);
}

/**
 * Creates an IAM user (path /jenkins-it/, ecr:GetAuthorizationToken only) with one access key, the key's secret
 * and the Jenkins token's secret in Secrets Manager, and Jenkins credentials holding the key: two AWS credentials
 * in the system store (one with an IAM role ARN, to prove that fields other than the key survive), plus a
 * usernamePassword one in a folder store when asked. Returns the rotator configuration for it.
 */
export async function seedKey(target: Target, opts: SeedOptions = {}): Promise<SeededKey> {
  const { plan } = target;
  if (opts.folder && !plan.hasFolder) throw new Error(`no folder store to seed: ${plan.why.noFolder}`);
  if (opts.canary && !plan.hasCanary) throw new Error(`no canary job to seed: ${plan.why.noCanary}`);
  const hex = randomBytes(4).toString('hex');
  const id = `jkr-it-${hex}`;
  const jenkinsAdmin = new JenkinsClient({
    baseUrl: target.jenkins.url,
    auth: { username: target.jenkins.user, apiToken: target.jenkins.token },
    timeoutMs: plan.timeouts.rotator.jenkinsSeconds * 1000,
  });
  /** What to delete, in creation order; cleanup goes backwards and keeps the list, so that it can run again. */
  const undo: { what: string; run: (c: AwsClients) => Promise<void> }[] = [];
  const cleanup = async (): Promise<void> => {
    const c = createAwsClients(target.aws);
    const failures: string[] = [];
    try {
      for (const u of [...undo].reverse())
        await u.run(c).catch((err: unknown) => {
          failures.push(`${u.what}: ${errName(err) || 'Error'}: ${err instanceof Error ? err.message : ''}`);
        });
    } finally {
      destroyClients(c);
    }
    if (failures.length) throw new Error(`cleanup of ${id} left things behind:\n  ${failures.join('\n  ')}`);
  };

  const clients = createAwsClients(target.aws);
  try {
    // IAM: the user, its policy and its key.
    const { User } = await clients.iam.send(
      new CreateUserCommand({ UserName: id, Path: IT_USER_PATH, Tags: [IT_TAG] }),
    );
    undo.push({ what: `IAM user ${id}`, run: (c) => deleteIamUser(c, id) });
    await clients.iam.send(
      new PutUserPolicyCommand({ UserName: id, PolicyName: POLICY_NAME, PolicyDocument: ECR_LOGIN_POLICY }),
    );
    const { AccessKey } = await clients.iam.send(new CreateAccessKeyCommand({ UserName: id }));
    if (!User?.Arn || !AccessKey?.AccessKeyId || !AccessKey.SecretAccessKey)
      throw new Error('IAM answered CreateUser/CreateAccessKey without an ARN or key');
    const key = { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };

    // Secrets Manager: the key, as the rotator expects it.
    const secretId = `jenkins-it/${hex}/aws-key`;
    await clients.secrets.send(
      new CreateSecretCommand({
        Name: secretId,
        Description: `Access key of IAM user ${id} (jenkins-key-rotator integration test)`,
        SecretString: JSON.stringify({ userName: id, ...key }),
        Tags: [IT_TAG],
      }),
    );
    undo.push({ what: `secret ${secretId}`, run: (c) => forceDeleteSecret(c, secretId) });

    // Jenkins: the rotator's user (the emulator gets a fresh one; an external Jenkins has the configured one).
    const emulator = target.emulators.jenkins;
    const folder = opts.folder ? (emulator ? `jenkins-it-${hex}/deploy` : plan.jenkinsFolder) : undefined;
    const canaryCredentialId = `${id}-aws`;
    let canaryJob: string | undefined;
    let rotator: { user: string; token: string };
    if (emulator) {
      rotator = { user: `${id}-rotator`, token: `11${randomBytes(16).toString('hex')}` };
      if (opts.canary) canaryJob = `jenkins-it-${hex}/ecr-canary`;
      await seedJenkinsEmulator(target.jenkins.url, {
        ...rotator,
        folders: folder ? [folder] : [],
        ...(canaryJob
          ? {
              job: {
                path: canaryJob,
                parameters: ['CRED_ID'],
                check: 'ecr-login',
                // The emulator's job logs in with a fixed credential: the one CRED_ID names.
                credentialId: canaryCredentialId,
                region: plan.region,
              },
            }
          : {}),
      });
    } else {
      rotator = { user: target.jenkins.user, token: target.jenkins.token };
      if (opts.canary) canaryJob = target.canaryJob;
    }
    const tokenSecretId = `jenkins-it/${hex}/jenkins-token`;
    await clients.secrets.send(
      new CreateSecretCommand({
        Name: tokenSecretId,
        Description: `Jenkins API token of ${rotator.user} (jenkins-key-rotator integration test)`,
        SecretString: rotator.token,
        Tags: [IT_TAG],
      }),
    );
    undo.push({ what: `secret ${tokenSecretId}`, run: (c) => forceDeleteSecret(c, tokenSecretId) });

    // Jenkins credentials, through the REST API.
    const description = `jenkins-key-rotator integration test ${id}`;
    const credentials: SeededCredential[] = [
      { target: 'system-aws', store: { kind: 'system' }, id: `${id}-aws`, kind: 'aws', description },
      {
        target: 'system-aws-role',
        store: { kind: 'system' },
        id: `${id}-aws-role`,
        kind: 'aws',
        description: `${description} (with a role)`,
        // Synthetic: never assumed, since no job uses this credential.
        iamRoleArn: `arn:aws:iam::123456789012:role/jenkins-it/${id}`,
      },
      ...(folder
        ? [
            {
              target: 'folder-userpass',
              store: { kind: 'folder', path: folder } as const,
              id: `${id}-userpass`,
              kind: 'usernamePassword' as const,
              description: `${description} (username/password)`,
            },
          ]
        : []),
    ];
    for (const c of credentials) {
      const created = await jenkinsAdmin.createCredential(c.store, {
        kind: c.kind,
        id: c.id,
        scope: 'GLOBAL',
        description: c.description,
        ...key,
        ...(c.iamRoleArn ? { iamRoleArn: c.iamRoleArn } : {}),
      });
      if (created === 'exists') throw new Error(`Jenkins credential ${c.id} exists already`);
      undo.push({
        what: `Jenkins credential ${c.id}`,
        run: () => jenkinsAdmin.deleteCredential(c.store, c.id),
      });
    }

    const { timeouts } = plan;
    const url = target.jenkins.url;
    const config: RawConfig = {
      version: 1,
      defaults: {
        propagationTimeoutSeconds: timeouts.rotator.propagationSeconds,
        jenkinsTimeoutSeconds: timeouts.rotator.jenkinsSeconds,
      },
      keys: [
        {
          name: `it-${hex}`,
          description: 'jenkins-key-rotator integration test key',
          iamUser: id,
          secretId,
          jenkins: credentials.map((c) => ({
            name: c.target,
            url,
            ...(url.startsWith('http:') ? { allowInsecureHttp: true } : {}),
            user: rotator.user,
            tokenSecretId,
            store: c.store.kind === 'system' ? 'system' : { folder: c.store.path },
            credentialId: c.id,
            credentialKind: c.kind,
          })),
          verify: {
            ecr: { region: plan.region, registryLogin: plan.registryLogin },
            ...(canaryJob
              ? {
                  canary: {
                    jenkins: 'system-aws',
                    job: canaryJob,
                    parameters: { CRED_ID: canaryCredentialId },
                    timeoutSeconds: timeouts.rotator.canarySeconds,
                  },
                }
              : {}),
          },
        },
      ],
    };
    return {
      id,
      iamUser: id,
      userArn: User.Arn,
      secretId,
      tokenSecretId,
      ...key,
      credentials,
      ...(canaryJob ? { canaryJob, canaryCredentialId } : {}),
      config,
      cleanup,
    };
  } catch (err) {
    await cleanup().catch((cleanupErr: unknown) => {
      throw new AggregateError([err, cleanupErr], `seeding ${id} failed, and so did its cleanup`);
    });
    throw err;
  } finally {
    destroyClients(clients);
  }
}
