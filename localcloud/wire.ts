import type { Context } from 'aws-lambda';
import { createRotateHandler } from '../handlers/rotate';
import { compose, type Composition } from '../src/compose';
import { parseConfig } from '../src/config';
import type { AppLogger } from '../src/observability/logger';
import type { LocalCloud } from './index';

export const LOCAL_ROTATE_LAMBDA_ARN =
  'arn:aws:lambda:us-east-1:111122223333:function:jenkins-key-rotator-local-rotate';

/** A Lambda context with `remainingMs` left, as the runtime passes it. */
export const lambdaContext = (
  remainingMs = 300_000,
  functionName = 'jenkins-key-rotator-local-rotate',
): Context =>
  ({
    functionName,
    awsRequestId: 'local-request',
    getRemainingTimeInMillis: () => remainingMs,
  }) as unknown as Context;

/**
 * Wires the real rotation hook (handler, engine, AWS SDK clients, Jenkins client) to the local cloud, as the
 * emulator administrator, and registers it with the emulated Secrets Manager as the rotation function `arn`.
 * `tuning` goes to compose() (e.g. the bench's probe pacing).
 */
export function wireRotationHook(
  cloud: LocalCloud,
  rawConfig: unknown,
  logger: AppLogger,
  arn = LOCAL_ROTATE_LAMBDA_ARN,
  tuning: Parameters<typeof compose>[4] = {},
) {
  const config = parseConfig(rawConfig);
  const composition: Composition = compose(config, cloud.aws.adminClientConfig(), logger, undefined, tuning);
  const handler = createRotateHandler({ composition: () => Promise.resolve(composition), logger });
  const invoke = (event: unknown) => handler(event, lambdaContext());
  cloud.aws.state.rotationFunctions.set(arn, invoke);
  return { config, composition, handler, invoke };
}
