import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Composition } from '../src/compose';
import type { DoctorReport } from '../src/doctor';
import { doctorEvent, doctorFromLambda } from '../src/doctor/lambda';
import type { AppLogger } from '../src/observability/logger';
import {
  notifySummary,
  runScan,
  ScanFailedError,
  scanFailed,
  ssmCheckpointStore,
  ssmChecksStateStore,
  type CheckpointStore,
  type ChecksStateStore,
  type ScanOptions,
  type ScanSummary,
} from '../src/scan';
import { SSMClient } from '@aws-sdk/client-ssm';
import { reportDestination, s3ReportWriter } from '../src/report/s3';
import { clientSettings } from '../src/aws/clients';
import { hookConcurrencyFrom } from '../src/scan/rate';
import { defaultComposition, logger } from './runtime';

export interface ScanDeps {
  composition: () => Promise<Composition>;
  logger: AppLogger;
  metrics: Metrics;
  /** ROTATION_LAMBDA_ARN: set on secrets that have no rotation function yet. */
  rotationLambdaArn?: string | undefined;
  /** NOTIFY_TOPIC_ARN: used when the configuration names no SNS topic. */
  notifyTopicArn?: string | undefined;
  /** Thresholds, the inventory source, the checks' state store, and the clock (tests). */
  options?: ScanOptions;
}

export const METRICS_NAMESPACE = 'JenkinsKeyRotator';

function publishMetrics(metrics: Metrics, s: ScanSummary): void {
  metrics.addMetric('RotationsStarted', MetricUnit.Count, s.counts.started);
  metrics.addMetric('RotationFailures', MetricUnit.Count, s.counts.failed);
  metrics.addMetric('KeysDeleted', MetricUnit.Count, s.counts.deleted);
  metrics.addMetric('UnmanagedStaleKeys', MetricUnit.Count, s.counts.unmanagedStale);
  metrics.addMetric('RotationsRepaired', MetricUnit.Count, s.counts.repaired);
  metrics.addMetric('RotationProblems', MetricUnit.Count, s.counts.problems);
  if (s.checks?.ran) {
    metrics.addMetric('CheckFindingsHigh', MetricUnit.Count, s.checks.counts.high);
    metrics.addMetric('CheckFindingsNewHigh', MetricUnit.Count, s.checks.newHighCount);
  }
  metrics.publishStoredMetrics();
}

/**
 * The scheduled scan (EventBridge): runs the scan over every target (repairing what it safely can first), then
 * reports one summary as the result, one log line, CloudWatch metrics (EMF) and notifications; finally throws if
 * anything failed or a problem of severity error is left, so alarms fire.
 */
export function createScanHandler(deps: ScanDeps) {
  return middy(async (_event: unknown, context: Context): Promise<ScanSummary> => {
    const composition = await deps.composition();
    const summary = await runScan(composition, {
      // The deadline: the scan begins nothing new once the function is close to its timeout (docs/fleet.md).
      ...(typeof context?.getRemainingTimeInMillis === 'function'
        ? { remainingMs: () => context.getRemainingTimeInMillis() }
        : {}),
      ...deps.options,
      log: deps.logger,
      ...(deps.rotationLambdaArn ? { rotationLambdaArn: deps.rotationLambdaArn } : {}),
    }).catch((err: unknown) => {
      // Nothing could be decided (e.g. no credentials at all): no summary to send; the invocation fails.
      deps.logger.error('scan could not run', { error: err });
      throw err;
    });
    summary.notifications = await notifySummary(composition, summary, {
      ...(deps.notifyTopicArn ? { topicArn: deps.notifyTopicArn } : {}),
    });
    const failed = scanFailed(summary);
    if (failed) deps.logger.error('scan finished with failures', { summary });
    else deps.logger.info('scan finished', { summary });
    publishMetrics(deps.metrics, summary);
    if (failed) throw new ScanFailedError(summary);
    return summary;
  });
}

/**
 * The deployed entry point: `{ "action": "doctor" }` (optionally `"key"`) answers the doctor's report, checked from
 * this Lambda (src/doctor/lambda.ts); every other event, the schedule's, runs the scan.
 */
export function createScanEntry(deps: ScanDeps) {
  const scan = createScanHandler(deps);
  return async (event: unknown, context: Context): Promise<ScanSummary | DoctorReport> => {
    const doctor = doctorEvent(event);
    if (doctor) return doctorFromLambda(await deps.composition(), doctor, deps.logger);
    return scan(event, context);
  };
}

const env = (name: string) => process.env[name]?.trim() || undefined;

/** CHECKS_STATE_PARAMETER: the SSM parameter that keeps when the checks ran and what was notified. */
function checksOption(): ScanOptions['checks'] {
  const name = env('CHECKS_STATE_PARAMETER');
  if (!name) return {};
  let store: ChecksStateStore | undefined;
  return {
    store: {
      load: async () => (store ??= ssmChecksStateStore(await ssmClient(), name)).load(),
      save: async (state) => (store ??= ssmChecksStateStore(await ssmClient(), name)).save(state),
    },
  };
}

/** SCAN_CHECKPOINT_PARAMETER: the SSM parameter where a run keeps what it deferred, for the next run. */
function checkpointOption(): CheckpointStore | undefined {
  const name = env('SCAN_CHECKPOINT_PARAMETER');
  if (!name) return undefined;
  let store: CheckpointStore | undefined;
  return {
    load: async () => (store ??= ssmCheckpointStore(await ssmClient(), name)).load(),
    save: async (c) => (store ??= ssmCheckpointStore(await ssmClient(), name)).save(c),
  };
}

/**
 * REPORT_BUCKET and REPORT_PREFIX: the scan writes its key report there each run. A bad value is reported in each
 * summary (the rotations go on), not thrown at cold start.
 */
function reportOption(): ScanOptions['report'] {
  try {
    const dest = reportDestination(process.env);
    return dest ? s3ReportWriter(dest) : undefined;
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return () => Promise.resolve({ ok: false, location: `s3://${env('REPORT_BUCKET') ?? ''}`, error });
  }
}

async function ssmClient(): Promise<SSMClient> {
  return new SSMClient(clientSettings((await defaultComposition()).clients.setup));
}

const checkpoint = checkpointOption();

/** The rotate function's reserved concurrency: the scan keeps to its share of the IAM rate (docs/fleet.md). */
function hookConcurrencyOption(): { hookConcurrency?: number } {
  const n = hookConcurrencyFrom(process.env);
  return n ? { hookConcurrency: n } : {};
}

export const handler = createScanEntry({
  composition: defaultComposition,
  logger,
  metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'jenkins-key-rotator' }),
  rotationLambdaArn: env('ROTATION_LAMBDA_ARN'),
  notifyTopicArn: env('NOTIFY_TOPIC_ARN'),
  // The role may read only users on this path (serverless.yml's userPath): list only those.
  options: {
    pathPrefix: env('IAM_USER_PATH') ?? '/',
    // The rotate function's reserved concurrency: the scan keeps to its share of the IAM rate (docs/fleet.md).
    ...hookConcurrencyOption(),
    checks: checksOption(),
    report: reportOption(),
    ...(checkpoint ? { checkpoint } : {}),
  },
});
