import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachUserPolicyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeleteGroupCommand,
  DeleteGroupPolicyCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteUserCommand,
  DetachGroupPolicyCommand,
  DetachUserPolicyCommand,
  GetGroupCommand,
  GetGroupPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupPoliciesCommand,
  ListGroupsForUserCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListUsersCommand,
  paginateListPolicies,
  PutGroupPolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  SetDefaultPolicyVersionCommand,
  type ListPoliciesCommandInput,
} from '@aws-sdk/client-iam';
import type { ECRClient } from '@aws-sdk/client-ecr';
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { Statement } from '../../localcloud/aws/state';
import { clientConfig, startAws } from '../support/aws';
import { ALLOW_ECR_LOGIN, DENY_ECR, policyDoc, userClients } from './users';

const ACCOUNT = '111122223333';
const AWS_POLICY = (name: string) => `arn:aws:iam::aws:policy/${name}`;

let aws: AwsEmulator;
let iam: IAMClient;

beforeAll(async () => {
  aws = await startAws();
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
});
afterAll(() => aws.close());

/** A user with an established key and clients signed with it. */
const seedUser = (name: string, opts: { path?: string; permissions?: Statement[] } = {}) =>
  userClients(aws, name, opts);

const doc = policyDoc;
const ALLOW_LIST_USERS = doc({ Effect: 'Allow', Action: 'iam:ListUsers', Resource: '*' });

const createPolicy = (PolicyName: string, PolicyDocument: string, extra: { Path?: string } = {}) =>
  iam.send(new CreatePolicyCommand({ PolicyName, PolicyDocument, ...extra }));

/** Whether the client may call iam:ListUsers and ecr:GetAuthorizationToken right now. */
async function can(u: { iam: IAMClient; ecr: ECRClient }) {
  const ok = (p: Promise<unknown>) =>
    p.then(
      () => true,
      (err: { name?: string }) => {
        if (err.name !== 'AccessDenied' && err.name !== 'AccessDeniedException') throw err;
        return false;
      },
    );
  return {
    listUsers: await ok(u.iam.send(new ListUsersCommand({}))),
    ecrLogin: await ok(u.ecr.send(new GetAuthorizationTokenCommand({}))),
  };
}

describe('AWS managed policies', () => {
  it('every account has them, with their real ARNs and documents, answered URL-encoded', async () => {
    const { Policy } = await iam.send(
      new GetPolicyCommand({ PolicyArn: AWS_POLICY('AmazonEC2ContainerRegistryFullAccess') }),
    );
    expect(Policy).toMatchObject({
      PolicyName: 'AmazonEC2ContainerRegistryFullAccess',
      Arn: AWS_POLICY('AmazonEC2ContainerRegistryFullAccess'),
      Path: '/',
      DefaultVersionId: 'v2',
      IsAttachable: true,
      AttachmentCount: 0,
      Description: 'Provides administrative access to Amazon ECR resources',
    });
    expect(Policy?.PolicyId).toMatch(/^ANPA[A-Z2-7]{17}$/);
    const { PolicyVersion } = await iam.send(
      new GetPolicyVersionCommand({ PolicyArn: Policy!.Arn, VersionId: Policy!.DefaultVersionId }),
    );
    expect(PolicyVersion).toMatchObject({ VersionId: 'v2', IsDefaultVersion: true });
    expect(PolicyVersion?.Document).not.toContain('{');
    expect(JSON.parse(decodeURIComponent(PolicyVersion!.Document!))).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['ecr:*', 'cloudtrail:LookupEvents'], Resource: '*' }],
    });

    const actionsOf = async (name: string) => {
      const arn = AWS_POLICY(name);
      const { Policy: p } = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
      const { PolicyVersion: v } = await iam.send(
        new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: p!.DefaultVersionId }),
      );
      const parsed = JSON.parse(decodeURIComponent(v!.Document!)) as { Statement: { Action: string[] }[] };
      return parsed.Statement.flatMap((s) => s.Action);
    };
    const push = [
      'ecr:InitiateLayerUpload',
      'ecr:UploadLayerPart',
      'ecr:CompleteLayerUpload',
      'ecr:PutImage',
    ];
    expect(await actionsOf('AmazonEC2ContainerRegistryPowerUser')).toEqual(expect.arrayContaining(push));
    const readOnly = await actionsOf('AmazonEC2ContainerRegistryReadOnly');
    expect(readOnly).toEqual(expect.arrayContaining(['ecr:BatchGetImage', 'ecr:GetAuthorizationToken']));
    expect(readOnly.filter((a) => push.includes(a))).toEqual([]);
    expect(await actionsOf('AdministratorAccess')).toEqual(['*']);
    expect(await actionsOf('ReadOnlyAccess')).toEqual(expect.arrayContaining(['iam:Get*', 'iam:List*']));
  });

  it('cannot be changed or deleted by anyone', async () => {
    const arn = AWS_POLICY('ReadOnlyAccess');
    await expect(
      iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: ALLOW_LIST_USERS })),
    ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    await expect(iam.send(new DeletePolicyCommand({ PolicyArn: arn }))).rejects.toMatchObject({
      name: 'AccessDenied',
    });
  });

  it('an attached AWS managed policy grants what its document says and nothing more', async () => {
    const u = seedUser('ecr-reader');
    await iam.send(
      new AttachUserPolicyCommand({
        UserName: 'ecr-reader',
        PolicyArn: AWS_POLICY('AmazonEC2ContainerRegistryReadOnly'),
      }),
    );
    expect(await can(u)).toEqual({ listUsers: false, ecrLogin: true });
    // The seeded administrator rights no longer apply once a policy reaches the user.
    await iam.send(
      new AttachUserPolicyCommand({ UserName: 'ecr-reader', PolicyArn: AWS_POLICY('ReadOnlyAccess') }),
    );
    expect(await can(u)).toEqual({ listUsers: true, ecrLogin: true });
    const { Policy } = await iam.send(new GetPolicyCommand({ PolicyArn: AWS_POLICY('ReadOnlyAccess') }));
    expect(Policy?.AttachmentCount).toBe(1);
  });
});

