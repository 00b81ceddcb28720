import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import type { Composition } from '../src/compose';
import { InputError } from '../src/domain/errors';
import { STEPS, type StepResult } from '../src/engine/engine';
import type { AppLogger } from '../src/observability/logger';
import { hookConcurrencyFrom, iamShareBucket } from '../src/scan/rate';
import { deadlineOf, defaultComposition, logger } from './runtime';

/** The event Secrets Manager sends a rotation function (aws-facts.md §3.1). */
const rotationEventSchema = z.object({
  Step: z.enum(STEPS),
  SecretId: z.string().min(1),
  ClientRequestToken: z.string().min(32).max(64),
  RotationToken: z.string().optional(),
});
export type RotationEvent = z.infer<typeof rotationEventSchema>;

export interface RotateDeps {
  composition: () => Promise<Composition>;
  logger: AppLogger;
}

/**
 * The Secrets Manager rotation hook: validates the event, runs one step of the engine, and throws on
 * failure so that Secrets Manager records it and retries (every step converges when run again).
 */
export function createRotateHandler(deps: RotateDeps) {
  return middy(async (event: unknown, context: Context): Promise<StepResult> => {
    const parsed = rotationEventSchema.safeParse(event);
    if (!parsed.success)
      throw new InputError(
        `invalid rotation event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const e = parsed.data;
    const composition = await deps.composition();
    const key = await composition.keyForSecret(e.SecretId);
    if (key.rotatedBy === 'self')
      throw new InputError(
        `SecretId: key ${key.name} is self-rotated (rotatedBy "self"): its job next to Jenkins rotates it with key-rotator self-rotate, not this function. Turn rotation off on the secret (aws secretsmanager cancel-rotate-secret)`,
        { fields: ['SecretId'] },
      );
    const log = {
      secretId: e.SecretId,
      step: e.Step,
      clientRequestToken: e.ClientRequestToken,
      key: key.name,
    };
    deps.logger.info('rotation step started', log);
    try {
      const result = await composition.engine.run(e.Step, key, {
        token: e.ClientRequestToken,
        deadline: deadlineOf(context),
        ...(e.RotationToken ? { rotationToken: e.RotationToken } : {}),
      });
      deps.logger.info('rotation step finished', { ...log, ...result });
      return result;
    } catch (err) {
      deps.logger.error('rotation step failed', {
        ...log,
        error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
      });
      throw err;
    }
  });
}

/**
 * Each instance of the hook keeps to its share of the fleet's IAM rate (`fleet.iamCallsPerSecond`): the scan at
 * half the rate and the HOOK_CONCURRENCY instances sharing the other half, IAM never sees more than the rate from
 * this stack (docs/fleet.md).
 */
const hookConcurrency = hookConcurrencyFrom(process.env);
export const handler = createRotateHandler({
  composition: () =>
    defaultComposition({
      iamLimiter: (config) =>
        hookConcurrency ? iamShareBucket(config.fleet.iamCallsPerSecond, hookConcurrency, 'hook') : undefined,
    }),
  logger,
});
