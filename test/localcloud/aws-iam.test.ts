import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GenerateCredentialReportCommand,
  GetAccessKeyLastUsedCommand,
  GetCredentialReportCommand,
  GetUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  paginateListUsers,
  PutUserPolicyCommand,
  TagUserCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
  type CreateUserCommandInput,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { Statement, UserRecord } from '../../localcloud/aws/state';
import { clientConfig, startAws } from '../support/aws';
import { userWithKey } from './users';

const ACCOUNT = '111122223333';
const DAY = 86_400_000;

let aws: AwsEmulator;
let iam: IAMClient;

beforeAll(async () => {
  aws = await startAws();
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
});
afterAll(() => aws.close());

/** A user with an established key, straight into emulator state. */
function seedUser(name: string, opts: { path?: string; permissions?: Statement[] } = {}) {
  const { user, creds } = userWithKey(aws, name, opts);
  return { user, creds, iam: new IAMClient(clientConfig(aws.url, creds)) };
}

const createUser = (input: CreateUserCommandInput) => iam.send(new CreateUserCommand(input));

describe('IAM users', () => {
  it('CreateUser stores the path and tags, and GetUser returns them', async () => {
    const tags = [
      { Key: 'team', Value: 'ci' },
      { Key: 'owner', Value: '' },
    ];
    const { User: created } = await createUser({ UserName: 'builder', Path: '/jenkins/', Tags: tags });
    expect(created).toMatchObject({
      UserName: 'builder',
      Path: '/jenkins/',
      Arn: `arn:aws:iam::${ACCOUNT}:user/jenkins/builder`,
      Tags: tags,
    });
    expect(created?.UserId).toMatch(/^AIDA[A-Z2-7]{17}$/);
    const { User: got } = await iam.send(new GetUserCommand({ UserName: 'builder' }));
    expect(got).toEqual(created);
  });

  it('CreateUser refuses a name that exists, whatever its case', async () => {
    await createUser({ UserName: 'dup-user' });
    for (const name of ['dup-user', 'DUP-User'])
      await expect(createUser({ UserName: name })).rejects.toMatchObject({
        Code: 'EntityAlreadyExists',
        name: 'EntityAlreadyExistsException',
        message: `User with name ${name} already exists.`,
        $metadata: { httpStatusCode: 409 },
      });
  });

  it('CreateUser validates its parameters the way IAM words it', async () => {
    await expect(createUser({} as CreateUserCommandInput)).rejects.toMatchObject({
      Code: 'ValidationError',
      message:
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(createUser({ UserName: 'has space' })).rejects.toMatchObject({
      Code: 'ValidationError',
      message: expect.stringContaining("Value 'has space' at 'userName'") as unknown,
    });
    await expect(createUser({ UserName: 'x'.repeat(65) })).rejects.toMatchObject({
      Code: 'ValidationError',
      message: expect.stringContaining('length less than or equal to 64') as unknown,
    });
    await expect(createUser({ UserName: 'pathless', Path: 'jenkins' })).rejects.toMatchObject({
      Code: 'ValidationError',
      message: expect.stringContaining("Value 'jenkins' at 'path'") as unknown,
    });
  });

  it('GetUser without UserName returns the caller; an unknown user is NoSuchEntity', async () => {
    const { User } = await iam.send(new GetUserCommand({}));
    expect(User?.UserName).toBe(aws.admin.userName);
    await expect(iam.send(new GetUserCommand({ UserName: 'ghost' }))).rejects.toMatchObject({
      Code: 'NoSuchEntity',
      name: 'NoSuchEntityException',
      message: 'The user with name ghost cannot be found.',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('ListUsers pages with MaxItems and Marker exactly like IAM, and filters by PathPrefix', async () => {
    const names = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'].map((n) => `pager-${n}`);
    for (const name of names) await createUser({ UserName: name, Path: '/paging/' });
    const pages = [];
    let marker: string | undefined;
    do {
      const page = await iam.send(
        new ListUsersCommand({ PathPrefix: '/paging/', MaxItems: 3, Marker: marker }),
      );
      pages.push(page);
      marker = page.Marker;
    } while (marker);
    expect(pages.map((p) => p.Users?.length)).toEqual([3, 3, 1]);
    expect(pages.map((p) => p.IsTruncated)).toEqual([true, true, false]);
    expect(pages[2]?.Marker).toBeUndefined();
    expect(pages.flatMap((p) => p.Users ?? []).map((u) => u.UserName)).toEqual(names);
    // No tags in ListUsers, as in IAM.
    expect(pages[0]?.Users?.[0]).not.toHaveProperty('Tags');

    // The SDK's own paginator follows the same markers.
    const viaPaginator: string[] = [];
    for await (const page of paginateListUsers({ client: iam, pageSize: 2 }, { PathPrefix: '/paging/' }))
      viaPaginator.push(...(page.Users ?? []).map((u) => u.UserName!));
    expect(viaPaginator).toEqual(names);

    const all = await iam.send(new ListUsersCommand({}));
    expect(all.IsTruncated).toBe(false);
    expect(all.Users?.map((u) => u.UserName)).toEqual(expect.arrayContaining([aws.admin.userName, ...names]));
    const none = await iam.send(new ListUsersCommand({ PathPrefix: '/nobody/' }));
    expect(none).toMatchObject({ Users: [], IsTruncated: false });
  });

  it('ListUsers rejects MaxItems outside 1..1000 and a PathPrefix without a leading slash', async () => {
    for (const [input, text] of [
      [
        { MaxItems: 0 },
        "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater",
      ],
      [
        { MaxItems: 1001 },
        "Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value less",
      ],
      [{ PathPrefix: 'paging/' }, "Value 'paging/' at 'pathPrefix'"],
    ] as const)
      await expect(iam.send(new ListUsersCommand(input))).rejects.toMatchObject({
        Code: 'ValidationError',
        message: expect.stringContaining(text) as unknown,
        $metadata: { httpStatusCode: 400 },
      });
  });

  it('TagUser adds and overwrites tags; ListUserTags pages them', async () => {
    await createUser({ UserName: 'tagged', Tags: [{ Key: 'a', Value: '1' }] });
    await iam.send(
      new TagUserCommand({
        UserName: 'tagged',
        Tags: [
          { Key: 'b', Value: '2' },
          { Key: 'a', Value: 'changed' },
          { Key: 'c', Value: '3' },
        ],
      }),
    );
    const first = await iam.send(new ListUserTagsCommand({ UserName: 'tagged', MaxItems: 2 }));
    expect(first).toMatchObject({
      Tags: [
        { Key: 'a', Value: 'changed' },
        { Key: 'b', Value: '2' },
      ],
      IsTruncated: true,
    });
    const rest = await iam.send(new ListUserTagsCommand({ UserName: 'tagged', Marker: first.Marker }));
    expect(rest.Tags).toEqual([{ Key: 'c', Value: '3' }]);
    expect(rest.IsTruncated).toBe(false);
    expect(rest.Marker).toBeUndefined();
  });

  it('UntagUser removes the named tags and ignores keys that are absent', async () => {
    await createUser({
      UserName: 'untagged',
      Tags: [
        { Key: 'keep', Value: '1' },
        { Key: 'drop', Value: '2' },
      ],
    });
    await iam.send(new UntagUserCommand({ UserName: 'untagged', TagKeys: ['drop', 'never-there'] }));
    const r = await iam.send(new ListUserTagsCommand({ UserName: 'untagged' }));
    expect(r.Tags).toEqual([{ Key: 'keep', Value: '1' }]);
    await expect(iam.send(new UntagUserCommand({ UserName: 'ghost', TagKeys: ['k'] }))).rejects.toMatchObject(
      {
        Code: 'NoSuchEntity',
      },
    );
  });

  it('TagUser and ListUserTags need an existing user', async () => {
    await expect(
      iam.send(new TagUserCommand({ UserName: 'ghost', Tags: [{ Key: 'k', Value: 'v' }] })),
    ).rejects.toMatchObject({ Code: 'NoSuchEntity', message: 'The user with name ghost cannot be found.' });
    await expect(iam.send(new ListUserTagsCommand({ UserName: 'ghost' }))).rejects.toMatchObject({
      Code: 'NoSuchEntity',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(iam.send(new TagUserCommand({ UserName: 'tagged', Tags: [] }))).rejects.toMatchObject({
      Code: 'ValidationError',
    });
  });
});

describe('IAM access keys', () => {
  it('CreateAccessKey returns the secret once; ListAccessKeys never does', async () => {
    await createUser({ UserName: 'keyed' });
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'keyed' }));
    expect(AccessKey).toMatchObject({ UserName: 'keyed', Status: 'Active' });
    expect(AccessKey?.AccessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(AccessKey?.SecretAccessKey).toHaveLength(40);
    const { AccessKeyMetadata, IsTruncated } = await iam.send(
      new ListAccessKeysCommand({ UserName: 'keyed' }),
    );
    expect(IsTruncated).toBe(false);
    expect(AccessKeyMetadata).toEqual([
      {
        UserName: 'keyed',
        AccessKeyId: AccessKey?.AccessKeyId,
        Status: 'Active',
        CreateDate: AccessKey?.CreateDate,
      },
    ]);
  });

  it('a user has at most two keys, inactive ones counted', async () => {
    await createUser({ UserName: 'two-keys' });
    const first = await iam.send(new CreateAccessKeyCommand({ UserName: 'two-keys' }));
    await iam.send(new CreateAccessKeyCommand({ UserName: 'two-keys' }));
    const oldId = first.AccessKey!.AccessKeyId!;
    await iam.send(
      new UpdateAccessKeyCommand({ UserName: 'two-keys', AccessKeyId: oldId, Status: 'Inactive' }),
    );
    const listed = await iam.send(new ListAccessKeysCommand({ UserName: 'two-keys' }));
    expect(listed.AccessKeyMetadata?.map((k) => k.Status)).toEqual(['Inactive', 'Active']);
    await expect(iam.send(new CreateAccessKeyCommand({ UserName: 'two-keys' }))).rejects.toMatchObject({
      Code: 'LimitExceeded',
      name: 'LimitExceededException',
      message: 'Cannot exceed quota for AccessKeysPerUser: 2',
      $metadata: { httpStatusCode: 409 },
    });
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'two-keys', AccessKeyId: oldId }));
    const third = await iam.send(new CreateAccessKeyCommand({ UserName: 'two-keys' }));
    const after = await iam.send(new ListAccessKeysCommand({ UserName: 'two-keys' }));
    expect(after.AccessKeyMetadata?.map((k) => k.AccessKeyId)).toContain(third.AccessKey?.AccessKeyId);
    expect(after.AccessKeyMetadata?.map((k) => k.AccessKeyId)).not.toContain(oldId);
  });

  it('ListAccessKeys pages too', async () => {
    const { user } = seedUser('paged-keys');
    aws.state.createAccessKey(user);
    const { AccessKeyMetadata, IsTruncated, Marker } = await iam.send(
      new ListAccessKeysCommand({ UserName: 'paged-keys', MaxItems: 1 }),
    );
    expect(AccessKeyMetadata).toHaveLength(1);
    expect(IsTruncated).toBe(true);
    const rest = await iam.send(new ListAccessKeysCommand({ UserName: 'paged-keys', Marker }));
    expect(rest.AccessKeyMetadata).toHaveLength(1);
    expect(rest.AccessKeyMetadata?.[0]?.AccessKeyId).not.toBe(AccessKeyMetadata?.[0]?.AccessKeyId);
    expect(rest.IsTruncated).toBe(false);
  });

  it('UpdateAccessKey and DeleteAccessKey refuse unknown keys, keys of other users and a bad status', async () => {
    await createUser({ UserName: 'owner' });
    await createUser({ UserName: 'other-owner' });
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'other-owner' }));
    const notMine = AccessKey!.AccessKeyId!;
    for (const id of ['AKIAIOSFODNN7EXAMPLE', notMine]) {
      const expected = {
        Code: 'NoSuchEntity',
        message: `The Access Key with id ${id} cannot be found.`,
        $metadata: { httpStatusCode: 404 },
      };
      await expect(
        iam.send(new UpdateAccessKeyCommand({ UserName: 'owner', AccessKeyId: id, Status: 'Inactive' })),
      ).rejects.toMatchObject(expected);
      await expect(
        iam.send(new DeleteAccessKeyCommand({ UserName: 'owner', AccessKeyId: id })),
      ).rejects.toMatchObject(expected);
    }
    await expect(
      iam.send(
        new UpdateAccessKeyCommand({
          UserName: 'other-owner',
          AccessKeyId: notMine,
          Status: 'Disabled' as never,
        }),
      ),
    ).rejects.toMatchObject({
      Code: 'ValidationError',
      message:
        "1 validation error detected: Value 'Disabled' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]",
    });
    await expect(
      iam.send(new UpdateAccessKeyCommand({ UserName: 'ghost', AccessKeyId: notMine, Status: 'Inactive' })),
    ).rejects.toMatchObject({ Code: 'NoSuchEntity', message: 'The user with name ghost cannot be found.' });
    const { AccessKeyMetadata } = await iam.send(new ListAccessKeysCommand({ UserName: 'other-owner' }));
    expect(AccessKeyMetadata?.[0]?.Status).toBe('Active');
  });

  it('calls without UserName act on the calling user', async () => {
    const self = seedUser('self-service');
    const { AccessKey } = await self.iam.send(new CreateAccessKeyCommand({}));
    expect(AccessKey?.UserName).toBe('self-service');
    const { AccessKeyMetadata } = await self.iam.send(new ListAccessKeysCommand({}));
    expect(AccessKeyMetadata?.map((k) => k.AccessKeyId)).toEqual([
      self.creds.accessKeyId,
      AccessKey?.AccessKeyId,
    ]);
    await self.iam.send(
      new UpdateAccessKeyCommand({ AccessKeyId: AccessKey!.AccessKeyId!, Status: 'Inactive' }),
    );
    await self.iam.send(new DeleteAccessKeyCommand({ AccessKeyId: AccessKey!.AccessKeyId! }));
    expect(aws.state.keysOf(ACCOUNT, 'self-service').map((k) => k.accessKeyId)).toEqual([
      self.creds.accessKeyId,
    ]);
    expect((await self.iam.send(new GetUserCommand({}))).User?.Arn).toBe(self.user.arn);
  });

  it('GetAccessKeyLastUsed says N/A until the key is used, then names the service and region', async () => {
    const { user, creds } = seedUser('last-used');
    const before = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: creds.accessKeyId }));
    expect(before).toMatchObject({
      UserName: 'last-used',
      AccessKeyLastUsed: { ServiceName: 'N/A', Region: 'N/A' },
    });
    expect(before.AccessKeyLastUsed).not.toHaveProperty('LastUsedDate');

    const t0 = aws.state.now();
    await new STSClient(clientConfig(aws.url, creds, 'eu-west-1')).send(new GetCallerIdentityCommand({}));
    const after = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: creds.accessKeyId }));
    expect(after).toMatchObject({
      UserName: user.userName,
      AccessKeyLastUsed: { ServiceName: 'sts', Region: 'eu-west-1' },
    });
    // Wire dates have whole seconds.
    expect(after.AccessKeyLastUsed?.LastUsedDate?.getTime()).toBeGreaterThanOrEqual(
      Math.floor(t0 / 1000) * 1000,
    );
  });

  it('GetAccessKeyLastUsed answers AccessDenied for a key it cannot find, as IAM does', async () => {
    const foreign = aws.state.createAccessKey(aws.state.createUser('444455556666', 'elsewhere'));
    const deleted = seedUser('deleted-key').creds.accessKeyId;
    aws.state.accessKeys.delete(deleted);
    for (const id of ['AKIAIOSFODNN7EXAMPLE', foreign.accessKeyId, deleted])
      await expect(iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: id }))).rejects.toMatchObject({
        Code: 'AccessDenied',
        message: `User: arn:aws:iam::${ACCOUNT}:user/${aws.admin.userName} is not authorized to perform iam:GetAccessKeyLastUsed on resource: access key ${id}`,
        $metadata: { httpStatusCode: 403 },
      });
  });
});