describe('customer managed policies', () => {
  it('CreatePolicy stores the document as v1; GetPolicy and ListPolicies describe it', async () => {
    const { Policy } = await createPolicy('jenkins-push', ALLOW_ECR_LOGIN, { Path: '/jenkins/' });
    expect(Policy).toMatchObject({
      PolicyName: 'jenkins-push',
      Arn: `arn:aws:iam::${ACCOUNT}:policy/jenkins/jenkins-push`,
      Path: '/jenkins/',
      DefaultVersionId: 'v1',
      AttachmentCount: 0,
      IsAttachable: true,
    });
    expect(Policy?.CreateDate).toBeInstanceOf(Date);
    const { PolicyVersion } = await iam.send(
      new GetPolicyVersionCommand({ PolicyArn: Policy!.Arn, VersionId: 'v1' }),
    );
    expect(decodeURIComponent(PolicyVersion!.Document!)).toBe(ALLOW_ECR_LOGIN);

    await expect(createPolicy('JENKINS-PUSH', ALLOW_ECR_LOGIN)).rejects.toMatchObject({
      name: 'EntityAlreadyExistsException',
      message: 'A policy called JENKINS-PUSH already exists. Duplicate names are not allowed.',
      $metadata: { httpStatusCode: 409 },
    });
    await expect(createPolicy('bad', DENY_ECR.replace('Deny', 'deny'))).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
    });
    await expect(
      createPolicy('conditioned', doc({ Effect: 'Allow', Action: '*', Resource: '*', Condition: {} })),
    ).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
      message: expect.stringMatching(/^Condition is not supported by the localcloud emulator/) as unknown,
    });
    const big = doc({
      Effect: 'Allow',
      Action: Array.from({ length: 400 }, (_, i) => `iam:Action${i}Name`),
      Resource: '*',
    });
    await expect(createPolicy('too-big', big)).rejects.toMatchObject({
      name: 'LimitExceededException',
      message: 'Cannot exceed quota for PolicySize: 6144',
    });
    const unknown = `arn:aws:iam::${ACCOUNT}:policy/nope`;
    await expect(iam.send(new GetPolicyCommand({ PolicyArn: unknown }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: `Policy ${unknown} does not exist or is not attachable.`,
      $metadata: { httpStatusCode: 404 },
    });
    await expect(
      iam.send(new GetPolicyCommand({ PolicyArn: 'not-an-arn-at-all-really' })),
    ).rejects.toMatchObject({
      name: 'InvalidInputException',
      message: 'ARN not-an-arn-at-all-really is not valid.',
    });
  });

  it('versions: a new default version changes what attached users may do at once; at most five', async () => {
    const u = seedUser('versioned');
    const { Policy } = await createPolicy('versioned-policy', ALLOW_LIST_USERS);
    const arn = Policy!.Arn!;
    await iam.send(new AttachUserPolicyCommand({ UserName: 'versioned', PolicyArn: arn }));
    expect(await can(u)).toEqual({ listUsers: true, ecrLogin: false });

    // A version that is not the default changes nothing.
    const v2 = await iam.send(
      new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: ALLOW_ECR_LOGIN }),
    );
    expect(v2.PolicyVersion).toMatchObject({ VersionId: 'v2', IsDefaultVersion: false });
    expect(await can(u)).toEqual({ listUsers: true, ecrLogin: false });

    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }));
    expect(await can(u)).toEqual({ listUsers: false, ecrLogin: true });

    const v3 = await iam.send(
      new CreatePolicyVersionCommand({
        PolicyArn: arn,
        PolicyDocument: ALLOW_LIST_USERS,
        SetAsDefault: true,
      }),
    );
    expect(v3.PolicyVersion).toMatchObject({ VersionId: 'v3', IsDefaultVersion: true });
    expect(await can(u)).toEqual({ listUsers: true, ecrLogin: false });

    const listed = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }));
    expect(listed.Versions?.map((v) => [v.VersionId, v.IsDefaultVersion])).toEqual([
      ['v3', true],
      ['v2', false],
      ['v1', false],
    ]);
    expect(listed.Versions?.[0]).not.toHaveProperty('Document');

    await expect(
      iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v3' })),
    ).rejects.toMatchObject({
      name: 'DeleteConflictException',
      message: 'Cannot delete the default version of a policy.',
    });
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }));
    await expect(
      iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' })),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: `Policy ${arn} version v1 does not exist or is not attachable.`,
    });
    for (let i = 0; i < 3; i++)
      await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: ALLOW_LIST_USERS }));
    await expect(
      iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: ALLOW_LIST_USERS })),
    ).rejects.toMatchObject({
      name: 'LimitExceededException',
      message:
        'A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.',
    });
    // Version numbers are never reused.
    expect(
      (await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }))).Versions?.map((v) => v.VersionId),
    ).toEqual(['v6', 'v5', 'v4', 'v3', 'v2']);
  });

  it('DeletePolicy refuses while attached or versioned, then deletes', async () => {
    const { Policy } = await createPolicy('to-delete', ALLOW_LIST_USERS);
    const arn = Policy!.Arn!;
    seedUser('holder');
    await iam.send(new AttachUserPolicyCommand({ UserName: 'holder', PolicyArn: arn }));
    await expect(iam.send(new DeletePolicyCommand({ PolicyArn: arn }))).rejects.toMatchObject({
      name: 'DeleteConflictException',
      message: 'Cannot delete a policy attached to entities.',
    });
    await iam.send(new DetachUserPolicyCommand({ UserName: 'holder', PolicyArn: arn }));
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: ALLOW_ECR_LOGIN }));
    await expect(iam.send(new DeletePolicyCommand({ PolicyArn: arn }))).rejects.toMatchObject({
      name: 'DeleteConflictException',
      message: expect.stringMatching(/^This policy has more than one version/) as unknown,
    });
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }));
    await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
    await expect(iam.send(new GetPolicyCommand({ PolicyArn: arn }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
  });

  it('ListPolicies filters by scope, attachment and path, and pages', async () => {
    const own = await Promise.all(
      ['lp-a', 'lp-b', 'lp-c'].map((n) => createPolicy(n, ALLOW_LIST_USERS, { Path: '/listed/' })),
    );
    seedUser('lp-user');
    await iam.send(new AttachUserPolicyCommand({ UserName: 'lp-user', PolicyArn: own[1]!.Policy!.Arn }));

    const names = async (input: ListPoliciesCommandInput) =>
      (await iam.send(new ListPoliciesCommand(input))).Policies?.map((p) => p.PolicyName ?? '') ?? [];
    expect(await names({ Scope: 'Local', PathPrefix: '/listed/' })).toEqual(['lp-a', 'lp-b', 'lp-c']);
    expect(await names({ Scope: 'Local', PathPrefix: '/listed/', OnlyAttached: true })).toEqual(['lp-b']);
    const awsOnly = await names({ Scope: 'AWS' });
    expect(awsOnly).toEqual(
      expect.arrayContaining([
        'AdministratorAccess',
        'AmazonEC2ContainerRegistryFullAccess',
        'ReadOnlyAccess',
      ]),
    );
    expect(awsOnly).not.toContain('lp-a');
    const all = await names({});
    expect(all).toEqual(expect.arrayContaining(['lp-a', 'AdministratorAccess']));
    expect(all).toEqual([...all].sort((a, b) => a.localeCompare(b)));

    const listed = (await iam.send(new ListPoliciesCommand({ Scope: 'Local', PathPrefix: '/listed/' })))
      .Policies;
    // ListPolicies leaves out the description and tags, as IAM does.
    expect(listed?.[1]).toMatchObject({ PolicyName: 'lp-b', AttachmentCount: 1 });
    expect(listed?.[1]).not.toHaveProperty('Description');

    const paged: string[] = [];
    for await (const page of paginateListPolicies(
      { client: iam, pageSize: 2 },
      { Scope: 'Local', PathPrefix: '/listed/' },
    ))
      paged.push(...(page.Policies ?? []).map((p) => p.PolicyName!));
    expect(paged).toEqual(['lp-a', 'lp-b', 'lp-c']);
    await expect(iam.send(new ListPoliciesCommand({ Scope: 'Everything' as 'All' }))).rejects.toMatchObject({
      name: 'ValidationError',
    });
  });

  it('AttachUserPolicy is idempotent, keeps to ten policies, and DetachUserPolicy names what is not attached', async () => {
    seedUser('attacher');
    const arns = await Promise.all(
      Array.from({ length: 11 }, (_, i) =>
        createPolicy(`quota-${i}`, ALLOW_LIST_USERS).then((r) => r.Policy!.Arn!),
      ),
    );
    for (const arn of arns.slice(0, 10)) {
      await iam.send(new AttachUserPolicyCommand({ UserName: 'attacher', PolicyArn: arn }));
      await iam.send(new AttachUserPolicyCommand({ UserName: 'attacher', PolicyArn: arn }));
    }
    await expect(
      iam.send(new AttachUserPolicyCommand({ UserName: 'attacher', PolicyArn: arns[10] })),
    ).rejects.toMatchObject({
      name: 'LimitExceededException',
      message: 'Cannot exceed quota for PoliciesPerUser: 10',
    });
    const attached = await iam.send(
      new ListAttachedUserPoliciesCommand({ UserName: 'attacher', MaxItems: 4 }),
    );
    expect(attached.AttachedPolicies).toEqual(
      arns.slice(0, 4).map((arn, i) => ({ PolicyName: `quota-${i}`, PolicyArn: arn })),
    );
    expect(attached.IsTruncated).toBe(true);
    await expect(
      iam.send(new DetachUserPolicyCommand({ UserName: 'attacher', PolicyArn: arns[10] })),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException', message: `Policy ${arns[10]} was not found.` });
    const missing = AWS_POLICY('NoSuchPolicy');
    await expect(
      iam.send(new AttachUserPolicyCommand({ UserName: 'attacher', PolicyArn: missing })),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: `Policy ${missing} does not exist or is not attachable.`,
    });
    // A user with attached policies cannot be deleted until they are detached.
    aws.state.keysOf(ACCOUNT, 'attacher').forEach((k) => aws.state.deleteAccessKey(k));
    await expect(iam.send(new DeleteUserCommand({ UserName: 'attacher' }))).rejects.toMatchObject({
      name: 'DeleteConflictException',
      message: 'Cannot delete entity, must detach all policies first.',
    });
  });

  it('attaching is authorized on the user, and an explicit Deny in any policy wins', async () => {
    const admin = seedUser('attach-admin', {
      permissions: [
        {
          effect: 'Allow',
          actions: ['iam:AttachUserPolicy'],
          resources: [`arn:aws:iam::${ACCOUNT}:user/team/*`],
        },
      ],
    });
    const member = seedUser('team-member', { path: '/team/' });
    const outsider = seedUser('outsider');
    await admin.iam.send(
      new AttachUserPolicyCommand({ UserName: 'team-member', PolicyArn: AWS_POLICY('AdministratorAccess') }),
    );
    await expect(
      admin.iam.send(
        new AttachUserPolicyCommand({ UserName: 'outsider', PolicyArn: AWS_POLICY('AdministratorAccess') }),
      ),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      message: `User: ${admin.user.arn} is not authorized to perform: iam:AttachUserPolicy on resource: ${outsider.user.arn}`,
    });
    expect(await can(member)).toEqual({ listUsers: true, ecrLogin: true });
    await iam.send(
      new PutUserPolicyCommand({ UserName: 'team-member', PolicyName: 'no-ecr', PolicyDocument: DENY_ECR }),
    );
    expect(await can(member)).toEqual({ listUsers: true, ecrLogin: false });
  });
});

