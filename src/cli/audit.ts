import type { RotatorConfig } from '../config';
import type { Inventory, InventoryKey, SecretState } from '../scan';
import { diagnoseKeys, dueDate, isDue } from '../scan';
import { PLAIN, type Colors } from './colors';
import { toCsv } from './csv';
import { count, day, formatTable, type Align } from './format';
import {
  formatProblems,
  reportProblem,
  sortProblems,
  unreadableProblems,
  type ReportProblem,
} from './problems';

const DAY_MS = 86_400_000;

/** One access key in the audit. Field names are stable: scripts read `audit --json`. */
export interface AuditKey {
  accessKeyId: string;
  status: 'Active' | 'Inactive';
  /** ISO 8601. */
  createDate: string;
  ageDays: number;
  lastUsedDate: string | null;
  lastUsedService: string | null;
  /** The max age the key is judged by: its managed key's policy, else the configuration's default. */
  maxAgeDays: number;
  /** Managed active keys: createDate + maxAgeDays (ISO 8601); otherwise null. */
  rotationDue: string | null;
  /** Active and at or past `maxAgeDays`. */
  stale: boolean;
  /** When this tool deactivated it (managed users), and when the scan may delete it after the grace period. */
  deactivatedAt: string | null;
  deletionDue: string | null;
}

export interface AuditUser {
  userName: string;
  accountId: string;
  path: string;
  arn: string;
  managed: boolean;
  /** The configuration's key name that manages this user, or null. */
  managedKey: string | null;
  keys: AuditKey[];
}

export interface AuditReport {
  takenAt: string;
  accountId: string;
  /** The configuration file, or null when there was none (every key unmanaged). */
  configFile: string | null;
  /** How users were discovered: `list` (ListUsers) or `credential-report`. */
  source: string;
  users: AuditUser[];
  /**
   * Most severe first: the rotation problems of managed keys (a rotation in flight and its age, two active keys,
   * an AWSPENDING whose key is gone, a previous key still active or never tagged…), each with the command that
   * fixes it, and what could not be read (`unreadable`).
   */
  problems: ReportProblem[];
  counts: {
    users: number;
    keys: number;
    managedKeys: number;
    staleKeys: number;
    activeKeys: number;
    problems: number;
    /** Problems of severity error: the audit exits 1. */
    problemErrors: number;
  };
}

const iso = (d: Date | undefined): string | null => (d ? d.toISOString() : null);

/**
 * What makes the audit exit 1: a problem of severity error, or a rotation left unfinished that nothing runs right
 * now. The latter is a warning while it is young (the scan abandons it only after abandonStuckAfterHours), but it
 * blocks every later rotation and keeps a second key working: someone has to resume or abandon it.
 */
export const needsAction = (p: ReportProblem): boolean =>
  p.severity === 'error' || p.kind === 'rotation-in-flight';

/** What an audit key shows of a key as IAM (or its credential report) describes it. */
function seen(
  k: Pick<InventoryKey, 'status' | 'createDate' | 'ageDays' | 'lastUsedDate' | 'lastUsedService'>,
  accessKeyId: string,
  maxAgeDays: number,
) {
  return {
    accessKeyId,
    status: k.status,
    createDate: k.createDate.toISOString(),
    ageDays: k.ageDays,
    lastUsedDate: iso(k.lastUsedDate),
    lastUsedService: k.lastUsedService ?? null,
    maxAgeDays,
    stale: k.status === 'Active' && isDue(k.ageDays, maxAgeDays),
  };
}

/** The audit from an inventory and the managed keys' secret states (pure). */
export function buildAudit(
  inventory: Inventory,
  config: RotatorConfig,
  configFile?: string,
  states: readonly SecretState[] = [],
): AuditReport {
  const byName = new Map(config.keys.map((k) => [k.name, k]));
  const users = inventory.users.map((u): AuditUser => {
    const managed = u.managedKey !== undefined ? byName.get(u.managedKey) : undefined;
    const policy = managed?.policy ?? config.defaults;
    return {
      userName: u.userName,
      accountId: u.accountId,
      path: u.path,
      arn: u.arn,
      managed: managed !== undefined,
      managedKey: managed?.name ?? null,
      keys: [
        ...u.keys.map((k): AuditKey => {
          const active = k.status === 'Active';
          return {
            ...seen(k, k.accessKeyId, policy.maxAgeDays),
            rotationDue: managed && active ? dueDate(k.createDate, policy.maxAgeDays).toISOString() : null,
            deactivatedAt: iso(k.deactivatedAt),
            deletionDue:
              managed && !active && k.deactivatedAt
                ? new Date(k.deactivatedAt.getTime() + policy.deleteAfterDays * DAY_MS).toISOString()
                : null,
          };
        }),
        // Seen only in the credential report (the scan's audit of unmanaged users): no id, its slot names it.
        ...(u.reportedKeys ?? []).map((k): AuditKey => ({
          ...seen(k, `(key ${k.slot}, credential report)`, policy.maxAgeDays),
          rotationDue: null,
          deactivatedAt: null,
          deletionDue: null,
        })),
      ],
    };
  });
  const keys = users.flatMap((u) => u.keys.map((k) => ({ u, k })));
  const userOf = (key: string) => config.keys.find((k) => k.name === key)?.iamUser;
  const problems = sortProblems([
    ...unreadableProblems(inventory.problems, states, userOf),
    ...diagnoseKeys(inventory, config, states, inventory.takenAt).map(reportProblem),
  ]);
  return {
    takenAt: inventory.takenAt.toISOString(),
    accountId: inventory.accountId,
    configFile: configFile ?? null,
    source: inventory.source,
    users,
    problems,
    counts: {
      users: users.length,
      keys: keys.length,
      managedKeys: keys.filter(({ u }) => u.managed).length,
      staleKeys: keys.filter(({ k }) => k.stale).length,
      activeKeys: keys.filter(({ k }) => k.status === 'Active').length,
      problems: problems.length,
      problemErrors: problems.filter((p) => p.severity === 'error').length,
    },
  };
}

