import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  GetAccessKeyLastUsedCommand,
  GetUserCommand,
  IAMClient,
  ListUserTagsCommand,
  ListAccessKeysCommand,
  ListUsersCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-sts';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { Statement } from '../../localcloud/aws/state';
import { clientConfig, startAws, type Creds } from '../support/aws';

const ACCOUNT = '111122223333';
const DAY = 86_400_000;

let aws: AwsEmulator;
let iam: IAMClient;

beforeAll(async () => {
  aws = await startAws();
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
});
afterAll(() => aws.close());
afterEach(() => {
  aws.state.clockOffsetMs = 0;
  aws.state.propagationDelayMs = 0;
  aws.state.faults = [];
});

const stsAs = (creds: Creds, region?: string) => new STSClient(clientConfig(aws.url, creds, region));
const whoAmI = (creds: Creds) => stsAs(creds).send(new GetCallerIdentityCommand({}));

function seedUser(name: string, permissions?: Statement[]) {
  const user = aws.state.createUser(ACCOUNT, name, permissions ? { permissions } : {});
  const key = aws.state.createAccessKey(user, { established: true });
  const creds: Creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  return { user, creds, iam: new IAMClient(clientConfig(aws.url, creds)) };
}

const admin = (path: string, method = 'GET', body?: unknown) =>
  fetch(`${aws.url}/_localcloud/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const invalidToken = {
  Code: 'InvalidClientTokenId',
  message: 'The security token included in the request is invalid.',
  $metadata: { httpStatusCode: 403 },
};

/** Polls GetCallerIdentity until the key authenticates; every refusal on the way must be InvalidClientTokenId. */
async function waitUntilAccepted(creds: Creds) {
  const deadline = Date.now() + 10_000;
  for (let refusals = 0; ; refusals++) {
    try {
      return { identity: await whoAmI(creds), refusals };
    } catch (err) {
      expect(err).toMatchObject(invalidToken);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('SigV4 authentication', () => {
  it('refuses a request signed with the wrong secret', async () => {
    const wrong = {
      accessKeyId: aws.admin.accessKeyId,
      secretAccessKey: 'synthetic-wrong-secret-000000000000000000',
    };
    const expected = {
      Code: 'SignatureDoesNotMatch',
      message: expect.stringContaining('The request signature we calculated does not match') as unknown,
      $metadata: { httpStatusCode: 403 },
    };
    await expect(whoAmI(wrong)).rejects.toMatchObject(expected);
    await expect(
      new IAMClient(clientConfig(aws.url, wrong)).send(new ListUsersCommand({})),
    ).rejects.toMatchObject(expected);
  });

  it('refuses a request whose body was changed after it was signed', async () => {
    const sts = stsAs(aws.admin);
    // After the SDK signed the request: the same body with one character changed (same length).
    const tamper: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next) => (args) => {
      const request = args.request as { body?: unknown };
      if (typeof request.body === 'string') request.body = request.body.replace('2011-06-15', '2011-06-16');
      return next(args);
    };
    sts.middlewareStack.addRelativeTo(tamper, { relation: 'after', toMiddleware: 'httpSigningMiddleware' });
    await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      Code: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    expect((await whoAmI(aws.admin)).Account).toBe(ACCOUNT);
  });

  it('refuses an unknown key', async () => {
    const unknown = {
      accessKeyId: 'AKIAUNKNOWNEXAMPLE00',
      secretAccessKey: 'synthetic-secret-00000000000000000000000',
    };
    await expect(whoAmI(unknown)).rejects.toMatchObject(invalidToken);
  });

  it('refuses an unsigned request', async () => {
    const res = await fetch(aws.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>MissingAuthenticationToken</Code>');
  });

  it('refuses a new key until it has propagated, and again once deactivated or deleted', async () => {
    const config = await admin('config', 'POST', { propagationDelayMs: 500 });
    expect(await config.json()).toEqual({ propagationDelayMs: 500, trailDelayMs: 0 });
    await iam.send(new CreateUserCommand({ UserName: 'fresh' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'fresh' }));
    const creds = { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    const id = { AccessKeyId: creds.accessKeyId, UserName: 'fresh' };

    const first = await waitUntilAccepted(creds);
    expect(first.refusals).toBeGreaterThan(0);
    expect(first.identity.Arn).toBe(`arn:aws:iam::${ACCOUNT}:user/fresh`);

    await iam.send(new UpdateAccessKeyCommand({ ...id, Status: 'Inactive' }));
    await expect(whoAmI(creds)).rejects.toMatchObject(invalidToken);

    // Reactivation propagates like a new key.
    await iam.send(new UpdateAccessKeyCommand({ ...id, Status: 'Active' }));
    const again = await waitUntilAccepted(creds);
    expect(again.refusals).toBeGreaterThan(0);

    await iam.send(new DeleteAccessKeyCommand(id));
    await expect(whoAmI(creds)).rejects.toMatchObject(invalidToken);
  });

  it('records a use only once the key authenticates', async () => {
    aws.state.propagationDelayMs = 60_000;
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'fresh' }));
    const creds = { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    await expect(whoAmI(creds)).rejects.toMatchObject(invalidToken);
    const { AccessKeyLastUsed } = await iam.send(
      new GetAccessKeyLastUsedCommand({ AccessKeyId: creds.accessKeyId }),
    );
    expect(AccessKeyLastUsed?.ServiceName).toBe('N/A');
  });
});

describe('authorization', () => {
  it('refuses an action the caller has no permission for', async () => {
    const limited = seedUser('limited', [{ effect: 'Allow', actions: ['iam:List*'] }]);
    await expect(limited.iam.send(new ListUsersCommand({}))).resolves.toHaveProperty('Users');
    for (const [action, call] of [
      ['iam:GetUser', limited.iam.send(new GetUserCommand({}))],
      ['iam:CreateAccessKey', limited.iam.send(new CreateAccessKeyCommand({}))],
    ] as const)
      await expect(call).rejects.toMatchObject({
        Code: 'AccessDenied',
        message: expect.stringContaining(
          `User: ${limited.user.arn} is not authorized to perform: ${action}`,
        ) as unknown,
        $metadata: { httpStatusCode: 403 },
      });
    expect(aws.state.keysOf(ACCOUNT, 'limited')).toHaveLength(1);
  });

  it('lets an explicit Deny override an Allow', async () => {
    const denied = seedUser('denied', [
      { effect: 'Allow', actions: ['iam:*'] },
      { effect: 'Deny', actions: ['iam:ListUsers'] },
    ]);
    await expect(denied.iam.send(new ListAccessKeysCommand({}))).resolves.toHaveProperty('AccessKeyMetadata');
    await expect(denied.iam.send(new ListUsersCommand({}))).rejects.toMatchObject({ Code: 'AccessDenied' });
  });
});

describe('temporary credentials', () => {
  it('are accepted until they expire on the emulated clock', async () => {
    const role = aws.state.createRole(ACCOUNT, 'short-lived');
    const { Credentials } = await stsAs(aws.admin).send(
      new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 'short', DurationSeconds: 900 }),
    );
    const creds = {
      accessKeyId: Credentials!.AccessKeyId!,
      secretAccessKey: Credentials!.SecretAccessKey!,
      sessionToken: Credentials!.SessionToken!,
    };
    const asRole = new IAMClient(clientConfig(aws.url, creds));
    await expect(whoAmI(creds)).resolves.toMatchObject({
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/short-lived/short`,
    });

    await expect(whoAmI({ ...creds, sessionToken: 'synthetic-wrong-token' })).rejects.toMatchObject(
      invalidToken,
    );
    await expect(whoAmI({ ...creds, sessionToken: undefined })).rejects.toMatchObject(invalidToken);

    aws.state.clockOffsetMs = 890_000;
    await expect(asRole.send(new ListUsersCommand({}))).resolves.toHaveProperty('Users');
    aws.state.clockOffsetMs = 901_000;
    const expired = {
      Code: 'ExpiredToken',
      message: 'The security token included in the request is expired',
      $metadata: { httpStatusCode: 403 },
    };
    await expect(whoAmI(creds)).rejects.toMatchObject(expired);
    await expect(asRole.send(new ListUsersCommand({}))).rejects.toMatchObject(expired);
  });
});

