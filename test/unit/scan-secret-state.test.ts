import {
  InvalidRequestException,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { rawKey } from '../support/config-fixture';
import { parseConfig } from '../../src/config';
import { readSecretState, startRotation } from '../../src/scan/secret-state';

const KEY = parseConfig({
  version: 1,
  keys: [rawKey()],
}).keys[0]!;

const FAKE_SECRET_KEY = 'FAKEfake'.repeat(5);
const valueOf = (accessKeyId: string) =>
  JSON.stringify({ userName: 'jenkins-prod', accessKeyId, secretAccessKey: FAKE_SECRET_KEY });
const VALUE = valueOf('AKIAPROD000000000001');
/** GetSecretValue answering per version: AWSCURRENT is `current`; other versions by VersionId. */
const byVersion = (current: string, versions: Record<string, string>) => (input: Record<string, unknown>) => {
  if (input['VersionStage'] === 'AWSCURRENT') return { SecretString: current };
  const v = versions[String(input['VersionId'])];
  if (v === undefined)
    throw new ResourceNotFoundException({
      message: "Secrets Manager can't find the specified secret value for VersionId",
      $metadata: {},
    });
  return { SecretString: v };
};

type Answers = Record<string, (input: Record<string, unknown>) => unknown>;

/** A SecretsManagerClient whose `send` answers by command name and records the inputs. */
function client(answers: Answers) {
  const sent: { command: string; input: Record<string, unknown> }[] = [];
  const fake = {
    send: async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const command = cmd.constructor.name.replace(/Command$/, '');
      sent.push({ command, input: cmd.input });
      const answer = answers[command];
      if (!answer) throw new Error(`unexpected ${command}`);
      return Promise.resolve(answer(cmd.input));
    },
  };
  return { sm: fake as unknown as SecretsManagerClient, sent };
}

const describeWith =
  (stages: Record<string, string[]>, extra: Record<string, unknown> = {}) =>
  () => ({
    ARN: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:jenkins/prod/aws-key-AbCdEf',
    VersionIdsToStages: stages,
    ...extra,
  });

