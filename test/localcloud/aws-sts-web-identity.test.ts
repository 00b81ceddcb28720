import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
  type AssumeRoleWithWebIdentityCommandInput,
  type Credentials,
} from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws, type Creds } from '../support/aws';
import { makeTestPki } from '../support/tls';
import { pushImage } from './images';
import { rsaKey, signJwt, startIssuer, unreachableUrl, type TestIssuer } from './oidc-issuer';
import { policyDoc } from './users';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOUR = 3_600_000;

let aws: AwsEmulator;
let issuer: TestIssuer;
let iam: IAMClient;
/** An STS client without credentials: AssumeRoleWithWebIdentity goes unsigned, as the SDK sends it. */
let anonymous: STSClient;
let providerArn: string;
/** The provider's condition-key prefix: `127.0.0.1:PORT/oidc`. */
let key: string;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

const trustFor = (arn: string, condition: Record<string, unknown>) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: arn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: condition,
      },
    ],
  });

async function createRole(name: string, trust: string, policy?: string) {
  await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }));
  if (policy)
    await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'push', PolicyDocument: policy }));
}

/** Registers `url` as an OIDC provider and creates a role trusting any of its tokens; the provider's ARN. */
async function trustedIssuer(url: string, roleName: string): Promise<string> {
  const { OpenIDConnectProviderArn: arn } = await iam.send(
    new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: ['sts.amazonaws.com'] }),
  );
  await createRole(roleName, trustFor(arn!, {}));
  return arn!;
}