/** `2025-05-30 ecr`, `never`. */
const lastUsed = (k: AuditKey): string =>
  k.lastUsedDate ? `${day(k.lastUsedDate)}${k.lastUsedService ? ` ${k.lastUsedService}` : ''}` : 'never';

/** The human report: the problems first (most severe first, each with its fix), then one row per key, totals. */
export function formatAudit(r: AuditReport, paint: Colors = PLAIN): string {
  const multiAccount = new Set(r.users.map((u) => u.accountId)).size > 1;
  const headers = [
    ...(multiAccount ? ['ACCOUNT'] : []),
    'USER',
    'ACCESS KEY',
    'STATUS',
    'AGE',
    'LAST USED',
    'MANAGED',
    'ROTATION DUE',
    'STALE',
  ];
  const rows: string[][] = [];
  for (const u of r.users) {
    const who = [...(multiAccount ? [u.accountId] : []), u.userName];
    const managed = u.managedKey ?? 'no';
    if (!u.keys.length) rows.push([...who, '(no keys)', '', '', '', managed, '-', '']);
    for (const k of u.keys)
      rows.push([
        ...who,
        k.accessKeyId,
        k.status.toLowerCase(),
        `${k.ageDays}d`,
        lastUsed(k),
        managed,
        k.rotationDue ? day(k.rotationDue) : k.deletionDue ? `- (delete ${day(k.deletionDue)})` : '-',
        k.stale ? 'STALE' : '',
      ]);
  }
  const align = headers.map((h): Align => (h === 'AGE' ? 'right' : 'left'));
  let text = `Access keys of account ${r.accountId} at ${r.takenAt.slice(0, 16).replace('T', ' ')} UTC${
    r.configFile ? ` (managed: ${r.configFile})` : ' (no configuration: nothing is managed)'
  }\n\n`;
  const problems = formatProblems(r.problems, paint);
  if (problems) text += `${problems}\n`;
  text += formatTable(headers, rows, align, (text, row) =>
    row === -1
      ? paint.bold(text)
      : text === 'STALE'
        ? paint.bold(paint.red(text))
        : text === 'inactive'
          ? paint.dim(text)
          : text,
  );
  const c = r.counts;
  text += `\n${count(c.users, 'user')}, ${count(c.keys, 'key')} (${c.activeKeys} active), ${c.managedKeys} managed, ${c.staleKeys} stale, ${count(c.problems, 'problem')}\n`;
  return text;
}

/** The columns of `audit --format csv`: one row per access key, the fields of `--json`'s users[].keys[] and their user. */
export const AUDIT_CSV_COLUMNS = [
  'accountId',
  'userName',
  'managedKey',
  'accessKeyId',
  'status',
  'createDate',
  'ageDays',
  'lastUsedDate',
  'lastUsedService',
  'maxAgeDays',
  'rotationDue',
  'stale',
  'deactivatedAt',
  'deletionDue',
] as const;

/**
 * `audit --format csv`: one row per access key (users without keys have no row), with its user's account, name and
 * managed key (empty when unmanaged); the values are those of `--json`, dates in ISO 8601, empty for null.
 */
export function auditCsv(r: AuditReport): string {
  const rows = r.users.flatMap((u) =>
    u.keys.map((k) =>
      AUDIT_CSV_COLUMNS.map((c) =>
        c === 'accountId' || c === 'userName' || c === 'managedKey' ? u[c] : k[c],
      ),
    ),
  );
  return toCsv(AUDIT_CSV_COLUMNS, rows);
}

/**
 * The keys `audit --fail-on-stale` fails on: active managed keys at or past their max age, and with
 * `includeUnmanaged` unmanaged ones too (judged by the default max age).
 */
export function staleKeys(
  r: AuditReport,
  includeUnmanaged: boolean,
): { user: string; managedKey: string | null; key: AuditKey }[] {
  return r.users
    .filter((u) => u.managed || includeUnmanaged)
    .flatMap((u) =>
      u.keys.filter((k) => k.stale).map((key) => ({ user: u.userName, managedKey: u.managedKey, key })),
    );
}
