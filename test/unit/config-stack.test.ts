import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config';
import { checkDeployConfig } from '../../src/config/deploy-check';
import { examplePlaceholders, placeholdersOf, placeholderWarnings } from '../../src/config/placeholders';
import {
  STACK_PARAMS,
  stackIssues,
  stageParams,
  userPathIssue,
  type StackParams,
} from '../../src/config/stack';
import { rawKey } from '../support/config-fixture';

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLE = join(ROOT, 'config/example.json');
const SERVERLESS_YML = parse(await readFile(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'error' }) as {
  params: Record<string, Record<string, unknown>>;
};
const DEFAULTS: StackParams = {
  userPath: '/jenkins/',
  secretPrefix: 'jenkins/',
  tokenSecretPrefix: 'key-rotator/',
};
const ARN = (region: string, name: string) =>
  `arn:aws:secretsmanager:${region}:210987654321:secret:${name}-AbC123`;
const config = (over: Record<string, unknown> = {}, key: Record<string, unknown> = {}) =>
  parseConfig({ version: 1, keys: [rawKey(key)], ...over });
/** A key that fits the default parameters. */
const fitting = () =>
  rawKey({ jenkins: [{ ...rawKey().jenkins[0], tokenSecretId: 'key-rotator/jenkins-token' }] });
const messages = (issues: readonly { path: string; message: string }[]) =>
  issues.map((i) => `${i.path}: ${i.message}`);

describe('stageParams', () => {
  it('lists exactly the parameters serverless.yml declares', () => {
    expect(Object.keys(SERVERLESS_YML.params['default'] ?? {}).sort()).toEqual([...STACK_PARAMS].sort());
  });

  it('merges --param over the stage over the defaults, as the Serverless Framework does', () => {
    const declared = {
      default: { userPath: '/a/', secretPrefix: 'a/', configFile: 'x.json' },
      prod: { userPath: '/p/', secretPrefix: null },
    };
    expect(stageParams(declared, 'prod', ['configFile=prod.json ']).params).toEqual({
      userPath: '/p/',
      secretPrefix: 'a/',
      configFile: 'prod.json',
    });
    expect(stageParams(declared, 'other').params).toEqual(declared.default);
  });

  it('leaves out what holds a serverless variable, and says so', () => {
    const { params, unresolved } = stageParams(SERVERLESS_YML.params, 'ci');
    expect(params).toMatchObject({ ...DEFAULTS, configFile: 'config/example.json', notifyEmail: '' });
    expect(unresolved).toEqual(['notifyTopicArn', 'slackWebhookSecretId']);
    expect(
      stageParams(SERVERLESS_YML.params, 'ci', ['notifyTopicArn=arn:aws:sns:us-east-1:1:t']).unresolved,
    ).toEqual(['slackWebhookSecretId']);
  });

  it('refuses a --param without a value', () => {
    expect(() => stageParams({}, 'dev', ['userPath='])).toThrow(
      /invalid parameter "userPath=": expected name=value/,
    );
  });
});

