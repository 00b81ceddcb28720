import {
  CloudTrailClient,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
} from '@aws-sdk/client-cloudtrail';
import { DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  GetLoginProfileCommand,
  GetPolicyCommand,
  IAMClient,
  ListAttachedUserPoliciesCommand,
  ListGroupsForUserCommand,
  ListMFADevicesCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAws, SeedError } from '../../localcloud/aws/seed';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws } from '../support/aws';

const PROD = '111122223333';
const DEV = '444455556666';
const DAY = 86_400_000;

let aws: AwsEmulator;
let iam: IAMClient;

beforeAll(async () => {
  aws = await startAws();
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
});
afterAll(async () => {
  iam.destroy();
  await aws.close();
});

const seed = (body: unknown) =>
  fetch(`${aws.url}/_localcloud/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** The whole emulator state but the clock. */
const snapshot = async () => {
  const { now: _now, ...rest } = (await (await fetch(`${aws.url}/_localcloud/state`)).json()) as {
    now: string;
  };
  return JSON.stringify(rest);
};

describe('POST /_localcloud/seed: IAM, CloudTrail and ECR', () => {
  it('seeds policies, groups, users with attachments, passwords and MFA, trails and repositories', async () => {
    const res = await seed({
      policies: [
        {
          policyName: 'ecr-push-app',
          path: '/jenkins/',
          description: 'Push to the app repository',
          document: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
              {
                Effect: 'Allow',
                Action: 'ecr:PutImage',
                Resource: `arn:aws:ecr:us-east-1:${PROD}:repository/app`,
              },
            ],
          },
        },
      ],
      groups: [
        { groupName: 'ci', managedPolicies: ['ecr-push-app'] },
        {
          groupName: 'auditors',
          inlinePolicies: {
            'list-users': JSON.stringify({
              Version: '2012-10-17',
              Statement: { Effect: 'Allow', Action: 'iam:ListUsers', Resource: '*' },
            }),
          },
        },
      ],
      users: [
        {
          userName: 'jenkins-prod',
          path: '/jenkins/',
          managedPolicies: ['AmazonEC2ContainerRegistryFullAccess'],
          keys: [{ ageDays: 120 }],
        },
        { userName: 'jenkins-ci', groups: ['ci'], keys: [{}] },
        {
          userName: 'alice',
          groups: ['auditors'],
          loginProfile: { ageDays: 40, lastUsedDaysAgo: 1 },
          mfaDevices: [{ enabledDaysAgo: 30 }, { serialNumber: 'GAHT12345678' }],
          inlinePolicies: {
            deny: { Version: '2012-10-17', Statement: { Effect: 'Deny', Action: 'ecr:*', Resource: '*' } },
          },
          keys: [{}],
        },
        { userName: 'bob', loginProfile: true },
      ],
      trails: [
        { name: 'prod-audit', multiRegion: true },
        { name: 'reads-only', region: 'eu-west-1', logging: false, managementEvents: 'ReadOnly' },
      ],
      repositories: [{ name: 'app' }],
    });
    expect(res.status).toBe(200);
    const out = (await res.json()) as {
      policies: { arn: string }[];
      groups: { arn: string }[];
      users: {
        userName: string;
        mfaDevices: string[];
        keys: { accessKeyId: string; secretAccessKey: string }[];
      }[];
      trails: { arn: string }[];
      repositories: { arn: string }[];
    };
    expect(out.policies).toEqual([
      { policyName: 'ecr-push-app', arn: `arn:aws:iam::${PROD}:policy/jenkins/ecr-push-app` },
    ]);
    expect(out.groups.map((g) => g.arn)).toEqual([
      `arn:aws:iam::${PROD}:group/ci`,
      `arn:aws:iam::${PROD}:group/auditors`,
    ]);
    expect(out.users.find((u) => u.userName === 'alice')?.mfaDevices).toEqual([
      `arn:aws:iam::${PROD}:mfa/alice`,
      'GAHT12345678',
    ]);
    expect(out.trails.map((t) => t.arn)).toEqual([
      `arn:aws:cloudtrail:us-east-1:${PROD}:trail/prod-audit`,
      `arn:aws:cloudtrail:eu-west-1:${PROD}:trail/reads-only`,
    ]);
    expect(out.repositories).toEqual([{ name: 'app', arn: `arn:aws:ecr:us-east-1:${PROD}:repository/app` }]);

    // What the check command reads, through the real clients.
    expect(
      (await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'jenkins-prod' }))).AttachedPolicies,
    ).toEqual([
      {
        PolicyName: 'AmazonEC2ContainerRegistryFullAccess',
        PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess',
      },
    ]);
    expect((await iam.send(new ListGroupsForUserCommand({ UserName: 'jenkins-ci' }))).Groups).toMatchObject([
      { GroupName: 'ci' },
    ]);
    const policy = await iam.send(new GetPolicyCommand({ PolicyArn: out.policies[0]!.arn }));
    expect(policy.Policy).toMatchObject({ AttachmentCount: 1, Description: 'Push to the app repository' });
    const profile = await iam.send(new GetLoginProfileCommand({ UserName: 'alice' }));
    expect(profile.LoginProfile?.CreateDate?.getTime()).toBeCloseTo(aws.state.now() - 40 * DAY, -5);
    expect((await iam.send(new ListUserPoliciesCommand({ UserName: 'alice' }))).PolicyNames).toEqual([
      'deny',
    ]);
    const mfa = await iam.send(new ListMFADevicesCommand({ UserName: 'alice' }));
    expect(mfa.MFADevices?.map((d) => d.SerialNumber)).toEqual([
      `arn:aws:iam::${PROD}:mfa/alice`,
      'GAHT12345678',
    ]);
    expect((await iam.send(new ListMFADevicesCommand({ UserName: 'bob' }))).MFADevices).toEqual([]);

    const east = new CloudTrailClient(clientConfig(aws.url, aws.admin, 'us-east-1'));
    const west = new CloudTrailClient(clientConfig(aws.url, aws.admin, 'eu-west-1'));
    try {
      expect((await east.send(new GetTrailStatusCommand({ Name: 'prod-audit' }))).IsLogging).toBe(true);
      expect((await west.send(new DescribeTrailsCommand({}))).trailList?.map((t) => t.Name)).toEqual([
        'prod-audit',
        'reads-only',
      ]);
      expect((await west.send(new GetTrailStatusCommand({ Name: 'reads-only' }))).IsLogging).toBe(false);
      expect(
        (await west.send(new GetEventSelectorsCommand({ TrailName: 'reads-only' }))).EventSelectors,
      ).toMatchObject([{ ReadWriteType: 'ReadOnly', IncludeManagementEvents: true }]);
    } finally {
      east.destroy();
      west.destroy();
    }

    // The seeded policies decide what each key may do.
    const clients = (name: string) => {
      const k = out.users.find((u) => u.userName === name)!.keys[0]!;
      return { iam: new IAMClient(clientConfig(aws.url, k)), ecr: new ECRClient(clientConfig(aws.url, k)) };
    };
    const ci = clients('jenkins-ci');
    await expect(ci.ecr.send(new GetAuthorizationTokenCommand({}))).resolves.toBeDefined();
    await expect(ci.ecr.send(new DescribeRepositoriesCommand({}))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    const alice = clients('alice');
    await expect(alice.iam.send(new ListUsersCommand({}))).resolves.toBeDefined();
    await expect(alice.ecr.send(new GetAuthorizationTokenCommand({}))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    const prod = clients('jenkins-prod');
    await expect(prod.ecr.send(new DescribeRepositoriesCommand({}))).resolves.toMatchObject({
      repositories: [{ repositoryName: 'app' }],
    });
    await expect(prod.iam.send(new ListUsersCommand({}))).rejects.toMatchObject({ name: 'AccessDenied' });
    for (const c of [ci, alice, prod]) {
      c.iam.destroy();
      c.ecr.destroy();
    }
  });

  it('seeding a user again replaces its policies, groups, password and MFA devices', async () => {
    await seed({
      groups: [{ groupName: 'again-group' }],
      users: [
        {
          userName: 'again',
          groups: ['again-group'],
          loginProfile: true,
          mfaDevices: [{}],
          managedPolicies: ['ReadOnlyAccess'],
        },
      ],
    }).then((r) => expect(r.status).toBe(200));
    expect((await seed({ users: [{ userName: 'again' }] })).status).toBe(200);
    const user = aws.state.account(PROD).users.get('again')!;
    expect(user.attachedPolicies).toEqual([]);
    expect(user.loginProfile).toBeUndefined();
    expect(aws.state.groupsOf(user)).toEqual([]);
    expect(aws.state.mfaDevicesOf(user)).toEqual([]);
  });

  it('refuses a seed naming what is wrong, and changes nothing', async () => {
    const before = await snapshot();
    const cases: [unknown, string | RegExp][] = [
      [
        { users: [{ userName: 'x', managedPolicies: ['NoSuchPolicy'] }] },
        `users[0].managedPolicies[0]: no managed policy NoSuchPolicy in account ${PROD}`,
      ],
      [
        { users: [{ userName: 'x', groups: ['ghosts'] }] },
        `users[0].groups[0]: no group ghosts in account ${PROD}`,
      ],
      [
        { policies: [{ policyName: 'p', document: { Statement: [{ Effect: 'Allow', Action: 'iam:*' }] } }] },
        'policies[0].document: Policy statement must contain resources.',
      ],
      [
        { groups: [{ groupName: 'g', inlinePolicies: { bad: '{' } }] },
        'groups[0].inlinePolicies.bad: Syntax errors in policy.',
      ],
      [{ trails: [{ name: 'x' }] }, /^trails\[0\]\.name: Trail name too short/],
      [
        { users: [{ userName: 'x', mfaDevices: [{ serialNumber: `arn:aws:iam::${DEV}:mfa/x` }] }] },
        `users[0].mfaDevices[0]: arn:aws:iam::${DEV}:mfa/x is not an MFA device of account ${PROD}`,
      ],
      [{ users: [{ userName: 'x', loginProfile: 'yes' }] }, /loginProfile/],
    ];
    for (const [body, message] of cases) {
      // The valid parts around the bad one are not applied either.
      const res = await seed({ ...(body as object), repositories: [{ name: 'must-not-appear' }] });
      expect(res.status, JSON.stringify(body)).toBe(400);
      const { error } = (await res.json()) as { error: string };
      if (typeof message === 'string') expect(error).toBe(message);
      else expect(error).toMatch(message);
    }
    expect(await snapshot()).toBe(before);
    expect([...aws.state.ecrRepositories.keys()].some((k) => k.endsWith('must-not-appear'))).toBe(false);
  });

  it('seedAws works in-process with the same schema, and throws SeedError', () => {
    const out = seedAws(aws.state, {
      users: [{ userName: 'in-process', accountId: DEV, managedPolicies: ['AdministratorAccess'] }],
    });
    expect(out.users[0]).toMatchObject({ userName: 'in-process', accountId: DEV });
    expect(aws.state.account(DEV).users.get('in-process')?.attachedPolicies).toEqual([
      'arn:aws:iam::aws:policy/AdministratorAccess',
    ]);
    // No trail in the second account: CloudTrail shows it none.
    expect(aws.state.account(DEV).trails.size).toBe(0);
    expect(() => seedAws(aws.state, { users: [{ userName: 'y', groups: ['nope'] }] })).toThrow(SeedError);
  });
});
