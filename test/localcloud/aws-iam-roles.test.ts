import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  DeletePolicyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type Credentials,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws, type Creds } from '../support/aws';
import { ALLOW_ECR_LOGIN, policyDoc, userClients } from './users';

const ACCOUNT = '111122223333';
const OTHER = '444455556666';
let aws: AwsEmulator;
let iam: IAMClient;
let sts: STSClient;
let adminArn: string;

beforeAll(async () => {
  aws = await startAws();
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
  sts = new STSClient(clientConfig(aws.url, aws.admin));
  adminArn = `arn:aws:iam::${ACCOUNT}:user/${aws.admin.userName}`;
});
afterAll(async () => {
  iam.destroy();
  sts.destroy();
  await aws.close();
});

const trust = (principal: Record<string, unknown> | string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole', ...extra }],
  });

const createRole = (RoleName: string, document = trust({ AWS: adminArn }), extra = {}) =>
  iam.send(new CreateRoleCommand({ RoleName, AssumeRolePolicyDocument: document, ...extra }));

const creds = (c: Credentials | undefined): Creds => ({
  accessKeyId: c!.AccessKeyId!,
  secretAccessKey: c!.SecretAccessKey!,
  sessionToken: c!.SessionToken!,
});

async function sessionOf(RoleName: string, client = sts) {
  const out = await client.send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/${RoleName}`, RoleSessionName: 's1' }),
  );
  return creds(out.Credentials);
}

const malformed = (message: string) => ({
  Code: 'MalformedPolicyDocument',
  message,
  $metadata: { httpStatusCode: 400 },
});

describe('CreateRole, GetRole, ListRoles', () => {
  it('creates a role with its trust policy, path, description, session limit and tags', async () => {
    const document = trust({ AWS: adminArn });
    const { Role } = await createRole('deployer', document, {
      Path: '/ci/',
      Description: 'Jenkins deploys',
      MaxSessionDuration: 7200,
      Tags: [{ Key: 'team', Value: 'a' }],
    });
    expect(Role).toMatchObject({
      RoleName: 'deployer',
      Path: '/ci/',
      Arn: `arn:aws:iam::${ACCOUNT}:role/ci/deployer`,
      RoleId: expect.stringMatching(/^AROA[A-Z2-7]{17}$/) as unknown,
      Description: 'Jenkins deploys',
      MaxSessionDuration: 7200,
      Tags: [{ Key: 'team', Value: 'a' }],
    });
    // IAM answers the trust policy URL-encoded.
    expect(decodeURIComponent(Role!.AssumeRolePolicyDocument!)).toBe(document);
    const got = (await iam.send(new GetRoleCommand({ RoleName: 'deployer' }))).Role!;
    expect(got).toMatchObject({ RoleName: 'deployer', MaxSessionDuration: 7200, RoleLastUsed: {} });
    expect(got.RoleLastUsed?.LastUsedDate).toBeUndefined();
    const listed = (await iam.send(new ListRolesCommand({ PathPrefix: '/ci/' }))).Roles!;
    expect(listed.map((r) => r.RoleName)).toEqual(['deployer']);
    expect(listed[0]?.Tags).toBeUndefined();
  });

  it('refuses a duplicate name (any case), and what IAM refuses in a trust policy', async () => {
    await createRole('unique-role');
    await expect(createRole('Unique-Role')).rejects.toMatchObject({
      Code: 'EntityAlreadyExists',
      message: 'Role with name Unique-Role already exists.',
      $metadata: { httpStatusCode: 409 },
    });
    const cases: [string, string][] = [
      ['{not json', 'This policy contains invalid Json'],
      [
        JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] }),
        'Missing required field Principal',
      ],
      [
        JSON.stringify({
          Statement: [
            { Effect: 'Allow', Principal: { AWS: adminArn }, Action: 'sts:AssumeRole', Resource: '*' },
          ],
        }),
        'Has prohibited field Resource',
      ],
      [trust({ AWS: 'not-an-arn' }), 'Invalid principal in policy: "AWS":"not-an-arn"'],
      [
        trust({ AWS: adminArn }, { Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
        'Condition operator IpAddress is not evaluated by the localcloud emulator: use String*, Bool or Null (with ForAnyValue:/ForAllValues: and IfExists as needed).',
      ],
    ];
    for (const [document, message] of cases)
      await expect(createRole('bad-trust', document)).rejects.toMatchObject(malformed(message));
    await expect(
      createRole(
        'too-big',
        trust({ AWS: Array.from({ length: 60 }, (_, i) => `arn:aws:iam::${ACCOUNT}:user/u${i}`) }),
      ),
    ).rejects.toMatchObject({
      Code: 'LimitExceeded',
      message: 'Cannot exceed quota for ACLSizePerRole: 2048',
    });
    await expect(iam.send(new GetRoleCommand({ RoleName: 'bad-trust' }))).rejects.toMatchObject({
      Code: 'NoSuchEntity',
      message: 'The role with name bad-trust cannot be found.',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(
      createRole('short', trust({ AWS: adminArn }), { MaxSessionDuration: 60 }),
    ).rejects.toMatchObject({
      Code: 'ValidationError',
      message: expect.stringContaining("at 'maxSessionDuration'") as unknown,
    });
  });

  it('needs iam:CreateRole (and iam:TagRole for tags) on the role ARN', async () => {
    const arn = `arn:aws:iam::${ACCOUNT}:role/limited-role`;
    const { iam: limited, user } = userClients(aws, 'role-creator', {
      permissions: [{ effect: 'Allow', actions: ['iam:CreateRole'], resources: [arn] }],
    });
    await expect(
      limited.send(
        new CreateRoleCommand({
          RoleName: 'limited-role',
          AssumeRolePolicyDocument: trust({ AWS: adminArn }),
          Tags: [{ Key: 'k', Value: 'v' }],
        }),
      ),
    ).rejects.toMatchObject({
      Code: 'AccessDenied',
      message: `User: ${user.arn} is not authorized to perform: iam:TagRole on resource: ${arn}`,
    });
    await limited.send(
      new CreateRoleCommand({ RoleName: 'limited-role', AssumeRolePolicyDocument: trust({ AWS: adminArn }) }),
    );
    limited.destroy();
  });
});

describe('the permissions of a role session', () => {
  it('are exactly its policies: none at first, then inline and attached ones, an explicit Deny winning', async () => {
    await createRole('pusher');
    const ecr = new ECRClient(clientConfig(aws.url, await sessionOf('pusher')));
    const login = () => ecr.send(new GetAuthorizationTokenCommand({}));
    await expect(login()).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/pusher/s1 is not authorized to perform: ecr:GetAuthorizationToken on resource: *`,
    });
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'pusher', PolicyName: 'login', PolicyDocument: ALLOW_ECR_LOGIN }),
    );
    await expect(login()).resolves.toHaveProperty('authorizationData');
    const { Policy } = await iam.send(
      new CreatePolicyCommand({
        PolicyName: 'no-ecr',
        PolicyDocument: policyDoc({ Effect: 'Deny', Action: 'ecr:*', Resource: '*' }),
      }),
    );
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'pusher', PolicyArn: Policy!.Arn }));
    await expect(login()).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // AttachmentCount counts roles, and an attached policy cannot be deleted.
    expect((await iam.send(new GetPolicyCommand({ PolicyArn: Policy!.Arn }))).Policy?.AttachmentCount).toBe(
      1,
    );
    await expect(iam.send(new DeletePolicyCommand({ PolicyArn: Policy!.Arn }))).rejects.toMatchObject({
      Code: 'DeleteConflict',
    });
    await iam.send(new DetachRolePolicyCommand({ RoleName: 'pusher', PolicyArn: Policy!.Arn }));
    await expect(login()).resolves.toHaveProperty('authorizationData');
    ecr.destroy();
  });

  it('inline and attached role policies are listed, read back and removed as IAM does', async () => {
    await createRole('listed');
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'listed', PolicyName: 'b', PolicyDocument: ALLOW_ECR_LOGIN }),
    );
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'listed', PolicyName: 'a', PolicyDocument: ALLOW_ECR_LOGIN }),
    );
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: 'listed' }))).PolicyNames).toEqual([
      'a',
      'b',
    ]);
    const got = await iam.send(new GetRolePolicyCommand({ RoleName: 'listed', PolicyName: 'a' }));
    expect(got).toMatchObject({ RoleName: 'listed', PolicyName: 'a' });
    expect(decodeURIComponent(got.PolicyDocument!)).toBe(ALLOW_ECR_LOGIN);
    const readOnly = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'listed', PolicyArn: readOnly }));
    expect(
      (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'listed' }))).AttachedPolicies,
    ).toEqual([{ PolicyName: 'AmazonEC2ContainerRegistryReadOnly', PolicyArn: readOnly }]);
    // DeleteRole refuses while policies remain, naming what to remove first.
    await expect(iam.send(new DeleteRoleCommand({ RoleName: 'listed' }))).rejects.toMatchObject({
      Code: 'DeleteConflict',
      message: 'Cannot delete entity, must delete policies first.',
      $metadata: { httpStatusCode: 409 },
    });
    for (const PolicyName of ['a', 'b'])
      await iam.send(new DeleteRolePolicyCommand({ RoleName: 'listed', PolicyName }));
    await expect(iam.send(new DeleteRoleCommand({ RoleName: 'listed' }))).rejects.toMatchObject({
      message: 'Cannot delete entity, must detach all policies first.',
    });
    await iam.send(new DetachRolePolicyCommand({ RoleName: 'listed', PolicyArn: readOnly }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'listed' }));
    await expect(
      iam.send(new GetRolePolicyCommand({ RoleName: 'listed', PolicyName: 'a' })),
    ).rejects.toMatchObject({
      Code: 'NoSuchEntity',
    });
  });

  it('GetRole reports the last use of the role', async () => {
    await createRole('used-role');
    const session = await sessionOf('used-role');
    const asRole = new STSClient(clientConfig(aws.url, session));
    await asRole.send(new GetCallerIdentityCommand({}));
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: 'used-role' }));
    expect(Role?.RoleLastUsed?.Region).toBe('us-east-1');
    expect(Math.abs(Role!.RoleLastUsed!.LastUsedDate!.getTime() - aws.state.now())).toBeLessThan(5000);
    asRole.destroy();
  });
});