describe('stackIssues: what the deployed roles would refuse', () => {
  it('accepts config/example.json with the default parameters', async () => {
    const example = await loadConfigFile(EXAMPLE);
    const topic = example.notifications.snsTopicArn ?? '';
    const webhook = example.notifications.slackWebhookSecretId ?? '';
    expect(
      stackIssues(example, {
        params: { ...DEFAULTS, notifyTopicArn: topic, slackWebhookSecretId: webhook },
        region: 'us-east-1',
      }),
    ).toEqual([]);
  });

  it('names each secret outside its prefix, by name or ARN', () => {
    const c = config(
      {},
      {
        secretId: ARN('us-east-1', 'prod/aws-key'),
        jenkins: [
          { ...rawKey().jenkins[0], tokenSecretId: 'jenkins/api-token' },
          {
            ...rawKey().jenkins[0],
            name: 'b',
            credentialId: 'x',
            tokenSecretId: ARN('us-east-1', 'key-rotator/t'),
          },
        ],
      },
    );
    expect(messages(stackIssues(c, { params: DEFAULTS, region: 'us-east-1' }))).toEqual([
      expect.stringMatching(
        /^keys\[0\]\.secretId: secret "prod\/aws-key" is not under the stack's secretPrefix "jenkins\/": .*AccessDenied; .*--param="secretPrefix=…"$/,
      ),
      expect.stringMatching(
        /^keys\[0\]\.jenkins\[0\]\.tokenSecretId: secret "jenkins\/api-token" is not under the stack's tokenSecretPrefix "key-rotator\/"/,
      ),
    ]);
  });

  it('names a secret ARN in another region than the stack', () => {
    const c = config({}, { secretId: ARN('eu-west-1', 'jenkins/prod') });
    expect(messages(stackIssues(c, { params: {}, region: 'us-east-1' }))).toEqual([
      expect.stringMatching(
        /^keys\[0\]\.secretId: .* is in region eu-west-1, but the stack \(region us-east-1\)/,
      ),
    ]);
    expect(stackIssues(c, { params: {} })).toEqual([]);
  });

  it('checks the topic and the webhook secret the stack grants against those the scan uses', () => {
    const topic = 'arn:aws:sns:us-east-1:210987654321:rotations';
    const c = config({
      notifications: { snsTopicArn: topic, slackWebhookSecretId: ARN('us-east-1', 'hooks/slack') },
    });
    expect(
      stackIssues(c, { params: { notifyTopicArn: topic, slackWebhookSecretId: 'hooks/slack' } }),
    ).toEqual([]);
    expect(
      messages(
        stackIssues(c, {
          params: { notifyTopicArn: '', slackWebhookSecretId: ARN('us-east-1', 'hooks/slack') },
        }),
      ),
    ).toEqual([
      expect.stringMatching(
        /^notifications\.snsTopicArn: the scan publishes to .*rotations, but the stack lets it publish only to a topic it creates .*--param="notifyTopicArn=arn:aws:sns:us-east-1:210987654321:rotations"$/,
      ),
      expect.stringMatching(
        /^notifications\.slackWebhookSecretId: the scan reads secret "hooks\/slack", but the stack grants it "arn:.*--param="slackWebhookSecretId=hooks\/slack"$/,
      ),
    ]);
    // Unknown parameters (unresolved variables) are not checked.
    expect(stackIssues(c, { params: {} })).toEqual([]);
  });

  it('refuses malformed parameters', () => {
    expect(messages(stackIssues(config(), { params: { userPath: 'jenkins', secretPrefix: 'a b' } }))).toEqual(
      [
        expect.stringMatching(/^\(parameter userPath\): "jenkins" must be an IAM path/),
        expect.stringMatching(/^\(parameter secretPrefix\): "a b" must be the start of a secret name/),
        expect.stringMatching(
          /^keys\[0\]\.secretId: secret "jenkins\/prod\/aws-key" is not under the stack's secretPrefix "a b"/,
        ),
      ],
    );
  });

  it('refuses a sourceMaps parameter that is not true or false, which would silently mean off', () => {
    expect(messages(stackIssues(config(), { params: { sourceMaps: 'yes' } }))).toEqual([
      '(parameter sourceMaps): "yes" must be true or false',
    ]);
    for (const sourceMaps of ['true', 'false'])
      expect(stackIssues(config(), { params: { sourceMaps } })).toEqual([]);
  });

  it('userPathIssue: a user on or below userPath is fine; another path is named with the fix', () => {
    expect(userPathIssue({ userName: 'u', path: '/jenkins/team/' }, '/jenkins/')).toBeUndefined();
    expect(userPathIssue({ userName: 'u', path: '/' }, '/jenkins/')).toMatch(
      /^IAM user u is on path \/, outside the stack's userPath "\/jenkins\/": the stack's roles .*aws iam update-user --user-name u --new-path \/jenkins\//,
    );
    expect(userPathIssue({ userName: 'u', path: '/ci/', accountId: '210987654321' }, '/jenkins/')).toMatch(
      /the role in account 210987654321/,
    );
  });
});