describe('IAM resource-level authorization', () => {
  let rotator: ReturnType<typeof seedUser>;
  let jenkinsUser: UserRecord;
  let otherUser: UserRecord;

  beforeAll(() => {
    rotator = seedUser('path-rotator', {
      permissions: [
        {
          effect: 'Allow',
          actions: ['iam:*AccessKey*', 'iam:GetUser', 'iam:ListUsers'],
          resources: [`arn:aws:iam::${ACCOUNT}:user/ci/*`],
        },
        {
          effect: 'Deny',
          actions: ['iam:DeleteAccessKey'],
          resources: [`arn:aws:iam::${ACCOUNT}:user/ci/protected`],
        },
      ],
    });
    jenkinsUser = aws.state.createUser(ACCOUNT, 'agent', { path: '/ci/' });
    aws.state.createUser(ACCOUNT, 'protected', { path: '/ci/' });
    otherUser = aws.state.createUser(ACCOUNT, 'outsider');
  });

  const denied = (action: string, resource: string) => ({
    Code: 'AccessDenied',
    message: `User: ${rotator.user.arn} is not authorized to perform: ${action} on resource: ${resource}`,
    $metadata: { httpStatusCode: 403 },
  });

  it('allows key actions on users under the path', async () => {
    const { AccessKey } = await rotator.iam.send(new CreateAccessKeyCommand({ UserName: 'agent' }));
    expect(AccessKey?.UserName).toBe('agent');
    const { AccessKeyMetadata } = await rotator.iam.send(new ListAccessKeysCommand({ UserName: 'agent' }));
    expect(AccessKeyMetadata).toHaveLength(1);
    const lastUsed = await rotator.iam.send(
      new GetAccessKeyLastUsedCommand({ AccessKeyId: AccessKey!.AccessKeyId! }),
    );
    expect(lastUsed.UserName).toBe('agent');
  });

  it('refuses them on users outside the path, without revealing whether the user exists', async () => {
    await expect(
      rotator.iam.send(new CreateAccessKeyCommand({ UserName: 'outsider' })),
    ).rejects.toMatchObject(denied('iam:CreateAccessKey', otherUser.arn));
    await expect(rotator.iam.send(new ListAccessKeysCommand({ UserName: 'outsider' }))).rejects.toMatchObject(
      denied('iam:ListAccessKeys', otherUser.arn),
    );
    await expect(rotator.iam.send(new CreateAccessKeyCommand({ UserName: 'nobody' }))).rejects.toMatchObject(
      denied('iam:CreateAccessKey', `arn:aws:iam::${ACCOUNT}:user/nobody`),
    );
    const outsiderKey = aws.state.createAccessKey(otherUser);
    await expect(
      rotator.iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: outsiderKey.accessKeyId })),
    ).rejects.toMatchObject(denied('iam:GetAccessKeyLastUsed', otherUser.arn));
    // The caller's own key lives outside the path too.
    await expect(rotator.iam.send(new ListAccessKeysCommand({}))).rejects.toMatchObject(
      denied('iam:ListAccessKeys', rotator.user.arn),
    );
    expect(aws.state.keysOf(ACCOUNT, 'outsider')).toHaveLength(1);
  });

  it('lets an explicit Deny win over the Allow', async () => {
    const key = aws.state.createAccessKey(aws.state.account(ACCOUNT).users.get('protected')!);
    await expect(
      rotator.iam.send(new DeleteAccessKeyCommand({ UserName: 'protected', AccessKeyId: key.accessKeyId })),
    ).rejects.toMatchObject(denied('iam:DeleteAccessKey', `arn:aws:iam::${ACCOUNT}:user/ci/protected`));
    expect(aws.state.accessKeys.has(key.accessKeyId)).toBe(true);
  });

  it('reports NoSuchEntity for a missing user only where the caller may look', async () => {
    await expect(rotator.iam.send(new GetUserCommand({ UserName: 'ghost' }))).rejects.toMatchObject(
      denied('iam:GetUser', `arn:aws:iam::${ACCOUNT}:user/ghost`),
    );
    expect(jenkinsUser.path).toBe('/ci/');
    await expect(rotator.iam.send(new GetUserCommand({ UserName: 'agent' }))).resolves.toMatchObject({
      User: { Arn: jenkinsUser.arn },
    });
  });

  it('CreateUser with tags needs iam:TagUser as well', async () => {
    const creator = seedUser('creator', {
      permissions: [{ effect: 'Allow', actions: ['iam:CreateUser'] }],
    });
    await expect(
      creator.iam.send(
        new CreateUserCommand({ UserName: 'tagged-by-creator', Tags: [{ Key: 'k', Value: 'v' }] }),
      ),
    ).rejects.toMatchObject({
      Code: 'AccessDenied',
      message: expect.stringContaining('iam:TagUser') as unknown,
    });
    await expect(
      creator.iam.send(new CreateUserCommand({ UserName: 'plain-by-creator' })),
    ).resolves.toMatchObject({
      User: { UserName: 'plain-by-creator' },
    });
  });
});

