import { describe, expect, it } from 'vitest';
import {
  describeSecretFinding,
  findSecretInText,
  isSecretName,
  redactSecretsInText,
  type SecretFinding,
} from '../../src/domain/secret-text';
import {
  FAKE_AWS_KEY,
  FAKE_JENKINS_TOKEN,
  FAKE_PASSWORD,
  GIT_SHA,
  REQUEST_UUID,
  SECRET_ARN,
} from '../support/fake-secrets';

const SLACK = 'https://hooks.slack.com/services/T0FAKE000/B0FAKE000/fakeFAKEfakeFAKEfake0000';
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEfakefakefake\n-----END RSA PRIVATE KEY-----';
const enc = encodeURIComponent;

describe('findSecretInText: a secret anywhere in free text, in any of its forms', () => {
  const cases: [string, string, Partial<SecretFinding>, string][] = [
    [
      'a bare AWS secret key',
      `leaked ${FAKE_AWS_KEY} on a forum`,
      { kind: 'aws-secret-access-key', index: 7 },
      FAKE_AWS_KEY,
    ],
    [
      'aws_secret_access_key=<key>',
      `aws_secret_access_key=${FAKE_AWS_KEY}`,
      { kind: 'aws-secret-access-key', index: 22, encoded: false },
      FAKE_AWS_KEY,
    ],
    [
      'an exported variable',
      `export AWS_SECRET_ACCESS_KEY="${FAKE_AWS_KEY}"`,
      { kind: 'aws-secret-access-key' },
      FAKE_AWS_KEY,
    ],
    [
      'secretAccessKey: <key>',
      `secretAccessKey: ${FAKE_AWS_KEY}`,
      { kind: 'aws-secret-access-key', index: 17 },
      FAKE_AWS_KEY,
    ],
    [
      'JSON',
      JSON.stringify({ secretAccessKey: FAKE_AWS_KEY }),
      { kind: 'aws-secret-access-key', index: 20 },
      FAKE_AWS_KEY,
    ],
    [
      'JSON-escaped slashes',
      `{"secretAccessKey":"${FAKE_AWS_KEY.replace(/\//g, '\\/')}"}`,
      { kind: 'aws-secret-access-key', index: 20, encoded: true },
      FAKE_AWS_KEY,
    ],
    [
      'JSON inside a JSON string',
      JSON.stringify(JSON.stringify({ k: FAKE_AWS_KEY })),
      { kind: 'aws-secret-access-key', index: 10 },
      FAKE_AWS_KEY,
    ],
    [
      'URL-encoded (%2F, %2B)',
      `key ${enc(FAKE_AWS_KEY)}`,
      { kind: 'aws-secret-access-key', index: 4, encoded: true },
      FAKE_AWS_KEY,
    ],
    [
      'URL-encoded twice',
      enc(enc(FAKE_AWS_KEY)),
      { kind: 'aws-secret-access-key', index: 0, encoded: true },
      FAKE_AWS_KEY,
    ],
    [
      'a query string',
      `https://example.com/cb?user=bot&aws_secret_access_key=${enc(FAKE_AWS_KEY)}&x=1`,
      { kind: 'aws-secret-access-key', encoded: true },
      FAKE_AWS_KEY,
    ],
    [
      'the end of a path',
      `gist.github.com/someone/${FAKE_AWS_KEY}`,
      { kind: 'aws-secret-access-key', index: 24 },
      FAKE_AWS_KEY,
    ],
    [
      'a form-encoded sentence',
      `leaked+${FAKE_AWS_KEY}+today`,
      { kind: 'aws-secret-access-key', index: 7 },
      FAKE_AWS_KEY,
    ],
    [
      'a Jenkins API token',
      `token ${FAKE_JENKINS_TOKEN}`,
      { kind: 'jenkins-api-token', index: 6 },
      FAKE_JENKINS_TOKEN,
    ],
    ['a Slack webhook URL', `posted to ${SLACK}.`, { kind: 'slack-webhook-url', index: 10 }, SLACK],
    ['a private key', `key: ${PEM}`, { kind: 'private-key', index: 5 }, 'MIIEfakefakefake'],
    [
      'password=…',
      `password=${FAKE_PASSWORD}`,
      { kind: 'named-secret', name: 'password', index: 9 },
      FAKE_PASSWORD,
    ],
    [
      'password: …',
      `the password: ${FAKE_PASSWORD}`,
      { kind: 'named-secret', name: 'password', index: 14 },
      FAKE_PASSWORD,
    ],
    ['passwd = …', `passwd = ${FAKE_PASSWORD}`, { kind: 'named-secret', name: 'passwd' }, FAKE_PASSWORD],
    [
      '"password": "…"',
      `{"password": "letmein"}`,
      { kind: 'named-secret', name: 'password', index: 14 },
      'letmein',
    ],
    ["password='…'", `password='letmein'`, { kind: 'named-secret', name: 'password', index: 10 }, 'letmein'],
    ['token=…', `token=${FAKE_PASSWORD}`, { kind: 'named-secret', name: 'token' }, FAKE_PASSWORD],
    [
      'apiToken: "…"',
      `apiToken: "${FAKE_PASSWORD}"`,
      { kind: 'named-secret', name: 'apiToken' },
      FAKE_PASSWORD,
    ],
    [
      'sessionToken=…',
      `sessionToken=${FAKE_PASSWORD}`,
      { kind: 'named-secret', name: 'sessionToken' },
      FAKE_PASSWORD,
    ],
    ['secret=…', `secret=${FAKE_PASSWORD}`, { kind: 'named-secret', name: 'secret' }, FAKE_PASSWORD],
    [
      'DB_PASSWORD=…',
      `DB_PASSWORD=${FAKE_PASSWORD}`,
      { kind: 'named-secret', name: 'DB_PASSWORD' },
      FAKE_PASSWORD,
    ],
    [
      'client_secret in a query',
      `?client_id=x&client_secret=${FAKE_PASSWORD}&y=2`,
      { kind: 'named-secret', name: 'client_secret' },
      FAKE_PASSWORD,
    ],
    [
      'an Authorization header',
      'Authorization: Basic a2V5LXJvdGF0b3I6ZmFrZQ==',
      { kind: 'named-secret', name: 'Authorization', index: 21 },
      'a2V5LXJvdGF0b3I6ZmFrZQ==',
    ],
    [
      'password%3D… (URL-encoded)',
      `x=1&${enc(`password=${FAKE_PASSWORD}`)}`,
      { kind: 'named-secret', name: 'password', index: 15, encoded: true },
      FAKE_PASSWORD,
    ],
    [
      'URL-encoded JSON',
      enc(JSON.stringify({ password: FAKE_PASSWORD })),
      { kind: 'named-secret', name: 'password', encoded: true },
      FAKE_PASSWORD,
    ],
  ];

  it.each(cases)('finds %s, naming the kind and where, never the value', (_, text, expected, value) => {
    const found = findSecretInText(text);
    expect(found).toMatchObject(expected);
    expect(JSON.stringify(found)).not.toContain(value);
    expect(describeSecretFinding(found!)).not.toContain(value);
  });

  it('describes a finding for a human', () => {
    expect(describeSecretFinding(findSecretInText(`leaked ${FAKE_AWS_KEY}`)!)).toBe(
      'an AWS secret access key at character 8',
    );
    expect(describeSecretFinding(findSecretInText(enc(`password=${FAKE_PASSWORD}`))!)).toBe(
      'the value of password (URL-encoded or escaped) at character 12',
    );
  });

  const benign: [string, string][] = [
    ['an access key id', 'AKIAIOSFODNN7EXAMPLE was found in a public gist'],
    ['a ClientRequestToken', `resume it with token ${REQUEST_UUID}`],
    ['a token=<uuid>', `clientRequestToken=${REQUEST_UUID} token=${REQUEST_UUID}`],
    ['a git GIT_SHA', `built from ${GIT_SHA}`],
    ['a git GIT_SHA as a parameter', `GIT_COMMIT=${GIT_SHA}`],
    ['a secret SECRET_ARN', `secret: ${SECRET_ARN}`],
    ['ids named like secrets', 'secretId=jenkins/prod/aws-key tokenSecretId: key-rotator/jenkins-api-token'],
    [
      'placeholders',
      'password=*** token: <token> "secretAccessKey": "…" password=[redacted] secret=${SECRET}',
    ],
    ['prose', 'the old token: revoked; the password: 3 attempts; Authorization: required'],
    ['a mention of Slack', 'notify hooks.slack.com when done'],
    ['a long path of words', 'Platform/ReleasePipelines/ProductionDeployments/x'],
    ['URL-encoded prose', 'a%20b%2Fc%3Dd'],
    ['an empty text', ''],
  ];

  it.each(benign)('leaves %s alone', (_, text) => {
    expect(findSecretInText(text)).toBeUndefined();
    expect(redactSecretsInText(text)).toBe(text);
  });
});

