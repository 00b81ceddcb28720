import type { RotationProblem } from '../domain/diagnose';
import type { StepEvent, RecoveryReport, RotateNowReport } from '../engine/rotate-now';
import type { EmergencyReport } from '../engine/emergency';
import type { StepContext } from '../engine/engine';
import { reportsFailedProbe } from '../engine/propagation';
import { duration } from './format';
import type { CliIo } from './io';
import { formatProblems, reportProblem } from './problems';

type ProgressEvent = Parameters<NonNullable<StepContext['onProgress']>>[0];

const STEP_NUMBER: Record<string, number> = { createSecret: 1, setSecret: 2, testSecret: 3, finishSecret: 4 };

/** `waiting for the new key to propagate… attempt 3, 1/3 consecutive successes` */
export function propagationLine(e: ProgressEvent): string {
  return `waiting for the new key to propagate… attempt ${e.attempt}, ${e.streak}/${e.needed} consecutive successes${
    e.ok ? '' : ' (not accepted yet)'
  }`;
}

export function stepLine(e: StepEvent): string {
  const n = `[${STEP_NUMBER[e.step] ?? '?'}/4] ${e.step}`;
  switch (e.phase) {
    case 'started':
      return `${n}…`;
    case 'finished':
      return `${n}: ${e.result.actions.length ? e.result.actions.join('; ') : 'done'}`;
    case 'failed':
      return `${n} FAILED: ${e.error}`;
  }
}

/**
 * Progress on stderr. On a terminal the propagation attempts rewrite one line; elsewhere (CI logs, pipes) each
 * success is a line of its own, and of the failed attempts the first and every tenth.
 */
export function progressReporter(io: CliIo): {
  onStep: (e: StepEvent) => void;
  onProgress: (e: ProgressEvent) => void;
  done: () => void;
} {
  let open = false;
  const endLine = () => {
    if (open) io.err('\n');
    open = false;
  };
  return {
    onStep: (e) => {
      endLine();
      io.err(`${stepLine(e)}\n`);
    },
    onProgress: (e) => {
      if (io.errIsTTY) {
        io.err(`\r\x1b[K${propagationLine(e)}`);
        open = true;
      } else if (e.ok || reportsFailedProbe(e.attempt)) io.err(`${propagationLine(e)}\n`);
    },
    done: endLine,
  };
}

const list = (title: string, items: readonly string[]) =>
  items.length ? `${title}:\n${items.map((i) => `  - ${i}`).join('\n')}\n` : '';

/** A key's rotation problems as the "Problems" section lists them. */
const problemsOf = (r: { key: string; user: string }, problems: readonly RotationProblem[]): string =>
  formatProblems(problems.map((p) => reportProblem({ ...p, key: r.key, user: r.user, accountId: '' })));

/**
 * The human report of a normal rotation. Ids only. For a failed one, `left` is what the rotation left, read again
 * afterwards: each problem with the command that fixes it (or that nothing is left in the way).
 */
