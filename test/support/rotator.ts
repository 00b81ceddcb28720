import type { LocalCloud } from '../../localcloud/index';
import { lambdaContext, wireRotationHook } from '../../localcloud/wire';
import { createLogger } from '../../src/observability/logger';

export { lambdaContext };

export const ROTATE_LAMBDA_ARN =
  'arn:aws:lambda:us-east-1:111122223333:function:jenkins-key-rotator-test-rotate';

/**
 * Wires the real rotation hook (handler, engine, AWS SDK clients, Jenkins client) to the local cloud and
 * registers it with the emulated Secrets Manager as the rotation function `ROTATE_LAMBDA_ARN`.
 */
export function wireRotator(cloud: LocalCloud, rawConfig: unknown, opts: { silent?: boolean } = {}) {
  const logger = createLogger('jenkins-key-rotator-test', opts.silent ? 'SILENT' : undefined);
  return wireRotationHook(cloud, rawConfig, logger, ROTATE_LAMBDA_ARN);
}
