import { randomUUID } from 'node:crypto';
import { diagnoseRotation, type RotationProblem } from '../domain/diagnose';
import {
  ConcurrentRotationError,
  ConfirmationRequiredError,
  InputError,
  messageOf,
  RotationError,
} from '../domain/errors';
import {
  RotationInProgressError,
  STEPS,
  SupersededError,
  type AbandonResult,
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
  /** Emergency: the compromised key. If another rotation has replaced it already, the outcome is `superseded`. */
  replaceKeyId?: string;
  /**
   * When making room would delete the last rotation's rollback key (inactive, inside its grace period): `allow`
   * (default) does it with a warning; `refuse` stops before any change (the CLI, unless the operator confirmed).
   */
  rollbackKeyDeletion?: 'allow' | 'refuse';
  /** Epoch ms by which the rotation must be done (a Lambda's remaining time); default: 15 minutes from now. */
  deadline?: number;
  signal?: AbortSignal;
  /** Each probe while waiting for the new key to propagate. */
  onProgress?: StepContext['onProgress'];
  /** Each step as it starts, finishes or fails. */
  onStep?: (event: StepEvent) => void;
  /**
   * Awaited once testSecret has passed and before finishSecret (which deactivates the old key): a self-rotation
   * switches its own AWS credentials to the new key here, so that it does not deactivate the key it signs with.
   * A failure fails the rotation at finishSecret, before anything is deactivated.
   */
  beforeFinish?: (token: string) => Promise<void>;
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
  /** `superseded`: another rotation replaced `replaceKeyId` while this one waited; this one changed nothing. */
  outcome: 'rotated' | 'failed' | 'superseded';
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
    ...(opts.replaceKeyId ? { replaceKeyId: opts.replaceKeyId } : {}),
    ...(opts.rollbackKeyDeletion ? { rollbackKeyDeletion: opts.rollbackKeyDeletion } : {}),
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
  let attemptId: string | undefined;
  for (const step of STEPS) {
    notify({ step, phase: 'started' });
    try {
      if (step === 'finishSecret') await opts.beforeFinish?.(token);
      const r = await engine.run(step, key, ctx);
      if (r.attemptId) attemptId = r.attemptId;
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
  // This process is done with the rotation: whatever is left of it is no longer "running now" for anyone else.
  if (attemptId) await engine.endAttempt(key, attemptId);

  if (failure instanceof SupersededError) {
    report.outcome = 'superseded';
    delete report.failedStep;
    delete report.error;
    const currentKeyId = failure.details['currentKeyId'];
    if (typeof currentKeyId === 'string') report.newKeyId = currentKeyId;
    report.actions.push(failure.message);
  } else if (!report.failedStep) {
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
  } else if (
    failure instanceof RotationInProgressError ||
    failure instanceof ConfirmationRequiredError ||
    failure instanceof ConcurrentRotationError ||
    failure instanceof InputError
  ) {
    report.warnings.push(
      report.steps.some((r) => r.changed)
        ? 'the rotation did not start; see the steps for what was completed first'
        : 'nothing was changed',
    );
  } else if (emergency) {
    report.warnings.push(
      `the rotation is left at ${report.failedStep}: version ${token} holds the new key${report.newKeyId ? ` ${report.newKeyId}` : ''} as AWSPENDING; continue it with key-rotator rotate ${key.iamUser} --resume, or run the emergency rotation again (it takes that version over)`,
    );
  } else if (report.failedStep === 'finishSecret') {
    report.warnings.push(
      `the new key is verified and in Jenkins, but finishSecret failed: finish it with key-rotator rotate ${key.iamUser} --resume`,
    );
  } else {
    try {
      const undo = await engine.abandon(key, token);
      report.actions.push(...undo.actions);
      if (!undo.done)
        report.warnings.push(
          `the failed rotation could not be undone: continue it with key-rotator rotate ${key.iamUser} --resume, or undo it with --abandon once Jenkins answers`,
        );
    } catch (err) {
      report.warnings.push(
        `the failed rotation could not be undone (${messageOf(err)}): continue it with key-rotator rotate ${key.iamUser} --resume, or undo it with --abandon`,
      );
    }
  }
  report.durationMs = clock.now().getTime() - started;
  return report;
}

/** What `rotate --resume` or `rotate --abandon` found and did. Ids only. */
export interface RecoveryReport {
  key: string;
  user: string;
  action: 'resume' | 'abandon';
  /** The problems found before acting (see diagnoseRotation). */
  found: RotationProblem[];
  /**
   * `resumed`: the rotation in flight was continued and completed; `finished`: a promoted rotation's finish was
   * completed (old key deactivated, recorded); `abandoned`: undone, a plain rotation works again;
   * `nothing-to-do`; `failed`.
   */
  outcome: 'resumed' | 'finished' | 'abandoned' | 'nothing-to-do' | 'failed';
  /** The continued rotation (resume of a rotation in flight). */
  rotation?: RotateNowReport;
  abandon?: AbandonResult;
  actions: string[];
  warnings: string[];
  error?: { name: string; code?: string; message: string };
}

const errorOf = (err: unknown): NonNullable<RecoveryReport['error']> => ({
  name: err instanceof Error ? err.name : 'Error',
  ...(err instanceof RotationError ? { code: err.code } : {}),
  message: messageOf(err),
});

/** What a resume or an abandon starts from: the key's rotation state, its problems, an empty report. */
async function recoveryStart(engine: RotationEngine, key: EngineKey, action: RecoveryReport['action']) {
  const obs = await engine.observeRotation(key);
  const found = diagnoseRotation(obs, { abandonAfterHours: 0 });
  const report: RecoveryReport = {
    key: key.name,
    user: key.iamUser,
    action,
    found,
    outcome: 'nothing-to-do',
    actions: [],
    warnings: [],
  };
  return { obs, found, report };
}

/**
 * Continues what a rotation of `key` left: the rotation in flight (its AWSPENDING version, through the remaining
 * steps with its own token), or, when the last rotation was promoted but its finish did not complete, that finish
 * (the old key deactivated once every Jenkins target holds the current key, and recorded). A rotation that a live
 * invocation is running right now is left to it unless `force`.
 */
export async function resumeRotation(
  target: { engine: RotationEngine },
  key: EngineKey,
  opts: Omit<RotateNowOptions, 'token' | 'emergency'> & { force?: boolean } = {},
): Promise<RecoveryReport> {
  const { engine } = target;
  const { obs, found, report } = await recoveryStart(engine, key, 'resume');
  const running = found.find((p) => p.kind === 'rotation-running');
  if (running && !opts.force) {
    report.outcome = 'failed';
    report.error = errorOf(
      new ConcurrentRotationError(
        `${running.message}: nothing was changed. Let it finish; if the process running it is gone, resume with --force`,
      ),
    );
    return report;
  }
  if (obs.pending) {
    const rotation = await rotateNow(target, key, { ...opts, token: obs.pending.versionId });
    report.rotation = rotation;
    report.outcome = rotation.outcome === 'failed' ? 'failed' : 'resumed';
    report.warnings.push(...rotation.warnings);
    if (rotation.error) report.error = rotation.error;
    return report;
  }
  if (found.some((p) => p.repair === 'finish')) {
    try {
      const r = await engine.completeFinish(
        key,
        { step: 'finishSecret', changed: false, actions: [] },
        { checkJenkins: true },
      );
      report.actions.push(...r.actions);
      report.warnings.push(...(r.warnings ?? []));
      report.outcome = 'finished';
    } catch (err) {
      report.outcome = 'failed';
      report.error = errorOf(err);
    }
    return report;
  }
  report.actions.push('no rotation in flight and nothing left to finish');
  return report;
}

/**
 * Undoes the rotation in flight of `key` (its AWSPENDING version): every Jenkins target back on the current key,
 * the pending key deleted, AWSPENDING removed, its attempt records gone. A plain rotation works afterwards. When a
 * Jenkins target cannot be put back, nothing is deleted (`failed`, with why). A rotation a live invocation is
 * running right now is refused unless `force`.
 */
export async function abandonRotation(
  target: { engine: RotationEngine },
  key: EngineKey,
  opts: { force?: boolean } = {},
): Promise<RecoveryReport> {
  const { engine } = target;
  const { obs, found, report } = await recoveryStart(engine, key, 'abandon');
  if (!obs.pending) {
    report.actions.push('no rotation in flight: nothing to abandon');
    const fin = found.find((p) => p.repair === 'finish');
    if (fin) report.warnings.push(`${fin.message}; that is finished with --resume, not abandoned`);
    return report;
  }
  try {
    const r = await engine.abandon(key, obs.pending.versionId, opts);
    report.abandon = r;
    report.actions.push(...r.actions);
    report.outcome = r.done ? 'abandoned' : 'failed';
  } catch (err) {
    report.outcome = 'failed';
    report.error = errorOf(err);
  }
  return report;
}
