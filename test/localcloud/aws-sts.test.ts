import { CreateUserCommand, GetUserCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type AssumeRoleCommandInput,
  type Credentials,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { Statement } from '../../localcloud/aws/state';
import { clientConfig, startAws, type Creds } from '../support/aws';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';

let aws: AwsEmulator;
let sts: STSClient;
let adminArn: string;

beforeAll(async () => {
  aws = await startAws();
  sts = new STSClient(clientConfig(aws.url, aws.admin));
  adminArn = `arn:aws:iam::${ACCOUNT}:user/${aws.admin.userName}`;
});
afterAll(() => aws.close());

const assumeRole = (input: Partial<AssumeRoleCommandInput>, client = sts) =>
  client.send(new AssumeRoleCommand({ RoleSessionName: 'session-1', ...input } as AssumeRoleCommandInput));

const tempCreds = (c: Credentials | undefined): Creds => ({
  accessKeyId: c!.AccessKeyId!,
  secretAccessKey: c!.SecretAccessKey!,
  sessionToken: c!.SessionToken!,
});

function userSts(name: string, permissions?: Statement[]) {
  const user = aws.state.createUser(ACCOUNT, name, permissions ? { permissions } : {});
  const key = aws.state.createAccessKey(user, { established: true });
  const creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  return { user, sts: new STSClient(clientConfig(aws.url, creds)) };
}

const denied = (callerArn: string, roleArn: string) => ({
  Code: 'AccessDenied',
  message: `User: ${callerArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
  $metadata: { httpStatusCode: 403 },
});

describe('STS GetCallerIdentity', () => {
  it('names the calling user', async () => {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    expect(id).toMatchObject({
      Account: ACCOUNT,
      Arn: adminArn,
      UserId: aws.state.account(ACCOUNT).users.get(aws.admin.userName)?.userId,
    });
  });

  it('needs no permission at all, even under an explicit Deny', async () => {
    const { user, sts: client } = userSts('denied-everything', [{ effect: 'Deny', actions: ['*'] }]);
    expect((await client.send(new GetCallerIdentityCommand({}))).Arn).toBe(user.arn);
  });
});

describe('STS AssumeRole', () => {
  it('returns temporary credentials that authenticate as the assumed role', async () => {
    const role = aws.state.createRole(ACCOUNT, 'deployer', { trustedPrincipals: [adminArn] });
    const before = aws.state.now();
    const out = await assumeRole({
      RoleArn: role.arn,
      RoleSessionName: 'jenkins-run',
      ExternalId: 'ext-123',
    });
    const after = aws.state.now();
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(out.Credentials?.SecretAccessKey).toHaveLength(40);
    expect(out.Credentials?.SessionToken?.length).toBeGreaterThan(100);
    // Default duration: one hour on the emulated clock (wire dates have whole seconds).
    const expires = out.Credentials!.Expiration!.getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(after + 3600_000);
    expect(out.AssumedRoleUser).toEqual({
      AssumedRoleId: `${role.roleId}:jenkins-run`,
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/jenkins-run`,
    });

    const asRole = new STSClient(clientConfig(aws.url, tempCreds(out.Credentials)));
    expect(await asRole.send(new GetCallerIdentityCommand({}))).toMatchObject({
      Account: ACCOUNT,
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/jenkins-run`,
      UserId: `${role.roleId}:jenkins-run`,
    });
    expect(aws.state.sessions.get(out.Credentials!.AccessKeyId!)?.roleArn).toBe(role.arn);
  });

  it('honours DurationSeconds and keeps the role path out of the assumed-role ARN', async () => {
    const role = aws.state.createRole(ACCOUNT, 'pathed', { path: '/service/' });
    expect(role.arn).toBe(`arn:aws:iam::${ACCOUNT}:role/service/pathed`);
    const before = aws.state.now();
    const out = await assumeRole({ RoleArn: role.arn, DurationSeconds: 900 });
    const expires = out.Credentials!.Expiration!.getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 900_000 - 1000);
    expect(expires).toBeLessThan(before + 3600_000);
    expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/pathed/session-1`);
  });

  it('is refused when the role does not trust the caller, or does not exist', async () => {
    const role = aws.state.createRole(ACCOUNT, 'picky', {
      trustedPrincipals: [`arn:aws:iam::${ACCOUNT}:user/someone`],
    });
    await expect(assumeRole({ RoleArn: role.arn })).rejects.toMatchObject(denied(adminArn, role.arn));
    const missing = `arn:aws:iam::${ACCOUNT}:role/missing`;
    await expect(assumeRole({ RoleArn: missing })).rejects.toMatchObject(denied(adminArn, missing));
    expect([...aws.state.sessions.values()].some((s) => s.roleArn === role.arn)).toBe(false);
  });

  it("accepts a trust in the caller's account root, across accounts", async () => {
    const role = aws.state.createRole(OTHER_ACCOUNT, 'cross', {
      trustedPrincipals: [`arn:aws:iam::${ACCOUNT}:root`],
    });
    const out = await assumeRole({ RoleArn: role.arn });
    const asRole = new STSClient(clientConfig(aws.url, tempCreds(out.Credentials)));
    expect(await asRole.send(new GetCallerIdentityCommand({}))).toMatchObject({
      Account: OTHER_ACCOUNT,
      Arn: `arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/cross/session-1`,
    });
    const stranger = aws.state.createRole(OTHER_ACCOUNT, 'own-only', {
      trustedPrincipals: [`arn:aws:iam::${OTHER_ACCOUNT}:root`],
    });
    await expect(assumeRole({ RoleArn: stranger.arn })).rejects.toMatchObject(denied(adminArn, stranger.arn));
  });

  it('needs sts:AssumeRole on that role in the caller’s own permissions', async () => {
    const allowed = aws.state.createRole(ACCOUNT, 'allowed-role');
    const other = aws.state.createRole(ACCOUNT, 'other-role');
    const { user, sts: client } = userSts('limited-assumer', [
      { effect: 'Allow', actions: ['sts:AssumeRole'], resources: [allowed.arn] },
    ]);
    await expect(assumeRole({ RoleArn: allowed.arn }, client)).resolves.toHaveProperty('Credentials');
    await expect(assumeRole({ RoleArn: other.arn }, client)).rejects.toMatchObject(
      denied(user.arn, other.arn),
    );
  });

  it('validates its parameters the way STS words it', async () => {
    const role = aws.state.createRole(ACCOUNT, 'validated');
    const cases: [Partial<AssumeRoleCommandInput>, string][] = [
      [
        { DurationSeconds: 899 },
        "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
      ],
      [
        { DurationSeconds: 43201 },
        "Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
      ],
      [
        { RoleSessionName: undefined },
        "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
      ],
      [
        { RoleSessionName: 'x' },
        "Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
      ],
      [
        { RoleSessionName: 'has space' },
        "Value 'has space' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern",
      ],
      [{ ExternalId: 'bad id!' }, "Value 'bad id!' at 'externalId'"],
    ];
    for (const [input, message] of cases)
      await expect(assumeRole({ RoleArn: role.arn, ...input })).rejects.toMatchObject({
        Code: 'ValidationError',
        message: expect.stringContaining(`1 validation error detected: ${message}`) as unknown,
        $metadata: { httpStatusCode: 400 },
      });
    await expect(assumeRole({ RoleArn: undefined })).rejects.toMatchObject({
      Code: 'ValidationError',
      message: expect.stringContaining("Value null at 'roleArn'") as unknown,
    });
  });

  it("limits the session to the role's permissions", async () => {
    const role = aws.state.createRole(ACCOUNT, 'reader', {
      permissions: [{ effect: 'Allow', actions: ['iam:ListUsers'] }],
    });
    const out = await assumeRole({ RoleArn: role.arn, RoleSessionName: 'read' });
    const iam = new IAMClient(clientConfig(aws.url, tempCreds(out.Credentials)));
    await expect(iam.send(new ListUsersCommand({}))).resolves.toHaveProperty('Users');
    await expect(iam.send(new CreateUserCommand({ UserName: 'not-by-reader' }))).rejects.toMatchObject({
      Code: 'AccessDenied',
      message: expect.stringContaining(
        `User: arn:aws:sts::${ACCOUNT}:assumed-role/reader/read is not authorized to perform: iam:CreateUser`,
      ) as unknown,
    });
  });

  it('gives credentials that IAM calls needing a user name refuse without one', async () => {
    const role = aws.state.createRole(ACCOUNT, 'admin-role');
    const iam = new IAMClient(
      clientConfig(aws.url, tempCreds((await assumeRole({ RoleArn: role.arn })).Credentials)),
    );
    await expect(iam.send(new GetUserCommand({}))).rejects.toMatchObject({
      Code: 'ValidationError',
      message: 'Must specify userName when calling with non-User credentials',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(iam.send(new GetUserCommand({ UserName: aws.admin.userName }))).resolves.toMatchObject({
      User: { Arn: adminArn },
    });
  });
});
