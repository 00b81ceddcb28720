import { RotationError } from '../domain/errors';
import type { ScanChecks } from './checks';
import type { ExecutionResult } from './execute';
import { bySeverity } from './problems';
import type { FleetSummary, Inventory, ReportUpload, ScanPlan, ScanSummary } from './types';

/** Joins what was decided and what was done into the one summary of a scan. */
export function summarize(
  inventory: Inventory,
  plan: ScanPlan,
  done: ExecutionResult,
  startedAt: Date,
  finishedAt: Date,
  checks?: ScanChecks,
  report?: ReportUpload,
  fleet?: FleetSummary,
): ScanSummary {
  const inProgress = [...plan.inProgress, ...done.inProgress];
  const summary: Omit<ScanSummary, 'counts'> = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    accountId: inventory.accountId,
    inventory: {
      source: inventory.source,
      ...(inventory.reportGeneratedAt
        ? { reportGeneratedAt: inventory.reportGeneratedAt.toISOString() }
        : {}),
      ...(inventory.reportSkippedReason ? { reportSkippedReason: inventory.reportSkippedReason } : {}),
      users: inventory.users.length,
      keys: inventory.users.reduce((n, u) => n + u.keys.length, 0),
    },
    rotated: plan.rotated,
    started: done.started,
    deferred: done.deferred,
    repaired: done.repaired,
    skipped: [...plan.skipped, ...done.skipped],
    failed: [...plan.failed, ...done.failed],
    deleted: done.deleted,
    inProgress,
    unmanagedStale: plan.unmanagedStale,
    keyless: plan.keyless,
    problems: [...plan.problems, ...done.unrepaired].sort(bySeverity),
    ...(checks ? { checks } : {}),
    ...(report ? { report } : {}),
    ...(fleet ? { fleet } : {}),
    notifications: [],
  };
  return { ...summary, counts: countsOf(summary) };
}

export function countsOf(s: Omit<ScanSummary, 'counts'>): ScanSummary['counts'] {
  return {
    rotated: s.rotated.length,
    started: s.started.length,
    deferred: s.deferred.length,
    skipped: s.skipped.length,
    failed: s.failed.length,
    deleted: s.deleted.length,
    inProgress: s.inProgress.length,
    stuck: s.inProgress.filter((p) => p.stuck).length,
    unmanagedStale: s.unmanagedStale.length,
    repaired: s.repaired.length,
    problems: s.problems.length,
    problemErrors: s.problems.filter((p) => p.severity === 'error').length,
  };
}

/** A scan that finished with failures: thrown after everything was processed, so that alarms fire. */
export class ScanFailedError extends RotationError {
  constructor(readonly summary: ScanSummary) {
    const failed = summary.failed.map((f) => `${f.key}: ${f.reason}`);
    const problems = summary.problems
      .filter((p) => p.severity === 'error')
      .map((p) => `${p.key}: ${p.message}${p.fix ? ` (fix: ${p.fix})` : ''}`);
    const notify = summary.notifications
      .filter((n) => !n.ok)
      .map((n) => `${n.channel}: ${n.detail ?? 'failed'}`);
    const parts = [
      ...(failed.length ? [`${failed.length} failure(s): ${failed.join('; ')}`] : []),
      ...(problems.length ? [`${problems.length} problem(s) of severity error: ${problems.join('; ')}`] : []),
      ...(notify.length ? [`notification failed: ${notify.join('; ')}`] : []),
    ];
    super(`scan finished with ${parts.join('; and ')}`, 'ScanFailed', { counts: summary.counts });
    this.name = 'ScanFailedError';
  }
}

/**
 * True when the scan must fail its invocation: a target failed, a problem of severity error is left (it blocks
 * rotations or leaves a key working that should not be), or the report did not reach its audience.
 */
export const scanFailed = (s: ScanSummary): boolean =>
  s.failed.length > 0 || s.problems.some((p) => p.severity === 'error') || s.notifications.some((n) => !n.ok);