describe('trust policies decide AssumeRole', () => {
  const denied = (roleName: string) => ({
    Code: 'AccessDenied',
    message: `User: ${adminArn} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/${roleName}`,
  });

  it('UpdateAssumeRolePolicy replaces who may assume the role', async () => {
    await createRole('switch', trust({ AWS: `arn:aws:iam::${ACCOUNT}:user/someone-else` }));
    await expect(sessionOf('switch')).rejects.toMatchObject(denied('switch'));
    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: 'switch', PolicyDocument: trust({ AWS: ACCOUNT }) }),
    );
    await expect(sessionOf('switch')).resolves.toHaveProperty('sessionToken');
    await expect(
      iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'switch', PolicyDocument: '{}' })),
    ).rejects.toMatchObject({ Code: 'MalformedPolicyDocument' });
  });

  it('an ExternalId condition, and an explicit Deny', async () => {
    const denyBlocked = {
      Effect: 'Deny',
      Principal: '*',
      Action: 'sts:*',
      Condition: { StringLike: { 'aws:PrincipalArn': '*:user/blocked-*' } },
    };
    const document = (principal: string) =>
      JSON.stringify({
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: principal },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'sts:ExternalId': 'ext-123' } },
          },
          denyBlocked,
        ],
      });
    await createRole('external', document(adminArn));
    const assume = (ExternalId?: string, client = sts) =>
      client.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/external`,
          RoleSessionName: 's1',
          ...(ExternalId ? { ExternalId } : {}),
        }),
      );
    await expect(assume()).rejects.toMatchObject(denied('external'));
    await expect(assume('ext-999')).rejects.toMatchObject(denied('external'));
    await expect(assume('ext-123')).resolves.toHaveProperty('Credentials');
    // The whole account may, with the external id, except users named blocked-*.
    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: 'external', PolicyDocument: document(ACCOUNT) }),
    );
    const allowAssume = { permissions: [{ effect: 'Allow' as const, actions: ['sts:AssumeRole'] }] };
    const { sts: blocked, user } = userClients(aws, 'blocked-user', allowAssume);
    const { sts: fine } = userClients(aws, 'fine-user', allowAssume);
    await expect(assume('ext-123', blocked)).rejects.toMatchObject({
      Code: 'AccessDenied',
      message: `User: ${user.arn} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/external`,
    });
    await expect(assume('ext-123', fine)).resolves.toHaveProperty('Credentials');
    blocked.destroy();
    fine.destroy();
  });

  it("a role session is trusted through its role's ARN, and another account's role needs its trust", async () => {
    const chained = `arn:aws:iam::${ACCOUNT}:role/first-hop`;
    await createRole('first-hop');
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'first-hop',
        PolicyName: 'chain',
        PolicyDocument: policyDoc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }),
      }),
    );
    await createRole('second-hop', trust({ AWS: chained }));
    const hop = new STSClient(clientConfig(aws.url, await sessionOf('first-hop')));
    const second = await hop.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/second-hop`, RoleSessionName: 'hop' }),
    );
    expect(second.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/second-hop/hop`);
    hop.destroy();
    aws.state.createRole(OTHER, 'their-role', { trustPolicy: trust({ AWS: OTHER }) });
    await expect(
      sts.send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${OTHER}:role/their-role`, RoleSessionName: 's1' }),
      ),
    ).rejects.toMatchObject({ Code: 'AccessDenied' });
  });

  it('refuses DurationSeconds beyond the role’s MaxSessionDuration', async () => {
    await createRole('brief');
    const assume = (DurationSeconds: number) =>
      sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/brief`,
          RoleSessionName: 's1',
          DurationSeconds,
        }),
      );
    await expect(assume(3601)).rejects.toMatchObject({
      Code: 'ValidationError',
      message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    });
    await iam.send(
      new UpdateRoleCommand({ RoleName: 'brief', MaxSessionDuration: 43200, Description: 'longer' }),
    );
    await expect(assume(43200)).resolves.toHaveProperty('Credentials');
    expect((await iam.send(new GetRoleCommand({ RoleName: 'brief' }))).Role?.Description).toBe('longer');
  });
});

describe('role tags', () => {
  it('TagRole adds or replaces, UntagRole removes, ListRoleTags lists', async () => {
    await createRole('tagged');
    await iam.send(
      new TagRoleCommand({
        RoleName: 'tagged',
        Tags: [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '2' },
        ],
      }),
    );
    await iam.send(new TagRoleCommand({ RoleName: 'tagged', Tags: [{ Key: 'a', Value: '3' }] }));
    await iam.send(new UntagRoleCommand({ RoleName: 'tagged', TagKeys: ['b'] }));
    expect((await iam.send(new ListRoleTagsCommand({ RoleName: 'tagged' }))).Tags).toEqual([
      { Key: 'a', Value: '3' },
    ]);
    await expect(iam.send(new ListRoleTagsCommand({ RoleName: 'untagged-nobody' }))).rejects.toMatchObject({
      Code: 'NoSuchEntity',
    });
  });
});
