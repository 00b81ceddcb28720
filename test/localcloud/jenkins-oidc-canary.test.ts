/**
 * Builds with ID tokens, over real HTTP: the `web-identity` canary binds an oidc-provider credential, gets a token
 * signed with that credential's key, exchanges it with STS AssumeRoleWithWebIdentity (real SDK, unsigned), then calls
 * GetCallerIdentity, ECR and the registry with the temporary credentials. AWS is a recording stand-in here
 * (test/support/fake-aws-web-identity.ts); the token is verified by this test against the JWKS Jenkins serves.
 */
import { createPublicKey, verify } from 'node:crypto';
import type { AxiosInstance } from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JenkinsEmulator } from '../../localcloud/jenkins/server';
import { FAKE, runBuildOverHttp, startForTest } from '../../localcloud/jenkins/testing';
import { startFakeAws, type FakeAws } from '../support/fake-aws-web-identity';

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/jenkins-ecr-push`;
const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/team-a-push`;

let jenkins: JenkinsEmulator;
let http: AxiosInstance;
let auth: { username: string; password: string };
let aws: FakeAws;

beforeAll(async () => {
  aws = await startFakeAws({ account: ACCOUNT });
  const started = await startForTest({ awsEndpoint: aws.url });
  ({ jenkins, http } = started);
  auth = started.admin.auth;
  jenkins.state.seed({
    idToken: { tokenLifetime: 900 },
    credentials: [
      { store: 'system', kind: 'idToken', id: 'aws-oidc', audience: 'sts.amazonaws.com' },
      { store: { folder: 'team-a' }, kind: 'idTokenFile', id: 'team-oidc', audience: 'sts.amazonaws.com' },
      { store: 'system', kind: 'idToken', id: 'ext-oidc', issuer: 'https://oidc.example.com/ci' },
      { store: 'system', domain: 'ecr', kind: 'idToken', id: 'scoped-oidc' },
      { store: 'system', kind: 'aws', id: 'aws-key', accessKey: FAKE.accessKey, secretKey: FAKE.secretKey },
    ],
    jobs: [
      {
        path: 'keyless',
        type: 'pipeline',
        check: 'web-identity',
        credentialId: 'aws-oidc',
        roleArn: ROLE,
        expectedArn: `arn:aws:sts::${ACCOUNT}:assumed-role/jenkins-ecr-push`,
      },
      {
        path: 'team-a/keyless',
        check: 'web-identity',
        credentialId: 'team-oidc',
        parameters: [{ name: 'AWS_ROLE_ARN', default: ROLE }],
      },
      { path: 'external', check: 'web-identity', credentialId: 'ext-oidc', roleArn: ROLE },
      {
        path: 'spoof',
        type: 'pipeline',
        check: 'web-identity',
        credentialId: 'aws-oidc',
        roleArn: ROLE,
        parameters: [{ name: 'JOB_URL', default: 'https://jenkins.example.com/job/prod-deploy/' }],
      },
      { path: 'scoped', check: 'web-identity', credentialId: 'scoped-oidc', roleArn: ROLE },
      { path: 'wrong-kind', check: 'web-identity', credentialId: 'aws-key', roleArn: ROLE },
    ],
  });
});

afterAll(async () => {
  await jenkins.close();
  await aws.close();
});

afterEach(() => {
  aws.calls.length = 0;
  aws.options.refuseAssume = undefined;
  aws.options.registryStatus = undefined;
});

const b64json = (part: string | undefined): Record<string, unknown> =>
  JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

