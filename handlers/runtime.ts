import type { Context } from 'aws-lambda';
import { compose, type Composition } from '../src/compose';
import type { RotatorConfig } from '../src/config';
import type { RateLimiter } from '../src/scan/rate';
import { loadConfigFromEnv } from '../src/config';
import { createLogger, type AppLogger } from '../src/observability/logger';

/** Lambda module-scope state: one logger, and the composition built lazily on the first invocation. */
export const logger: AppLogger = createLogger();

let composition: Promise<Composition> | undefined;

/**
 * Config is read and validated once per cold start; a bad config fails every invocation loudly. `iamLimiter`, when
 * given, paces every IAM call of the composition (the rotate function: its share of the fleet's IAM rate).
 */
export function defaultComposition(
  opts: { iamLimiter?: (config: RotatorConfig) => RateLimiter | undefined } = {},
): Promise<Composition> {
  if (!composition) {
    const building = loadConfigFromEnv(process.env).then((config) => {
      const iamLimiter = opts.iamLimiter?.(config);
      return compose(
        config,
        { region: process.env['AWS_REGION'] ?? 'us-east-1' },
        logger,
        undefined,
        iamLimiter ? { iamLimiter } : {},
      );
    });
    building.catch(() => (composition = undefined));
    composition = building;
  }
  return composition;
}

/** Leave this much of the Lambda's time for rolling back and reporting. */
const SAFETY_MARGIN_MS = 15_000;

export const deadlineOf = (context: Pick<Context, 'getRemainingTimeInMillis'>, now = Date.now()): number =>
  now + Math.max(1_000, context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS);