describe('IAM credential report', () => {
  let own: AwsEmulator;
  let client: IAMClient;

  beforeAll(async () => {
    own = await startAws();
    client = new IAMClient(clientConfig(own.url, own.admin));
  });
  afterAll(() => own.close());

  const report = async () => {
    const out = await client.send(new GetCredentialReportCommand({}));
    const lines = Buffer.from(out.Content!).toString('utf8').split('\n');
    const header = lines[0]!.split(',');
    const rows = lines
      .slice(1)
      .map((l) => Object.fromEntries(l.split(',').map((v, i): [string, string] => [header[i] ?? '', v])));
    return { out, header, rows, byUser: (name: string) => rows.find((r) => r['user'] === name) };
  };

  it('is ReportNotPresent before any generation', async () => {
    await expect(client.send(new GetCredentialReportCommand({}))).rejects.toMatchObject({
      Code: 'ReportNotPresent',
      name: 'CredentialReportNotPresentException',
      $metadata: { httpStatusCode: 410 },
    });
  });

  it('is STARTED, then COMPLETE, with the real columns and values', async () => {
    const now = own.state.now();
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
    const ci = own.state.createUser(own.admin.accountId, 'ci-bot', {
      path: '/jenkins/',
      createDate: now - 10 * DAY,
    });
    const k1 = own.state.createAccessKey(ci, { createDate: now - 10 * DAY, established: true });
    k1.lastUsed = { date: now - 2 * DAY, serviceName: 'ecr', region: 'eu-west-1' };
    const k2 = own.state.createAccessKey(ci, { createDate: now - DAY, status: 'Inactive' });
    own.state.createUser(own.admin.accountId, 'no-keys', { createDate: now - 3 * DAY });

    expect((await client.send(new GenerateCredentialReportCommand({}))).State).toBe('STARTED');
    expect((await client.send(new GenerateCredentialReportCommand({}))).State).toBe('COMPLETE');
    const { out, header, rows, byUser } = await report();

    expect(out.ReportFormat).toBe('text/csv');
    expect(Math.abs(out.GeneratedTime!.getTime() - own.state.now())).toBeLessThan(60_000);
    expect(header).toEqual([
      'user',
      'arn',
      'user_creation_time',
      'password_enabled',
      'password_last_used',
      'password_last_changed',
      'password_next_rotation',
      'mfa_active',
      'access_key_1_active',
      'access_key_1_last_rotated',
      'access_key_1_last_used_date',
      'access_key_1_last_used_region',
      'access_key_1_last_used_service',
      'access_key_2_active',
      'access_key_2_last_rotated',
      'access_key_2_last_used_date',
      'access_key_2_last_used_region',
      'access_key_2_last_used_service',
      'cert_1_active',
      'cert_1_last_rotated',
      'cert_2_active',
      'cert_2_last_rotated',
    ]);
    expect(rows.map((r) => r['user'])).toEqual(['<root_account>', 'ci-bot', own.admin.userName, 'no-keys']);
    const noKey = ['false', 'N/A', 'N/A', 'N/A', 'N/A'];
    const noCerts = ['false', 'N/A', 'false', 'N/A'];
    expect(Object.values(rows[0]!)).toEqual([
      '<root_account>',
      `arn:aws:iam::${own.admin.accountId}:root`,
      iso(now - 10 * DAY),
      'not_supported',
      'no_information',
      'not_supported',
      'not_supported',
      'false',
      ...noKey,
      ...noKey,
      ...noCerts,
    ]);
    expect(Object.values(byUser('ci-bot')!)).toEqual([
      'ci-bot',
      `arn:aws:iam::${own.admin.accountId}:user/jenkins/ci-bot`,
      iso(now - 10 * DAY),
      'false',
      'N/A',
      'N/A',
      'N/A',
      'false',
      'true',
      iso(k1.createDate),
      iso(now - 2 * DAY),
      'eu-west-1',
      'ecr',
      'false',
      iso(k2.createDate),
      'N/A',
      'N/A',
      'N/A',
      ...noCerts,
    ]);
    expect(Object.values(byUser('no-keys')!).slice(3)).toEqual([
      'false',
      'N/A',
      'N/A',
      'N/A',
      'false',
      ...noKey,
      ...noKey,
      ...noCerts,
    ]);
    // The administrator's key signed the calls above, against IAM in us-east-1.
    expect(byUser(own.admin.userName)).toMatchObject({
      access_key_1_active: 'true',
      access_key_1_last_used_service: 'iam',
      access_key_1_last_used_region: 'us-east-1',
    });
  });

  it('is a snapshot: reused for four hours, then expired, then generated afresh', async () => {
    own.state.createUser(own.admin.accountId, 'late-comer');
    expect((await client.send(new GenerateCredentialReportCommand({}))).State).toBe('COMPLETE');
    expect((await report()).byUser('late-comer')).toBeUndefined();

    own.state.clockOffsetMs += 4 * 60 * 60 * 1000 + 1000;
    await expect(client.send(new GetCredentialReportCommand({}))).rejects.toMatchObject({
      Code: 'ReportExpired',
      name: 'CredentialReportExpiredException',
      $metadata: { httpStatusCode: 410 },
    });
    expect((await client.send(new GenerateCredentialReportCommand({}))).State).toBe('STARTED');
    expect((await report()).byUser('late-comer')).toMatchObject({ access_key_1_active: 'false' });
  });
});

