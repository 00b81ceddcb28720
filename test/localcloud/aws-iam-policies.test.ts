import {
  CreateAccessKeyCommand,
  DeleteUserPolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  paginateListUserPolicies,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import type { ECRClient } from '@aws-sdk/client-ecr';
import { DescribeRepositoriesCommand, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { Statement } from '../../localcloud/aws/state';
import { clientConfig, startAws } from '../support/aws';
import { ALLOW_ECR_LOGIN, DENY_ECR, policyDoc, userClients } from './users';

const ACCOUNT = '111122223333';

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

const putPolicy = (UserName: string, PolicyName: string, PolicyDocument: string, client = iam) =>
  client.send(new PutUserPolicyCommand({ UserName, PolicyName, PolicyDocument }));

const deletePolicy = (UserName: string, PolicyName: string) =>
  iam.send(new DeleteUserPolicyCommand({ UserName, PolicyName }));

/** Gets an ECR token and shows the registry accepts it. */
async function ecrLogin(ecr: ECRClient): Promise<number> {
  const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
  const data = authorizationData?.[0];
  const res = await fetch(`${data?.proxyEndpoint}/v2/`, {
    headers: { authorization: `Basic ${data?.authorizationToken}` },
  });
  return res.status;
}

const iamDenied = (arn: string, action: string, resource = '*') => ({
  Code: 'AccessDenied',
  name: 'AccessDenied',
  message: `User: ${arn} is not authorized to perform: ${action} on resource: ${resource}`,
  $metadata: { httpStatusCode: 403 },
});

const ecrDenied = (arn: string, action: string) => ({
  name: 'AccessDeniedException',
  message: `User: ${arn} is not authorized to perform: ${action} on resource: *`,
  $metadata: { httpStatusCode: 400 },
});

describe('inline user policies: effect on real calls', () => {
  it('a policy allowing only ECR login lets the key log in to the registry and do nothing else', async () => {
    const u = seedUser('ecr-only');
    // No inline policy yet: the user keeps its seeded permissions (none given: an administrator).
    await expect(u.iam.send(new ListUsersCommand({}))).resolves.toMatchObject({ IsTruncated: false });

    await putPolicy('ecr-only', 'ecr-login', ALLOW_ECR_LOGIN);
    expect(await ecrLogin(u.ecr)).toBe(200);
    await expect(u.iam.send(new ListUsersCommand({}))).rejects.toMatchObject(
      iamDenied(u.user.arn, 'iam:ListUsers'),
    );
    await expect(u.ecr.send(new DescribeRepositoriesCommand({}))).rejects.toMatchObject(
      ecrDenied(u.user.arn, 'ecr:DescribeRepositories'),
    );
    // The policy cannot be widened by its own holder.
    await expect(
      putPolicy('ecr-only', 'escalate', doc({ Effect: 'Allow', Action: '*', Resource: '*' }), u.iam),
    ).rejects.toMatchObject(iamDenied(u.user.arn, 'iam:PutUserPolicy'));
    // GetCallerIdentity needs no permission, as in AWS.
    const me = await u.sts.send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(u.user.arn);
  });

  it('a Deny policy wins over an Allow; deleting it gives the access back, deleting the last one restores the seeded permissions', async () => {
    const u = seedUser('deny-then-allow');
    await putPolicy('deny-then-allow', 'allow-ecr', ALLOW_ECR_LOGIN);
    await putPolicy('deny-then-allow', 'deny-ecr', DENY_ECR);
    await expect(u.ecr.send(new GetAuthorizationTokenCommand({}))).rejects.toMatchObject(
      ecrDenied(u.user.arn, 'ecr:GetAuthorizationToken'),
    );

    await deletePolicy('deny-then-allow', 'deny-ecr');
    expect(await ecrLogin(u.ecr)).toBe(200);
    await expect(u.iam.send(new ListUsersCommand({}))).rejects.toMatchObject(
      iamDenied(u.user.arn, 'iam:ListUsers'),
    );

    await deletePolicy('deny-then-allow', 'allow-ecr');
    // Back to the seeded permissions: undefined, an administrator.
    expect(u.user.permissions).toBeUndefined();
    await expect(u.iam.send(new ListUsersCommand({}))).resolves.toMatchObject({ IsTruncated: false });
    await expect(u.ecr.send(new DescribeRepositoriesCommand({}))).resolves.toMatchObject({
      repositories: [],
    });
  });

  it('a restricted seeded user has exactly its policies while it has any, and its seeded permissions after', async () => {
    const seeded: Statement[] = [{ effect: 'Allow', actions: ['iam:ListUsers'] }];
    const u = seedUser('seeded-restricted', { permissions: seeded });
    await expect(u.ecr.send(new GetAuthorizationTokenCommand({}))).rejects.toMatchObject(
      ecrDenied(u.user.arn, 'ecr:GetAuthorizationToken'),
    );

    await putPolicy('seeded-restricted', 'ecr-login', ALLOW_ECR_LOGIN);
    expect(await ecrLogin(u.ecr)).toBe(200);
    // The seeded Allow no longer applies: the union of the policies is all there is.
    await expect(u.iam.send(new ListUsersCommand({}))).rejects.toMatchObject(
      iamDenied(u.user.arn, 'iam:ListUsers'),
    );

    await deletePolicy('seeded-restricted', 'ecr-login');
    expect(u.user.permissions).toEqual(seeded);
    await expect(u.iam.send(new ListUsersCommand({}))).resolves.toMatchObject({ IsTruncated: false });
    await expect(u.ecr.send(new GetAuthorizationTokenCommand({}))).rejects.toMatchObject(
      ecrDenied(u.user.arn, 'ecr:GetAuthorizationToken'),
    );
  });

  it('the statements of all policies add up, with Action and Resource as lists and ARN wildcards', async () => {
    const u = seedUser('ci-rotator');
    const ciUser = aws.state.createUser(ACCOUNT, 'ci-agent', { path: '/ci/' });
    const outsider = aws.state.createUser(ACCOUNT, 'not-ci');
    await putPolicy(
      'ci-rotator',
      'keys',
      JSON.stringify({
        Version: '2012-10-17',
        Id: 'ci-keys',
        Statement: [
          {
            Sid: 'CiKeys',
            Effect: 'Allow',
            Action: ['iam:CreateAccessKey', 'IAM:listaccesskeys'],
            Resource: [`arn:aws:iam::${ACCOUNT}:user/ci/*`, `arn:aws:iam::${ACCOUNT}:user/nowhere`],
          },
        ],
      }),
    );
    await putPolicy('ci-rotator', 'list', doc({ Effect: 'Allow', Action: ['iam:ListUsers'], Resource: '*' }));

    const { AccessKey } = await u.iam.send(new CreateAccessKeyCommand({ UserName: 'ci-agent' }));
    expect(AccessKey?.UserName).toBe('ci-agent');
    const listed = await u.iam.send(new ListAccessKeysCommand({ UserName: 'ci-agent' }));
    expect(listed.AccessKeyMetadata?.map((k) => k.AccessKeyId)).toEqual([AccessKey?.AccessKeyId]);
    await expect(u.iam.send(new CreateAccessKeyCommand({ UserName: 'not-ci' }))).rejects.toMatchObject(
      iamDenied(u.user.arn, 'iam:CreateAccessKey', outsider.arn),
    );
    expect(aws.state.keysOf(ACCOUNT, 'not-ci')).toEqual([]);
    await expect(u.iam.send(new ListUsersCommand({ PathPrefix: '/ci/' }))).resolves.toMatchObject({
      Users: [{ UserName: ciUser.userName }],
    });
  });
});

describe('inline user policies: the API', () => {
  it('GetUserPolicy answers the document URL-encoded exactly as it was put; a second put replaces it', async () => {
    seedUser('round-trip');
    const original = `{
  "Version": "2012-10-17",
  "Statement": {
    "Sid": "Login & list: 100%",
    "Effect": "Allow",
    "Action": ["ecr:GetAuthorizationToken", "iam:List*"],
    "Resource": "*"
  }
}`;
    await putPolicy('round-trip', 'doc', original);
    const got = await iam.send(new GetUserPolicyCommand({ UserName: 'round-trip', PolicyName: 'doc' }));
    expect(got).toMatchObject({ UserName: 'round-trip', PolicyName: 'doc' });
    expect(got.PolicyDocument).toBe(encodeURIComponent(original));
    expect(got.PolicyDocument).not.toContain('{');
    expect(decodeURIComponent(got.PolicyDocument!)).toBe(original);

    await putPolicy('round-trip', 'doc', DENY_ECR);
    const replaced = await iam.send(new GetUserPolicyCommand({ UserName: 'round-trip', PolicyName: 'doc' }));
    expect(decodeURIComponent(replaced.PolicyDocument!)).toBe(DENY_ECR);
    const { PolicyNames } = await iam.send(new ListUserPoliciesCommand({ UserName: 'round-trip' }));
    expect(PolicyNames).toEqual(['doc']);
  });

  it('ListUserPolicies lists names in order and pages with MaxItems and Marker', async () => {
    seedUser('many-policies');
    const names = ['p-e', 'p-a', 'p-d', 'p-b', 'p-c'];
    for (const name of names) await putPolicy('many-policies', name, ALLOW_ECR_LOGIN);
    const pages = [];
    let marker: string | undefined;
    do {
      const page = await iam.send(
        new ListUserPoliciesCommand({ UserName: 'many-policies', MaxItems: 2, Marker: marker }),
      );
      pages.push(page);
      marker = page.Marker;
    } while (marker);
    expect(pages.map((p) => p.PolicyNames)).toEqual([['p-a', 'p-b'], ['p-c', 'p-d'], ['p-e']]);
    expect(pages.map((p) => p.IsTruncated)).toEqual([true, true, false]);

    const viaPaginator: string[] = [];
    for await (const page of paginateListUserPolicies(
      { client: iam, pageSize: 3 },
      { UserName: 'many-policies' },
    ))
      viaPaginator.push(...(page.PolicyNames ?? []));
    expect(viaPaginator).toEqual([...names].sort());

    seedUser('no-policies');
    const none = await iam.send(new ListUserPoliciesCommand({ UserName: 'no-policies' }));
    expect(none).toMatchObject({ PolicyNames: [], IsTruncated: false });
    expect(none.Marker).toBeUndefined();
    await expect(
      iam.send(new ListUserPoliciesCommand({ UserName: 'many-policies', MaxItems: 0 })),
    ).rejects.toMatchObject({
      Code: 'ValidationError',
      message: expect.stringContaining("'maxItems'") as unknown,
    });
  });

  it('an unknown user or policy is NoSuchEntity', async () => {
    seedUser('has-one');
    await putPolicy('has-one', 'present', ALLOW_ECR_LOGIN);
    const noUser = {
      Code: 'NoSuchEntity',
      name: 'NoSuchEntityException',
      message: 'The user with name ghost cannot be found.',
      $metadata: { httpStatusCode: 404 },
    };
    await expect(putPolicy('ghost', 'p', ALLOW_ECR_LOGIN)).rejects.toMatchObject(noUser);
    await expect(
      iam.send(new GetUserPolicyCommand({ UserName: 'ghost', PolicyName: 'p' })),
    ).rejects.toMatchObject(noUser);
    await expect(iam.send(new ListUserPoliciesCommand({ UserName: 'ghost' }))).rejects.toMatchObject(noUser);
    await expect(deletePolicy('ghost', 'p')).rejects.toMatchObject(noUser);

    const noPolicy = {
      Code: 'NoSuchEntity',
      name: 'NoSuchEntityException',
      message: 'The user policy with name absent cannot be found.',
      $metadata: { httpStatusCode: 404 },
    };
    await expect(
      iam.send(new GetUserPolicyCommand({ UserName: 'has-one', PolicyName: 'absent' })),
    ).rejects.toMatchObject(noPolicy);
    await expect(deletePolicy('has-one', 'absent')).rejects.toMatchObject(noPolicy);

    await deletePolicy('has-one', 'present');
    await expect(deletePolicy('has-one', 'present')).rejects.toMatchObject({
      Code: 'NoSuchEntity',
      message: 'The user policy with name present cannot be found.',
    });
  });

  it('PutUserPolicy refuses malformed documents, and says so for what the emulator does not evaluate', async () => {
    const u = seedUser('malformed');
    const arn = `arn:aws:iam::${ACCOUNT}:user/x`;
    const cases: [string, string | RegExp][] = [
      ['{"Version": "2012-10-17", "Statement": [', 'Syntax errors in policy.'],
      ['[]', 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17' }), 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17', Statement: [] }), 'Syntax errors in policy.'],
      [doc({ Effect: 'Allow', Action: '*', Resource: '*', Extra: 1 }), 'Syntax errors in policy.'],
      [doc({ Effect: 'Allow', Action: [], Resource: '*' }), 'Syntax errors in policy.'],
      [
        JSON.stringify({ Version: '2020-01-01', Statement: { Effect: 'Allow', Action: '*', Resource: '*' } }),
        'The policy must contain a valid version string',
      ],
      [doc({ Action: '*', Resource: '*' }), 'Missing required field Effect.'],
      [doc({ Effect: 'allow', Action: '*', Resource: '*' }), /^Invalid effect: "allow"/],
      [doc({ Effect: 'Allow', Resource: '*' }), 'Policy statement must contain actions.'],
      [doc({ Effect: 'Allow', Action: '*' }), 'Policy statement must contain resources.'],
      [
        doc({ Effect: 'Allow', Action: 'GetUser', Resource: '*' }),
        'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
      ],
      [
        doc({ Effect: 'Allow', Action: 'iam:*', Resource: 'user/x' }),
        'Resource user/x must be in ARN format or "*".',
      ],
      [
        doc({ Effect: 'Allow', Action: 'iam:*', Resource: arn, Principal: '*' }),
        'Policy document should not specify a principal.',
      ],
      [
        doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }),
        /^NotAction is not supported by the localcloud emulator/,
      ],
      [
        doc({ Effect: 'Allow', Action: 'iam:*', NotResource: arn }),
        /^NotResource is not supported by the localcloud emulator/,
      ],
      [
        doc({
          Effect: 'Allow',
          Action: 'iam:*',
          Resource: '*',
          Condition: { Bool: { 'aws:SecureTransport': 'true' } },
        }),
        /^Condition is not supported by the localcloud emulator, which does not evaluate it/,
      ],
      [doc({ Effect: 'Allow', Action: 'iam:Get?ser', Resource: '*' }), /evaluates \* wildcards only, not \?/],
    ];
    for (const [document, message] of cases)
      await expect(putPolicy('malformed', 'p', document), document).rejects.toMatchObject({
        Code: 'MalformedPolicyDocument',
        name: 'MalformedPolicyDocumentException',
        message,
        $metadata: { httpStatusCode: 400 },
      });
    // Nothing was stored and nothing changed: still an administrator.
    expect(u.user.inlinePolicies.size).toBe(0);
    await expect(u.iam.send(new ListUsersCommand({}))).resolves.toMatchObject({ IsTruncated: false });
  });

  it('PutUserPolicy validates PolicyName and keeps to the 2048-character quota per user', async () => {
    seedUser('quota');
    for (const [name, text] of [
      ['has space', "Value 'has space' at 'policyName'"],
      ['x'.repeat(129), 'length less than or equal to 128'],
    ] as const)
      await expect(putPolicy('quota', name, ALLOW_ECR_LOGIN)).rejects.toMatchObject({
        Code: 'ValidationError',
        message: expect.stringContaining(text) as unknown,
        $metadata: { httpStatusCode: 400 },
      });

    const actions = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => `iam:${prefix}${i}Action`);
    const big = doc({ Effect: 'Allow', Action: actions(60, 'Big'), Resource: '*' });
    expect(big.length).toBeGreaterThan(1024);
    expect(big.length).toBeLessThan(2048);
    await putPolicy('quota', 'first', big);
    const quotaError = {
      Code: 'LimitExceeded',
      name: 'LimitExceededException',
      message: 'Maximum policy size of 2048 bytes exceeded for user quota',
      $metadata: { httpStatusCode: 409 },
    };
    await expect(putPolicy('quota', 'second', big)).rejects.toMatchObject(quotaError);
    // Replacing a policy counts its new size, not both.
    await putPolicy('quota', 'first', doc({ Effect: 'Allow', Action: actions(61, 'Big'), Resource: '*' }));
    // Whitespace does not count.
    const padded = ALLOW_ECR_LOGIN.replace(/,/g, `,\n${' '.repeat(1500)}\t`);
    expect(padded.length).toBeGreaterThan(2048);
    await expect(putPolicy('quota', 'second', padded)).resolves.toBeDefined();
    const { PolicyNames } = await iam.send(new ListUserPoliciesCommand({ UserName: 'quota' }));
    expect(PolicyNames).toEqual(['first', 'second']);
  });

  it("each action is authorized on the target user's ARN", async () => {
    const admin = seedUser('policy-admin', {
      permissions: [
        {
          effect: 'Allow',
          actions: ['iam:PutUserPolicy', 'iam:ListUserPolicies'],
          resources: [`arn:aws:iam::${ACCOUNT}:user/team/*`],
        },
      ],
    });
    const member = aws.state.createUser(ACCOUNT, 'member', { path: '/team/' });
    const stranger = aws.state.createUser(ACCOUNT, 'stranger');
    await putPolicy('member', 'ecr', ALLOW_ECR_LOGIN, admin.iam);
    await expect(admin.iam.send(new ListUserPoliciesCommand({ UserName: 'member' }))).resolves.toMatchObject({
      PolicyNames: ['ecr'],
    });
    await expect(putPolicy('stranger', 'ecr', ALLOW_ECR_LOGIN, admin.iam)).rejects.toMatchObject(
      iamDenied(admin.user.arn, 'iam:PutUserPolicy', stranger.arn),
    );
    expect(stranger.inlinePolicies.size).toBe(0);
    // A user that does not exist is not revealed to a caller that may not act on it.
    await expect(putPolicy('nobody', 'ecr', ALLOW_ECR_LOGIN, admin.iam)).rejects.toMatchObject(
      iamDenied(admin.user.arn, 'iam:PutUserPolicy', `arn:aws:iam::${ACCOUNT}:user/nobody`),
    );
    // Actions not granted on any resource are refused before the target is looked at (resource `*`).
    await expect(
      admin.iam.send(new GetUserPolicyCommand({ UserName: 'member', PolicyName: 'ecr' })),
    ).rejects.toMatchObject(iamDenied(admin.user.arn, 'iam:GetUserPolicy'));
    await expect(
      admin.iam.send(new DeleteUserPolicyCommand({ UserName: 'member', PolicyName: 'ecr' })),
    ).rejects.toMatchObject(iamDenied(admin.user.arn, 'iam:DeleteUserPolicy'));
    expect([...member.inlinePolicies.keys()]).toEqual(['ecr']);
  });
});