describe('placeholderWarnings: values left from config/example.json', () => {
  it('names every placeholder of the example itself', async () => {
    const warnings = placeholderWarnings(await loadConfigFile(EXAMPLE), await examplePlaceholders());
    expect(warnings.map((w) => w.path)).toEqual([
      'notifications.snsTopicArn',
      'keys[0].jenkins[0].url',
      'keys[1].assumeRoleArn',
      'keys[1].verify.ecr.registryId',
      'keys[1].jenkins[0].url',
      'keys[1].jenkins[1].url',
    ]);
    expect(warnings[0]?.message).toMatch(/is config\/example\.json's topic/);
    expect(warnings[2]?.message).toBe(
      "the role's account 444455556666 is config/example.json's placeholder account id: use the real account's id",
    );
  });

  it('reads the placeholders from the example rather than a fixed list', () => {
    const p = placeholdersOf({
      notifications: { snsTopicArn: 'arn:aws:sns:us-east-1:999988887777:t' },
      keys: [{ jenkins: [{ url: 'https://ci.corp.test' }] }],
    });
    expect([...p.accountIds].sort()).toEqual(['123456789012', '999988887777']);
    expect([...p.hosts]).toEqual(['ci.corp.test']);
    const c = config(
      {},
      {
        accountId: '999988887777',
        jenkins: [{ ...rawKey().jenkins[0], url: 'https://ci.corp.test/jenkins' }],
      },
    );
    expect(placeholderWarnings(c, p).map((w) => w.path)).toEqual([
      'keys[0].accountId',
      'keys[0].jenkins[0].url',
    ]);
  });

  it('flags documentation domains and fill-me-in words, and leaves real values alone', () => {
    const p = placeholdersOf({});
    const real = config(
      { notifications: { snsTopicArn: 'arn:aws:sns:us-east-1:210987654321:t' } },
      { jenkins: [{ ...rawKey().jenkins[0], url: 'https://ci.acme.io' }], description: 'push key… for ECR' },
    );
    expect(placeholderWarnings(real, p)).toEqual([]);
    const c = config(
      { notifications: { snsTopicArn: 'arn:aws:sns:us-east-1:123456789012:t' } },
      { jenkins: [{ ...rawKey().jenkins[0], url: 'https://build.example.org' }], description: 'TODO: owner' },
    );
    expect(messages(placeholderWarnings(c, p))).toEqual([
      "notifications.snsTopicArn: the topic's account 123456789012 is AWS documentation's placeholder account id: use the real account's id",
      "keys[0].jenkins[0].url: https://build.example.org is a placeholder (build.example.org is reserved for documentation): use your Jenkins' URL",
      'keys[0].description: "TODO: owner" looks like a placeholder to fill in',
    ]);
  });
});

describe('checkDeployConfig: what serverless package checks', () => {
  let dir: string;
  const declared = {
    default: { ...DEFAULTS, configFile: 'rotator.config.json' },
    ci: { configFile: 'conf/ci.json' },
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deploy-check-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const check = (stage: string, cliParams: string[] = []) =>
    checkDeployConfig({ serviceDir: dir, stage, region: 'us-east-1', declaredParams: declared, cliParams });

  it('refuses a missing file, naming it and the commands that create and check it', async () => {
    const r = await check('prod');
    expect(r.error?.split('\n')).toEqual([
      'The configuration file rotator.config.json (parameter configFile of stage prod) does not exist.',
      expect.stringMatching(/fail at its first cold start/),
      '  cp config/example.json rotator.config.json',
      '  npx key-rotator validate-config rotator.config.json --stage prod',
      expect.stringMatching(/--param="configFile=/),
    ]);
    expect((await check('ci')).error).toMatch(/^The configuration file conf\/ci\.json .* stage ci\)/);
  });

  it('refuses an invalid file with every issue, and one that does not fit the parameters', async () => {
    await writeFile(
      join(dir, 'bad.json'),
      JSON.stringify({ version: 2, keys: [rawKey({ iamUser: 'a b' })] }),
    );
    const bad = await check('prod', ['configFile=bad.json']);
    expect(bad.error?.split('\n')).toEqual([
      'The configuration file bad.json (stage prod) is invalid; every function would fail at its first cold start:',
      expect.stringMatching(/^ {2}version: /),
      expect.stringMatching(/^ {2}keys\[0\]\.iamUser: /),
      'Fix it, then check it: npx key-rotator validate-config bad.json --stage prod',
    ]);
    await writeFile(join(dir, 'rotator.config.json'), JSON.stringify({ version: 1, keys: [fitting()] }));
    const misfit = await check('prod', ['secretPrefix=other/']);
    expect(misfit.error?.split('\n')).toEqual([
      expect.stringMatching(
        /^The configuration file rotator\.config\.json does not fit the parameters of stage prod; .*denied access:$/,
      ),
      expect.stringMatching(
        /^ {2}keys\[0\]\.secretId: secret "jenkins\/prod\/aws-key" is not under the stack's secretPrefix "other\/"/,
      ),
      'Fix it, then check it: npx key-rotator validate-config rotator.config.json --stage prod',
    ]);
  });

  it('passes a valid file that fits, with the placeholders as warnings', async () => {
    await writeFile(join(dir, 'rotator.config.json'), JSON.stringify({ version: 1, keys: [fitting()] }));
    const r = await check('prod');
    expect(r.error).toBeUndefined();
    expect(r.warnings).toEqual([
      expect.stringMatching(
        /^rotator\.config\.json: keys\[0\]\.jenkins\[0\]\.url: https:\/\/jenkins\.example\.com is a placeholder/,
      ),
    ]);
  });
});