describe('readSecretState', () => {
  it('reads AWSCURRENT, the rotation function and the last rotation, never keeping the secret', async () => {
    const { sm, sent } = client({
      DescribeSecret: describeWith(
        { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] },
        {
          RotationLambdaARN: 'arn:aws:lambda:us-east-1:1:function:f',
          LastRotatedDate: new Date('2026-05-01T00:00:00Z'),
        },
      ),
      GetSecretValue: byVersion(VALUE, { v1: valueOf('AKIAPREV000000000001') }),
    });
    const s = await readSecretState(sm, KEY);
    expect(s).toEqual({
      key: 'prod',
      secretId: 'jenkins/prod/aws-key',
      arn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:jenkins/prod/aws-key-AbCdEf',
      rotationConfigured: true,
      currentVersionId: 'v2',
      currentAccessKeyId: 'AKIAPROD000000000001',
      currentUserName: 'jenkins-prod',
      previousAccessKeyId: 'AKIAPREV000000000001',
      lastRotatedDate: new Date('2026-05-01T00:00:00Z'),
    });
    expect(JSON.stringify(s)).not.toContain(FAKE_SECRET_KEY);
    expect(sent.filter((c) => c.command === 'GetSecretValue').map((c) => c.input)).toEqual([
      { SecretId: 'jenkins/prod/aws-key', VersionId: 'v1' },
      { SecretId: 'jenkins/prod/aws-key', VersionStage: 'AWSCURRENT' },
    ]);
  });

  it('sees an unfinished rotation (AWSPENDING on another version) and when it began', async () => {
    const { sm } = client({
      DescribeSecret: describeWith({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] }),
      ListSecretVersionIds: (input) =>
        input['NextToken']
          ? { Versions: [{ VersionId: 'v2', CreatedDate: new Date('2026-06-01T10:00:00Z') }] }
          : { Versions: [{ VersionId: 'v1' }], NextToken: 'page-2' },
      GetSecretValue: byVersion(VALUE, { v2: valueOf('AKIAPENDING000000001') }),
    });
    const s = await readSecretState(sm, KEY);
    expect(s.pending).toEqual({
      versionId: 'v2',
      createdDate: new Date('2026-06-01T10:00:00Z'),
      accessKeyId: 'AKIAPENDING000000001',
    });
    expect(s.rotationConfigured).toBe(false);
    expect(JSON.stringify(s)).not.toContain(FAKE_SECRET_KEY);
  });

  it('reads an AWSPENDING that holds no value yet (RotateSecret before createSecret) as a rotation without a key', async () => {
    const { sm } = client({
      DescribeSecret: describeWith({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] }),
      ListSecretVersionIds: () => ({ Versions: [{ VersionId: 'v2', CreatedDate: new Date('2026-06-01') }] }),
      GetSecretValue: byVersion(VALUE, {}),
    });
    const s = await readSecretState(sm, KEY);
    expect(s.error).toBeUndefined();
    expect(s.pending).toEqual({ versionId: 'v2', createdDate: new Date('2026-06-01') });
  });

  it('an old version that is not a key secret does not make the state unreadable', async () => {
    const { sm } = client({
      DescribeSecret: describeWith({ v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] }),
      GetSecretValue: byVersion(VALUE, { v1: 'not json' }),
    });
    const s = await readSecretState(sm, KEY);
    expect(s.error).toBeUndefined();
    expect(s.previousAccessKeyId).toBeUndefined();
    expect(s.currentAccessKeyId).toBe('AKIAPROD000000000001');
  });

  it('does not take AWSPENDING on the AWSCURRENT version for a rotation in progress', async () => {
    const { sm } = client({
      DescribeSecret: describeWith({ v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT', 'AWSPENDING'] }),
      GetSecretValue: () => ({ SecretString: VALUE }),
    });
    expect((await readSecretState(sm, KEY)).pending).toBeUndefined();
  });

  it('turns a secret it cannot read into an error state, naming the secret', async () => {
    const { sm } = client({
      DescribeSecret: () => {
        throw new ResourceNotFoundException({
          message: "Secrets Manager can't find the specified secret.",
          $metadata: {},
        });
      },
    });
    expect(await readSecretState(sm, KEY)).toEqual({
      key: 'prod',
      secretId: 'jenkins/prod/aws-key',
      rotationConfigured: false,
      error: "cannot read secret jenkins/prod/aws-key: Secrets Manager can't find the specified secret.",
    });
  });

  it('reports a value that is not a key secret without echoing it', async () => {
    const { sm } = client({
      DescribeSecret: describeWith({ v1: ['AWSCURRENT'] }),
      GetSecretValue: () => ({ SecretString: FAKE_SECRET_KEY }),
    });
    const s = await readSecretState(sm, KEY);
    expect(s.error).toMatch(/is not JSON/);
    expect(s.error).not.toContain(FAKE_SECRET_KEY);
  });
});

describe('startRotation', () => {
  it('calls RotateSecret with the secret id, and the function ARN only when given', async () => {
    const { sm, sent } = client({ RotateSecret: () => ({ VersionId: 'v-new' }) });
    expect(await startRotation(sm, 'jenkins/prod/aws-key', undefined)).toEqual({
      kind: 'started',
      versionId: 'v-new',
    });
    await startRotation(sm, 'jenkins/prod/aws-key', 'arn:aws:lambda:us-east-1:1:function:f');
    expect(sent.map((s) => s.input)).toEqual([
      expect.not.objectContaining({ RotationLambdaARN: expect.anything() as unknown }),
      expect.objectContaining({
        SecretId: 'jenkins/prod/aws-key',
        RotationLambdaARN: 'arn:aws:lambda:us-east-1:1:function:f',
      }),
    ]);
    expect(sent[0]?.input['SecretId']).toBe('jenkins/prod/aws-key');
  });

  it('reports "a previous rotation isn\'t complete" as in progress', async () => {
    const { sm } = client({
      RotateSecret: () => {
        throw new InvalidRequestException({
          message: "A previous rotation isn't complete. That rotation will be reattempted.",
          $metadata: {},
        });
      },
    });
    expect(await startRotation(sm, 'jenkins/prod/aws-key', undefined)).toEqual({
      kind: 'in-progress',
      reason: "A previous rotation isn't complete. That rotation will be reattempted.",
    });
  });

  it('throws any other error', async () => {
    const { sm } = client({
      RotateSecret: () => {
        throw new InvalidRequestException({
          message: 'You tried to enable rotation on a secret ...',
          $metadata: {},
        });
      },
    });
    await expect(startRotation(sm, 'jenkins/prod/aws-key', undefined)).rejects.toThrow(/enable rotation/);
  });
});
