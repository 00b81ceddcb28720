/**
 * The rotation hook's share of the fleet's IAM rate (src/scan/rate.ts iamShare, handlers/rotate.ts): a composition
 * given an IAM limiter sends every IAM call of a rotation through it, retries included, so an instance of the hook
 * never exceeds its share. Counted by the emulator over real HTTP.
 */
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { peakIamCalls } from '../../localcloud/fleet';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario } from '../../localcloud/scenario';
import { wireRotationHook } from '../../localcloud/wire';
import { createLogger } from '../../src/observability/logger';
import { TokenBucket, type RateLimiter } from '../../src/scan/rate';
import { oneRotationKey } from '../support/one-rotation';

const ARN = 'arn:aws:lambda:us-east-1:111122223333:function:jenkins-key-rotator-share-rotate';

let cloud: LocalCloud | undefined;
afterEach(async () => {
  await cloud?.close();
  cloud = undefined;
});

async function rotateOnce(limiter: RateLimiter): Promise<{ since: number; local: LocalCloud }> {
  const local = await startLocalCloud();
  cloud = local;
  const { config } = await seedScenario(local, [oneRotationKey('share')]);
  wireRotationHook(local, config, createLogger('share', 'SILENT'), ARN, { iamLimiter: limiter });
  local.aws.state.propagationDelayMs = 0;
  const since = local.aws.state.calls.lastSeq;
  const sm = new SecretsManagerClient(local.aws.adminClientConfig('us-east-1'));
  await sm.send(new RotateSecretCommand({ SecretId: 'jenkins/share/aws-key', RotationLambdaARN: ARN }));
  await waitForRotations(local.aws.state, 60_000);
  sm.destroy();
  expect(local.aws.state.rotations.at(-1)?.status).toBe('succeeded');
  return { since, local };
}

describe("the rotation hook's IAM share", () => {
  it('every IAM call of a rotation waits for the limiter first, and nothing else does', async () => {
    let taken = 0;
    const { since, local } = await rotateOnce({ take: () => Promise.resolve(void taken++) });
    const calls = local.aws.state.calls.since(since);
    const iam = calls.filter((c) => c.emulator === 'aws' && c.point.startsWith('iam:'));
    expect(iam.length).toBeGreaterThan(3);
    expect(taken).toBe(iam.length);
    // Secrets Manager, STS and ECR calls are not IAM's: they take no token.
    expect(calls.filter((c) => c.emulator === 'aws').length).toBeGreaterThan(iam.length);
  }, 90_000);

  it('with a bucket of 4 a second, IAM never sees more than 4 of its calls in any second', async () => {
    const { since, local } = await rotateOnce(new TokenBucket(4));
    expect(peakIamCalls(local.aws.state, since, 1000)).toBeLessThanOrEqual(4);
  }, 90_000);
});
