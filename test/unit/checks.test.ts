import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config';
import {
  cloudTrailFindings,
  configFindings,
  keyOutsideStoreFinding,
  keysInXml,
  userFindings,
} from '../../src/checks/findings';
import {
  emitPushPolicy,
  leastPrivilegeFindings,
  repositoriesAllowed,
  type PolicySource,
} from '../../src/checks/least-privilege';
import { rawKey } from '../support/config-fixture';

const SUBJECT = { key: 'prod', user: 'jenkins-prod', accountId: '111122223333' };
const inline = (name: string, ...statements: PolicySource['statements']): PolicySource => ({
  kind: 'inline',
  name,
  statements,
});
const checks = (sources: PolicySource[], self?: Parameters<typeof leastPrivilegeFindings>[2]) =>
  leastPrivilegeFindings(SUBJECT, sources, self).map((f) => [f.check, f.severity]);
const NOW = new Date('2026-12-01T00:00:00Z');
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 86_400_000);
const FAKE_SECRET = 'wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEYa';

describe('least privilege of a managed user', () => {
  it('flags the broad AWS managed ECR policies, once each, with the detach command', () => {
    const f = leastPrivilegeFindings(SUBJECT, [
      {
        kind: 'managed',
        name: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess',
        statements: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }],
      },
      {
        kind: 'group-managed',
        group: 'ci',
        name: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser',
        statements: [],
      },
    ]);
    expect(f.map((x) => [x.check, x.severity])).toEqual([
      ['ecr-broad-managed-policy', 'high'],
      ['ecr-broad-managed-policy', 'high'],
    ]);
    expect(f[0]?.fix).toMatch(
      /detach-user-policy --user-name jenkins-prod --policy-arn arn:aws:iam::aws:policy\/AmazonEC2ContainerRegistryFullAccess/,
    );
    expect(f[1]?.fix).toMatch(/detach-group-policy --group-name ci/);
  });

  it('flags wildcard actions, wildcard resources, actions beyond pushing and outside ECR', () => {
    expect(checks([inline('a', { Effect: 'Allow', Action: 'ecr:*', Resource: '*' })])).toEqual([
      ['wildcard-action', 'high'],
      ['wildcard-resource', 'medium'],
    ]);
    expect(checks([inline('b', { Effect: 'Allow', Action: '*', Resource: '*' })])).toEqual([
      ['wildcard-action', 'high'],
    ]);
    expect(
      checks([
        inline('c', {
          Effect: 'Allow',
          Action: ['ecr:PutImage', 'ecr:DeleteRepository'],
          Resource: 'arn:aws:ecr:us-east-1:111122223333:repository/app',
        }),
      ]),
    ).toEqual([['ecr-beyond-push', 'medium']]);
    expect(checks([inline('d', { Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' })])).toEqual([
      ['non-ecr-permission', 'medium'],
    ]);
    expect(checks([inline('e', { Effect: 'Allow', Action: ['iam:CreateUser'], Resource: '*' })])).toEqual([
      ['non-ecr-permission', 'high'],
    ]);
    expect(checks([inline('f', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })])).toEqual([
      ['wildcard-action', 'high'],
    ]);
  });

  it('finds nothing wrong with the policy it emits, or with Deny statements', () => {
    const emitted = emitPushPolicy({ ...SUBJECT, region: 'us-east-1' }, ['app'], []);
    expect(
      checks([inline('ecr-push', ...(emitted.document.Statement as PolicySource['statements']))]),
    ).toEqual([]);
    expect(checks([inline('deny', { Effect: 'Deny', Action: '*', Resource: '*' })])).toEqual([]);
  });

  it("accepts a self-rotated key's own statements, and only on itself", () => {
    const self = {
      self: {
        userArns: ['arn:aws:iam::111122223333:user/jenkins/jenkins-prod'],
        secretName: 'jenkins/prod/aws-key',
      },
      emittedPolicyName: 'prod-ecr-push',
    };
    const own = inline(
      'self-rotation',
      {
        Effect: 'Allow',
        Action: ['iam:CreateAccessKey', 'iam:UpdateAccessKey'],
        Resource: 'arn:aws:iam::111122223333:user/jenkins/${aws:username}',
      },
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:jenkins/prod/aws-key-??????',
      },
    );
    expect(checks([own], self)).toEqual([]);
    expect(
      checks(
        [
          inline('x', {
            Effect: 'Allow',
            Action: ['iam:CreateAccessKey'],
            Resource: 'arn:aws:iam::111122223333:user/*',
          }),
        ],
        self,
      ),
    ).toEqual([['non-ecr-permission', 'high']]);
  });
});