describe('IAM DeleteUser', () => {
  const ecrPolicy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }],
  });
  const conflict = (what: string) => ({
    Code: 'DeleteConflict',
    name: 'DeleteConflictException',
    message: `Cannot delete entity, must delete ${what} first.`,
    $metadata: { httpStatusCode: 409 },
  });

  it('deletes a user with nothing attached; the name can then be used again', async () => {
    await createUser({ UserName: 'short-lived', Path: '/jenkins-it/', Tags: [{ Key: 'k', Value: 'v' }] });
    await iam.send(new DeleteUserCommand({ UserName: 'short-lived' }));
    await expect(iam.send(new GetUserCommand({ UserName: 'short-lived' }))).rejects.toMatchObject({
      Code: 'NoSuchEntity',
      message: 'The user with name short-lived cannot be found.',
    });
    const names = (await iam.send(new ListUsersCommand({ PathPrefix: '/jenkins-it/' }))).Users ?? [];
    expect(names.map((u) => u.UserName)).not.toContain('short-lived');
    const { User } = await createUser({ UserName: 'short-lived' });
    expect(User?.Path).toBe('/');
    expect(User?.Tags).toBeUndefined();
  });

  it('refuses while access keys remain, inactive ones too, then while inline policies remain', async () => {
    await createUser({ UserName: 'attached' });
    await iam.send(
      new PutUserPolicyCommand({ UserName: 'attached', PolicyName: 'ecr', PolicyDocument: ecrPolicy }),
    );
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'attached' }));
    const keyId = AccessKey!.AccessKeyId!;
    await iam.send(
      new UpdateAccessKeyCommand({ UserName: 'attached', AccessKeyId: keyId, Status: 'Inactive' }),
    );
    await expect(iam.send(new DeleteUserCommand({ UserName: 'attached' }))).rejects.toMatchObject(
      conflict('access keys'),
    );
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'attached', AccessKeyId: keyId }));
    await expect(iam.send(new DeleteUserCommand({ UserName: 'attached' }))).rejects.toMatchObject(
      conflict('policies'),
    );
    // Nothing was deleted by the refused calls.
    expect((await iam.send(new GetUserCommand({ UserName: 'attached' }))).User?.UserName).toBe('attached');
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'attached', PolicyName: 'ecr' }));
    await iam.send(new DeleteUserCommand({ UserName: 'attached' }));
    await expect(iam.send(new GetUserCommand({ UserName: 'attached' }))).rejects.toMatchObject({
      Code: 'NoSuchEntity',
    });
  });

  it('answers NoSuchEntity for an unknown user and requires UserName', async () => {
    await expect(iam.send(new DeleteUserCommand({ UserName: 'never-created' }))).rejects.toMatchObject({
      Code: 'NoSuchEntity',
      name: 'NoSuchEntityException',
      message: 'The user with name never-created cannot be found.',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(iam.send(new DeleteUserCommand({} as { UserName: string }))).rejects.toMatchObject({
      Code: 'ValidationError',
      message:
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null",
    });
  });

  it('is authorized on the user ARN, before the user is looked up', async () => {
    const caller = seedUser('deleter', {
      permissions: [
        {
          effect: 'Allow',
          actions: ['iam:DeleteUser'],
          resources: [`arn:aws:iam::${ACCOUNT}:user/jenkins-it/*`],
        },
      ],
    });
    aws.state.createUser(ACCOUNT, 'kept', { path: '/other/' });
    aws.state.createUser(ACCOUNT, 'removable', { path: '/jenkins-it/' });
    for (const name of ['kept', 'not-there'])
      await expect(caller.iam.send(new DeleteUserCommand({ UserName: name }))).rejects.toMatchObject({
        Code: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });
    expect(aws.state.account(ACCOUNT).users.has('kept')).toBe(true);
    await caller.iam.send(new DeleteUserCommand({ UserName: 'removable' }));
    expect(aws.state.account(ACCOUNT).users.has('removable')).toBe(false);
  });
});
