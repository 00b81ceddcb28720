import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Composition } from '../src/compose';
import { RotationError } from '../src/domain/errors';
import {
  emergencyFromHealthEvent,
  emergencyRotate,
  isHealthEvent,
  type EmergencyOptions,
  type EmergencyReport,
  type HealthReport,
} from '../src/engine/emergency';
import type { AppLogger } from '../src/observability/logger';
import { deadlineOf, defaultComposition, logger } from './runtime';

export interface EmergencyDeps {
  composition: () => Promise<Composition>;
  logger: AppLogger;
}

/**
 * An emergency that did not end with the leaked key revoked and everything else in order. Its message is the
 * report's summary followed by the whole report as JSON, so that whoever reads only the error sees it all.
 */
export class EmergencyFailedError extends RotationError {
  constructor(readonly report: EmergencyReport | HealthReport) {
    super(`${report.summary}\nReport: ${JSON.stringify(report)}`, 'EmergencyFailed', {
      outcome: report.outcome,
    });
    this.name = 'EmergencyFailedError';
  }
}

/**
 * The emergency rotation Lambda. Two kinds of input:
 * - a manual invoke `{ "userName" | "accessKeyId", "reason", "deleteOld"?, "accountId"? }`;
 * - the EventBridge rule for AWS Health AWS_RISK_CREDENTIALS_EXPOSED events (reason "AWS Health: credentials
 *   exposed"; never deletes; keys of users this rotator does not manage are reported, not touched).
 *
 * What the caller gets, chosen for an operator running `aws lambda invoke` in the middle of an incident:
 * - invalid input: the invocation fails with an InputError naming the field(s); nothing was changed.
 * - the leaked key revoked and everything else done (`rotated` or `revoked`): the report is the result.
 * - anything else (`contained`: key revoked but e.g. Jenkins failed; `failed`: key still active): the
 *   invocation FAILS with an EmergencyFailedError whose message is the summary plus the full JSON report.
 *   Returning a report that says "failed" inside a successful invocation is too easy to miss: the CLI prints
 *   `"FunctionError": "Unhandled"`, the Errors metric and its alarm fire, and an asynchronous invoke (the
 *   Health rule) goes to its retries and its on-failure destination. A retry is safe: the emergency converges
 *   (a revoked key stays revoked; an unfinished rotation is taken over).
 * The report is also logged, at error level when anything failed.
 */
export function createEmergencyHandler(deps: EmergencyDeps) {
  return middy(async (event: unknown, context: Context): Promise<EmergencyReport | HealthReport> => {
    const composition = await deps.composition();
    // The deadline (the Lambda's remaining time less a margin for reporting) bounds every wait.
    const opts: EmergencyOptions = { deadline: deadlineOf(context), log: deps.logger };
    try {
      if (isHealthEvent(event)) {
        const report = await emergencyFromHealthEvent(composition, event, opts);
        if (report.outcome !== 'handled') throw new EmergencyFailedError(report);
        return report;
      }
      const report = await emergencyRotate(composition, event, opts);
      if (report.outcome !== 'rotated' && report.outcome !== 'revoked')
        throw new EmergencyFailedError(report);
      return report;
    } catch (err) {
      // The report itself was logged already; this is for input errors and failures before acting.
      if (!(err instanceof EmergencyFailedError))
        deps.logger.error('emergency rotation refused or failed before acting; nothing was changed', {
          error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
        });
      throw err;
    }
  });
}

export const handler = createEmergencyHandler({ composition: defaultComposition, logger });