describe('groups', () => {
  it('members get the inline and attached policies of their groups, and lose them on leaving', async () => {
    const u = seedUser('grouped', { permissions: [{ effect: 'Allow', actions: ['sts:*'] }] });
    expect(await can(u)).toEqual({ listUsers: false, ecrLogin: false });
    const { Group } = await iam.send(new CreateGroupCommand({ GroupName: 'pushers', Path: '/ci/' }));
    expect(Group).toMatchObject({
      GroupName: 'pushers',
      Path: '/ci/',
      Arn: `arn:aws:iam::${ACCOUNT}:group/ci/pushers`,
    });
    expect(Group?.GroupId).toMatch(/^AGPA[A-Z2-7]{17}$/);
    await iam.send(
      new PutGroupPolicyCommand({
        GroupName: 'pushers',
        PolicyName: 'ecr-login',
        PolicyDocument: ALLOW_ECR_LOGIN,
      }),
    );
    await iam.send(new CreateGroupCommand({ GroupName: 'readers' }));
    await iam.send(
      new AttachGroupPolicyCommand({ GroupName: 'readers', PolicyArn: AWS_POLICY('ReadOnlyAccess') }),
    );

    // A group alone changes nothing until the user is in it.
    expect(await can(u)).toEqual({ listUsers: false, ecrLogin: false });
    await iam.send(new AddUserToGroupCommand({ GroupName: 'pushers', UserName: 'grouped' }));
    await iam.send(new AddUserToGroupCommand({ GroupName: 'readers', UserName: 'grouped' }));
    expect(await can(u)).toEqual({ listUsers: true, ecrLogin: true });

    const { Groups } = await iam.send(new ListGroupsForUserCommand({ UserName: 'grouped' }));
    expect(Groups?.map((g) => g.GroupName)).toEqual(['pushers', 'readers']);
    const got = await iam.send(new GetGroupCommand({ GroupName: 'pushers' }));
    expect(got.Users?.map((x) => x.UserName)).toEqual(['grouped']);
    expect((await iam.send(new ListGroupPoliciesCommand({ GroupName: 'pushers' }))).PolicyNames).toEqual([
      'ecr-login',
    ]);
    const policy = await iam.send(
      new GetGroupPolicyCommand({ GroupName: 'pushers', PolicyName: 'ecr-login' }),
    );
    expect(policy).toMatchObject({ GroupName: 'pushers', PolicyName: 'ecr-login' });
    expect(decodeURIComponent(policy.PolicyDocument!)).toBe(ALLOW_ECR_LOGIN);
    expect(
      (await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: 'readers' }))).AttachedPolicies,
    ).toEqual([{ PolicyName: 'ReadOnlyAccess', PolicyArn: AWS_POLICY('ReadOnlyAccess') }]);

    // A group's Deny wins over the user's own Allow.
    await iam.send(new CreateGroupCommand({ GroupName: 'no-ecr' }));
    await iam.send(
      new PutGroupPolicyCommand({ GroupName: 'no-ecr', PolicyName: 'deny', PolicyDocument: DENY_ECR }),
    );
    await iam.send(new AddUserToGroupCommand({ GroupName: 'no-ecr', UserName: 'grouped' }));
    expect(await can(u)).toEqual({ listUsers: true, ecrLogin: false });

    for (const g of ['no-ecr', 'pushers', 'readers'])
      await iam.send(new RemoveUserFromGroupCommand({ GroupName: g, UserName: 'grouped' }));
    // No policy reaches the user any more: its seeded permissions apply again.
    expect(await can(u)).toEqual({ listUsers: false, ecrLogin: false });
  });

  it('answers IAM errors for unknown groups, duplicates, and deletion while in use', async () => {
    await iam.send(new CreateGroupCommand({ GroupName: 'busy' }));
    await expect(iam.send(new CreateGroupCommand({ GroupName: 'BUSY' }))).rejects.toMatchObject({
      name: 'EntityAlreadyExistsException',
      message: 'Group with name BUSY already exists.',
    });
    await expect(iam.send(new GetGroupCommand({ GroupName: 'ghost' }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: 'The group with name ghost cannot be found.',
    });
    await expect(
      iam.send(new AddUserToGroupCommand({ GroupName: 'busy', UserName: 'nobody-here' })),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: 'The user with name nobody-here cannot be found.',
    });
    await expect(
      iam.send(new GetGroupPolicyCommand({ GroupName: 'busy', PolicyName: 'none' })),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: 'The group policy with name none cannot be found.',
    });

    seedUser('busy-member');
    await iam.send(new AddUserToGroupCommand({ GroupName: 'busy', UserName: 'busy-member' }));
    await iam.send(
      new PutGroupPolicyCommand({ GroupName: 'busy', PolicyName: 'p', PolicyDocument: ALLOW_LIST_USERS }),
    );
    await iam.send(
      new AttachGroupPolicyCommand({ GroupName: 'busy', PolicyArn: AWS_POLICY('ReadOnlyAccess') }),
    );
    const conflict = (what: string) => ({
      name: 'DeleteConflictException',
      message: `Cannot delete entity, must ${what} first.`,
      $metadata: { httpStatusCode: 409 },
    });
    aws.state.keysOf(ACCOUNT, 'busy-member').forEach((k) => aws.state.deleteAccessKey(k));
    await expect(iam.send(new DeleteUserCommand({ UserName: 'busy-member' }))).rejects.toMatchObject(
      conflict('remove users from group'),
    );
    await expect(iam.send(new DeleteGroupCommand({ GroupName: 'busy' }))).rejects.toMatchObject(
      conflict('remove users from group'),
    );
    await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'busy', UserName: 'busy-member' }));
    await expect(iam.send(new DeleteGroupCommand({ GroupName: 'busy' }))).rejects.toMatchObject(
      conflict('delete policies'),
    );
    await iam.send(new DeleteGroupPolicyCommand({ GroupName: 'busy', PolicyName: 'p' }));
    await expect(iam.send(new DeleteGroupCommand({ GroupName: 'busy' }))).rejects.toMatchObject(
      conflict('detach all policies'),
    );
    await iam.send(
      new DetachGroupPolicyCommand({ GroupName: 'busy', PolicyArn: AWS_POLICY('ReadOnlyAccess') }),
    );
    await iam.send(new DeleteGroupCommand({ GroupName: 'busy' }));
    await iam.send(new DeleteUserCommand({ UserName: 'busy-member' }));
    expect(aws.state.account(ACCOUNT).groups.has('busy')).toBe(false);
  });

  it('group calls are authorized on the group ARN', async () => {
    const admin = seedUser('group-admin', {
      permissions: [
        {
          effect: 'Allow',
          actions: ['iam:AddUserToGroup'],
          resources: [`arn:aws:iam::${ACCOUNT}:group/ci/*`],
        },
      ],
    });
    await iam.send(new CreateGroupCommand({ GroupName: 'admins' }));
    seedUser('wannabe');
    await expect(
      admin.iam.send(new AddUserToGroupCommand({ GroupName: 'admins', UserName: 'wannabe' })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      message: `User: ${admin.user.arn} is not authorized to perform: iam:AddUserToGroup on resource: arn:aws:iam::${ACCOUNT}:group/admins`,
    });
    expect(aws.state.account(ACCOUNT).groups.get('admins')?.members.size).toBe(0);
  });
});
