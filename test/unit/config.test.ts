import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_POLICY,
  findKey,
  loadConfigFile,
  loadConfigFromEnv,
  parseConfig,
  type ConfigIssue,
} from '../../src/config';
import { jsonErrorOffset } from '../../src/config/json';

const EXAMPLE = join(import.meta.dirname, '../../config/example.json');
/** Obviously fake values with the shape of real secrets. */
const FAKE_AWS_SECRET = 'FAKEfake'.repeat(5);
const FAKE_JENKINS_TOKEN = `11${'0'.repeat(32)}`;

type Obj = Record<string, unknown>;
const target = (over: Obj = {}): Obj => ({
  url: 'https://jenkins.example.com',
  user: 'key-rotator',
  tokenSecretId: 'jenkins/api-token',
  store: 'system',
  credentialId: 'aws-dev',
  ...over,
});
const ecr = { region: 'us-east-1' };
const canary = (over: Obj = {}): Obj => ({ verify: { ecr, canary: { job: 'team-a/canary', ...over } } });
const key = (over: Obj = {}): Obj => ({
  name: 'dev',
  iamUser: 'jenkins-dev',
  secretId: 'jenkins/dev/aws-key',
  jenkins: [target()],
  verify: { ecr },
  ...over,
});
/** A second key that collides with `key()` in nothing. */
const other = (over: Obj = {}): Obj =>
  key({
    name: 'prod',
    iamUser: 'jenkins-prod',
    secretId: 'jenkins/prod/aws-key',
    jenkins: [target({ credentialId: 'aws-prod' })],
    ...over,
  });
const config = (over: Obj = {}): Obj => ({ version: 1, keys: [key()], ...over });

