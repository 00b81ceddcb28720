import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Composition } from '../src/compose';
import { RotationError } from '../src/domain/errors';
import { redactSecretsInText } from '../src/domain/secret-text';
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
 * The largest error message, in bytes. The Lambda runtime logs the message as one CloudWatch event, which keeps
 * 256 KB, and hands it to the caller (`errorMessage`); a Health event naming thousands of keys must not blow it.
 */
export const MAX_ERROR_MESSAGE_BYTES = 32 * 1024;
/** Of which the summary may take (characters; a few bytes each at worst). */
const MAX_SUMMARY_CHARS = 6000;

/**
 * The summary, then the whole report as JSON when it fits in {@link MAX_ERROR_MESSAGE_BYTES}; otherwise the
 * summary, the counts, and where the full report is. Secrets are redacted as a last line of defence (the
 * report holds none: the reason is refused when it holds one).
 */
export function emergencyErrorMessage(report: EmergencyReport | HealthReport): string {
  const summary =
    report.summary.length <= MAX_SUMMARY_CHARS
      ? report.summary
      : `${report.summary.slice(0, MAX_SUMMARY_CHARS)} … (cut)`;
  const json = JSON.stringify(report);
  // Measured once redacted: "[redacted]" can be longer than what it replaces.
  const full = redactSecretsInText(`${summary}\nReport: ${json}`);
  if (Buffer.byteLength(full) <= MAX_ERROR_MESSAGE_BYTES) return full;
  const counts = 'counts' in report ? `\nCounts: ${JSON.stringify(report.counts)}` : '';
  return redactSecretsInText(
    `${summary}${counts}\nThe full report (${Buffer.byteLength(json)} bytes as JSON) is too large for this message: ` +
      `it is in the function's log (one line per key acted on, the others counted or listed by id)`,
  );
}

/**
 * An emergency that did not end with the leaked key revoked and everything else in order. Its message is the
 * report's summary followed by the whole report as JSON, so that whoever reads only the error sees it all; a
 * report too large for that is summarized ({@link emergencyErrorMessage}). `report` holds the whole report.
 */
export class EmergencyFailedError extends RotationError {
  constructor(readonly report: EmergencyReport | HealthReport) {
    super(emergencyErrorMessage(report), 'EmergencyFailed', { outcome: report.outcome });
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
