import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { LocalCloud } from './index';
import type { SeedInput } from './jenkins/seed';

/** One Jenkins credential that holds a managed key. */
export interface ScenarioCredential {
  store: 'system' | { folder: string };
  credentialId: string;
  kind: 'aws' | 'usernamePassword';
  description?: string;
  iamRoleArn?: string;
  iamExternalId?: string;
  iamMfaSerialNumber?: string;
  stsTokenDuration?: number;
  usernameSecret?: boolean;
  /** How the rotator signs in to Jenkins for this credential: its API token (default), or a password and crumbs. */
  auth?: 'apiToken' | 'password';
}

export interface ScenarioKey {
  name: string;
  iamUser: string;
  path?: string;
  ageDays: number;
  secretName: string;
  credentials: ScenarioCredential[];
  /** A canary job that logs in to ECR with the first credential. */
  canary?: boolean;
  /** Whether the IAM user may call ecr:GetAuthorizationToken (default true). */
  ecrAllowed?: boolean;
}

export interface SeededKey {
  name: string;
  iamUser: string;
  accessKeyId: string;
  secretArn: string;
  createDate: string;
}

const DAY = 86_400_000;

/** A Jenkins folder path of a credential store, or undefined for the system store. */
const folderOf = (s: ScenarioCredential['store']): string | undefined =>
  s === 'system' ? undefined : s.folder;

/**
 * Seeds a realistic setup on the local cloud: per key an IAM user on a path with one backdated key, a
 * Secrets Manager secret holding it as AWSCURRENT, and Jenkins credentials holding it; a Jenkins user for
 * the rotator whose API token lives in Secrets Manager. Returns the rotator configuration for it.
 */
export async function seedScenario(cloud: LocalCloud, keys: ScenarioKey[], region = 'us-east-1') {
  const { aws, jenkins } = cloud;
  const sm = new SecretsManagerClient(aws.adminClientConfig(region));
  const acct = aws.state.defaultAccountId;
  const rotatorToken = `11${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex')}`;
  const tokenSecret = await sm.send(
    new CreateSecretCommand({ Name: 'key-rotator/jenkins-api-token', SecretString: rotatorToken }),
  );
  const needsPassword = keys.some((k) => k.credentials.some((c) => c.auth === 'password'));
  const rotatorPassword = `pw-${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString('hex')}`;
  const passwordSecret = needsPassword
    ? await sm.send(
        new CreateSecretCommand({ Name: 'key-rotator/jenkins-password', SecretString: rotatorPassword }),
      )
    : undefined;
  const seeded: SeededKey[] = [];
  const folders = new Set<string>();
  const credentials: NonNullable<SeedInput['credentials']> = [];
  const jobs: NonNullable<SeedInput['jobs']> = [];
  for (const k of keys) {
    const user = aws.state.createUser(acct, k.iamUser, {
      path: k.path ?? '/jenkins/',
      createDate: aws.state.now() - (k.ageDays + 30) * DAY,
      permissions: [
        {
          effect: 'Allow',
          actions:
            k.ecrAllowed === false
              ? ['sts:GetCallerIdentity']
              : ['ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'ecr:PutImage', 'ecr:InitiateLayerUpload'],
        },
      ],
    });
    const key = aws.state.createAccessKey(user, {
      createDate: aws.state.now() - k.ageDays * DAY,
      established: true,
    });
    key.lastUsed = { date: aws.state.now() - DAY, serviceName: 'ecr', region };
    const secret = await sm.send(
      new CreateSecretCommand({
        Name: k.secretName,
        Description: `Access key of IAM user ${k.iamUser}, used by Jenkins`,
        SecretString: JSON.stringify({
          userName: k.iamUser,
          accessKeyId: key.accessKeyId,
          secretAccessKey: key.secretAccessKey,
        }),
        Tags: [{ Key: 'managed-by', Value: 'jenkins-key-rotator' }],
      }),
    );
    for (const c of k.credentials) {
      const folder = folderOf(c.store);
      if (folder) folder.split('/').forEach((_, i, parts) => folders.add(parts.slice(0, i + 1).join('/')));
      const common = {
        store: c.store,
        id: c.credentialId,
        scope: 'GLOBAL' as const,
        description: c.description ?? `${k.name} deploy key`,
      };
      credentials.push(
        c.kind === 'aws'
          ? {
              ...common,
              kind: 'aws',
              accessKey: key.accessKeyId,
              secretKey: key.secretAccessKey,
              iamRoleArn: c.iamRoleArn ?? '',
              iamExternalId: c.iamExternalId ?? '',
              iamMfaSerialNumber: c.iamMfaSerialNumber ?? '',
              ...(c.stsTokenDuration ? { stsTokenDuration: c.stsTokenDuration } : {}),
            }
          : {
              ...common,
              kind: 'usernamePassword',
              username: key.accessKeyId,
              password: key.secretAccessKey,
              usernameSecret: c.usernameSecret ?? false,
            },
      );
    }
    const first = k.credentials[0];
    if (k.canary && first) {
      const folder = folderOf(first.store);
      jobs.push({
        path: folder ? `${folder}/ecr-canary-${k.name}` : `ecr-canary-${k.name}`,
        parameters: ['REASON'],
        check: 'ecr-login',
        credentialId: first.credentialId,
        region,
      });
    }
    seeded.push({
      name: k.name,
      iamUser: k.iamUser,
      accessKeyId: key.accessKeyId,
      secretArn: secret.ARN ?? k.secretName,
      createDate: new Date(key.createDate).toISOString(),
    });
  }
  // In-process (the same schema as POST /_localcloud/seed): an HTTPS emulator's test CA need not be trusted here.
  jenkins.state.seed({
    users: [
      {
        id: 'key-rotator',
        apiTokens: [rotatorToken],
        ...(needsPassword ? { password: rotatorPassword } : {}),
        permissions: [
          'Overall/Read',
          'Credentials/View',
          'Credentials/Create',
          'Credentials/Update',
          'Job/Build',
          'Job/Read',
        ],
      },
    ],
    folders: [...folders].sort(),
    credentials,
    jobs,
  });
  sm.destroy();
  const config = {
    version: 1,
    keys: keys.map((k) => ({
      name: k.name,
      iamUser: k.iamUser,
      secretId: k.secretName,
      jenkins: k.credentials.map((c, i) => ({
        name: `jenkins-${i}`,
        url: jenkins.url,
        user: 'key-rotator',
        ...(c.auth === 'password'
          ? { tokenSecretId: passwordSecret?.Name ?? 'key-rotator/jenkins-password', authType: 'password' }
          : { tokenSecretId: tokenSecret.Name ?? 'key-rotator/jenkins-api-token' }),
        store: c.store,
        credentialId: c.credentialId,
        credentialKind: c.kind,
      })),
      verify: {
        ecr: { region, registryLogin: true },
        ...(k.canary && k.credentials[0]
          ? {
              canary: {
                jenkins: 'jenkins-0',
                job: (() => {
                  const folder = folderOf(k.credentials[0].store);
                  return folder ? `${folder}/ecr-canary-${k.name}` : `ecr-canary-${k.name}`;
                })(),
                parameters: { REASON: 'key rotation' },
                timeoutSeconds: 60,
              },
            }
          : {}),
      },
    })),
  };
  return { config, seeded, tokenSecretArn: tokenSecret.ARN };
}