describe('isSecretName', () => {
  it.each([
    'password',
    'passwd',
    'token',
    'apiToken',
    'aws_secret_access_key',
    'secretAccessKey',
    'sessionToken',
    'X-Amz-Security-Token',
    'DB_PASSWORD',
    'client_secret',
    'Authorization',
    'slackWebhookUrl',
    'secret',
  ])('%s is a secret name', (n) => expect(isSecretName(n)).toBe(true));
  it.each([
    'secretId',
    'tokenSecretId',
    'clientRequestToken',
    'NextToken',
    'accessKeyId',
    'credentialId',
    'reason',
  ])('%s is not', (n) => expect(isSecretName(n)).toBe(false));
});

describe('redactSecretsInText', () => {
  it('replaces the secret, in the form it was written, and keeps the rest', () => {
    expect(redactSecretsInText(`aws_secret_access_key=${FAKE_AWS_KEY} for AKIAIOSFODNN7EXAMPLE`)).toBe(
      'aws_secret_access_key=[redacted] for AKIAIOSFODNN7EXAMPLE',
    );
    expect(redactSecretsInText(`u=bot&password%3D${enc(FAKE_PASSWORD)}%26x%3D1`)).toBe(
      'u=bot&password%3D[redacted]%26x%3D1',
    );
    expect(redactSecretsInText(`{"password":"${FAKE_PASSWORD}","user":"bot"}`)).toBe(
      '{"password":"[redacted]","user":"bot"}',
    );
    expect(redactSecretsInText(`a ${PEM} b`)).toBe('a [redacted] b');
  });

  it('is idempotent', () => {
    const once = redactSecretsInText(`token=${FAKE_PASSWORD} ${FAKE_AWS_KEY}`);
    expect(redactSecretsInText(once)).toBe(once);
  });
});