describe('fault injection', () => {
  it('fails the next N calls of an action with Throttling, then lets calls through', async () => {
    const res = await admin('faults', 'POST', {
      action: 'iam:ListUsers',
      count: 2,
      error: { code: 'Throttling' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      action: 'iam:ListUsers',
      remaining: 2,
      id: expect.any(String) as unknown,
    });

    const throttled = { Code: 'Throttling', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } };
    await expect(iam.send(new ListUsersCommand({}))).rejects.toMatchObject(throttled);
    // Other actions are unaffected, and a request that fails authentication consumes no fault.
    await expect(iam.send(new GetUserCommand({}))).resolves.toHaveProperty('User');
    const stranger = new IAMClient(
      clientConfig(aws.url, {
        accessKeyId: 'AKIAUNKNOWNEXAMPLE00',
        secretAccessKey: 'synthetic-secret-0000000000000',
      }),
    );
    await expect(stranger.send(new ListUsersCommand({}))).rejects.toMatchObject(invalidToken);
    await expect(iam.send(new ListUsersCommand({}))).rejects.toMatchObject(throttled);
    await expect(iam.send(new ListUsersCommand({}))).resolves.toHaveProperty('Users');
    expect(aws.state.faults).toEqual([]);
  });

  it('matches wildcards, takes custom errors from state, and is cleared by DELETE', async () => {
    aws.state.faults.push({
      id: 'sts-down',
      action: 'sts:*',
      remaining: 5,
      error: { code: 'ServiceUnavailable', message: 'synthetic outage', status: 503 },
    });
    await expect(whoAmI(aws.admin)).rejects.toMatchObject({
      Code: 'ServiceUnavailable',
      message: 'synthetic outage',
      $fault: 'server',
      $metadata: { httpStatusCode: 503 },
    });
    expect(aws.state.faults[0]?.remaining).toBe(4);
    expect(await (await admin('faults', 'DELETE')).json()).toEqual({ faults: [] });
    await expect(whoAmI(aws.admin)).resolves.toHaveProperty('Arn');
  });

  it('refuses a fault without an error or latency', async () => {
    const res = await admin('faults', 'POST', { action: 'iam:ListUsers' });
    expect(res.status).toBe(400);
    expect(aws.state.faults).toEqual([]);
  });
});