export function formatRotateReport(r: RotateNowReport, left?: readonly RotationProblem[]): string {
  if (r.error?.code === 'ConfirmationRequired')
    return `Rotation of ${r.key} (IAM user ${r.user}) NOT STARTED: it needs your confirmation\n  ${r.error.message}\n  To go ahead, run it again with --yes (or --delete-old).\n`;
  let text: string;
  if (r.outcome === 'rotated') {
    const deleted = r.actions.some((a) => /deleted key/.test(a));
    text = `Rotated ${r.key} (IAM user ${r.user}) in ${duration(r.durationMs)}\n`;
    text += `  new key ${r.newKeyId ?? '?'}: AWSCURRENT, in every Jenkins credential, verified\n`;
    if (r.oldKeyId)
      text += `  old key ${r.oldKeyId}: ${deleted ? 'deleted' : 'inactive (deleted by the scan after the grace period)'}\n`;
  } else {
    text = `Rotation of ${r.key} (IAM user ${r.user}) FAILED at ${r.failedStep ?? '?'} after ${duration(r.durationMs)}\n`;
    text += `  error: ${r.error ? `${r.error.code ?? r.error.name}: ${r.error.message}` : 'unknown'}\n`;
    if (r.oldKeyId) text += `  old key ${r.oldKeyId}\n`;
    if (r.newKeyId) text += `  new key ${r.newKeyId}\n`;
  }
  text += `  token (secret version): ${r.token}\n`;
  text += `  steps: ${r.steps.map((s) => `${s.step} ok`).join(', ')}${r.failedStep ? `${r.steps.length ? ', ' : ''}${r.failedStep} FAILED` : ''}\n`;
  text += list('After the steps', r.actions);
  text += list('Warnings', r.warnings);
  if (r.outcome === 'failed' && left) {
    text += left.length
      ? `\nWhat the failed rotation left (read again now), and how to fix it:\n${problemsOf(r, left)}`
      : `\nNothing of the failed rotation is left in the way: fix the cause, then run key-rotator rotate ${r.user} again.\n`;
  }
  return text;
}

const RECOVERY_TITLE: Record<RecoveryReport['outcome'], (r: RecoveryReport) => string> = {
  resumed: (r) => `Resumed the rotation of ${r.key} (IAM user ${r.user}): it completed`,
  finished: (r) =>
    `Finished the last rotation of ${r.key} (IAM user ${r.user}): the previous key is inactive and recorded for the clean-up`,
  abandoned: (r) =>
    `Abandoned the rotation in flight of ${r.key} (IAM user ${r.user}): Jenkins is on the current key, the pending key is gone; key-rotator rotate ${r.user} works again`,
  'nothing-to-do': (r) => `Nothing to ${r.action} for ${r.key} (IAM user ${r.user})`,
  failed: (r) =>
    `Could not ${r.action} the rotation of ${r.key} (IAM user ${r.user})${r.error ? `: ${r.error.code ?? r.error.name}: ${r.error.message}` : ''}`,
};

/** The human report of `rotate --resume` or `rotate --abandon`. Ids only. */
export function formatRecoveryReport(r: RecoveryReport): string {
  let text = `${RECOVERY_TITLE[r.outcome](r)}\n`;
  if (r.found.length) text += `\nFound before acting:\n${problemsOf(r, r.found)}`;
  else text += '\nFound before acting: no rotation problem.\n';
  if (r.rotation) text += `\nThe rotation:\n${formatRotateReport(r.rotation).replace(/^(?=.)/gm, '  ')}`;
  text += list('Actions', r.actions);
  text += list(
    'Warnings',
    r.rotation ? r.warnings.filter((w) => !r.rotation?.warnings.includes(w)) : r.warnings,
  );
  return text;
}

/** The human report of an emergency rotation. Ids only. */
export function formatEmergencyReport(r: EmergencyReport): string {
  const c = r.compromisedKey;
  let text = `EMERGENCY ${r.outcome.toUpperCase()}: ${r.summary}\n`;
  text += `  reason: ${r.reason}\n`;
  text += `  key ${r.key} (IAM user ${r.user}${r.accountId ? ` in ${r.accountId}` : ''})\n`;
  text += `  compromised key ${c.accessKeyId}: ${c.before} -> ${c.after}${c.wasCurrent === true ? ' (it was the current key)' : ''}\n`;
  if (r.newKeyId) text += `  new key ${r.newKeyId}\n`;
  if (r.rotation)
    text += `  rotation: ${r.rotation.outcome}${r.rotation.failedStep ? ` at ${r.rotation.failedStep}` : ''}, token ${r.rotation.token}\n`;
  text += `  took ${duration(r.durationMs)}\n`;
  text += list('Actions', r.actions);
  text += list('Failures', r.failures);
  text += list('Warnings', r.warnings);
  return text;
}
