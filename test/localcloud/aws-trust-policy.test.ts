import { describe, expect, it } from 'vitest';
import { evaluateTrust, parseTrustPolicy, type TrustRequest } from '../../localcloud/aws/trust';

// Plain unit tests of the emulator's trust policy evaluation (no I/O).

const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/jenkins.example.com/oidc';
const KEY = 'jenkins.example.com/oidc';

const webPolicy = (condition: Record<string, unknown>, effect = 'Allow') =>
  parseTrustPolicy(
    JSON.stringify({
      Statement: [
        {
          Effect: effect,
          Principal: { Federated: PROVIDER },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: condition,
        },
      ],
    }),
  );

const web = (context: Record<string, string[]>): TrustRequest => ({
  action: 'sts:AssumeRoleWithWebIdentity',
  federated: PROVIDER,
  context,
});

const user = (arn: string, context: Record<string, string[]> = {}): TrustRequest => ({
  action: 'sts:AssumeRole',
  aws: { arns: [arn], accountId: arn.split(':')[4]! },
  context,
});

describe('trust policy conditions', () => {
  it('StringEquals and StringLike: values of a key OR, keys and operators AND, key names in any case', () => {
    const policy = webPolicy({
      StringEquals: { [`${KEY}:aud`]: 'sts.amazonaws.com' },
      StringLike: { [`${KEY.toUpperCase()}:SUB`]: ['job/team-a/*', 'job/shared/build-?'] },
    });
    const aud = { [`${KEY}:aud`]: ['sts.amazonaws.com'] };
    expect(evaluateTrust(policy, web({ ...aud, [`${KEY}:sub`]: ['job/team-a/deploy'] }))).toBe('allow');
    expect(evaluateTrust(policy, web({ ...aud, [`${KEY}:sub`]: ['job/shared/build-7'] }))).toBe('allow');
    expect(evaluateTrust(policy, web({ ...aud, [`${KEY}:sub`]: ['job/shared/build-77'] }))).toBe('none');
    expect(evaluateTrust(policy, web({ ...aud, [`${KEY}:sub`]: ['job/TEAM-A/deploy'] }))).toBe('none');
    expect(evaluateTrust(policy, web({ [`${KEY}:sub`]: ['job/team-a/deploy'] }))).toBe('none');
  });

  it('negated operators hold for an absent key; IfExists holds for an absent key', () => {
    const not = webPolicy({ StringNotEquals: { [`${KEY}:sub`]: 'job/forbidden' } });
    expect(evaluateTrust(not, web({}))).toBe('allow');
    expect(evaluateTrust(not, web({ [`${KEY}:sub`]: ['job/forbidden'] }))).toBe('none');
    const ifExists = webPolicy({ StringEqualsIfExists: { [`${KEY}:amr`]: 'mfa' } });
    expect(evaluateTrust(ifExists, web({}))).toBe('allow');
    expect(evaluateTrust(ifExists, web({ [`${KEY}:amr`]: ['pwd'] }))).toBe('none');
  });

  it('ForAnyValue and ForAllValues on a multi-valued key', () => {
    const any = webPolicy({ 'ForAnyValue:StringLike': { [`${KEY}:amr`]: 'auth*' } });
    expect(evaluateTrust(any, web({ [`${KEY}:amr`]: ['unauth', 'authenticated'] }))).toBe('allow');
    expect(evaluateTrust(any, web({ [`${KEY}:amr`]: ['unauth'] }))).toBe('none');
    expect(evaluateTrust(any, web({}))).toBe('none');
    const all = webPolicy({ 'ForAllValues:StringEquals': { [`${KEY}:amr`]: ['a', 'b'] } });
    expect(evaluateTrust(all, web({ [`${KEY}:amr`]: ['a', 'b'] }))).toBe('allow');
    expect(evaluateTrust(all, web({ [`${KEY}:amr`]: ['a', 'c'] }))).toBe('none');
    expect(evaluateTrust(all, web({}))).toBe('allow');
  });

  it('Null, Bool and StringEqualsIgnoreCase', () => {
    expect(evaluateTrust(webPolicy({ Null: { [`${KEY}:amr`]: 'true' } }), web({}))).toBe('allow');
    expect(evaluateTrust(webPolicy({ Null: { [`${KEY}:amr`]: 'false' } }), web({}))).toBe('none');
    expect(
      evaluateTrust(
        webPolicy({ Bool: { 'aws:SecureTransport': true } }),
        web({ 'aws:securetransport': ['TRUE'] }),
      ),
    ).toBe('allow');
    const ignoreCase = webPolicy({ StringEqualsIgnoreCase: { [`${KEY}:sub`]: 'Job/A' } });
    expect(evaluateTrust(ignoreCase, web({ [`${KEY}:sub`]: ['job/a'] }))).toBe('allow');
  });

  it('an applying Deny wins over an Allow', () => {
    const policy = parseTrustPolicy(
      JSON.stringify({
        Statement: [
          { Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRole*' },
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: { StringLike: { [`${KEY}:sub`]: '*/blocked' } },
          },
        ],
      }),
    );
    expect(evaluateTrust(policy, web({ [`${KEY}:sub`]: ['job/ok'] }))).toBe('allow');
    expect(evaluateTrust(policy, web({ [`${KEY}:sub`]: ['job/blocked'] }))).toBe('deny');
  });
});

describe('trust policy principals', () => {
  const aws = (principal: unknown) =>
    parseTrustPolicy(
      JSON.stringify({
        Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }],
      }),
    );

  it('an account id means every principal of that account; an ARN, that principal; * anyone', () => {
    expect(evaluateTrust(aws('111122223333'), user('arn:aws:iam::111122223333:user/any'))).toBe('allow');
    expect(evaluateTrust(aws('111122223333'), user('arn:aws:iam::444455556666:user/any'))).toBe('none');
    const one = aws(['arn:aws:iam::111122223333:user/alice']);
    expect(evaluateTrust(one, user('arn:aws:iam::111122223333:user/alice'))).toBe('allow');
    expect(evaluateTrust(one, user('arn:aws:iam::111122223333:user/bob'))).toBe('none');
    expect(evaluateTrust(aws('*'), user('arn:aws:iam::444455556666:user/anyone'))).toBe('allow');
  });

  it('AWS principals do not admit a federated caller, nor Federated ones an AWS caller, nor one action the other', () => {
    expect(evaluateTrust(aws('*'), web({}))).toBe('none');
    const federated = webPolicy({});
    expect(evaluateTrust(federated, user('arn:aws:iam::111122223333:user/alice'))).toBe('none');
    expect(
      evaluateTrust(
        parseTrustPolicy(
          JSON.stringify({
            Statement: [{ Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRole' }],
          }),
        ),
        web({}),
      ),
    ).toBe('none');
  });

  it('refuses what it cannot evaluate or IAM refuses, saying what', () => {
    const refuse = (statement: Record<string, unknown>) => () =>
      parseTrustPolicy(
        JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', ...statement }] }),
      );
    expect(refuse({ NotPrincipal: { AWS: '*' } })).toThrow(
      'NotPrincipal is not evaluated by the localcloud emulator',
    );
    expect(refuse({ Principal: { Federated: 'https://issuer.example.com' } })).toThrow(
      'Invalid principal in policy: "Federated":"https://issuer.example.com"',
    );
    expect(refuse({ Principal: '*', Action: 's3:GetObject' })).toThrow('is not an STS action');
    expect(refuse({ Principal: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2020' } } })).toThrow(
      'Condition operator DateGreaterThan is not evaluated',
    );
  });
});
