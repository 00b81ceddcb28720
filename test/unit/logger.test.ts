import { describe, expect, it } from 'vitest';
import { redact } from '../../src/observability/logger';

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
    const secret = 'wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEYa';
    const token = `11${'ab'.repeat(16)}`;
    const out = redact({ message: `failed with ${secret} and ${token}` }) as { message: string };
    expect(out.message).not.toContain(secret);
    expect(out.message).not.toContain(token);
    expect(out.message).toContain('[redacted]');
  });

  it('keeps access key ids, which are identifiers', () => {
    expect(redact({ accessKeyId: 'AKIAEXAMPLE000000001' })).toEqual({ accessKeyId: 'AKIAEXAMPLE000000001' });
  });
});