function errorOf(input: unknown): ConfigError {
  try {
    parseConfig(input);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
const issuesOf = (input: unknown): readonly ConfigIssue[] => errorOf(input).issues;

describe('config/example.json', () => {
  it('parses and shows every feature it is meant to document', async () => {
    const config = await loadConfigFile(EXAMPLE);
    const [dev, prod] = config.keys;
    expect(config.keys.map((k) => k.name)).toEqual(['dev-ecr-push', 'prod-ecr-push']);
    expect(prod?.assumeRoleArn).toMatch(/^arn:aws:iam::\d{12}:role\//);
    const targets = config.keys.flatMap((k) => k.jenkins);
    expect(new Set(targets.map((t) => t.store.kind))).toEqual(new Set(['system', 'folder']));
    expect(new Set(targets.map((t) => t.credentialKind))).toEqual(new Set(['aws', 'usernamePassword']));
    expect(prod?.verify.canary).toEqual({
      jenkins: 'main',
      job: 'team-a/canary',
      parameters: { CRED_ID: 'aws-prod' },
      timeoutSeconds: 600,
    });
    expect(dev?.policy.maxAgeDays).toBe(30);
  });
});

describe('parseConfig: defaults and normalisation', () => {
  it('has the documented built-in policy', () => {
    expect(DEFAULT_POLICY).toEqual({
      maxAgeDays: 90,
      propagationTimeoutSeconds: 120,
      consecutiveSuccesses: 3,
      deleteAfterDays: 7,
      jenkinsTimeoutSeconds: 10,
      abandonStuckAfterHours: 24,
      selfRotationOverdueDays: 2,
    });
  });

  it('accepts the minimal config and fills every default', () => {
    const parsed = parseConfig(
      config({ keys: [key({ jenkins: [target(), target({ credentialId: 'b' })] })] }),
    );
    expect(parsed.defaults).toEqual(DEFAULT_POLICY);
    expect(parsed.notifications).toEqual({});
    expect(parsed.keys[0]).toEqual({
      name: 'dev',
      iamUser: 'jenkins-dev',
      secretId: 'jenkins/dev/aws-key',
      rotatedBy: 'lambda',
      verify: { ecr: { region: 'us-east-1', registryLogin: true } },
      policy: DEFAULT_POLICY,
      jenkins: [
        {
          name: 'jenkins-0',
          url: 'https://jenkins.example.com',
          allowInsecureHttp: false,
          user: 'key-rotator',
          tokenSecretId: 'jenkins/api-token',
          authType: 'apiToken',
          store: { kind: 'system' },
          credentialId: 'aws-dev',
          credentialKind: 'aws',
          createIfMissing: false,
        },
        expect.objectContaining({ name: 'jenkins-1', credentialId: 'b' }),
      ],
    });
  });

  it('merges the policy: built-in defaults, then config defaults, then the key', () => {
    const parsed = parseConfig(
      config({
        defaults: { maxAgeDays: 60, deleteAfterDays: 5 },
        keys: [key({ policy: { deleteAfterDays: 2, consecutiveSuccesses: 4 } }), other()],
      }),
    );
    expect(parsed.defaults).toEqual({ ...DEFAULT_POLICY, maxAgeDays: 60, deleteAfterDays: 5 });
    expect(parsed.keys[0]?.policy).toEqual({
      maxAgeDays: 60,
      propagationTimeoutSeconds: 120,
      consecutiveSuccesses: 4,
      deleteAfterDays: 2,
      jenkinsTimeoutSeconds: 10,
      abandonStuckAfterHours: 24,
      selfRotationOverdueDays: 2,
    });
    expect(parsed.keys[1]?.policy).toEqual({ ...DEFAULT_POLICY, maxAgeDays: 60, deleteAfterDays: 5 });
  });

  it('ignores policy fields explicitly set to undefined instead of erasing the default', () => {
    const parsed = parseConfig(config({ defaults: { maxAgeDays: undefined } }));
    expect(parsed.keys[0]?.policy.maxAgeDays).toBe(90);
  });

  it('normalises stores to { kind }', () => {
    const parsed = parseConfig(
      config({
        keys: [key({ jenkins: [target(), target({ store: { folder: 'team-a/sub' }, name: 'f' })] })],
      }),
    );
    expect(parsed.keys[0]?.jenkins.map((t) => t.store)).toEqual([
      { kind: 'system' },
      { kind: 'folder', path: 'team-a/sub' },
    ]);
  });

  it('drops trailing slashes from Jenkins URLs and keeps a path prefix', () => {
    const parsed = parseConfig(
      config({ keys: [key({ jenkins: [target({ url: 'https://CI.example.com/jenkins//' })] })] }),
    );
    expect(parsed.keys[0]?.jenkins[0]?.url).toBe('https://ci.example.com/jenkins');
  });

  it('resolves the canary target to the first one by default, or the one named', () => {
    const two = [target({ name: 'a' }), target({ name: 'b', credentialId: 'x' })];
    const first = parseConfig(config({ keys: [key({ jenkins: two, ...canary() })] }));
    expect(first.keys[0]?.verify.canary).toEqual({
      jenkins: 'a',
      job: 'team-a/canary',
      parameters: {},
      timeoutSeconds: 600,
    });
    const named = parseConfig(config({ keys: [key({ jenkins: two, ...canary({ jenkins: 'b' }) })] }));
    expect(named.keys[0]?.verify.canary?.jenkins).toBe('b');
  });

  it('takes the account from assumeRoleArn when accountId is absent', () => {
    const parsed = parseConfig(
      config({ keys: [key({ assumeRoleArn: 'arn:aws:iam::222233334444:role/key-rotator' })] }),
    );
    expect(parsed.keys[0]?.accountId).toBe('222233334444');
  });

  it.each([
    ['http to localhost', { url: 'http://localhost:8080' }],
    ['http to 127.0.0.1', { url: 'http://127.0.0.1:8080/' }],
    ['http with allowInsecureHttp', { url: 'http://jenkins.internal', allowInsecureHttp: true }],
  ])('allows %s', (_, over) => {
    expect(() => parseConfig(config({ keys: [key({ jenkins: [target(over)] })] }))).not.toThrow();
  });

  it('lets the same IAM user name be managed in two accounts', () => {
    const twin = other({ iamUser: 'jenkins-dev', accountId: '444455556666' });
    expect(parseConfig(config({ keys: [key(), twin] })).keys).toHaveLength(2);
  });

  it('returns a deeply frozen object and leaves the input alone', () => {
    const input = config();
    const parsed = parseConfig(input);
    expect(Object.isFrozen(parsed.keys[0]?.jenkins[0]?.store)).toBe(true);
    expect(Object.isFrozen(parsed.keys[0]?.policy)).toBe(true);
    expect(Object.isFrozen(input)).toBe(false);
  });
});

describe('parseConfig: errors name the field', () => {
  const one = (over: Obj) => config({ keys: [key(over)] });
  const jenkins = (over: Obj) => one({ jenkins: [target(over)] });
  const cases: [string, Obj, string, RegExp][] = [
    ['wrong version', config({ version: 2 }), 'version', /must be 1/],
    ['missing version', { keys: [key()] }, 'version', /^required$/],
    ['top-level typo', config({ default: {} }), 'default', /unknown field/],
    ['defaults typo', config({ defaults: { maxAgeDay: 30 } }), 'defaults.maxAgeDay', /unknown field/],
    ['maxAgeDays 0', config({ defaults: { maxAgeDays: 0 } }), 'defaults.maxAgeDays', />=1/],
    ['maxAgeDays 3651', config({ defaults: { maxAgeDays: 3651 } }), 'defaults.maxAgeDays', /<=3650/],
    ['fractional days', config({ defaults: { maxAgeDays: 1.5 } }), 'defaults.maxAgeDays', /int/],
    [
      'propagation 4 s',
      config({ defaults: { propagationTimeoutSeconds: 4 } }),
      'defaults.propagationTimeoutSeconds',
      />=5/,
    ],
    [
      'propagation 901 s',
      one({ policy: { propagationTimeoutSeconds: 901 } }),
      'keys[0].policy.propagationTimeoutSeconds',
      /<=900/,
    ],
    [
      '0 successes',
      one({ policy: { consecutiveSuccesses: 0 } }),
      'keys[0].policy.consecutiveSuccesses',
      />=1/,
    ],
    [
      '11 successes',
      one({ policy: { consecutiveSuccesses: 11 } }),
      'keys[0].policy.consecutiveSuccesses',
      /<=10/,
    ],
    ['negative grace', one({ policy: { deleteAfterDays: -1 } }), 'keys[0].policy.deleteAfterDays', />=0/],
    ['grace 366 days', config({ defaults: { deleteAfterDays: 366 } }), 'defaults.deleteAfterDays', /<=365/],
    [
      'jenkins timeout 0',
      one({ policy: { jenkinsTimeoutSeconds: 0 } }),
      'keys[0].policy.jenkinsTimeoutSeconds',
      />=1/,
    ],
    [
      'jenkins timeout 121',
      one({ policy: { jenkinsTimeoutSeconds: 121 } }),
      'keys[0].policy.jenkinsTimeoutSeconds',
      /<=120/,
    ],
    ['policy typo', one({ policy: { maxAge: 1 } }), 'keys[0].policy.maxAge', /unknown field/],
    [
      'grace ≥ max age in key',
      one({ policy: { deleteAfterDays: 30, maxAgeDays: 30 } }),
      'keys[0].policy.deleteAfterDays',
      /less than maxAgeDays \(30\)/,
    ],
    [
      'max age ≤ grace in key',
      one({ policy: { maxAgeDays: 7 } }),
      'keys[0].policy.maxAgeDays',
      /deleteAfterDays \(7\)/,
    ],
    [
      'grace ≥ max age in defaults, reported once for two keys',
      config({ defaults: { deleteAfterDays: 90 }, keys: [key(), other()] }),
      'defaults.deleteAfterDays',
      /less than/,
    ],
    [
      'bad SNS ARN',
      config({ notifications: { snsTopicArn: 'arn:aws:sqs:us-east-1:111122223333:q' } }),
      'notifications.snsTopicArn',
      /SNS topic ARN/,
    ],
    [
      'notifications typo',
      config({ notifications: { snsTopic: 'x' } }),
      'notifications.snsTopic',
      /unknown field/,
    ],
    ['no keys', config({ keys: [] }), 'keys', /at least one managed key/],
    ['key name not a slug', one({ name: 'Prod' }), 'keys[0].name', /a-z/],
    ['key name 64 chars', one({ name: 'a'.repeat(64) }), 'keys[0].name', /1-63/],
    ['key typo', one({ iamuser: 'x' }), 'keys[0].iamuser', /unknown field/],
    ['missing iamUser', one({ iamUser: undefined }), 'keys[0].iamUser', /^required$/],
    ['bad iamUser', one({ iamUser: 'jenkins prod' }), 'keys[0].iamUser', /IAM user name/],
    ['short accountId', one({ accountId: '1234' }), 'keys[0].accountId', /12-digit/],
    [
      'user ARN as role',
      one({ assumeRoleArn: 'arn:aws:iam::222233334444:user/x' }),
      'keys[0].assumeRoleArn',
      /role ARN/,
    ],
    [
      'externalId alone',
      one({ externalId: 'rotator' }),
      'keys[0].externalId',
      /only allowed together with assumeRoleArn/,
    ],
    [
      'account mismatch',
      one({ accountId: '111122223333', assumeRoleArn: 'arn:aws:iam::222233334444:role/r' }),
      'keys[0].accountId',
      /222233334444/,
    ],
    ['bad secretId', one({ secretId: 'jenkins prod key' }), 'keys[0].secretId', /secret name or ARN/],
    ['URL as secretId', one({ secretId: 'https://vault.example.com/x' }), 'keys[0].secretId', /not a URL/],
    [
      'duplicate key name',
      config({ keys: [key(), other({ name: 'dev' })] }),
      'keys[1].name',
      /duplicate key name "dev" \(also keys\[0\]\)/,
    ],
    [
      'duplicate secretId',
      config({ keys: [key(), other({ secretId: 'jenkins/dev/aws-key' })] }),
      'keys[1].secretId',
      /keys\[0\]/,
    ],
    [
      'same secret by ARN',
      config({
        keys: [
          key(),
          other({
            secretId: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:jenkins/dev/aws-key-AbC123',
          }),
        ],
      }),
      'keys[1].secretId',
      /same secret/,
    ],
    [
      'same IAM user twice',
      config({ keys: [key(), other({ iamUser: 'Jenkins-Dev' })] }),
      'keys[1].iamUser',
      /already managed by keys\[0\]/,
    ],
    ['no Jenkins target', one({ jenkins: [] }), 'keys[0].jenkins', /at least one Jenkins target/],
    [
      'not a URL',
      jenkins({ url: 'jenkins.example.com' }),
      'keys[0].jenkins[0].url',
      /absolute http\(s\) URL/,
    ],
    ['ftp URL', jenkins({ url: 'ftp://jenkins.example.com' }), 'keys[0].jenkins[0].url', /http\(s\)/],
    [
      'plain http',
      jenkins({ url: 'http://jenkins.example.com' }),
      'keys[0].jenkins[0].url',
      /allowInsecureHttp/,
    ],
    [
      'URL with query',
      jenkins({ url: 'https://jenkins.example.com/?x=1' }),
      'keys[0].jenkins[0].url',
      /query/,
    ],
    ['target typo', jenkins({ credentialID: 'x' }), 'keys[0].jenkins[0].credentialID', /unknown field/],
    ['store string', jenkins({ store: 'folder' }), 'keys[0].jenkins[0].store', /"system" or \{ "folder"/],
    [
      'store typo',
      jenkins({ store: { folders: 'a' } }),
      'keys[0].jenkins[0].store',
      /"system" or \{ "folder"/,
    ],
    [
      'empty folder part',
      jenkins({ store: { folder: 'a//b' } }),
      'keys[0].jenkins[0].store.folder',
      /item path/,
    ],
    ['folder ..', jenkins({ store: { folder: '../b' } }), 'keys[0].jenkins[0].store.folder', /item path/],
    [
      'folder newline',
      jenkins({ store: { folder: 'a\nb' } }),
      'keys[0].jenkins[0].store.folder',
      /item path/,
    ],
    ['authType', jenkins({ authType: 'token' }), 'keys[0].jenkins[0].authType', /apiToken/],
    [
      'credentialKind',
      jenkins({ credentialKind: 'ssh' }),
      'keys[0].jenkins[0].credentialKind',
      /usernamePassword/,
    ],
    ['credentialId', jenkins({ credentialId: 'aws prod' }), 'keys[0].jenkins[0].credentialId', /A-Z/],
    ['createIfMissing', jenkins({ createIfMissing: 'yes' }), 'keys[0].jenkins[0].createIfMissing', /boolean/],
    [
      'duplicate target',
      one({ jenkins: [target({ name: 'a' }), target({ name: 'a', credentialId: 'x' })] }),
      'keys[0].jenkins[1].name',
      /duplicate Jenkins target name "a"/,
    ],
    [
      'named like a default',
      one({ jenkins: [target(), target({ name: 'jenkins-0', credentialId: 'x' })] }),
      'keys[0].jenkins[1].name',
      /"jenkins-0"/,
    ],
    [
      'one credential, two keys',
      config({ keys: [key(), other({ jenkins: [target({ url: 'https://jenkins.example.com/' })] })] }),
      'keys[1].jenkins[0].credentialId',
      /keys\[0\]\.jenkins\[0\]/,
    ],
    ['missing verify', one({ verify: undefined }), 'keys[0].verify', /^required$/],
    [
      'bad region',
      one({ verify: { ecr: { region: 'useast1' } } }),
      'keys[0].verify.ecr.region',
      /AWS region/,
    ],
    [
      'bad registryId',
      one({ verify: { ecr: { ...ecr, registryId: 'abc' } } }),
      'keys[0].verify.ecr.registryId',
      /12-digit/,
    ],
    [
      'canary target unknown',
      one(canary({ jenkins: 'nope' })),
      'keys[0].verify.canary.jenkins',
      /no Jenkins target named "nope" \(targets: jenkins-0\)/,
    ],
    ['canary job empty', one(canary({ job: '' })), 'keys[0].verify.canary.job', /item path/],
    ['canary timeout', one(canary({ timeoutSeconds: 5 })), 'keys[0].verify.canary.timeoutSeconds', />=10/],
    [
      'canary parameter type',
      one(canary({ parameters: { N: 1 } })),
      'keys[0].verify.canary.parameters.N',
      /string/,
    ],
  ];

  it.each(cases)('%s → %s', (_, input, path, message) => {
    const issues = issuesOf(input);
    expect(issues.map((i) => i.path)).toEqual([path]);
    expect(issues[0]?.message).toMatch(message);
  });

  it('lists every issue, one per line, in the message', () => {
    const error = errorOf(
      config({ version: 2, keys: [key({ name: 'X', jenkins: [target({ url: 'nope' })] })] }),
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
    expect(error.message.split('\n')).toEqual([
      'Invalid key-rotator configuration:',
      '  version: must be 1 (the only config format version)',
      expect.stringMatching(/^ {2}keys\[0\]\.name: /),
      expect.stringMatching(/^ {2}keys\[0\]\.jenkins\[0\]\.url: /),
    ]);
  });

  it('reports the checks across keys even when another field is wrong, so every problem shows at once', () => {
    const issues = issuesOf(
      config({
        defaults: { maxAgeDays: 10, deleteAfterDays: 10 },
        keys: [
          key(),
          key({ jenkins: [target({ credentialId: 'aws-dev-2' })] }),
          other({ iamUser: 'not a user!' }),
        ],
      }),
    );
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      expect.stringMatching(/^keys\[2\]\.iamUser: must be an IAM user name/),
      'defaults.deleteAfterDays: deleteAfterDays (10) must be less than maxAgeDays (10)',
      'keys[1].name: duplicate key name "dev" (also keys[0])',
      'keys[1].secretId: same secret as keys[0]: each key needs its own secret',
      'keys[1].iamUser: IAM user "jenkins-dev" is already managed by keys[0]',
    ]);
  });

  it('with invalid defaults, still reports duplicates but no policy comparison it cannot make', () => {
    const issues = issuesOf(config({ defaults: { maxAgeDays: 0 }, keys: [key(), key()] }));
    expect(issues.map((i) => i.path)).toEqual([
      'defaults.maxAgeDays',
      'keys[1].name',
      'keys[1].secretId',
      'keys[1].iamUser',
      'keys[1].jenkins[0].credentialId',
    ]);
  });

  it('reports a non-object document at the root', () => {
    const issues = issuesOf('nope');
    expect(issues.map((i) => i.path)).toEqual(['']);
    expect(issues[0]?.message).toMatch(/expected object/);
  });
});

describe('parseConfig: secrets are rejected', () => {
  const secretCases: [string, Obj, string][] = [
    [
      'apiToken property',
      config({ keys: [key({ jenkins: [target({ apiToken: 'x' })] })] }),
      'keys[0].jenkins[0].apiToken',
    ],
    [
      'password property',
      config({ keys: [key({ jenkins: [target({ password: 'x' })] })] }),
      'keys[0].jenkins[0].password',
    ],
    [
      'secretAccessKey property',
      config({ keys: [key({ secretAccessKey: 'x' })] }),
      'keys[0].secretAccessKey',
    ],
    [
      'webhook URL property',
      config({ notifications: { slackWebhookUrl: 'x' } }),
      'notifications.slackWebhookUrl',
    ],
    [
      'AWS secret key as user',
      config({ keys: [key({ jenkins: [target({ user: FAKE_AWS_SECRET })] })] }),
      'keys[0].jenkins[0].user',
    ],
    [
      'AWS secret key as iamUser',
      config({ keys: [key({ iamUser: FAKE_AWS_SECRET.replace(/\//g, '') })] }),
      'keys[0].iamUser',
    ],
    [
      'Jenkins token as tokenSecretId',
      config({ keys: [key({ jenkins: [target({ tokenSecretId: FAKE_JENKINS_TOKEN })] })] }),
      'keys[0].jenkins[0].tokenSecretId',
    ],
    [
      'webhook URL as secret id',
      config({ notifications: { slackWebhookSecretId: 'https://hooks.slack.com/services/T0/B0/fake' } }),
      'notifications.slackWebhookSecretId',
    ],
    [
      'secret as canary parameter',
      config({ keys: [key(canary({ parameters: { KEY: FAKE_AWS_SECRET } }))] }),
      'keys[0].verify.canary.parameters.KEY',
    ],
    [
      'oddly named parameter',
      config({ keys: [key(canary({ parameters: { 'A B': FAKE_AWS_SECRET } }))] }),
      'keys[0].verify.canary.parameters["A B"]',
    ],
    [
      'PASSWORD parameter',
      config({ keys: [key(canary({ parameters: { PASSWORD: 'hunter2' } }))] }),
      'keys[0].verify.canary.parameters.PASSWORD',
    ],
    [
      'credentials in the URL',
      config({ keys: [key({ jenkins: [target({ url: 'https://bot:pw@jenkins.example.com' })] })] }),
      'keys[0].jenkins[0].url',
    ],
    [
      'private key in a description',
      config({ keys: [key({ description: '-----BEGIN RSA PRIVATE KEY-----' })] }),
      'keys[0].description',
    ],
    [
      'password=… in a description',
      config({ keys: [key({ description: 'bot login, password=Fake-pw-42' })] }),
      'keys[0].description',
    ],
    [
      'key=<AWS secret key> in a target description',
      config({
        keys: [key({ jenkins: [target({ description: `aws_secret_access_key=${FAKE_AWS_SECRET}` })] })],
      }),
      'keys[0].jenkins[0].description',
    ],
    [
      'URL-encoded token=… in a canary parameter',
      config({ keys: [key(canary({ parameters: { NOTE: 'a%3Db%26token%3DFake-pw-42' } }))] }),
      'keys[0].verify.canary.parameters.NOTE',
    ],
    [
      'AWS secret key inside a canary job path',
      config({ keys: [key(canary({ job: `team-a/${'FAKEfak3'.repeat(5)}` }))] }),
      'keys[0].verify.canary.job',
    ],
    [
      'Slack webhook as a Jenkins URL',
      config({ keys: [key({ jenkins: [target({ url: 'https://hooks.slack.com/services/T0/B0/fake' })] })] }),
      'keys[0].jenkins[0].url',
    ],
  ];

  it.each(secretCases)('%s → %s', (_, input, path) => {
    const issues = issuesOf(input);
    expect(issues.map((i) => i.path)).toEqual([path]);
    expect(issues[0]?.message).toMatch(/secrets belong in Secrets Manager/);
    for (const secret of [FAKE_AWS_SECRET, FAKE_JENKINS_TOKEN, 'Fake-pw-42', 'hunter2'])
      expect(issues[0]?.message).not.toContain(secret);
  });

  it('names the kind of secret and where it starts, never the value', () => {
    const issues = issuesOf(
      config({ keys: [key({ description: `copied from aws_secret_access_key=${FAKE_AWS_SECRET}` })] }),
    );
    expect(issues[0]?.message).toBe(
      'holds an AWS secret access key at character 35: secrets belong in Secrets Manager; store the value there and reference the secret by name or ARN (tokenSecretId, slackWebhookSecretId)',
    );
  });

  it.each([
    [
      'a git SHA as a canary parameter',
      key(canary({ parameters: { SHA: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3' } })),
    ],
    [
      'a 40-character externalId',
      key({ assumeRoleArn: 'arn:aws:iam::222233334444:role/r', externalId: FAKE_AWS_SECRET }),
    ],
    [
      'a 40-character credentialId',
      key({ jenkins: [target({ credentialId: FAKE_AWS_SECRET.replace(/\//g, '') })] }),
    ],
    [
      'ids in a description',
      key({
        description:
          'key AKIAIOSFODNN7EXAMPLE, secret arn:aws:secretsmanager:us-east-1:111122223333:secret:jenkins/prod/aws-key-AbC123, ' +
          'tokenSecretId=jenkins/api-token, ticket 3f2c8a8e-7d5b-4b8e-9a77-2f1e0c6a9b10, password: rotated',
      }),
    ],
  ])('does not mistake %s for a secret', (_, k) => {
    expect(() => parseConfig(config({ keys: [k] }))).not.toThrow();
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rotator-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names a missing file', async () => {
    const file = join(dir, 'absent.json');
    const error = await loadConfigFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(file);
    expect((error as ConfigError).issues).toEqual([{ path: '', message: 'file not found' }]);
  });

  it('names a file holding invalid JSON, with the line and column of the error', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{\n  "version": 1,\n  "keys": [ }\n');
    const error = await loadConfigFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/broken\.json:\n {2}invalid JSON at line 3, column 13: /);
    const [issue] = (error as ConfigError).issues;
    expect(issue).toMatchObject({ path: '', line: 3, column: 13 });
    expect(issue?.message).toMatch(/^invalid JSON at line 3, column 13: Unexpected token '\}'$/);
    expect((error as ConfigError).issues[0]?.message).not.toMatch(/position/);
  });

  it.each<[string, string, RegExp]>([
    ['a truncated file', '{\n  "version": 1,\n', /^invalid JSON at line 3, column 1: /],
    ['a trailing comma', '{ "version": 1, }', /^invalid JSON at line 1, column 17: /],
    ['an empty file', '', /^invalid JSON: the file is empty$/],
  ])('locates the JSON error in %s', async (_, text, message) => {
    const file = join(dir, 'located.json');
    await writeFile(file, text);
    const error = (await loadConfigFile(file).catch((e: unknown) => e)) as ConfigError;
    expect(error.issues.map((i) => i.message)).toEqual([expect.stringMatching(message)]);
  });

  it('finds the offset of a JSON error exactly where JSON.parse fails, and nothing in valid JSON', async () => {
    const valid = [
      await readFile(EXAMPLE, 'utf8'),
      '[]',
      ' {"a":[1,-2.5e3,true,null,"\\u00e9\\n"]} ',
      '"x"',
      '0',
    ];
    for (const text of valid) expect(jsonErrorOffset(text), text).toBeUndefined();
    const broken: [string, number][] = [
      ['{"a":1,}', 7],
      ['{"a" 1}', 5],
      ['[1 2]', 3],
      ['{"a":01}', 6],
      ['{"a":"\\x"}', 7],
      ['{"a":"tab\there"}', 9],
      ['{"a":1}}', 7],
      ['{a:1}', 1],
      ['[1,', 3],
      ["{'a':1}", 1],
    ];
    for (const [text, offset] of broken) {
      expect(() => JSON.parse(text) as unknown, text).toThrow(SyntaxError);
      expect(jsonErrorOffset(text), text).toBe(offset);
    }
  });

  it('reads a file that starts with a byte order mark', async () => {
    const file = join(dir, 'bom.json');
    await writeFile(file, `\uFEFF${JSON.stringify(config())}`);
    expect((await loadConfigFile(file)).keys).toHaveLength(1);
  });

  it('names the file and the field for a schema error', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify(config({ version: 3 })));
    await expect(loadConfigFile(file)).rejects.toThrow(/in .*bad\.json:\n {2}version: must be 1/);
  });
});

describe('loadConfigFromEnv', () => {
  it.each([{}, { KEY_ROTATOR_CONFIG: '' }, { KEY_ROTATOR_CONFIG: '  ' }])(
    'requires KEY_ROTATOR_CONFIG (%j)',
    async (env) => {
      await expect(loadConfigFromEnv(env)).rejects.toThrow(
        /environment variable KEY_ROTATOR_CONFIG is required/,
      );
    },
  );

  it('loads the file it names, relative to the working directory', async () => {
    const relative = join('config', 'example.json');
    expect(await readFile(relative, 'utf8')).toContain('"version"');
    const config = await loadConfigFromEnv({ KEY_ROTATOR_CONFIG: relative });
    expect(config.keys).toHaveLength(2);
  });

  it('surfaces the file errors', async () => {
    await expect(loadConfigFromEnv({ KEY_ROTATOR_CONFIG: 'no/such/rotator.json' })).rejects.toThrow(
      /rotator\.json/,
    );
  });
});

describe('findKey', () => {
  const parsed = parseConfig(
    config({
      keys: [
        key(),
        other(),
        other({
          name: 'prod-eu',
          iamUser: 'jenkins-prod',
          accountId: '444455556666',
          secretId: 'jenkins/prod-eu/aws-key',
          jenkins: [target({ credentialId: 'eu' })],
        }),
      ],
    }),
  );
  const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:111122223333:secret:${name}-AbC123`;

  it.each([
    [{ name: 'prod' }, 'prod'],
    [{ iamUser: 'JENKINS-DEV' }, 'dev'],
    [{ secretId: 'jenkins/prod/aws-key' }, 'prod'],
    [{ secretId: arn('jenkins/dev/aws-key') }, 'dev'],
    [{ name: 'prod-eu', iamUser: 'jenkins-prod' }, 'prod-eu'],
  ])('finds %j', (query, name) => {
    expect(findKey(parsed, query)?.name).toBe(name);
  });

  it.each([{ name: 'nope' }, { name: 'dev', iamUser: 'jenkins-prod' }, { secretId: arn('jenkins/dev') }])(
    'returns undefined for %j',
    (query) => {
      expect(findKey(parsed, query)).toBeUndefined();
    },
  );

  it('refuses an empty query', () => {
    expect(() => findKey(parsed, {})).toThrow(ConfigError);
  });

  it('refuses an ambiguous query', () => {
    expect(() => findKey(parsed, { iamUser: 'jenkins-prod' })).toThrow(
      /matches several keys \(prod, prod-eu\)/,
    );
  });
});

describe('self-rotated keys', () => {
  const selfTarget = (over: Obj = {}) => {
    const t = target(over);
    delete t['tokenSecretId'];
    return { ...t, tokenEnv: 'JENKINS_TOKEN' };
  };

  it('accept a Jenkins token from an environment variable, and only them', () => {
    const parsed = parseConfig(config({ keys: [key({ rotatedBy: 'self', jenkins: [selfTarget()] })] }));
    expect(parsed.keys[0]).toMatchObject({ rotatedBy: 'self', jenkins: [{ tokenEnv: 'JENKINS_TOKEN' }] });
    expect(parsed.keys[0]?.jenkins[0]?.tokenSecretId).toBeUndefined();
    expect(issuesOf(config({ keys: [key({ jenkins: [selfTarget()] })] }))).toEqual([
      expect.objectContaining({
        path: 'keys[0].jenkins[0].tokenEnv',
        message: expect.stringMatching(/only for a self-rotated key/) as string,
      }),
    ]);
  });

  it('need exactly one source for the Jenkins token', () => {
    const both = { ...target(), tokenEnv: 'JENKINS_TOKEN' };
    const none = selfTarget();
    delete (none as Obj)['tokenEnv'];
    expect(issuesOf(config({ keys: [key({ rotatedBy: 'self', jenkins: [both] })] }))[0]?.message).toMatch(
      /not both/,
    );
    expect(issuesOf(config({ keys: [key({ rotatedBy: 'self', jenkins: [none] })] }))[0]).toMatchObject({
      path: 'keys[0].jenkins[0].tokenSecretId',
      message: expect.stringMatching(/^required/) as string,
    });
  });

  it('never assume a role: the key manages itself with its own credentials', () => {
    expect(
      issuesOf(
        config({
          keys: [
            key({
              rotatedBy: 'self',
              jenkins: [selfTarget()],
              assumeRoleArn: 'arn:aws:iam::444455556666:role/jenkins-key-rotator-target',
            }),
          ],
        }),
      ).map((i) => i.path),
    ).toEqual(['keys[0].assumeRoleArn']);
  });
});

describe('fleet', () => {
  it('defaults to 10 IAM calls a second, 100 rotations a run, 4 requests per controller, 60 s reserve', () => {
    expect(parseConfig(config()).fleet).toEqual({
      iamCallsPerSecond: 10,
      maxRotationsPerRun: 100,
      jenkinsConcurrency: 4,
      deadlineReserveSeconds: 60,
    });
    expect(parseConfig(config({ fleet: { iamCallsPerSecond: 2.5 } })).fleet).toMatchObject({
      iamCallsPerSecond: 2.5,
      maxRotationsPerRun: 100,
    });
  });

  it('refuses values out of range or unknown fields, naming each', () => {
    const paths = issuesOf(
      config({
        fleet: {
          iamCallsPerSecond: 0,
          maxRotationsPerRun: 1.5,
          jenkinsConcurrency: 0,
          deadlineReserveSeconds: 5,
          x: 1,
        },
      }),
    ).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'fleet.iamCallsPerSecond',
        'fleet.maxRotationsPerRun',
        'fleet.jenkinsConcurrency',
        'fleet.deadlineReserveSeconds',
        'fleet.x',
      ]),
    );
  });
});
