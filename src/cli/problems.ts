import { PLAIN, type Colors } from './colors';
import type { ProblemKind, Repair, RotationProblem } from '../domain/diagnose';
import type { InventoryProblem, KeyProblem, SecretState } from '../scan';
import { bySeverity } from '../scan';
import { count } from './format';

/**
 * One problem as `audit` and `plan` report it (`--json`: `problems[]`; field names are stable). Rotation problems
 * of managed keys (see diagnoseRotation) and, for `audit`, what could not be read (`unreadable`). Ids only.
 */
export interface ReportProblem {
  /** The managed key's name; null for a problem that is not one key's (an unreadable account or user). */
  key: string | null;
  user: string | null;
  accountId: string | null;
  kind: ProblemKind | 'unreadable';
  severity: RotationProblem['severity'];
  message: string;
  /** The command that fixes it, or null when there is none to run (it needs a look first). */
  fix: string | null;
  /** What the next scheduled scan does about it by itself, or null: it only reports it. */
  repair: Repair | null;
  accessKeyId?: string;
  versionId?: string;
  /** Hours since the rotation in flight started. */
  ageHours?: number;
}

export function reportProblem(p: KeyProblem): ReportProblem {
  return {
    key: p.key,
    user: p.user,
    accountId: p.accountId,
    kind: p.kind,
    severity: p.severity,
    message: p.message,
    fix: p.fix ?? null,
    repair: p.repair ?? null,
    ...(p.accessKeyId ? { accessKeyId: p.accessKeyId } : {}),
    ...(p.versionId ? { versionId: p.versionId } : {}),
    ...(p.ageHours !== undefined ? { ageHours: p.ageHours } : {}),
  };
}

/** What could not be read (an inventory problem, a secret), as a problem of severity error. */
export function unreadableProblems(
  inventory: readonly InventoryProblem[],
  states: readonly SecretState[],
  userOf: (key: string) => string | undefined,
): ReportProblem[] {
  const base = { kind: 'unreadable' as const, severity: 'error' as const, fix: null, repair: null };
  return [
    ...inventory.map((p): ReportProblem => ({
      ...base,
      key: p.key ?? null,
      user: p.user ?? null,
      accountId: p.accountId ?? null,
      message: p.reason,
    })),
    ...states.flatMap((s): ReportProblem[] =>
      s.error === undefined
        ? []
        : [{ ...base, key: s.key, user: userOf(s.key) ?? null, accountId: null, message: s.error }],
    ),
  ];
}

/** Most severe first, then by key (problems of no one key last): the order every report lists problems in. */
export const sortProblems = (ps: ReportProblem[]): ReportProblem[] =>
  ps.sort((a, b) => bySeverity({ ...a, key: a.key ?? '\uffff' }, { ...b, key: b.key ?? '\uffff' }));

const REPAIRED_BY_SCAN: Record<Repair, string> = {
  finish: 'the next scheduled scan finishes it by itself',
  abandon: 'the next scheduled scan abandons it by itself',
};

/**
 * The "Problems" section: one entry per problem, most severe first, each with its fix command and whether the
 * scheduled scan repairs it by itself. Empty when there is none.
 */
export function formatProblems(problems: readonly ReportProblem[], c: Colors = PLAIN): string {
  if (!problems.length) return '';
  const errors = problems.filter((p) => p.severity === 'error').length;
  let text = `Problems (${count(problems.length, 'problem')}, ${errors} of severity error; most severe first):\n`;
  for (const p of problems) {
    const who = [
      p.key,
      p.user && p.user !== p.key ? `user ${p.user}` : undefined,
      p.accountId && !p.key && `account ${p.accountId}`,
    ]
      .filter(Boolean)
      .join(', ');
    const severity = p.severity.toUpperCase();
    const painted =
      p.severity === 'error'
        ? c.bold(c.red(severity))
        : p.severity === 'warning'
          ? c.yellow(severity)
          : severity;
    text += `  ${painted}${' '.repeat(Math.max(0, 7 - severity.length))}  ${who ? `${who}: ` : ''}${p.message}\n`;
    if (p.fix) text += `           fix: ${p.fix}\n`;
    if (p.repair) text += `           (${REPAIRED_BY_SCAN[p.repair]})\n`;
  }
  return text;
}