describe('policy variables and wildcards in Resource', () => {
  it("${aws:username} lets a user manage its own keys and nobody else's", async () => {
    const self = seedUser('self-rotator', { path: '/jenkins/' });
    seedUser('someone-else', { path: '/jenkins/' });
    await putPolicy(
      'self-rotator',
      'own-keys',
      doc({
        Effect: 'Allow',
        Action: ['iam:ListAccessKeys', 'iam:CreateAccessKey'],
        Resource: 'arn:aws:iam::*:user/jenkins/${aws:username}',
      }),
    );
    const own = await self.iam.send(new ListAccessKeysCommand({ UserName: 'self-rotator' }));
    expect(own.AccessKeyMetadata).toHaveLength(1);
    await expect(
      self.iam.send(new ListAccessKeysCommand({ UserName: 'someone-else' })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('user/jenkins/someone-else') as string,
    });
  });

  it('? matches exactly one character (a secret ARN ends in -??????)', async () => {
    const admin = new SecretsManagerClient(clientConfig(aws.url, aws.admin));
    await admin.send(new CreateSecretCommand({ Name: 'own/key', SecretString: 'x' }));
    await admin.send(new CreateSecretCommand({ Name: 'own/key-and-more', SecretString: 'y' }));
    const reader = aws.state.createUser(ACCOUNT, 'secret-reader', {
      permissions: [
        {
          effect: 'Allow',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [`arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:own/key-??????`],
        },
      ],
    });
    const key = aws.state.createAccessKey(reader, { established: true });
    const sm = new SecretsManagerClient(clientConfig(aws.url, key));
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'own/key' }))).resolves.toMatchObject({
      SecretString: 'x',
    });
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'own/key-and-more' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    admin.destroy();
    sm.destroy();
  });
});
