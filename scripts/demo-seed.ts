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

export async function seedDemo(cloud: LocalCloud) {
  const result = await seedScenario(cloud, DEMO_KEYS);
  return {
    ...result,
    summary: result.seeded.map((s) => ({ name: s.name, iamUser: s.iamUser, accessKeyId: s.accessKeyId })),
  };
}
