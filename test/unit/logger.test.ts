import { describe, expect, it } from 'vitest';
import { createLogger, redact } from '../../src/observability/logger';
import { captureOutput } from '../support/capture';
import {
  FAKE_AWS_KEY,
  FAKE_JENKINS_TOKEN,
  FAKE_PASSWORD,
  REQUEST_UUID,
  SECRET_ARN,
} from '../support/fake-secrets';

describe('redact', () => {
  it('hides values of secret-named properties at any depth', () => {
    const out = redact({
      a: { secretAccessKey: 'x', password: 'p', apiToken: 't', Authorization: 'Basic y' },
    });
    expect(out).toEqual({
      a: {
        secretAccessKey: '[redacted]',
        password: '[redacted]',
        apiToken: '[redacted]',
        Authorization: '[redacted]',
      },
    });
  });

  it('keeps ids whose names look secret but are not', () => {
    expect(redact({ clientRequestToken: 'tok', secretId: 'jenkins/prod', credentialId: 'aws-prod' })).toEqual(
      {
        clientRequestToken: 'tok',
        secretId: 'jenkins/prod',
        credentialId: 'aws-prod',
      },
    );
  });

  it('scrubs secret-shaped values inside free text', () => {
    const out = redact({ message: `failed with ${FAKE_AWS_KEY} and ${FAKE_JENKINS_TOKEN}` }) as {
      message: string;
    };
    expect(out.message).toBe('failed with [redacted] and [redacted]');
  });

  it.each([
    ['key=value', `aws_secret_access_key=${FAKE_AWS_KEY}`, 'aws_secret_access_key=[redacted]'],
    ['key: value', `password: ${FAKE_PASSWORD} (rotated)`, 'password: [redacted] (rotated)'],
    [
      'JSON',
      `{"sessionToken":"${FAKE_PASSWORD}","user":"bot"}`,
      '{"sessionToken":"[redacted]","user":"bot"}',
    ],
    [
      'escaped JSON inside a string',
      JSON.stringify(JSON.stringify({ password: FAKE_PASSWORD })),
      '"{\\"password\\":\\"[redacted]\\"}"',
    ],
    [
      'a query string',
      `GET /cb?user=bot&token=${FAKE_PASSWORD}&x=1`,
      'GET /cb?user=bot&token=[redacted]&x=1',
    ],
    [
      'URL-encoded name=value',
      `q=${encodeURIComponent(`password=${FAKE_PASSWORD}`)}`,
      'q=password%3D[redacted]',
    ],
    ['a URL-encoded key', `k=${encodeURIComponent(FAKE_AWS_KEY)}`, 'k=[redacted]'],
    ['an Authorization header', 'Authorization: Bearer abc.def-123', 'Authorization: Bearer [redacted]'],
  ])('redacts a secret written as %s in a free-text string', (_, text, expected) => {
    expect(redact({ reason: text })).toEqual({ reason: expected });
    expect(redact(text)).toBe(expected);
  });

  it('keeps access key ids, ClientRequestToken UUIDs, secret ids and ARNs readable', () => {
    const text = `key AKIAIOSFODNN7EXAMPLE, token=${REQUEST_UUID}, secretId=jenkins/prod/aws-key, secret ${SECRET_ARN}`;
    expect(redact({ accessKeyId: 'AKIAEXAMPLE000000001', summary: text, token: REQUEST_UUID })).toEqual({
      accessKeyId: 'AKIAEXAMPLE000000001',
      summary: text,
      token: REQUEST_UUID,
    });
  });

  it('scrubs error messages', () => {
    expect(redact({ error: new Error(`bad secret=${FAKE_PASSWORD}`) })).toEqual({
      error: { name: 'Error', message: 'bad secret=[redacted]' },
    });
  });
});

describe('createLogger', () => {
  it('redacts the message as well as the fields', () => {
    const capture = captureOutput();
    try {
      createLogger('logger-test').warn(`emergency: aws_secret_access_key=${FAKE_AWS_KEY}`, {
        reason: `password: ${FAKE_PASSWORD}`,
        requestId: REQUEST_UUID,
      });
    } finally {
      capture.stop();
    }
    const line = JSON.parse(capture.text().trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({
      message: 'emergency: aws_secret_access_key=[redacted]',
      reason: 'password: [redacted]',
      requestId: REQUEST_UUID,
    });
    expect(capture.text()).not.toContain(FAKE_AWS_KEY);
    expect(capture.text()).not.toContain(FAKE_PASSWORD);
  });
});