beforeAll(async () => {
  aws = await startAws();
  issuer = await startIssuer();
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
  anonymous = new STSClient({ region: REGION, endpoint: aws.url, maxAttempts: 1 });
  const ecr = new ECRClient(clientConfig(aws.url, aws.admin));
  for (const repositoryName of ['team-a/app', 'team-b/app'])
    await ecr.send(new CreateRepositoryCommand({ repositoryName }));
  ecr.destroy();
  providerArn = (
    await iam.send(
      new CreateOpenIDConnectProviderCommand({
        Url: issuer.url,
        ClientIDList: ['sts.amazonaws.com', 'other-client'],
      }),
    )
  ).OpenIDConnectProviderArn!;
  key = issuer.url.slice('http://'.length);
  // Jobs of folder team-a, with the STS audience, may push to team-a's repository only.
  await createRole(
    'jenkins-team-a',
    trustFor(providerArn, {
      StringEquals: { [`${key}:aud`]: 'sts.amazonaws.com' },
      StringLike: { [`${key}:sub`]: 'job/team-a/*' },
    }),
    policyDoc(
      { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      {
        Effect: 'Allow',
        Action: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:InitiateLayerUpload',
          'ecr:UploadLayerPart',
          'ecr:CompleteLayerUpload',
          'ecr:PutImage',
        ],
        Resource: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team-a/app`,
      },
    ),
  );
});
afterEach(() => {
  aws.state.clockOffsetMs = 0;
  issuer.failWith = undefined;
});
afterAll(async () => {
  iam.destroy();
  anonymous.destroy();
  await issuer.close();
  await aws.close();
});

const assume = (input: Partial<AssumeRoleWithWebIdentityCommandInput>) =>
  anonymous.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: roleArn('jenkins-team-a'),
      RoleSessionName: 'jenkins-build-42',
      ...input,
    } as AssumeRoleWithWebIdentityCommandInput),
  );

/** A token of the test issuer, valid now on the emulator's clock, with these claims changed. */
const token = (extra: Record<string, unknown> = {}) =>
  signJwt(issuer.keys[0]!, issuer.claims(aws.state.now(), extra));

const creds = (c: Credentials | undefined): Creds => ({
  accessKeyId: c!.AccessKeyId!,
  secretAccessKey: c!.SecretAccessKey!,
  sessionToken: c!.SessionToken!,
});

/** An error of the Query protocol (STS, IAM): its code, message and HTTP status. */
const refused = (Code: string, message: string | RegExp, status = 400) => ({
  Code,
  message: typeof message === 'string' ? message : (expect.stringMatching(message) as unknown),
  $metadata: { httpStatusCode: status },
});

/** An error of the JSON protocol (ECR): the SDK names it by its `__type`. */
const refusedJson = (name: string, message: string) => ({
  name,
  message,
  $metadata: { httpStatusCode: 400 },
});

describe('AssumeRoleWithWebIdentity with a valid token', () => {
  it('returns temporary credentials of the role, unsigned, as STS does', async () => {
    const before = aws.state.now();
    const since = aws.state.calls.lastSeq;
    const out = await assume({ WebIdentityToken: token() });
    // The SDK sent it without a signature, and it was served as such.
    expect(aws.state.calls.since(since)).toEqual([
      expect.objectContaining({ point: 'sts:AssumeRoleWithWebIdentity', caller: null, ok: true }),
    ]);
    expect(aws.state.calls.since(since)[0]).not.toHaveProperty('accessKeyId');
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(out.Credentials?.SecretAccessKey).toHaveLength(40);
    const expires = out.Credentials!.Expiration!.getTime();
    expect(expires).toBeGreaterThanOrEqual(before + HOUR - 1000);
    expect(expires).toBeLessThanOrEqual(aws.state.now() + HOUR);
    const role = aws.state.roleByArn(roleArn('jenkins-team-a'))!;
    expect(out).toMatchObject({
      SubjectFromWebIdentityToken: 'job/team-a/deploy',
      Audience: 'sts.amazonaws.com',
      Provider: providerArn,
      AssumedRoleUser: {
        Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/jenkins-team-a/jenkins-build-42`,
        AssumedRoleId: `${role.roleId}:jenkins-build-42`,
      },
    });
    expect(providerArn).toBe(`arn:aws:iam::${ACCOUNT}:oidc-provider/${key}`);
  });

  it('gives credentials that STS, ECR and the registry accept until they expire, then ExpiredToken', async () => {
    const out = await assume({ WebIdentityToken: token() });
    const session = creds(out.Credentials);
    const sts = new STSClient(clientConfig(aws.url, session));
    const ecr = new ECRClient(clientConfig(aws.url, session));
    expect(await sts.send(new GetCallerIdentityCommand({}))).toMatchObject({
      Account: ACCOUNT,
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/jenkins-team-a/jenkins-build-42`,
    });
    const data = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
    // A token got with session credentials ends with the session (STS answers whole seconds).
    expect(Math.floor(data.expiresAt!.getTime() / 1000) * 1000).toBe(out.Credentials!.Expiration!.getTime());
    const v2 = () =>
      fetch(`${aws.url}/v2/`, { headers: { authorization: `Basic ${data.authorizationToken}` } });
    expect((await v2()).status).toBe(200);

    aws.state.clockOffsetMs = HOUR + 1000;
    await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject(
      refused('ExpiredToken', 'The security token included in the request is expired', 403),
    );
    await expect(ecr.send(new GetAuthorizationTokenCommand({}))).rejects.toMatchObject(
      refusedJson('ExpiredTokenException', 'The security token included in the request is expired'),
    );
    const late = await v2();
    expect(late.status).toBe(401);
    expect(await late.text()).toContain('Your authorization token has expired');
    sts.destroy();
    ecr.destroy();
  });

  it('answers a plain HTTP client too: a GET with the parameters in the query string', async () => {
    const query = new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: roleArn('jenkins-team-a'),
      RoleSessionName: 'curl',
      WebIdentityToken: token(),
    });
    const res = await fetch(`${aws.url}/?${query.toString()}`);
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain(
      '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
    );
    expect(xml).toMatch(/<AccessKeyId>ASIA[A-Z2-7]{16}<\/AccessKeyId>/);
    expect(xml).toContain(`<SubjectFromWebIdentityToken>job/team-a/deploy</SubjectFromWebIdentityToken>`);
    const denied = await fetch(`${aws.url}/?${query.toString().replace('curl', 'x%20y')}`);
    expect(denied.status).toBe(400);
    expect(await denied.text()).toContain('<Code>ValidationError</Code>');
  });

  it("honours the role's policy: pushes to its repository only", async () => {
    const ecr = new ECRClient(
      clientConfig(aws.url, creds((await assume({ WebIdentityToken: token() })).Credentials)),
    );
    const pushed = await pushImage(ecr, 'team-a/app', 'v1');
    expect(pushed.digest).toMatch(/^sha256:/);
    await expect(pushImage(ecr, 'team-b/app', 'v1')).rejects.toMatchObject(
      refusedJson(
        'AccessDeniedException',
        `User: arn:aws:sts::${ACCOUNT}:assumed-role/jenkins-team-a/jenkins-build-42 is not authorized to perform: ecr:BatchCheckLayerAvailability on resource: arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team-b/app`,
      ),
    );
    ecr.destroy();
  });

  it("grants DurationSeconds within the role's MaxSessionDuration, and records the role's use", async () => {
    const short = await assume({ WebIdentityToken: token(), DurationSeconds: 900 });
    expect(short.Credentials!.Expiration!.getTime()).toBeLessThanOrEqual(aws.state.now() + 900_000);
    await expect(assume({ WebIdentityToken: token(), DurationSeconds: 7200 })).rejects.toMatchObject(
      refused(
        'ValidationError',
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      ),
    );
    await iam.send(new UpdateRoleCommand({ RoleName: 'jenkins-team-a', MaxSessionDuration: 7200 }));
    const long = await assume({ WebIdentityToken: token(), DurationSeconds: 7200 });
    expect(long.Credentials!.Expiration!.getTime()).toBeGreaterThan(aws.state.now() + HOUR);
    await iam.send(new UpdateRoleCommand({ RoleName: 'jenkins-team-a', MaxSessionDuration: 3600 }));
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: 'jenkins-team-a' }));
    expect(Role?.RoleLastUsed).toMatchObject({ Region: REGION });
    expect(Role?.RoleLastUsed?.LastUsedDate).toBeInstanceOf(Date);
  });

  it('fetches the issuer keys once while they are fresh, and again for a kid it does not know', async () => {
    await assume({ WebIdentityToken: token() });
    const before = issuer.hits.get('/oidc/jwks') ?? 0;
    await assume({ WebIdentityToken: token() });
    expect(issuer.hits.get('/oidc/jwks') ?? 0).toBe(before);
    // The issuer rotates its key: a token of the new kid makes STS fetch the keys again.
    const rotated = rsaKey('key-2');
    issuer.keys.push(rotated);
    await expect(
      assume({ WebIdentityToken: signJwt(rotated, issuer.claims(aws.state.now())) }),
    ).resolves.toHaveProperty('Credentials');
    expect(issuer.hits.get('/oidc/jwks')).toBe(before + 1);
    issuer.keys.pop();
  });
});

describe('AssumeRoleWithWebIdentity refuses', () => {
  it('a subject or audience outside the trust policy: AccessDenied', async () => {
    const denied = refused('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403);
    await expect(assume({ WebIdentityToken: token({ sub: 'job/team-b/deploy' }) })).rejects.toMatchObject(
      denied,
    );
    // A client id of the provider, but not the audience the trust policy requires.
    await expect(assume({ WebIdentityToken: token({ aud: 'other-client' }) })).rejects.toMatchObject(denied);
    // A role that does not exist looks the same.
    await expect(
      assume({ WebIdentityToken: token(), RoleArn: roleArn('no-such-role') }),
    ).rejects.toMatchObject(denied);
  });

  it('a role whose trust policy names another provider or only AWS principals', async () => {
    await createRole(
      'other-provider',
      trustFor(`arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`, {}),
    );
    await expect(
      assume({ WebIdentityToken: token(), RoleArn: roleArn('other-provider') }),
    ).rejects.toMatchObject({ Code: 'AccessDenied' });
    await createRole(
      'aws-only',
      JSON.stringify({
        Statement: [{ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'sts:AssumeRole' }],
      }),
    );
    await expect(assume({ WebIdentityToken: token(), RoleArn: roleArn('aws-only') })).rejects.toMatchObject({
      Code: 'AccessDenied',
    });
  });

  it('an expired token: ExpiredTokenException, in STS words', async () => {
    const now = Math.floor(aws.state.now() / 1000);
    const expired = token({ iat: now - 7200, nbf: now - 7200, exp: now - 60 });
    await expect(assume({ WebIdentityToken: expired })).rejects.toMatchObject(
      refused(
        'ExpiredTokenException',
        `Token expired: current date/time ${now} must be before the expiration date/time ${now - 60}`,
      ),
    );
    // A valid token expires when the emulator's clock passes its exp.
    const valid = token();
    aws.state.clockOffsetMs = HOUR;
    await expect(assume({ WebIdentityToken: valid })).rejects.toMatchObject({
      Code: 'ExpiredTokenException',
    });
  });

  it('a token not valid yet or issued in the future', async () => {
    const now = Math.floor(aws.state.now() / 1000);
    await expect(assume({ WebIdentityToken: token({ nbf: now + 3000 }) })).rejects.toMatchObject(
      refused('InvalidIdentityToken', /not valid before/),
    );
    await expect(assume({ WebIdentityToken: token({ iat: now + 3000 }) })).rejects.toMatchObject(
      refused('InvalidIdentityToken', /issued in the future/),
    );
  });

  it('a token signed by another key, or with a kid the issuer does not have: InvalidIdentityToken', async () => {
    const forger = rsaKey('key-1');
    await expect(
      assume({ WebIdentityToken: signJwt(forger, issuer.claims(aws.state.now())) }),
    ).rejects.toMatchObject(
      refused('InvalidIdentityToken', 'The web identity token signature could not be verified.'),
    );
    const stranger = rsaKey('unknown-kid');
    await expect(
      assume({ WebIdentityToken: signJwt(stranger, issuer.claims(aws.state.now())) }),
    ).rejects.toMatchObject(refused('InvalidIdentityToken', /^Couldn't retrieve verification key/));
    // A tampered payload breaks the signature too.
    const [h, , s] = token().split('.');
    const forged = Buffer.from(
      JSON.stringify(issuer.claims(aws.state.now(), { sub: 'job/team-a/prod' })),
    ).toString('base64url');
    await expect(assume({ WebIdentityToken: `${h}.${forged}.${s}` })).rejects.toMatchObject({
      Code: 'InvalidIdentityToken',
    });
  });

  it('an audience that is not a client id of the provider', async () => {
    await expect(assume({ WebIdentityToken: token({ aud: 'someone-else' }) })).rejects.toMatchObject(
      refused('InvalidIdentityToken', 'Incorrect token audience'),
    );
  });

  it('an issuer that is not a provider of the role’s account', async () => {
    const other = await startIssuer();
    const foreign = signJwt(other.keys[0]!, other.claims(aws.state.now()));
    await expect(assume({ WebIdentityToken: foreign })).rejects.toMatchObject(
      refused('InvalidIdentityToken', `No OpenIDConnect provider found in your account for ${other.url}`),
    );
    expect(other.hits.size).toBe(0);
    await other.close();
  });

  it('an issuer that cannot be reached: IDPCommunicationError; one that answers no keys: InvalidIdentityToken', async () => {
    const url = await unreachableUrl();
    const arn = await trustedIssuer(url, 'unreachable');
    const claims = { ...issuer.claims(aws.state.now()), iss: url };
    await expect(
      assume({ WebIdentityToken: signJwt(issuer.keys[0]!, claims), RoleArn: roleArn('unreachable') }),
    ).rejects.toMatchObject(
      refused('IDPCommunicationError', new RegExp(`could not be reached: could not reach ${url}`)),
    );
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));

    // The test issuer down (503), then answering 404: unreachable, then no keys.
    const other = await startIssuer();
    await trustedIssuer(other.url, 'flaky-issuer');
    const flaky = () =>
      assume({
        WebIdentityToken: signJwt(other.keys[0]!, other.claims(aws.state.now())),
        RoleArn: roleArn('flaky-issuer'),
      });
    other.failWith = 503;
    await expect(flaky()).rejects.toMatchObject({ Code: 'IDPCommunicationError' });
    other.failWith = 404;
    await expect(flaky()).rejects.toMatchObject(
      refused('InvalidIdentityToken', /^Couldn't retrieve verification key/),
    );
    other.failWith = undefined;
    await expect(flaky()).resolves.toHaveProperty('Credentials');
    await other.close();
  });

  it('an https issuer whose certificate the emulator does not trust, until its CA is trusted', async () => {
    const pki = makeTestPki();
    const secure = await startIssuer([rsaKey('tls-key')], pki.good);
    expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/oidc$/);
    await trustedIssuer(secure.url, 'https-issuer');
    const attempt = () =>
      assume({
        WebIdentityToken: signJwt(secure.keys[0]!, secure.claims(aws.state.now())),
        RoleArn: roleArn('https-issuer'),
      });
    await expect(attempt()).rejects.toMatchObject(refused('IDPCommunicationError', /could not reach https:/));
    aws.state.trustedCaPem.push(pki.ca.cert);
    try {
      await expect(attempt()).resolves.toHaveProperty('Credentials');
    } finally {
      aws.state.trustedCaPem.pop();
      await secure.close();
    }
  });

  it('what is not a JWT, and parameters STS would refuse', async () => {
    await expect(assume({ WebIdentityToken: 'not-a-jwt' })).rejects.toMatchObject(
      refused(
        'InvalidIdentityToken',
        'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)',
      ),
    );
    const noIat = signJwt(issuer.keys[0]!, { ...issuer.claims(aws.state.now()), iat: undefined });
    await expect(assume({ WebIdentityToken: noIat })).rejects.toMatchObject(
      refused('InvalidIdentityToken', "The ID Token has no 'iat' claim."),
    );
    await expect(assume({ WebIdentityToken: token(), RoleSessionName: 'has space' })).rejects.toMatchObject(
      refused('ValidationError', /at 'roleSessionName' failed to satisfy constraint/),
    );
    await expect(assume({ WebIdentityToken: undefined })).rejects.toMatchObject(
      refused('ValidationError', /Value null at 'webIdentityToken'/),
    );
    await expect(
      assume({
        WebIdentityToken: token(),
        Policy: policyDoc({ Effect: 'Allow', Action: '*', Resource: '*' }),
      }),
    ).rejects.toMatchObject(refused('ValidationError', /session policies are not evaluated/));
  });

  it('the tokens of a provider once it is deleted', async () => {
    const other = await startIssuer();
    const arn = await trustedIssuer(other.url, 'short-lived-provider');
    const attempt = () =>
      assume({
        WebIdentityToken: signJwt(other.keys[0]!, other.claims(aws.state.now())),
        RoleArn: roleArn('short-lived-provider'),
      });
    await expect(attempt()).resolves.toHaveProperty('Credentials');
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    await expect(attempt()).rejects.toMatchObject({ Code: 'InvalidIdentityToken' });
    await other.close();
  });
});

describe('seeded web identity', () => {
  it('a seed declares providers and roles; the state shows them without secrets', async () => {
    const seeded = await startIssuer();
    const seedKey = seeded.url.slice('http://'.length);
    const seedArn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${seedKey}`;
    const res = await fetch(`${aws.url}/_localcloud/seed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        oidcProviders: [{ url: seeded.url }],
        roles: [
          {
            roleName: 'seeded-web-role',
            trustPolicy: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { Federated: seedArn },
                  Action: 'sts:AssumeRoleWithWebIdentity',
                  Condition: { StringEquals: { [`${seedKey}:sub`]: 'job/team-a/deploy' } },
                },
              ],
            },
            inlinePolicies: {
              login: {
                Version: '2012-10-17',
                Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }],
              },
            },
          },
        ],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      oidcProviders: [{ url: seeded.url, arn: seedArn }],
      roles: [{ roleName: 'seeded-web-role', arn: roleArn('seeded-web-role') }],
    });
    const out = await assume({
      WebIdentityToken: signJwt(seeded.keys[0]!, seeded.claims(aws.state.now())),
      RoleArn: roleArn('seeded-web-role'),
    });
    const ecr = new ECRClient(clientConfig(aws.url, creds(out.Credentials)));
    await expect(ecr.send(new GetAuthorizationTokenCommand({}))).resolves.toHaveProperty('authorizationData');
    ecr.destroy();

    const state = (await (await fetch(`${aws.url}/_localcloud/state`)).json()) as {
      accounts: {
        accountId: string;
        roles: Record<string, unknown>[];
        oidcProviders: Record<string, unknown>[];
      }[];
    };
    const account = state.accounts.find((a) => a.accountId === ACCOUNT)!;
    expect(account.oidcProviders).toContainEqual(
      expect.objectContaining({ arn: seedArn, url: seeded.url, clientIds: ['sts.amazonaws.com'] }),
    );
    const role = account.roles.find((r) => r['roleName'] === 'seeded-web-role')!;
    expect(role).toMatchObject({
      arn: roleArn('seeded-web-role'),
      maxSessionDuration: 3600,
      inlinePolicies: { login: expect.any(String) as unknown },
    });
    expect(JSON.parse(role['assumeRolePolicyDocument'] as string)).toMatchObject({
      Statement: [{ Principal: { Federated: seedArn } }],
    });
    expect(JSON.stringify([account.roles, account.oidcProviders])).not.toMatch(/secret|sessionToken/i);
    await seeded.close();
  });

  it('a bad seed answers 400 naming the item, and changes nothing', async () => {
    const seed = (body: unknown) =>
      fetch(`${aws.url}/_localcloud/seed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const badTrust = await seed({
      oidcProviders: [{ url: 'https://never.example.com' }],
      roles: [
        { roleName: 'never', trustPolicy: { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] } },
      ],
    });
    expect(badTrust.status).toBe(400);
    expect(await badTrust.json()).toEqual({
      error: 'roles[0].trustPolicy: Missing required field Principal',
    });
    const badPrincipal = await seed({ roles: [{ roleName: 'never', trustedPrincipals: ['not-an-arn'] }] });
    expect(await badPrincipal.json()).toEqual({
      error: 'roles[0].trustedPrincipals: Invalid principal in policy: "AWS":"not-an-arn"',
    });
    const badUrl = await seed({ oidcProviders: [{ url: 'http://issuer.example.com' }] });
    expect(badUrl.status).toBe(400);
    expect(((await badUrl.json()) as { error: string }).error).toMatch(
      /^oidcProviders\[0\]\.url: http:\/\/issuer\.example\.com: The URL must begin with https:\/\//,
    );
    expect(aws.state.roleByArn(roleArn('never'))).toBeUndefined();
    expect([...aws.state.account(ACCOUNT).oidcProviders.keys()]).not.toContain(
      `arn:aws:iam::${ACCOUNT}:oidc-provider/never.example.com`,
    );
  });
});
