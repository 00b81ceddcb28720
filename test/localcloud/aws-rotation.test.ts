import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { RotationEvent } from '../../localcloud/aws/state';
import { clientConfig, startAws } from '../support/aws';

const DAY = 86_400_000;
let emu: AwsEmulator;
let sm: SecretsManagerClient;
let seq = 0;
const uniq = (prefix: string) => `${prefix}-${++seq}`;
const lambdaArn = (name: string) => `arn:aws:lambda:us-east-1:111122223333:function:${name}`;

beforeAll(async () => {
  emu = await startAws();
  sm = new SecretsManagerClient(clientConfig(emu.url, emu.admin));
});

/** Opens every gate a test left closed, so one failing test can't hold a rotation (and the next tests) hostage. */
const openers: (() => void)[] = [];
function gate(): { gate: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  openers.push(open);
  return { gate: promise, open };
}

afterEach(async () => {
  for (const open of openers.splice(0)) open();
  await waitForRotations(emu.state);
});

afterAll(async () => {
  sm.destroy();
  await emu.close();
});

interface Rotator {
  arn: string;
  events: RotationEvent[];
  /** What GetSecretValue(AWSPENDING) answered during testSecret. */
  pendingSeenInTest: string[];
}

/**
 * A stand-in rotation Lambda in the shape of AWS's template, talking to the emulator through the SDK: createSecret
 * writes AWSPENDING, testSecret reads it, finishSecret moves AWSCURRENT and drops AWSPENDING.
 */
function registerRotator(opts: { failAt?: RotationEvent['Step']; gate?: Promise<void> } = {}): Rotator {
  const r: Rotator = { arn: lambdaArn(uniq('rotator')), events: [], pendingSeenInTest: [] };
  emu.state.rotationFunctions.set(r.arn, async (event) => {
    r.events.push(event);
    const { SecretId, ClientRequestToken: token } = event;
    if (event.Step === 'createSecret' && opts.gate) await opts.gate;
    if (event.Step === opts.failAt) throw new Error(`synthetic failure in ${event.Step}`);
    switch (event.Step) {
      case 'createSecret': {
        const current = await sm.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }));
        await sm.send(
          new PutSecretValueCommand({
            SecretId,
            ClientRequestToken: token,
            SecretString: `${current.SecretString}+rotated`,
            VersionStages: ['AWSPENDING'],
            RotationToken: event.RotationToken,
          }),
        );
        return;
      }
      case 'setSecret':
        return;
      case 'testSecret': {
        const pending = await sm.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSPENDING' }));
        r.pendingSeenInTest.push(pending.SecretString!);
        return;
      }
      case 'finishSecret': {
        const stages = (await sm.send(new DescribeSecretCommand({ SecretId }))).VersionIdsToStages!;
        const current = Object.keys(stages).find((v) => stages[v]!.includes('AWSCURRENT'))!;
        await sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: token,
            RemoveFromVersionId: current,
          }),
        );
        await sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId,
            VersionStage: 'AWSPENDING',
            RemoveFromVersionId: token,
          }),
        );
      }
    }
  });
  return r;
}

async function newSecret(value = 'gen0') {
  const name = uniq('rotating');
  const out = await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  return { name, arn: out.ARN!, firstVersion: out.VersionId! };
}

const stagesOf = async (id: string) =>
  (await sm.send(new DescribeSecretCommand({ SecretId: id }))).VersionIdsToStages;
const runsFor = (arn: string) => emu.state.rotations.filter((r) => r.secretId === arn);

