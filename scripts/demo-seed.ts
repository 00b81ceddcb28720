import { AttachUserPolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { seedAws } from '../localcloud/aws/seed';
import type { LocalCloud } from '../localcloud/index';
import { seedScenario, type ScenarioKey } from '../localcloud/scenario';

/**
 * The `npm start` scenario: a dev and a prod Jenkins user. Prod's key is 120 days old and due; dev's is
 * 10 days old. Each key sits in its own secret and in Jenkins: prod in the system store (AWS kind, with a
 * role to assume) and in team-a's folder store (username/password kind), dev in the dev folder.
 */
export const DEMO_KEYS: ScenarioKey[] = [
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
        description: 'Prod ECR push key (rotated by jenkins-key-rotator)',
        iamRoleArn: 'arn:aws:iam::111122223333:role/ecr-push',
        iamExternalId: 'jenkins-prod',
        stsTokenDuration: 1800,
      },
      {
        store: { folder: 'team-a/deploy' },
        credentialId: 'aws-prod-userpass',
        kind: 'usernamePassword',
        description: 'Prod key for legacy jobs: username = access key id',
        usernameSecret: true,
      },
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

/**
 * Three flaws the scan's security checks find (all common in real set-ups): prod's user has the AWS managed
 * AmazonEC2ContainerRegistryFullAccess policy instead of push rights on its repositories; a legacy job carries dev's
 * key in its environment, outside the credentials store; and the account has no CloudTrail trail.
 */
/** The ECR repository each demo key pushes to. */
export const DEMO_REPOSITORIES: Record<string, string> = {
  'prod-ecr-push': 'team-a/app',
  'dev-ecr-push': 'dev/app',
};

export const DEMO_FLAWS = {
  broadPolicy: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess',
  plantedJob: 'team-a/legacy-deploy',
} as const;

async function seedFlaws(cloud: LocalCloud) {
  const iam = new IAMClient(cloud.aws.adminClientConfig());
  try {
    await iam.send(
      new AttachUserPolicyCommand({ UserName: 'jenkins-prod', PolicyArn: DEMO_FLAWS.broadPolicy }),
    );
  } finally {
    iam.destroy();
  }
  const s = cloud.aws.state;
  const dev = s.keysOf(s.defaultAccountId, 'jenkins-dev')[0];
  const rotator = cloud.jenkins.state.users.get('key-rotator');
  if (!dev || !rotator) throw new Error('seed the scenario before its flaws');
  cloud.jenkins.state.seed({
    // Reading a job's config.xml takes Job/ExtendedRead, which Jenkins offers once it is turned on.
    extendedReadPermission: true,
    // Overall/SystemRead lets the checks see the plugin manager (is Configuration-as-Code installed?).
    systemReadPermission: true,
    users: [
      {
        id: rotator.id,
        apiTokens: rotator.apiTokens,
        ...(rotator.password !== undefined ? { password: rotator.password } : {}),
        permissions: [...rotator.permissions, 'Job/ExtendedRead', 'Overall/SystemRead'],
      },
    ],
    jobs: [
      {
        path: DEMO_FLAWS.plantedJob,
        env: { AWS_ACCESS_KEY_ID: dev.accessKeyId, AWS_SECRET_ACCESS_KEY: dev.secretAccessKey },
      },
    ],
  });
}

export async function seedDemo(cloud: LocalCloud, opts: { flaws?: boolean } = {}) {
  const result = await seedScenario(cloud, DEMO_KEYS);
  if (opts.flaws !== false) await seedFlaws(cloud);
  // The repositories each key pushes to: the least-privilege policy the checks emit is scoped to them.
  seedAws(cloud.aws.state, {
    users: [],
    repositories: Object.values(DEMO_REPOSITORIES).map((name) => ({
      name,
      accountId: cloud.aws.state.defaultAccountId,
    })),
  });
  for (const k of result.config.keys as { name: string; ecrRepositories?: string[] }[]) {
    const repo = DEMO_REPOSITORIES[k.name];
    if (repo) k.ecrRepositories = [repo];
  }
  return {
    ...result,
    summary: result.seeded.map((s) => ({ name: s.name, iamUser: s.iamUser, accessKeyId: s.accessKeyId })),
  };
}

/** The jobs of the keyless demo: the prod canary (root) and a deploy job in team-a/deploy (prod's folder store). */
export const KEYLESS_JOBS = ['ecr-canary-prod-ecr-push', 'team-a/deploy/ecr-push'] as const;

/**
 * The keyless demo's Jenkins: the oidc-provider plugin installed; the rotator's user may read the plugin manager
 * (Overall/SystemRead) and job configurations (Job/ExtendedRead), to find the jobs that use a credential.
 */
export function prepareKeyless(cloud: LocalCloud) {
  const rotator = cloud.jenkins.state.users.get('key-rotator');
  if (!rotator) throw new Error('seed the scenario first');
  cloud.jenkins.state.seed({
    plugins: ['oidc-provider'],
    extendedReadPermission: true,
    systemReadPermission: true,
    users: [
      {
        id: rotator.id,
        apiTokens: rotator.apiTokens,
        permissions: [...rotator.permissions, 'Job/ExtendedRead', 'Overall/SystemRead'],
      },
    ],
  });
}

/**
 * What the team does between plan and apply: switch the jobs to the plan's Jenkinsfile, which binds the ID-token
 * credential as AWS_WEB_IDENTITY_TOKEN_FILE and takes AWS_ROLE_ARN as a parameter.
 */
export function switchJobsToKeyless(cloud: LocalCloud) {
  cloud.jenkins.state.seed({
    jobs: [
      {
        path: KEYLESS_JOBS[0],
        type: 'pipeline',
        parameters: ['REASON', 'AWS_ROLE_ARN'],
        check: 'web-identity',
        credentialId: 'aws-prod-id-token',
        region: 'us-east-1',
      },
      {
        path: KEYLESS_JOBS[1],
        type: 'pipeline',
        parameters: ['AWS_ROLE_ARN'],
        check: 'web-identity',
        credentialId: 'aws-prod-userpass-id-token',
        region: 'us-east-1',
      },
    ],
  });
}
