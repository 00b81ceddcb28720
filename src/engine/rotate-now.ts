import { randomUUID } from 'node:crypto';
import { messageOf, RotationError } from '../domain/errors';
import {
  RotationInProgressError,
  STEPS,
  type EngineKey,
  type RotationEngine,
  type Step,
  type StepContext,
  type StepResult,
} from './engine';
import { systemClock, type Clock } from './ports';

/** Without a Lambda deadline (the CLI), a rotation gets this long; the propagation wait has its own bound. */
const DEFAULT_BUDGET_MS = 15 * 60_000;

export type StepEvent =
  | { step: Step; phase: 'started' }
  | { step: Step; phase: 'finished'; result: StepResult }
  | { step: Step; phase: 'failed'; error: string };

export interface RotateNowOptions {
  /** Resume an unfinished direct rotation (its report's `token`); by default a new ClientRequestToken. */
  token?: string;
  /**
   * Emergency: the AWSCURRENT key is revoked as soon as the new key is stored, even if Jenkins or verification
   * then fail, and a rotation in flight is taken over instead of refused. A failed emergency is not rolled back.
   */
  emergency?: boolean;
  /**
   * Delete the old key instead of leaving it inactive: in an emergency right after deactivating it, otherwise
   * once the rotation has finished.
   */
  deleteOld?: boolean;
  /** Epoch ms by which the rotation must be done (a Lambda's remaining time); default: 15 minutes from now. */
  deadline?: number;
  signal?: AbortSignal;
  /** Each probe while waiting for the new key to propagate. */
  onProgress?: StepContext['onProgress'];
  /** Each step as it starts, finishes or fails. */
  onStep?: (event: StepEvent) => void;
  clock?: Clock;
}

export interface RotateNowReport {
  key: string;
  user: string;
  /** The ClientRequestToken: the VersionId of the new secret version. */
  token: string;
  emergency: boolean;
  oldKeyId?: string;
  newKeyId?: string;
  /** The results of the steps that completed, in order. */
  steps: StepResult[];
  outcome: 'rotated' | 'failed';
  failedStep?: Step;
  error?: { name: string; code?: string; message: string };
  /** What was done after the steps: the old key deleted, or a failed rotation undone. Ids only. */
  actions: string[];
  warnings: string[];
  durationMs: number;
}

/**
 * Runs the four engine steps in-process, one after the other, with a token of its own: the CLI's `rotate` and
 * the emergency rotation. The secret's version is created by createSecret (PutSecretValue AWSPENDING), which
 * refuses when Secrets Manager is already rotating the secret (an emergency takes that rotation over instead).
 *
 * Never throws for a failed step: the report says which step failed and why. A normal rotation that fails
 * before finishSecret is undone (Jenkins back on the old key, the new key deleted, AWSPENDING removed) so that
 * it blocks nothing; an emergency is left as it is, since its old key is already revoked.
 */
export async function rotateNow(
  target: { engine: RotationEngine },
  key: EngineKey,
  opts: RotateNowOptions = {},
): Promise<RotateNowReport> {
  const { engine } = target;
  const clock = opts.clock ?? systemClock;
  const started = clock.now().getTime();
  const emergency = opts.emergency === true;
  const token = opts.token ?? randomUUID();
  const ctx: StepContext = {
    token,
    deadline: opts.deadline ?? started + DEFAULT_BUDGET_MS,
    direct: true,
    ...(emergency
      ? { takeOver: true, revokeCurrentOnCreate: true, deleteRevoked: opts.deleteOld === true }
      : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  };
  const report: RotateNowReport = {
    key: key.name,
    user: key.iamUser,
    token,
    emergency,
    steps: [],
    outcome: 'failed',
    actions: [],
    warnings: [],
    durationMs: 0,
  };
  const notify = (event: StepEvent) => {
    try {
      opts.onStep?.(event);
    } catch {
      // A broken progress display must not break a rotation.
    }
  };

  let failure: unknown;
  for (const step of STEPS) {
    notify({ step, phase: 'started' });
    try {
      const r = await engine.run(step, key, ctx);
      report.steps.push(r);
      if (r.oldKeyId) report.oldKeyId = r.oldKeyId;
      if (r.newKeyId) report.newKeyId = r.newKeyId;
      notify({ step, phase: 'finished', result: r });
    } catch (err) {
      failure = err;
      report.failedStep = step;
      report.error = {
        name: err instanceof Error ? err.name : 'Error',
        ...(err instanceof RotationError ? { code: err.code } : {}),
        message: messageOf(err),
      };
      notify({ step, phase: 'failed', error: messageOf(err) });
      break;
    }
  }
  for (const r of report.steps) report.warnings.push(...(r.warnings ?? []).map((w) => `${r.step}: ${w}`));

  if (!report.failedStep) {
    report.outcome = 'rotated';
    if (opts.deleteOld && !emergency && report.oldKeyId && report.oldKeyId !== report.newKeyId) {
      try {
        const r = await engine.revokeKey(key, report.oldKeyId, { delete: true });
        report.actions.push(...r.actions);
      } catch (err) {
        report.warnings.push(
          `the old key ${report.oldKeyId} is inactive but could not be deleted: ${messageOf(err)}`,
        );
      }
    }
  } else if (failure instanceof RotationInProgressError) {
    report.warnings.push('nothing was changed');
  } else if (emergency) {
    report.warnings.push(
      `the rotation is left at ${report.failedStep}: version ${token} holds the new key${report.newKeyId ? ` ${report.newKeyId}` : ''} as AWSPENDING; resume it with token ${token}, or run the emergency rotation again (it takes that version over)`,
    );
  } else if (report.failedStep === 'finishSecret') {
    report.warnings.push(
      `the new key is verified and in Jenkins, but finishSecret failed: resume with token ${token} to finish`,
    );
  } else {
    try {
      const undo = await engine.abandon(key, token);
      report.actions.push(...undo.actions);
      if (!undo.done)
        report.warnings.push(
          `the failed rotation could not be undone: resume with token ${token}, or undo it by hand`,
        );
    } catch (err) {
      report.warnings.push(
        `the failed rotation could not be undone (${messageOf(err)}): resume with token ${token}, or undo it by hand`,
      );
    }
  }
  report.durationMs = clock.now().getTime() - started;
  return report;
}
