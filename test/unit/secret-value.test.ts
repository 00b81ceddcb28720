import { describe, expect, it } from 'vitest';
import { singleSecretValue } from '../../src/domain/secret-value';
import { extractToken } from '../../src/jenkins-target';

const TOKEN = `11${'cd'.repeat(16)}`;

describe('singleSecretValue', () => {
  it('takes the bare value, trimmed', () => {
    expect(singleSecretValue(`  ${TOKEN}\n`, ['apiToken'])).toBe(TOKEN);
  });

  it('takes the first named field that is a non-empty string', () => {
    expect(
      singleSecretValue(JSON.stringify({ token: '', password: 'p' }), ['apiToken', 'token', 'password']),
    ).toBe('p');
  });

  it('has no value for an empty secret, JSON without the field, or broken JSON', () => {
    expect(singleSecretValue(undefined, ['a'])).toBeUndefined();
    expect(singleSecretValue('   ', ['a'])).toBeUndefined();
    expect(singleSecretValue('{"b":"x"}', ['a'])).toBeUndefined();
    expect(singleSecretValue('{"a":', ['a'])).toBeUndefined();
  });
});

describe('extractToken', () => {
  it('reads the Jenkins token bare or as JSON', () => {
    expect(extractToken(TOKEN, 'key-rotator/jenkins')).toBe(TOKEN);
    expect(extractToken(JSON.stringify({ apiToken: TOKEN }), 'key-rotator/jenkins')).toBe(TOKEN);
  });

  it('names the secret, never its value, when there is no token', () => {
    expect(() => extractToken('', 'key-rotator/jenkins')).toThrow(
      'Jenkins token secret key-rotator/jenkins is empty',
    );
    const secretish = JSON.stringify({ user: TOKEN });
    expect(() => extractToken(secretish, 'key-rotator/jenkins')).toThrow(/without an "apiToken"/);
    try {
      extractToken(secretish, 'key-rotator/jenkins');
    } catch (err) {
      expect(String(err)).not.toContain(TOKEN);
    }
  });
});