/** One line for a mail subject or a chat title (SNS: ASCII, no line breaks, under 100 characters). */
export function summaryTitle(s: ScanSummary): string {
  const c = s.counts;
  const status = c.failed || c.problemErrors ? 'FAILED' : 'ok';
  const title =
    `Key rotation scan ${status}: ${c.started} started, ${c.failed} failed, ${c.deleted} deleted, ` +
    `${c.unmanagedStale} unmanaged stale` +
    `${c.repaired ? `, ${c.repaired} repaired` : ''}${c.problems ? `, ${c.problems} problems` : ''}` +
    checksTitle(s.checks);
  return title.replace(/[^\x20-\x7e]/g, '?').slice(0, 99);
}

/** The checks in the title: only when they found something high (new ones first, they are what is news). */
function checksTitle(c: ScanChecks | undefined): string {
  if (!c?.ran || !c.counts.high) return '';
  return `, ${c.newHighCount ? `${c.newHighCount} NEW HIGH findings` : `${c.counts.high} high findings`}`;
}

const MAX_LINES = 20;

/** A short human-readable report, for chat. Ids and reasons only. */
export function summaryText(s: ScanSummary): string {
  const lines = [`*${summaryTitle(s)}* (account ${s.accountId}, ${s.finishedAt})`];
  const section = <T>(title: string, items: readonly T[], line: (x: T) => string) => {
    if (!items.length) return;
    lines.push(`${title}:`);
    for (const x of items.slice(0, MAX_LINES)) lines.push(`• ${line(x)}`);
    if (items.length > MAX_LINES) lines.push(`• … and ${items.length - MAX_LINES} more`);
  };
  section('Failed', s.failed, (f) => `${f.key}: ${f.reason}`);
  section(
    'Problems',
    s.problems,
    (p) => `${p.severity.toUpperCase()} ${p.key}: ${p.message}${p.fix ? `. Fix: ${p.fix}` : ''}`,
  );
  const c = s.checks;
  if (c?.ran) {
    section(
      `New high findings of the security checks (${c.counts.high} high, ${c.counts.medium} medium, ${c.counts.low} low in all; key-rotator check lists them)`,
      c.newHigh,
      (f) => `${f.title}. Fix: ${f.fix}`,
    );
    if (c.newHighCount > c.newHigh.length) lines.push(`• … and ${c.newHighCount - c.newHigh.length} more`);
    if (c.stateError) lines.push(`Security checks: ${c.stateError}`);
  }
  if (s.report)
    lines.push(
      s.report.ok
        ? `Key report: ${s.report.location}`
        : `Key report NOT written to ${s.report.location}: ${s.report.error ?? 'unknown error'}`,
    );
  section('Repaired', s.repaired, (x) => `${x.key} (${x.kind}, ${x.action}): ${x.detail}`);
  section(
    'Rotation started',
    s.started,
    (x) => `${x.key}: key ${x.accessKeyId}, ${x.ageDays} days old${x.warning ? ` (${x.warning})` : ''}`,
  );
  // One line per reason: a run over a fleet can defer hundreds of rotations for the same one.
  const byReason = new Map<string, string[]>();
  for (const d of s.deferred)
    byReason.set(d.reason, [...(byReason.get(d.reason) ?? []), `${d.key} (${d.action})`]);
  section(
    'Deferred to the next run',
    [...byReason],
    ([reason, keys]) =>
      `${keys.length}: ${reason}: ${keys.slice(0, 10).join(', ')}${keys.length > 10 ? ` and ${keys.length - 10} more` : ''}`,
  );
  section('Rotated', s.rotated, (x) => `${x.key}: now ${x.accessKeyId ?? '?'} (${x.at})`);
  section(
    'In progress',
    s.inProgress,
    (x) => `${x.key}${x.stuck ? ' (STUCK)' : ''}${x.since ? ` since ${x.since}` : ''}`,
  );
  section('Deleted', s.deleted, (x) => `${x.user}: ${x.accessKeyId}`);
  section(
    'Keyless',
    s.keyless,
    (x) =>
      `${x.key} (${x.user}) since ${x.since.slice(0, 10)}${x.activeKeys.length ? `: ACTIVE KEY ${x.activeKeys.join(', ')}` : ', no access key'}`,
  );
  section(
    'Unmanaged keys past the max age',
    s.unmanagedStale,
    (x) =>
      `${x.user}: ${x.accessKeyId ?? `access key ${x.keySlot ?? '?'} (credential report)`}, ${x.ageDays} days`,
  );
  return lines.join('\n');
}