describe('admin routes', () => {
  it('seed users with established keys, backdated ages and last use, and roles', async () => {
    const res = await admin('seed', 'POST', {
      users: [
        {
          userName: 'seeded',
          path: '/jenkins/',
          keys: [
            {
              accessKeyId: 'AKIASEEDEXAMPLE00001',
              secretAccessKey: 'synthetic-secret-seeded-0000000000000000',
              ageDays: 100,
              lastUsedDaysAgo: 3,
              lastUsedRegion: 'eu-central-1',
            },
            { status: 'Inactive', ageDays: 1 },
          ],
        },
      ],
      roles: [
        { roleName: 'seeded-role', trustedPrincipals: [`arn:aws:iam::${ACCOUNT}:user/jenkins/seeded`] },
      ],
    });
    expect(res.status).toBe(200);
    const seeded = (await res.json()) as {
      users: { arn: string; keys: { accessKeyId: string; status: string }[] }[];
    };
    expect(seeded.users[0]?.arn).toBe(`arn:aws:iam::${ACCOUNT}:user/jenkins/seeded`);
    expect(seeded.users[0]?.keys.map((k) => k.status)).toEqual(['Active', 'Inactive']);

    const { AccessKeyMetadata } = await iam.send(new ListAccessKeysCommand({ UserName: 'seeded' }));
    const ages = AccessKeyMetadata!.map((k) => Math.round((aws.state.now() - k.CreateDate!.getTime()) / DAY));
    expect(ages).toEqual([100, 1]);
    const lastUsed = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: 'AKIASEEDEXAMPLE00001' }));
    expect(lastUsed.AccessKeyLastUsed).toMatchObject({ ServiceName: 'ecr', Region: 'eu-central-1' });

    const creds = {
      accessKeyId: 'AKIASEEDEXAMPLE00001',
      secretAccessKey: 'synthetic-secret-seeded-0000000000000000',
    };
    aws.state.propagationDelayMs = 60_000; // seeded keys are established: no propagation wait
    await expect(whoAmI(creds)).resolves.toMatchObject({
      Arn: `arn:aws:iam::${ACCOUNT}:user/jenkins/seeded`,
    });
    const role = await stsAs(creds).send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/seeded-role`,
        RoleSessionName: 'seeded',
      }),
    );
    expect(role.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/seeded-role/seeded`);
  });

  it('seed rejects malformed input', async () => {
    const res = await admin('seed', 'POST', {
      users: [{ userName: 'bad', keys: [{ accessKeyId: 'not-a-key' }] }],
    });
    expect(res.status).toBe(400);
    expect(aws.state.account(ACCOUNT).users.has('bad')).toBe(false);
  });

  it('clock moves the emulated time that IAM stamps, without breaking signatures', async () => {
    const res = await admin('clock', 'POST', { advanceDays: 30 });
    expect(((await res.json()) as { offsetMs: number }).offsetMs).toBe(30 * DAY);
    const got = (await (await admin('clock')).json()) as { now: string; offsetMs: number };
    expect(got.offsetMs).toBe(30 * DAY);
    expect(Date.parse(got.now) - Date.now()).toBeGreaterThan(29 * DAY);

    await iam.send(new CreateUserCommand({ UserName: 'future' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'future' }));
    expect(AccessKey!.CreateDate!.getTime() - Date.now()).toBeGreaterThan(29 * DAY);
  });

  it('state shows users, keys, roles and sessions', async () => {
    const role = aws.state.createRole(ACCOUNT, 'visible-role');
    await stsAs(aws.admin).send(new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 'visible' }));
    const state = (await (await admin('state')).json()) as {
      accounts: {
        accountId: string;
        users: { userName: string; keys: unknown[] }[];
        roles: { roleName: string }[];
      }[];
      sessions: { sessionName: string }[];
    };
    const acct = state.accounts.find((a) => a.accountId === ACCOUNT);
    expect(acct?.users.find((u) => u.userName === aws.admin.userName)?.keys).toHaveLength(1);
    expect(acct?.roles.map((r) => r.roleName)).toContain('visible-role');
    expect(state.sessions.map((s) => s.sessionName)).toContain('visible');
  });

  it('answers 404 for an unknown route', async () => {
    expect((await admin('nowhere')).status).toBe(404);
  });
});