/** What a relying party such as STS does: discovery at the token's issuer, its JWKS, the key named by `kid`. */
async function verifyAgainstIssuer(token: string): Promise<{
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  verified: boolean;
}> {
  const [h, p, s] = token.split('.');
  const header = b64json(h);
  const claims = b64json(p);
  const config = await http.get<{ jwks_uri: string; issuer: string }>(
    `${String(claims['iss'])}/.well-known/openid-configuration`,
  );
  expect(config.status).toBe(200);
  expect(config.data.issuer).toBe(claims['iss']);
  const jwks = await http.get<{ keys: { kid: string; n: string; e: string }[] }>(config.data.jwks_uri);
  const jwk = jwks.data.keys.find((k) => k.kid === header['kid']);
  if (!jwk) throw new Error(`no key ${String(header['kid'])} at ${config.data.jwks_uri}`);
  const key = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
  const verified = verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s ?? '', 'base64url'));
  return { header, claims, verified };
}

const assumeCall = () => aws.calls.find((c) => c.action === 'sts:AssumeRoleWithWebIdentity');
const tokenSent = () => assumeCall()?.params['WebIdentityToken'] ?? '';

describe('web-identity canary: the happy path', () => {
  it('gets a token signed with the credential key, with the default claims, and logs in to ECR with it', async () => {
    const before = Math.floor(Date.now() / 1000);
    const build = await runBuildOverHttp(http, auth, '/job/keyless');
    const after = Math.ceil(Date.now() / 1000);
    expect(build.result).toBe('SUCCESS');
    expect(aws.calls.map((c) => c.action)).toEqual([
      'sts:AssumeRoleWithWebIdentity',
      'sts:GetCallerIdentity',
      'ecr:GetAuthorizationToken',
      'registry:GET /v2/',
    ]);

    // AssumeRoleWithWebIdentity is unsigned: the token is the proof.
    const assume = assumeCall();
    expect(assume?.headers['authorization']).toBeUndefined();
    expect(assume?.params).toMatchObject({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: ROLE,
      RoleSessionName: 'jenkins-keyless-1',
    });
    const token = tokenSent();
    const { header, claims, verified } = await verifyAgainstIssuer(token);
    expect(verified).toBe(true);
    expect(header).toEqual({ typ: 'JWT', kid: 'aws-oidc', alg: 'RS256' });
    expect(Object.keys(claims)).toEqual(['iss', 'aud', 'exp', 'iat', 'sub', 'build_number']);
    expect(claims).toMatchObject({
      iss: `${jenkins.url}/oidc`,
      aud: 'sts.amazonaws.com',
      sub: `${jenkins.url}/job/keyless/`,
      build_number: 1,
    });
    const iat = Number(claims['iat']);
    expect(iat).toBeGreaterThanOrEqual(before);
    expect(iat).toBeLessThanOrEqual(after);
    expect(Number(claims['exp']) - iat).toBe(900);

    // Then the temporary credentials, signed with their session token.
    const temp = aws.issued[aws.issued.length - 1];
    for (const call of aws.calls.filter(
      (c) => c.action === 'sts:GetCallerIdentity' || c.action.startsWith('ecr:'),
    )) {
      expect(call.headers['authorization']).toContain(`Credential=${temp?.accessKeyId ?? '?'}/`);
      expect(call.headers['x-amz-security-token']).toBe(temp?.sessionToken);
    }
    expect(build.console).toContain(
      `sts:AssumeRoleWithWebIdentity (role ${ROLE}, session jenkins-keyless-1) → arn:aws:sts::${ACCOUNT}:assumed-role/jenkins-ecr-push/jenkins-keyless-1`,
    );
    expect(build.console).toContain(
      `iss ${jenkins.url}/oidc, aud sts.amazonaws.com, sub ${jenkins.url}/job/keyless/`,
    );
    expect(build.console).toContain('Login Succeeded');
    expect(build.console).toContain('Finished: SUCCESS');
    for (const secret of [token, temp?.secretAccessKey, temp?.sessionToken, aws.registryPassword])
      expect(build.console).not.toContain(secret);

    const state = (await http.get<{ builds: Record<string, unknown>[] }>('/_localcloud/state')).data;
    expect(state.builds.find((b) => b['job'] === 'keyless')).toMatchObject({
      accessKeyId: temp?.accessKeyId,
      idToken: { header: { kid: 'aws-oidc' }, claims: { sub: `${jenkins.url}/job/keyless/` } },
    });
  });

  it("signs with a folder's credential under the folder's issuer; a file binding; AWS_ROLE_ARN from the build", async () => {
    const build = await runBuildOverHttp(http, auth, '/job/team-a/job/keyless', { AWS_ROLE_ARN: OTHER_ROLE });
    expect(build.result).toBe('SUCCESS');
    expect(assumeCall()?.params).toMatchObject({
      RoleArn: OTHER_ROLE,
      RoleSessionName: 'jenkins-team-a-keyless-1',
    });
    const { header, claims, verified } = await verifyAgainstIssuer(tokenSent());
    expect(verified).toBe(true);
    expect(header['kid']).toBe('team-oidc');
    expect(claims).toMatchObject({
      iss: `${jenkins.url}/oidc/job/team-a`,
      sub: `${jenkins.url}/job/team-a/job/keyless/`,
      build_number: 1,
    });
    expect(build.console).toContain(
      "withCredentials([file(credentialsId: 'team-oidc', variable: 'AWS_WEB_IDENTITY_TOKEN_FILE')]) from the folder team-a store",
    );
  });

  it('says the overridden issuer in iss, whose key Jenkins serves only through the descriptor', async () => {
    const build = await runBuildOverHttp(http, auth, '/job/external');
    expect(build.result).toBe('SUCCESS');
    const token = tokenSent();
    const [h, p, s] = token.split('.');
    const claims = b64json(p);
    expect(claims['iss']).toBe('https://oidc.example.com/ci');
    expect(claims['aud']).toBeUndefined();
    const root = await http.get<{ keys: { kid: string }[] }>('/oidc/jwks');
    expect(root.data.keys.map((k) => k.kid)).not.toContain('ext-oidc');
    // What the operator publishes at https://oidc.example.com/ci/jwks verifies the token.
    const published = await http.get<{ keys: { n: string; e: string }[] }>(
      '/descriptorByName/io.jenkins.plugins.oidc_provider.IdTokenStringCredentials/jwks',
      { auth, params: { id: 'ext-oidc', issuer: 'https://oidc.example.com/ci' } },
    );
    const jwk = published.data.keys[0];
    const key = createPublicKey({ key: { kty: 'RSA', n: jwk?.n ?? '', e: jwk?.e ?? '' }, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s ?? '', 'base64url'))).toBe(true);
  });

  it('applies the configured claim templates and token lifetime', async () => {
    jenkins.state.seed({
      idToken: {
        tokenLifetime: 60,
        claimTemplates: [{ name: 'env', format: 'prod' }],
        buildClaimTemplates: [
          { name: 'sub', format: '${JOB_NAME}' },
          { name: 'run', format: '$BUILD_NUMBER', type: 'integer' },
          { name: 'pipeline', format: 'true', type: 'boolean' },
        ],
      },
    });
    try {
      const build = await runBuildOverHttp(http, auth, '/job/keyless');
      expect(build.result).toBe('SUCCESS');
      const { claims, verified } = await verifyAgainstIssuer(tokenSent());
      expect(verified).toBe(true);
      expect(Object.keys(claims)).toEqual(['iss', 'aud', 'exp', 'iat', 'env', 'sub', 'run', 'pipeline']);
      expect(claims).toMatchObject({ env: 'prod', sub: 'keyless', run: build.number, pipeline: true });
      expect(Number(claims['exp']) - Number(claims['iat'])).toBe(60);
    } finally {
      jenkins.state.seed({
        idToken: {
          tokenLifetime: 900,
          claimTemplates: [],
          buildClaimTemplates: [
            { name: 'sub', format: '${JOB_URL}' },
            { name: 'build_number', format: '${BUILD_NUMBER}', type: 'integer' },
          ],
        },
      });
    }
  });
});