describe('the emitted push policy', () => {
  it('takes the repositories from the configuration, else the current policy, else says it does not know them', () => {
    const cfg = emitPushPolicy(
      { ...SUBJECT, region: 'eu-west-1' },
      ['team/app', 'arn:aws:ecr:us-east-1:444455556666:repository/x'],
      [],
    );
    expect(cfg).toMatchObject({
      repositoriesFrom: 'configuration',
      repositories: [
        'arn:aws:ecr:eu-west-1:111122223333:repository/team/app',
        'arn:aws:ecr:us-east-1:444455556666:repository/x',
      ],
    });
    expect(cfg.document.Statement).toEqual([
      { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      {
        Sid: 'EcrPush',
        Effect: 'Allow',
        Action: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:InitiateLayerUpload',
          'ecr:UploadLayerPart',
          'ecr:CompleteLayerUpload',
          'ecr:PutImage',
          'ecr:BatchGetImage',
          'ecr:GetDownloadUrlForLayer',
        ],
        Resource: cfg.repositories,
      },
    ]);
    const current = [
      inline('p', {
        Effect: 'Allow',
        Action: 'ecr:PutImage',
        Resource: [
          'arn:aws:ecr:eu-west-1:111122223333:repository/b',
          'arn:aws:ecr:eu-west-1:111122223333:repository/a',
        ],
      }),
    ];
    expect(repositoriesAllowed(current)).toEqual([
      'arn:aws:ecr:eu-west-1:111122223333:repository/a',
      'arn:aws:ecr:eu-west-1:111122223333:repository/b',
    ]);
    expect(emitPushPolicy({ ...SUBJECT, region: 'eu-west-1' }, undefined, current).repositoriesFrom).toBe(
      'current-policy',
    );
    expect(
      emitPushPolicy(
        { ...SUBJECT, region: 'eu-west-1' },
        [],
        [inline('w', { Effect: 'Allow', Action: 'ecr:*', Resource: '*' })],
      ),
    ).toMatchObject({
      repositoriesFrom: 'unknown',
      repositories: ['arn:aws:ecr:eu-west-1:111122223333:repository/*'],
    });
  });
});

describe('the user', () => {
  const facts = (over: Partial<Parameters<typeof userFindings>[0]> = {}) => ({
    ...SUBJECT,
    loginProfile: false,
    mfaDevices: 0,
    currentKeyId: 'AKIACURRENT000000001',
    keys: [
      {
        accessKeyId: 'AKIACURRENT000000001',
        status: 'Active' as const,
        createDate: daysAgo(30),
        lastUsedDate: daysAgo(1),
      },
    ],
    ...over,
  });
  const found = (over: Partial<Parameters<typeof userFindings>[0]> = {}) =>
    userFindings(facts(over), NOW, { unusedDays: 30 }).map((f) => [f.check, f.severity]);

  it('is clean with one key, in use, no console', () => expect(found()).toEqual([]));

  it('has a console password (and no MFA)', () => {
    expect(found({ loginProfile: true })).toEqual([
      ['console-password', 'high'],
      ['console-without-mfa', 'high'],
    ]);
    expect(found({ loginProfile: true, mfaDevices: 1 })).toEqual([['console-password', 'high']]);
  });

  it('has a second active key that no stage records, unless it is the pending key of a rotation', () => {
    const second = {
      accessKeyId: 'AKIASECOND0000000001',
      status: 'Active' as const,
      createDate: daysAgo(3),
      lastUsedDate: daysAgo(1),
    };
    const keys = [...facts().keys, second];
    expect(found({ keys })).toEqual([['second-active-key', 'medium']]);
    expect(found({ keys, pendingKeyId: second.accessKeyId })).toEqual([]);
  });

  it('has keys never used (after a week) or unused for longer than the threshold', () => {
    expect(
      found({ keys: [{ accessKeyId: 'AKIACURRENT000000001', status: 'Active', createDate: daysAgo(10) }] }),
    ).toEqual([['key-never-used', 'medium']]);
    expect(
      found({ keys: [{ accessKeyId: 'AKIACURRENT000000001', status: 'Active', createDate: daysAgo(2) }] }),
    ).toEqual([]);
    expect(
      found({
        keys: [
          {
            accessKeyId: 'AKIACURRENT000000001',
            status: 'Active',
            createDate: daysAgo(90),
            lastUsedDate: daysAgo(40),
          },
        ],
      }),
    ).toEqual([['key-unused', 'low']]);
  });
});