describe('RotateSecret', () => {
  it('drives the function through createSecret, setSecret, testSecret, finishSecret in order', async () => {
    const { name, arn, firstVersion } = await newSecret();
    const rotator = registerRotator();
    const out = await sm.send(
      new RotateSecretCommand({
        SecretId: name,
        RotationLambdaARN: rotator.arn,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    expect(out).toMatchObject({ ARN: arn, Name: name });
    const token = out.VersionId!;
    await waitForRotations(emu.state);

    expect(rotator.events.map((e) => e.Step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    for (const e of rotator.events) {
      expect(e).toMatchObject({ SecretId: arn, ClientRequestToken: token });
      expect(e.RotationToken).toEqual(expect.any(String));
    }
    expect(rotator.pendingSeenInTest).toEqual(['gen0+rotated']);
    expect(await stagesOf(name)).toEqual({ [firstVersion]: ['AWSPREVIOUS'], [token]: ['AWSCURRENT'] });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('gen0+rotated');

    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d).toMatchObject({
      RotationEnabled: true,
      RotationLambdaARN: rotator.arn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
    expect(d.NextRotationDate!.getTime() - d.LastRotatedDate!.getTime()).toBe(30 * DAY);
    expect(runsFor(arn)).toEqual([
      expect.objectContaining({
        token,
        lambdaArn: rotator.arn,
        status: 'succeeded',
        steps: ['createSecret', 'setSecret', 'testSecret', 'finishSecret'].map((step) => ({
          step,
          ok: true,
        })),
      }),
    ]);
  });

  it('rotates again with the stored function and rules once the previous rotation completed', async () => {
    const { name, arn } = await newSecret();
    const rotator = registerRotator();
    const first = await sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: rotator.arn,
        RotationRules: { AutomaticallyAfterDays: 7 },
      }),
    );
    await waitForRotations(emu.state);
    const second = await sm.send(new RotateSecretCommand({ SecretId: name }));
    await waitForRotations(emu.state);
    expect(rotator.events).toHaveLength(8);
    expect(await stagesOf(name)).toEqual({
      [first.VersionId!]: ['AWSPREVIOUS'],
      [second.VersionId!]: ['AWSCURRENT'],
    });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(
      'gen0+rotated+rotated',
    );
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).RotationRules).toEqual({
      AutomaticallyAfterDays: 7,
    });
  });

  it('creates the AWSPENDING version without a value before invoking the function', async () => {
    const { name, arn } = await newSecret();
    const { gate: held, open } = gate();
    const rotator = registerRotator({ gate: held });
    const { VersionId: token } = await sm.send(
      new RotateSecretCommand({
        SecretId: name,
        RotationLambdaARN: rotator.arn,
        ClientRequestToken: `${'a'.repeat(32)}`,
      }),
    );
    expect(token).toBe('a'.repeat(32));
    // The function is held inside createSecret: the placeholder exists but has nothing to read.
    const versions = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    expect(versions.Versions!.find((v) => v.VersionId === token)?.VersionStages).toEqual(['AWSPENDING']);
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    });
    expect(runsFor(arn)[0]?.status).toBe('running');
    await expect(sm.send(new RotateSecretCommand({ SecretId: name }))).rejects.toMatchObject({
      name: 'InvalidRequestException',
      message: "A previous rotation isn't complete. That rotation will be reattempted.",
    });
    open();
    await waitForRotations(emu.state);
    expect(runsFor(arn).map((r) => r.status)).toEqual(['succeeded']);
  });

  it('stops at a failing step, leaves AWSPENDING behind, and refuses the next rotation', async () => {
    const { name, arn, firstVersion } = await newSecret();
    const failing = registerRotator({ failAt: 'setSecret' });
    const { VersionId: token } = await sm.send(
      new RotateSecretCommand({
        SecretId: name,
        RotationLambdaARN: failing.arn,
        RotationRules: { AutomaticallyAfterDays: 1 },
      }),
    );
    await waitForRotations(emu.state);

    expect(failing.events.map((e) => e.Step)).toEqual(['createSecret', 'setSecret']);
    expect(runsFor(arn)).toEqual([
      expect.objectContaining({
        status: 'failed',
        steps: [
          { step: 'createSecret', ok: true },
          { step: 'setSecret', ok: false, error: 'synthetic failure in setSecret' },
        ],
      }),
    ]);
    expect(await stagesOf(name)).toEqual({ [firstVersion]: ['AWSCURRENT'], [token!]: ['AWSPENDING'] });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('gen0');
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).LastRotatedDate).toBeUndefined();

    await expect(sm.send(new RotateSecretCommand({ SecretId: name }))).rejects.toMatchObject({
      name: 'InvalidRequestException',
      message: "A previous rotation isn't complete. That rotation will be reattempted.",
    });
    expect(runsFor(arn)).toHaveLength(1);
  });

  it('CancelRotateSecret turns rotation off and clears the stuck AWSPENDING so rotation can resume', async () => {
    const { name, firstVersion } = await newSecret();
    const failing = registerRotator({ failAt: 'testSecret' });
    const { VersionId: stuck } = await sm.send(
      new RotateSecretCommand({ SecretId: name, RotationLambdaARN: failing.arn }),
    );
    await waitForRotations(emu.state);

    const cancelled = await sm.send(new CancelRotateSecretCommand({ SecretId: name }));
    expect(cancelled.VersionId).toBe(stuck);
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.RotationEnabled).toBe(false);
    expect(d.VersionIdsToStages).toEqual({ [firstVersion]: ['AWSCURRENT'] });

    const working = registerRotator();
    await sm.send(new RotateSecretCommand({ SecretId: name, RotationLambdaARN: working.arn }));
    await waitForRotations(emu.state);
    expect(working.events).toHaveLength(4);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('gen0+rotated');
  });

  it('with RotateImmediately=false runs only testSecret against a copy of the current value, then removes it', async () => {
    const { name, arn, firstVersion } = await newSecret('steady');
    const rotator = registerRotator();
    const before = emu.state.now();
    const { VersionId: token } = await sm.send(
      new RotateSecretCommand({
        SecretId: name,
        RotationLambdaARN: rotator.arn,
        RotationRules: { ScheduleExpression: 'rate(10 days)' },
        RotateImmediately: false,
      }),
    );
    await waitForRotations(emu.state);

    expect(rotator.events.map((e) => e.Step)).toEqual(['testSecret']);
    expect(rotator.pendingSeenInTest).toEqual(['steady']);
    expect(runsFor(arn)[0]).toMatchObject({ status: 'succeeded', steps: [{ step: 'testSecret', ok: true }] });
    const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    expect(all.Versions!.map((v) => v.VersionId)).toEqual([firstVersion]);
    expect(all.Versions!.map((v) => v.VersionId)).not.toContain(token);

    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d).toMatchObject({
      RotationEnabled: true,
      RotationRules: { ScheduleExpression: 'rate(10 days)' },
    });
    expect(d.LastRotatedDate).toBeUndefined();
    expect(d.NextRotationDate!.getTime()).toBeGreaterThanOrEqual(before + 10 * DAY);
    expect(d.NextRotationDate!.getTime()).toBeLessThanOrEqual(emu.state.now() + 10 * DAY);
  });

  it('fails like AWS when the function cannot be invoked, changing nothing', async () => {
    const { name, arn, firstVersion } = await newSecret();
    await expect(
      sm.send(new RotateSecretCommand({ SecretId: name, RotationLambdaARN: lambdaArn('not-registered') })),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message:
        'Secrets Manager cannot invoke the specified Lambda function. ' +
        'Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
    });
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.RotationEnabled).toBeUndefined();
    expect(d.RotationLambdaARN).toBeUndefined();
    expect(d.VersionIdsToStages).toEqual({ [firstVersion]: ['AWSCURRENT'] });
    expect(runsFor(arn)).toEqual([]);
  });

  it('needs a function ARN and valid rules', async () => {
    const { name } = await newSecret();
    await expect(sm.send(new RotateSecretCommand({ SecretId: name }))).rejects.toMatchObject({
      name: 'InvalidRequestException',
      message: /doesn't already have a Lambda function ARN configured/,
    });
    const rotator = registerRotator();
    for (const RotationRules of [
      { AutomaticallyAfterDays: 0 },
      { AutomaticallyAfterDays: 5, ScheduleExpression: 'rate(5 days)' },
      { ScheduleExpression: 'rate(1 hours)' },
      { ScheduleExpression: 'every tuesday' },
    ])
      await expect(
        sm.send(new RotateSecretCommand({ SecretId: name, RotationLambdaARN: rotator.arn, RotationRules })),
      ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(rotator.events).toEqual([]);
  });

  it('requires lambda:InvokeFunction on the function besides secretsmanager:RotateSecret', async () => {
    const { name } = await newSecret();
    const rotator = registerRotator();
    const user = emu.state.createUser(emu.state.defaultAccountId, uniq('rotating-user'), {
      permissions: [{ effect: 'Allow', actions: ['secretsmanager:RotateSecret'] }],
    });
    const client = new SecretsManagerClient(
      clientConfig(emu.url, emu.state.createAccessKey(user, { established: true })),
    );
    await expect(
      client.send(new RotateSecretCommand({ SecretId: name, RotationLambdaARN: rotator.arn })),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: new RegExp(`lambda:InvokeFunction on resource: ${rotator.arn}$`),
    });
    expect(rotator.events).toEqual([]);
    client.destroy();
  });
});

describe('waitForRotations', () => {
  it('rejects when a rotation is still running at the deadline', async () => {
    const { name } = await newSecret();
    const { gate: held, open } = gate();
    const rotator = registerRotator({ gate: held });
    await sm.send(new RotateSecretCommand({ SecretId: name, RotationLambdaARN: rotator.arn }));
    await expect(waitForRotations(emu.state, 20)).rejects.toThrow(/still running/);
    open();
    await waitForRotations(emu.state);
    expect(rotator.events).toHaveLength(4);
  });
});
