import type { Inventory, JenkinsTargetCheck, ScanPlan } from '../scan';
import { rollbackNote } from '../scan';
import { PLAIN, type Colors } from './colors';
import { count, formatTable } from './format';
import { formatProblems, reportProblem, sortProblems, type ReportProblem } from './problems';

export type PlanAction =
  'repair' | 'rotate' | 'delete' | 'untag' | 'skip' | 'in-progress' | 'fail' | 'report';

/** One thing the next scheduled run would do or decline to do. Field names are stable (`plan --json`). */
export interface PlanDecision {
  action: PlanAction;
  /** The managed key's name; for `report`, null (the user is not managed). */
  key: string | null;
  user: string | null;
  accessKeyId: string | null;
  reason: string;
  ageDays?: number;
  maxAgeDays?: number;
}

export interface PlanReport {
  /** This report changed nothing: every call it made was a read. */
  readOnly: true;
  now: string;
  accountId: string;
  inventory: { source: string; users: number; keys: number };
  /**
   * The rotation problems of managed keys, most severe first, each with the command that fixes it; `repair` says
   * which the run repairs by itself (those are also `repair` decisions).
   */
  problems: ReportProblem[];
  decisions: PlanDecision[];
  jenkins: JenkinsTargetCheck[];
  counts: Record<PlanAction, number> & {
    jenkinsFailed: number;
    problems: number;
    /** Problems of severity error the run would not repair: the run would fail. */
    problemErrors: number;
  };
  /**
   * The run would succeed: no key would fail, no problem of severity error would be left after its repairs, and
   * every Jenkins credential check passed.
   */
  ok: boolean;
}

const ORDER: readonly PlanAction[] = [
  'fail',
  'repair',
  'rotate',
  'delete',
  'untag',
  'in-progress',
  'report',
  'skip',
];

/** The plan report (pure): the scan's plan flattened into decisions, plus the Jenkins checks. */
export function buildPlanReport(
  inventory: Inventory,
  plan: ScanPlan,
  jenkins: JenkinsTargetCheck[],
): PlanReport {
  const userOf = new Map(inventory.users.filter((u) => u.managedKey).map((u) => [u.managedKey, u.userName]));
  const user = (key: string) => userOf.get(key) ?? null;
  const d: PlanDecision[] = [];
  for (const a of plan.repair)
    d.push({
      action: 'repair',
      key: a.key,
      user: a.userName,
      accessKeyId: a.problem.accessKeyId ?? null,
      reason: `${a.repair === 'finish' ? 'finish the last rotation (deactivate and record the previous key, once Jenkins holds the current one)' : 'abandon the rotation in flight (Jenkins back on the current key, the pending key deleted, AWSPENDING removed)'}: ${a.problem.message}`,
    });
  for (const a of plan.rotate)
    d.push({
      action: 'rotate',
      key: a.key,
      user: a.userName,
      accessKeyId: a.accessKeyId,
      ageDays: a.ageDays,
      maxAgeDays: a.maxAgeDays,
      reason: `due: ${a.ageDays} days old (max ${a.maxAgeDays}); RotateSecret on ${a.secretId}${
        a.rotationLambdaArn ? `, setting its rotation function ${a.rotationLambdaArn}` : ''
      }${a.rollbackKey ? `; NOTE: ${rollbackNote(a.rollbackKey)}` : ''}`,
    });
  for (const a of plan.delete)
    d.push({
      action: 'delete',
      key: a.key,
      user: a.userName,
      accessKeyId: a.accessKeyId,
      reason: `deactivated by this tool on ${a.deactivatedAt.toISOString()}, grace period over, inactive and unused since`,
    });
  for (const a of plan.untag)
    d.push({
      action: 'untag',
      key: a.key,
      user: a.userName,
      accessKeyId: a.accessKeyId,
      reason: `remove the tag ${a.tagKey}: its key no longer exists`,
    });
  for (const p of plan.inProgress) {
    const detail = [p.versionId && `version ${p.versionId}`, p.since && `since ${p.since}`].filter(Boolean);
    d.push({
      action: 'in-progress',
      key: p.key,
      user: user(p.key),
      accessKeyId: null,
      reason: `a rotation of ${p.secretId} is unfinished${detail.length ? ` (${detail.join(', ')})` : ''}${
        p.stuck ? ': STUCK, it blocks every later rotation' : ': reported, not fought'
      }`,
    });
  }
  for (const f of plan.failed)
    d.push({
      action: 'fail',
      key: f.key,
      user: user(f.key),
      accessKeyId: f.accessKeyId ?? null,
      reason: f.reason,
    });
  for (const u of plan.unmanagedStale)
    d.push({
      action: 'report',
      key: null,
      user: u.user,
      accessKeyId: u.accessKeyId ?? null,
      ageDays: u.ageDays,
      reason: `unmanaged, ${u.ageDays} days old${u.lastUsedDate ? `, last used ${u.lastUsedDate.slice(0, 10)}` : ', never used'}: reported, never touched`,
    });
  for (const s of plan.skipped)
    d.push({
      action: 'skip',
      key: s.key,
      user: user(s.key),
      accessKeyId: s.accessKeyId ?? null,
      reason: s.reason,
    });
  d.sort((a, b) => ORDER.indexOf(a.action) - ORDER.indexOf(b.action));
  const counts = Object.fromEntries(ORDER.map((a) => [a, d.filter((x) => x.action === a).length])) as Record<
    PlanAction,
    number
  >;
  const jenkinsFailed = jenkins.filter((j) => !j.ok).length;
  const problems = sortProblems([...plan.repair.map((r) => r.problem), ...plan.problems].map(reportProblem));
  const problemErrors = problems.filter((p) => p.severity === 'error' && !p.repair).length;
  return {
    readOnly: true,
    now: plan.now.toISOString(),
    accountId: inventory.accountId,
    inventory: {
      source: inventory.source,
      users: inventory.users.length,
      keys: inventory.users.reduce((n, u) => n + u.keys.length, 0),
    },
    problems,
    decisions: d,
    jenkins,
    counts: { ...counts, jenkinsFailed, problems: problems.length, problemErrors },
    ok: counts.fail === 0 && jenkinsFailed === 0 && problemErrors === 0,
  };
}

