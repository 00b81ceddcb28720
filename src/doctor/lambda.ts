import type { Composition } from '../compose';
import { InputError } from '../domain/errors';
import type { Log } from '../engine/ports';
import { DoctorInputError, runDoctor, type DoctorReport } from './doctor';

/**
 * The deployed scan answers `{ "action": "doctor" }` (optionally `"key": "<name or IAM user>"`) with the doctor's
 * report, checked from the Lambda itself: its DNS, its network, its roles. The scheduled event has no `action`.
 */
export function doctorEvent(event: unknown): { key?: string } | undefined {
  if (event === null || typeof event !== 'object' || !('action' in event)) return undefined;
  const { action, key } = event as { action: unknown; key?: unknown };
  if (action !== 'doctor')
    throw new InputError(`action: unknown action ${JSON.stringify(action)} (the scan knows "doctor")`, {
      fields: ['action'],
    });
  if (key !== undefined && (typeof key !== 'string' || key.trim() === ''))
    throw new InputError('key: must be a managed key name or IAM user', { fields: ['key'] });
  return key === undefined ? {} : { key };
}

/** Runs the doctor from the Lambda and logs its outcome (one line, no secrets); returns the report. */
export async function doctorFromLambda(
  composition: Composition,
  request: { key?: string },
  log: Log,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DoctorReport> {
  const fn = env['AWS_LAMBDA_FUNCTION_NAME'] ?? 'the scan function';
  let report: DoctorReport;
  try {
    report = await runDoctor(composition, {
      where: 'lambda',
      fromDetail: `Lambda ${fn} in ${env['AWS_REGION'] ?? 'its region'}`,
      ...(request.key !== undefined ? { key: request.key } : {}),
    });
  } catch (e) {
    if (e instanceof DoctorInputError) throw new InputError(`key: ${e.message}`, { fields: ['key'] });
    throw e;
  }
  const summary = report.targets.map((t) => ({
    key: t.key,
    target: t.target,
    ok: t.ok,
    mode: t.mode,
    ...(t.cause ? { cause: t.cause } : {}),
  }));
  if (report.ok) log.info('doctor: every Jenkins target passed', { doctor: summary });
  else log.warn(`doctor: ${report.counts.failed} Jenkins target(s) failed`, { doctor: summary });
  return report;
}