describe('web-identity canary: failures say which step failed, and never print the token', () => {
  it('STS refuses the token', async () => {
    aws.options.refuseAssume = {
      status: 400,
      code: 'InvalidIdentityToken',
      message: 'Incorrect token audience',
    };
    const build = await runBuildOverHttp(http, auth, '/job/keyless');
    expect(build.result).toBe('FAILURE');
    expect(build.console).toMatch(
      /ERROR: step sts:AssumeRoleWithWebIdentity failed: InvalidIdentityToken\w*: Incorrect token audience/,
    );
    expect(aws.calls.map((c) => c.action)).toEqual(['sts:AssumeRoleWithWebIdentity']);
    expect(tokenSent().length).toBeGreaterThan(100);
    expect(build.console).not.toContain(tokenSent());
  });

  it('the registry refuses the ECR token', async () => {
    aws.options.registryStatus = 401;
    const build = await runBuildOverHttp(http, auth, '/job/keyless');
    expect(build.result).toBe('FAILURE');
    expect(build.console).toContain('/v2/ → 401');
    expect(build.console).toContain('ERROR: the registry did not accept the authorization token');
  });

  it('a parameter cannot pose as JOB_URL: conflicting values are refused and no token is made', async () => {
    const build = await runBuildOverHttp(http, auth, '/job/spoof', {
      JOB_URL: 'https://jenkins.example.com/job/prod-deploy/',
    });
    expect(build.result).toBe('FAILURE');
    expect(build.console).toContain('ERROR: Refusing to consider conflicting values of JOB_URL for spoof #1');
    expect(build.console).toContain('ERROR: step id token failed:');
    expect(build.console).toContain('Apparently unsubstituted claims: ${JOB_URL}');
    expect(aws.calls).toEqual([]);
  });

  it('claim templates without sub fail the build', async () => {
    jenkins.state.seed({ idToken: { buildClaimTemplates: [{ name: 'job', format: '${JOB_NAME}' }] } });
    try {
      const build = await runBuildOverHttp(http, auth, '/job/keyless');
      expect(build.result).toBe('FAILURE');
      expect(build.console).toContain('An id token claim template must specify sub');
      expect(aws.calls).toEqual([]);
    } finally {
      jenkins.state.seed({
        idToken: {
          buildClaimTemplates: [
            { name: 'sub', format: '${JOB_URL}' },
            { name: 'build_number', format: '${BUILD_NUMBER}', type: 'integer' },
          ],
        },
      });
    }
  });

  it('a credential outside the global domain has no issuer; another kind is no ID token', async () => {
    const scoped = await runBuildOverHttp(http, auth, '/job/scoped');
    expect(scoped.result).toBe('FAILURE');
    expect(scoped.console).toContain('Could not find issuer corresponding to scoped-oidc for scoped#1');
    const wrong = await runBuildOverHttp(http, auth, '/job/wrong-kind');
    expect(wrong.result).toBe('FAILURE');
    expect(wrong.console).toContain(
      "Credentials 'aws-key' is of type 'AWS Credentials' where 'org.jenkinsci.plugins.plaincredentials.StringCredentials' was expected",
    );
    expect(wrong.console).not.toContain(FAKE.secretKey);
    expect(aws.calls).toEqual([]);
  });

  it('the seed refuses a web-identity job without a role, and a role on another check', async () => {
    const seed = (jobs: unknown[]) => http.post('/_localcloud/seed', { jobs });
    const noRole = await seed([{ path: 'x', check: 'web-identity', credentialId: 'aws-oidc' }]);
    expect(noRole.status).toBe(400);
    expect(JSON.stringify(noRole.data)).toContain(
      'check web-identity needs roleArn (or an AWS_ROLE_ARN parameter)',
    );
    const misplaced = await seed([
      { path: 'x', check: 'sts-identity', credentialId: 'aws-key', roleArn: ROLE },
    ]);
    expect(misplaced.status).toBe(400);
    expect(JSON.stringify(misplaced.data)).toContain('roleArn is for check web-identity');
    const standard = await http.post('/_localcloud/seed', {
      idToken: { claimTemplates: [{ name: 'iss', format: 'x' }] },
    });
    expect(standard.status).toBe(400);
  });
});