export function formatPlan(r: PlanReport, paint: Colors = PLAIN): string {
  let text = `Plan for the next scheduled run (read-only: nothing was changed)\naccount ${r.accountId}, ${r.now
    .slice(0, 16)
    .replace('T', ' ')} UTC, ${count(r.inventory.users, 'user')}, ${count(r.inventory.keys, 'key')}\n\n`;
  const problems = formatProblems(r.problems, paint);
  /** The first column (the action or check) coloured by outcome, the header bold. */
  const status = (text: string, row: number, col: number) =>
    row === -1
      ? paint.bold(text)
      : col !== 0
        ? text
        : text === 'FAIL'
          ? paint.bold(paint.red(text))
          : text === 'ok'
            ? paint.green(text)
            : text === 'skip'
              ? paint.dim(text)
              : paint.yellow(text);
  if (problems) text += `${problems}\n`;
  text += formatTable(
    ['ACTION', 'KEY', 'USER', 'ACCESS KEY', 'WHY'],
    r.decisions.map((x) => [
      x.action === 'fail' ? 'FAIL' : x.action,
      x.key ?? '-',
      x.user ?? '-',
      x.accessKeyId ?? '-',
      x.reason,
    ]),
    [],
    status,
  );
  if (r.jenkins.length) {
    text += `\nJenkins credentials (nothing written: the write permission is proven by a request Jenkins refuses after its permission check)\n`;
    text += formatTable(
      ['CHECK', 'KEY', 'TARGET', 'STORE', 'CREDENTIAL', 'DETAIL'],
      r.jenkins.map((j) => [j.ok ? 'ok' : 'FAIL', j.key, j.target, j.store, j.credentialId, j.detail]),
      [],
      status,
    );
  }
  const c = r.counts;
  text += `\n${count(c.repair, 'repair')}, ${count(c.rotate, 'rotation')}, ${count(c.delete, 'deletion')}, ${c['in-progress']} in progress, ${count(
    c.report,
    'unmanaged stale key',
  )} reported, ${c.skip} skipped, ${count(c.fail, 'failure')}; Jenkins: ${r.jenkins.length - c.jenkinsFailed}/${
    r.jenkins.length
  } credentials ok\n`;
  return text;
}
