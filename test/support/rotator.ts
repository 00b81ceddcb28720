import type { Context } from 'aws-lambda';
import { createRotateHandler } from '../../handlers/rotate';
import type { LocalCloud } from '../../localcloud/index';
import { compose, type Composition } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { createLogger } from '../../src/observability/logger';

export const ROTATE_LAMBDA_ARN =
  'arn:aws:lambda:us-east-1:111122223333:function:jenkins-key-rotator-test-rotate';

/** A Lambda context with plenty of time left. */
export const lambdaContext = (remainingMs = 300_000): Context =>
  ({
    functionName: 'jenkins-key-rotator-test-rotate',
    awsRequestId: 'test-request',
    getRemainingTimeInMillis: () => remainingMs,
  }) as unknown as Context;

/**
 * Wires the real rotation hook (handler, engine, AWS SDK clients, Jenkins client) to the local cloud and
 * registers it with the emulated Secrets Manager as the rotation function `ROTATE_LAMBDA_ARN`.
 */
export function wireRotator(cloud: LocalCloud, rawConfig: unknown, opts: { silent?: boolean } = {}) {
  const config = parseConfig(rawConfig);
  const logger = createLogger('jenkins-key-rotator-test', opts.silent ? 'SILENT' : undefined);
  const composition: Composition = compose(
    config,
    {
      region: 'us-east-1',
      endpoint: cloud.aws.url,
      credentials: {
        accessKeyId: cloud.aws.admin.accessKeyId,
        secretAccessKey: cloud.aws.admin.secretAccessKey,
      },
    },
    logger,
  );
  const handler = createRotateHandler({ composition: () => Promise.resolve(composition), logger });
  const invoke = (event: unknown) => handler(event, lambdaContext());
  cloud.aws.state.rotationFunctions.set(ROTATE_LAMBDA_ARN, invoke);
  return { config, composition, handler, invoke };
}