describe('the configuration', () => {
  const key = (jenkins: Record<string, unknown>[]) =>
    parseConfig({ version: 1, keys: [rawKey({ jenkins })] }).keys[0]!;
  const target = (over: Record<string, unknown>) => ({
    url: 'https://jenkins.example.com',
    user: 'key-rotator',
    tokenSecretId: 'jenkins/api-token',
    credentialId: 'aws',
    store: 'system',
    ...over,
  });

  it('one IAM user behind several environments, by the names of its folders and credentials', () => {
    const f = configFindings(
      key([
        target({ name: 'a', store: { folder: 'team/prod' } }),
        target({ name: 'b', credentialId: 'aws-dev-push' }),
      ]),
      '111122223333',
    );
    expect(f.map((x) => [x.check, x.title])).toEqual([
      [
        'user-several-environments',
        expect.stringMatching(/serves several environments \(dev, prod\)/) as string,
      ],
    ]);
    expect(configFindings(key([target({ store: { folder: 'production/deploy' } })]), '111122223333')).toEqual(
      [],
    );
  });

  it('the same key in several Jenkins controllers', () => {
    const f = configFindings(
      key([
        target({ name: 'a' }),
        target({ name: 'b', url: 'https://ci2.example.com', credentialId: 'aws2' }),
      ]),
      '111122223333',
    );
    expect(f.map((x) => x.check)).toEqual(['key-in-several-controllers']);
  });
});

describe('CloudTrail', () => {
  const run = (trails: Parameters<typeof cloudTrailFindings>[3]) =>
    cloudTrailFindings('111122223333', 'us-east-1', ['prod'], trails).map((f) => [f.check, f.severity]);
  it('needs a trail covering the region that is logging management events', () => {
    expect(run([])).toEqual([['no-cloudtrail', 'high']]);
    expect(
      run([
        { name: 'eu', homeRegion: 'eu-west-1', multiRegion: false, logging: true, managementEvents: true },
      ]),
    ).toEqual([['no-cloudtrail', 'high']]);
    expect(
      run([
        { name: 'org', homeRegion: 'eu-west-1', multiRegion: true, logging: true, managementEvents: true },
      ]),
    ).toEqual([]);
    expect(
      run([
        { name: 'off', homeRegion: 'us-east-1', multiRegion: false, logging: false, managementEvents: true },
      ]),
    ).toEqual([['cloudtrail-not-logging', 'high']]);
    expect(
      run([
        { name: 'data', homeRegion: 'us-east-1', multiRegion: false, logging: true, managementEvents: false },
      ]),
    ).toEqual([['cloudtrail-not-logging', 'high']]);
  });
});

describe('keys outside the credentials store', () => {
  it('finds key ids in a job config.xml, with the element and the variable, and whether a secret sits beside', () => {
    const xml = `<?xml version='1.1' encoding='UTF-8'?>
<project>
  <properties>
    <EnvInjectJobProperty plugin="envinject">
      <info>
        <propertiesContent>AWS_ACCESS_KEY_ID=AKIAPLANTED000000001
AWS_SECRET_ACCESS_KEY=${FAKE_SECRET}</propertiesContent>
      </info>
    </EnvInjectJobProperty>
  </properties>
  <builders><hudson.tasks.Shell><command>echo AKIAONLYIDNOSECRET01</command></hudson.tasks.Shell></builders>
</project>`;
    const found = keysInXml(xml);
    expect(found[0]).toEqual({
      accessKeyId: 'AKIAPLANTED000000001',
      field: 'project/properties/EnvInjectJobProperty/info/propertiesContent (AWS_ACCESS_KEY_ID)',
      secretNearby: true,
    });
    expect(found[1]).toMatchObject({
      accessKeyId: 'AKIAONLYIDNOSECRET01',
      field: 'project/builders/hudson.tasks.Shell/command',
    });
    const f = keyOutsideStoreFinding(
      found[0]!,
      { kind: 'jenkins-item', id: 'team-a/build', jenkins: 'https://ci' },
      { key: 'prod', role: 'current' },
    );
    expect(f).toMatchObject({
      check: 'key-outside-credentials-store',
      severity: 'high',
      resource: { id: 'team-a/build', key: 'prod' },
    });
    expect(JSON.stringify(f)).not.toContain(FAKE_SECRET);
    expect(f.title).toMatch(/it is the current key of managed key prod/);
  });

  it('ignores what only looks similar', () => {
    expect(keysInXml('<a>XAKIAPLANTED0000000001 AKIASHORT</a>')).toEqual([]);
  });
});