/** The Query protocol's XML (IAM, STS, SNS) as the SDK reads it: escaping, lists, dates, errors. */
describe('Query-protocol XML answers', () => {
  it('carries markup characters in values, lists as members and dates to the second', async () => {
    const value = `a<b>&c "quoted" 'single' ]]>`;
    await iam.send(
      new CreateUserCommand({
        UserName: 'xml-escaping',
        Tags: [
          { Key: 'markup', Value: value },
          { Key: 'empty', Value: '' },
        ],
      }),
    );
    const tags = await iam.send(new ListUserTagsCommand({ UserName: 'xml-escaping' }));
    expect(tags.Tags).toEqual([
      { Key: 'markup', Value: value },
      { Key: 'empty', Value: '' },
    ]);
    const res = await fetch(aws.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetUser&Version=2010-05-08',
    });
    // Unsigned: refused, in the Query error shape with the IAM namespace.
    expect(await res.text()).toMatch(
      /^<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/,
    );
    const user = await iam.send(new GetUserCommand({ UserName: 'xml-escaping' }));
    expect(user.User?.CreateDate?.getMilliseconds()).toBe(0);
  });

  it('escapes markup in error messages', async () => {
    const err = (await iam
      .send(new GetUserCommand({ UserName: 'no<such>&user' }))
      .catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('ValidationError');
    expect(err.message).toContain("Value 'no<such>&user' at 'userName' failed to satisfy constraint");
  });
});
