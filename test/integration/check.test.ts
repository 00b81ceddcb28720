import {
  AttachUserPolicyCommand,
  CreateLoginProfileCommand,
  DeleteLoginProfileCommand,
  DetachUserPolicyCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  ECRClient,
  InitiateLayerUploadCommand,
} from '@aws-sdk/client-ecr';
import { CloudTrailClient, CreateTrailCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { readSecretStates } from '../../src/scan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAws } from '../../localcloud/aws/seed';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { runChecks } from '../../src/checks/run';
import type { CheckReport } from '../../src/checks/types';
import { compose, type Composition } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { rotateNow } from '../../src/engine/rotate-now';
import { createLogger } from '../../src/observability/logger';
import { clientConfig } from '../support/aws';

/**
 * key-rotator check against the local cloud: each finding fires on its flaw and is silent once it is fixed; the
 * emitted policy, attached, lets the key push and nothing else; what cannot be read is "not checked"; no secret
 * value is in any finding.
 */
const KEYS: ScenarioKey[] = [
  {
    name: 'prod-ecr-push',
    iamUser: 'jenkins-prod',
    ageDays: 30,
    secretName: 'jenkins/prod/aws-key',
    credentials: [{ store: 'system', credentialId: 'aws-prod', kind: 'aws' }],
  },
  {
    name: 'dev-ecr-push',
    iamUser: 'jenkins-dev',
    ageDays: 10,
    secretName: 'jenkins/dev/aws-key',
    credentials: [{ store: { folder: 'dev' }, credentialId: 'aws-dev', kind: 'aws' }],
  },
];
const ACCOUNT = '111122223333';
const FULL_ACCESS = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess';

let cloud: LocalCloud;
let composition: Composition;
let iam: IAMClient;
let prodKey: { accessKeyId: string; secretAccessKey: string };
const secrets = new Set<string>();
const log = createLogger('check-test', 'SILENT');

const ids = (r: CheckReport) => r.findings.map((f) => `${f.check} ${f.resource.id}`).sort();

async function jenkinsSeed(body: unknown) {
  const res = await fetch(`${cloud.jenkins.url}/_localcloud/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`seed: ${res.status} ${await res.text()}`);
}

beforeAll(async () => {
  cloud = await startLocalCloud();
  const { config, seeded } = await seedScenario(cloud, KEYS);
  const raw = structuredClone(config) as { keys: Record<string, unknown>[] };
  raw.keys[0]!['ecrRepositories'] = ['team/app'];
  composition = compose(parseConfig(raw), cloud.aws.adminClientConfig(), log);
  iam = new IAMClient(cloud.aws.adminClientConfig());
  const k = cloud.aws.state.accessKeys.get(seeded[0]?.accessKeyId ?? '');
  prodKey = { accessKeyId: k?.accessKeyId ?? '', secretAccessKey: k?.secretAccessKey ?? '' };
  for (const key of cloud.aws.state.accessKeys.values()) secrets.add(key.secretAccessKey);
  // The flaws: FullAccess on prod, a console password without MFA, no trail, a key planted in a job's environment.
  seedAws(cloud.aws.state, {
    users: [],
    repositories: [
      { name: 'team/app', accountId: ACCOUNT },
      { name: 'team/other', accountId: ACCOUNT },
    ],
  });
  await iam.send(new AttachUserPolicyCommand({ UserName: 'jenkins-prod', PolicyArn: FULL_ACCESS }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'jenkins-dev',
      PolicyName: 'ecr-push',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
          {
            Effect: 'Allow',
            Action: ['ecr:PutImage', 'ecr:InitiateLayerUpload'],
            Resource: `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/dev/app`,
          },
        ],
      }),
    }),
  );
  await iam.send(
    new CreateLoginProfileCommand({
      UserName: 'jenkins-prod',
      Password: 'Correct-Horse-9-Battery',
    }),
  );
  await jenkinsSeed({
    extendedReadPermission: true,
    users: [
      {
        id: 'key-rotator',
        apiTokens: [cloud.jenkins.state.users.get('key-rotator')?.apiTokens[0] ?? ''],
        permissions: [
          'Overall/Read',
          'Credentials/View',
          'Credentials/Update',
          'Job/Read',
          'Job/Build',
          'Job/ExtendedRead',
        ],
      },
    ],
    jobs: [
      {
        path: 'dev/legacy-deploy',
        env: { AWS_ACCESS_KEY_ID: prodKey.accessKeyId, AWS_SECRET_ACCESS_KEY: prodKey.secretAccessKey },
      },
    ],
  });
});

afterAll(async () => {
  iam.destroy();
  await cloud.close();
});

describe('key-rotator check on a flawed setup', () => {
  let report: CheckReport;
  beforeAll(async () => {
    report = await runChecks(composition);
  });

  it('names each flaw with its severity, resource and fix', () => {
    expect(ids(report)).toEqual(
      expect.arrayContaining([
        'console-password jenkins-prod',
        'console-without-mfa jenkins-prod',
        'ecr-broad-managed-policy jenkins-prod',
        'key-outside-credentials-store dev/legacy-deploy',
        `no-cloudtrail ${ACCOUNT}`,
      ]),
    );
    const planted = report.findings.find((f) => f.check === 'key-outside-credentials-store');
    expect(planted).toMatchObject({
      severity: 'high',
      resource: { kind: 'jenkins-item', id: 'dev/legacy-deploy', key: 'prod-ecr-push' },
    });
    expect(planted?.resource.location).toMatch(/propertiesContent \(AWS_ACCESS_KEY_ID\)$/);
    expect(planted?.title).toMatch(
      /with a secret key next to it: it is the current key of managed key prod-ecr-push/,
    );
    expect(report.findings.find((f) => f.check === 'ecr-broad-managed-policy')?.fix).toMatch(
      /detach-user-policy --user-name jenkins-prod --policy-arn arn:aws:iam::aws:policy\/AmazonEC2ContainerRegistryFullAccess/,
    );
    // The dev user is least-privilege already: nothing about its policies.
    expect(report.findings.filter((f) => f.resource.id === 'jenkins-dev')).toEqual([]);
  });

  it('emits the scoped push policy for the FullAccess user, from the configured repositories', () => {
    expect(report.policies.find((p) => p.key === 'prod-ecr-push')).toMatchObject({
      repositoriesFrom: 'configuration',
      repositories: [`arn:aws:ecr:us-east-1:${ACCOUNT}:repository/team/app`],
    });
    expect(report.policies.find((p) => p.key === 'dev-ecr-push')).toMatchObject({
      repositoriesFrom: 'current-policy',
      repositories: [`arn:aws:ecr:us-east-1:${ACCOUNT}:repository/dev/app`],
    });
  });

  it('never puts a secret value in a finding', () => {
    const text = JSON.stringify(report);
    for (const s of secrets) expect(text).not.toContain(s);
  });

  it('says what it could not read: the global environment variables need the JCasC export', () => {
    expect(report.notChecked.map((n) => n.reason)).toEqual(
      expect.arrayContaining([expect.stringMatching(/global environment variables/) as string]),
    );
  });
});

describe('after the fixes', () => {
  it('the emitted policy, attached, lets the key push to its repository and nothing else', async () => {
    const before = await runChecks(composition, { keys: ['prod-ecr-push'] });
    const policy = before.policies[0]!;
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'jenkins-prod',
        PolicyName: 'prod-ecr-push-ecr-push',
        PolicyDocument: JSON.stringify(policy.document),
      }),
    );
    await iam.send(new DetachUserPolicyCommand({ UserName: 'jenkins-prod', PolicyArn: FULL_ACCESS }));
    const ecr = new ECRClient(clientConfig(cloud.aws.url, prodKey));
    try {
      await expect(
        ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'team/app' })),
      ).resolves.toMatchObject({
        uploadId: expect.any(String) as string,
      });
      await expect(
        ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'team/other' })),
      ).rejects.toMatchObject({ name: 'AccessDeniedException' });
      await expect(
        ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/new' })),
      ).rejects.toMatchObject({
        name: 'AccessDeniedException',
      });
      await expect(
        ecr.send(new BatchGetImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'x' }] })),
      ).resolves.toBeDefined();
    } finally {
      ecr.destroy();
    }
  });

  it('every finding fixed: none left at high', async () => {
    await iam.send(new DeleteLoginProfileCommand({ UserName: 'jenkins-prod' }));
    const ct = new CloudTrailClient(cloud.aws.adminClientConfig());
    await ct.send(
      new CreateTrailCommand({ Name: 'management', S3BucketName: 'trail-bucket', IsMultiRegionTrail: true }),
    );
    await ct.send(new StartLoggingCommand({ Name: 'management' }));
    ct.destroy();
    await jenkinsSeed({ jobs: [{ path: 'dev/legacy-deploy', env: {} }] });
    const after = await runChecks(composition);
    expect(after.findings.filter((f) => f.severity === 'high')).toEqual([]);
    expect(ids(after)).not.toEqual(expect.arrayContaining(['no-cloudtrail 111122223333']));
  });
});

describe('Configuration-as-Code', () => {
  it('a managed credential in the system store of a JCasC-managed Jenkins, then put back by a reload', async () => {
    await jenkinsSeed({
      systemReadPermission: true,
      users: [
        {
          id: 'key-rotator',
          apiTokens: [cloud.jenkins.state.users.get('key-rotator')?.apiTokens[0] ?? ''],
          permissions: [
            'Overall/Read',
            'Overall/SystemRead',
            'Credentials/View',
            'Credentials/Update',
            'Job/Read',
            'Job/Build',
            'Job/ExtendedRead',
          ],
        },
      ],
      jcasc: { credentials: ['aws-prod'] },
    });
    const first = await runChecks(composition, { keys: ['prod-ecr-push'] });
    expect(first.findings.filter((f) => f.check === 'credential-defined-by-jcasc')).toEqual([
      expect.objectContaining({
        severity: 'medium',
        resource: expect.objectContaining({ id: 'aws-prod', key: 'prod-ecr-push' }) as unknown,
        fix: expect.stringContaining('${json:accessKeyId:${jenkins/prod/aws-key}}') as string,
      }),
    ]);
    expect(first.findings.filter((f) => f.check === 'jenkins-not-on-current-key')).toEqual([]);
    // Rotate, then let JCasC reload: its YAML puts the old key back.
    const key = composition.config.keys[0]!;
    const statesBefore = await readSecretStates(composition, [key]);
    const r = await rotateNow(composition, key, { deadline: Date.now() + 60_000 });
    expect(r.outcome).toBe('rotated');
    // States read before the rotation (as the scan reads them before it starts one) are read again before Jenkins
    // is called wrong: Jenkins holds the new current key, which is no finding.
    const stale = await runChecks(composition, { keys: ['prod-ecr-push'], states: statesBefore });
    expect(stale.findings.filter((f) => f.check === 'jenkins-not-on-current-key')).toEqual([]);
    // And when that second read fails, the credentials are not checked, never clean and never "undefined".
    cloud.aws.state.faults.push({
      id: 'check-reread-denied',
      action: 'secretsmanager:DescribeSecret',
      remaining: 50,
      error: { code: 'AccessDeniedException', message: 'injected by the test', status: 400 },
    });
    try {
      const denied = await runChecks(composition, { keys: ['prod-ecr-push'], states: statesBefore });
      expect(denied.findings.filter((f) => f.check === 'jenkins-not-on-current-key')).toEqual([]);
      expect(denied.notChecked.filter((n) => n.resource.id === 'aws-prod')).toEqual([
        expect.objectContaining({ reason: expect.stringMatching(/could not be read again/) as string }),
      ]);
    } finally {
      cloud.aws.state.faults = cloud.aws.state.faults.filter((f) => f.id !== 'check-reread-denied');
    }
    const admin = cloud.jenkins.admin;
    const reload = await fetch(`${cloud.jenkins.url}/configuration-as-code/reload`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${admin.username}:${admin.apiToken}`).toString('base64')}`,
      },
      redirect: 'manual',
    });
    expect(reload.status).toBeLessThan(400);
    const after = await runChecks(composition, { keys: ['prod-ecr-push'] });
    const drift = after.findings.find((f) => f.check === 'jenkins-not-on-current-key');
    expect(drift).toMatchObject({ severity: 'high', resource: { id: 'aws-prod' } });
    expect(drift?.title).toMatch(/Configuration-as-Code reload or restart puts back what its YAML says/);
  });
});

describe('what the checks may not read is never reported clean', () => {
  it('names each missing permission', async () => {
    const auditor = cloud.aws.state.createUser(ACCOUNT, 'auditor', {
      permissions: [
        {
          effect: 'Allow',
          actions: [
            'iam:ListUsers',
            'iam:GetUser',
            'iam:ListAccessKeys',
            'iam:GetAccessKeyLastUsed',
            'iam:ListUserTags',
            'secretsmanager:*',
            'sts:GetCallerIdentity',
          ],
        },
      ],
    });
    const k = cloud.aws.state.createAccessKey(auditor, { established: true });
    const limited = compose(
      composition.config,
      {
        region: 'us-east-1',
        endpoint: cloud.aws.url,
        credentials: { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey },
      },
      log,
    );
    const r = await runChecks(limited);
    const reasons = r.notChecked.map((n) => `${n.group} ${n.resource.id}: ${n.reason}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^user jenkins-prod: not checked: missing permission iam:GetLoginProfile$/,
        ) as string,
        expect.stringMatching(
          /^least-privilege jenkins-prod: not checked: missing permission iam:ListAttachedUserPolicies/,
        ) as string,
        expect.stringMatching(
          /^cloudtrail 111122223333: not checked: missing permission cloudtrail:DescribeTrails$/,
        ) as string,
      ]),
    );
    expect(r.findings.filter((f) => f.check === 'console-password' || f.check === 'no-cloudtrail')).toEqual(
      [],
    );
    expect(r.policies.map((p) => p.key)).not.toContain('prod-ecr-push');
  });
});
