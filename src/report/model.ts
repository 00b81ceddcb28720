/**
 * The key report's data model (`key-rotator report --json`, and what the HTML is rendered from): every access key
 * with its age against its rotation line, each managed key's history (the keys it has had, from Secrets Manager's
 * versions and this tool's IAM tags), the rotation problems with their fixes, and the security findings. Ids,
 * dates and reasons only: never a secret value. Field names are stable: scripts read it.
 */
import type { CheckReport, Finding, NotChecked, Severity } from '../checks/types';
import { buildAudit, type AuditKey, type AuditReport } from '../cli/audit';
import type { ReportProblem } from '../cli/problems';
import type { ManagedKey, RotatorConfig } from '../config';
import { isLive } from '../domain/attempts';
import { dueDate, type Inventory, type InventoryUser, type SecretState } from '../scan';
import { deactivationDatesOf } from '../scan/problems';

export const REPORT_FORMAT = 'jenkins-key-rotator/key-report';
export const REPORT_VERSION = 1;
/** A key due within this many days is "due soon" (the chart's and the table's amber). */
export const DUE_SOON_DAYS = 14;
/** Each managed key's history reads at most this many secret versions, newest first. */
export const HISTORY_VERSIONS = 20;
/** The timeline lists at most this many events, newest first. */
export const TIMELINE_MAX = 200;

const DAY_MS = 86_400_000;

/** Where a key stands against its rotation line. */
export type KeyState = 'stale' | 'due-soon' | 'ok' | 'inactive';

/** One access key: a row of the table and a mark of the chart; the audit's fields (`audit --json`), and more. */
export interface ReportKey extends Pick<
  AuditKey,
  | 'accessKeyId'
  | 'status'
  | 'createDate'
  | 'ageDays'
  | 'lastUsedDate'
  | 'lastUsedService'
  | 'maxAgeDays'
  | 'stale'
  | 'deactivatedAt'
  | 'deletionDue'
> {
  user: string;
  accountId: string;
  /** The managed key's name, or null for a key this tool does not manage. */
  managedKey: string | null;
  /** Active keys: createDate + maxAgeDays (for an unmanaged key: when it should have been rotated); else null. */
  dueDate: string | null;
  /** Whole days from the report's time to `dueDate` (negative: overdue); null for inactive keys. */
  daysLeft: number | null;
  state: KeyState;
}

/** What a key is to its managed key, from the secret's stages and IAM. */
export type KeyRole = 'current' | 'pending' | 'previous' | 'superseded' | 'unrecorded';

/** One access key a managed key has had: when it came (created, stored) and went (deactivated, deleted). */
export interface KeyGeneration {
  /** Null for a version that holds no key (a rotation that has not created its key yet). */
  accessKeyId: string | null;
  role: KeyRole;
  /** The secret version that holds it (null: no version read holds it) and that version's stages now. */
  versionId: string | null;
  stages: string[];
  /** When the version was created in Secrets Manager. */
  storedAt: string | null;
  /** IAM's CreateDate; null once the key is deleted. */
  createdAt: string | null;
  /** Now: `deleted` when IAM no longer has it; `unknown` when the user could not be read. */
  status: 'Active' | 'Inactive' | 'deleted' | 'unknown';
  /** When this tool deactivated it (its tag `key-rotator:deactivated:<id>`). */
  deactivatedAt: string | null;
  deletionDue: string | null;
  lastUsedDate: string | null;
  lastUsedService: string | null;
}

export interface ReportAttempt {
  id: string;
  mode: 'hook' | 'direct';
  startedAt: string;
  leaseUntil: string;
  /** Its lease (plus clock skew) has not run out: it may be running now. */
  live: boolean;
}

/** One managed key's rotation history. */
export interface KeyHistory {
  key: string;
  user: string;
  accountId: string | null;
  secretId: string;
  maxAgeDays: number;
  deleteAfterDays: number;
  rotatedBy: 'lambda' | 'self';
  /** When its user went keyless (`key-rotator keyless apply --retire-key`): no longer rotated; else null. */
  keylessSince: string | null;
  rotationConfigured: boolean | null;
  lastRotatedDate: string | null;
  /** Newest first. */
  generations: KeyGeneration[];
  /** A rotation that has not finished (AWSPENDING on its own version). */
  inFlight: { versionId: string; startedAt: string | null; accessKeyId: string | null } | null;
  /** The rotation attempts recorded on the user (a dead one that is left means an attempt crashed). */
  attempts: ReportAttempt[];
  /** This key's rotation problems (most severe first), each with its fix. */
  problems: ReportProblem[];
  /** Versions in the secret, and how many of the oldest were not read (see HISTORY_VERSIONS). */
  versions: number;
  versionsOmitted: number;
  /** Why the versions could not be read (the history is then IAM's side only). */
  error: string | null;
}

export type TimelineKind = 'created' | 'deactivated' | 'rotation-started' | 'attempt' | 'keyless';

export interface TimelineEvent {
  at: string;
  key: string;
  kind: TimelineKind;
  accessKeyId: string | null;
  text: string;
}

/** The security checks: their findings when they ran, or why they did not. */
export type ReportChecks =
  | {
      ran: true;
      at: string;
      findings: Finding[];
      notChecked: NotChecked[];
      counts: Record<Severity, number> & { notChecked: number };
    }
  | { ran: false; reason: string };

export interface KeyReport {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  /** When the report was made, and when the inventory was taken (ages are relative to it). */
  generatedAt: string;
  takenAt: string;
  accountId: string;
  configFile: string | null;
  /** How users were discovered: `list` or `credential-report`. */
  source: string;
  defaults: { maxAgeDays: number; dueSoonDays: number };
  /** Every access key, by account, user and key id. */
  keys: ReportKey[];
  usersWithoutKeys: { user: string; accountId: string; managedKey: string | null }[];
  /** One per managed key, in the configuration's order. */
  histories: KeyHistory[];
  /** Newest first, at most TIMELINE_MAX. */
  timeline: TimelineEvent[];
  /** Every rotation problem and what could not be read, most severe first (as `audit`). */
  problems: ReportProblem[];
  checks: ReportChecks;
  counts: {
    users: number;
    keys: number;
    activeKeys: number;
    managedKeys: number;
    stale: number;
    dueSoon: number;
    problems: number;
    problemErrors: number;
    /** Findings of the security checks; null when they did not run. */
    findings: number | null;
  };
}

/** What Secrets Manager says about one version of a managed key's secret: ids and dates only. */
export interface SecretVersionInfo {
  versionId: string;
  stages: string[];
  createdDate?: Date;
  /** The access key id it holds; absent when it holds none or could not be read. */
  accessKeyId?: string;
}

/** The versions of one managed key's secret, newest first (at most HISTORY_VERSIONS), or why they are unknown. */
export type SecretHistory =
  { key: string; versions: SecretVersionInfo[]; total: number } | { key: string; error: string };

export interface ReportInput {
  inventory: Inventory;
  config: RotatorConfig;
  configFile?: string;
  states: readonly SecretState[];
  secretHistories: readonly SecretHistory[];
  /** The checks' report, or why they did not run. */
  checks: CheckReport | { skipped: string };
  now: Date;
}

const iso = (d: Date | undefined | null): string | null => (d ? d.toISOString() : null);

export function keyState(k: { status: string; stale: boolean; daysLeft: number | null }): KeyState {
  if (k.status !== 'Active') return 'inactive';
  if (k.stale) return 'stale';
  return k.daysLeft !== null && k.daysLeft <= DUE_SOON_DAYS ? 'due-soon' : 'ok';
}

function reportKeys(audit: AuditReport, takenAt: Date): ReportKey[] {
  return audit.users.flatMap((u) =>
    u.keys.map((k): ReportKey => {
      const due = k.status === 'Active' ? dueDate(new Date(k.createDate), k.maxAgeDays) : undefined;
      const daysLeft = due ? Math.ceil((due.getTime() - takenAt.getTime()) / DAY_MS) : null;
      return {
        user: u.userName,
        accountId: u.accountId,
        accessKeyId: k.accessKeyId,
        status: k.status,
        createDate: k.createDate,
        ageDays: k.ageDays,
        lastUsedDate: k.lastUsedDate,
        lastUsedService: k.lastUsedService,
        managedKey: u.managedKey,
        maxAgeDays: k.maxAgeDays,
        dueDate: iso(due),
        daysLeft,
        stale: k.stale,
        state: keyState({ status: k.status, stale: k.stale, daysLeft }),
        deactivatedAt: k.deactivatedAt,
        deletionDue: k.deletionDue,
      };
    }),
  );
}

function roleOf(stages: readonly string[]): KeyRole {
  if (stages.includes('AWSCURRENT')) return 'current';
  if (stages.includes('AWSPENDING')) return 'pending';
  if (stages.includes('AWSPREVIOUS')) return 'previous';
  return 'superseded';
}

/**
 * The keys one managed key has had, newest first (pure): each secret version's key, joined with IAM's view of it
 * (created, status, last use) and this tool's deactivation tag; IAM keys no version holds are `unrecorded`.
 */
export function keyGenerations(
  key: ManagedKey,
  user: InventoryUser | undefined,
  state: SecretState | undefined,
  versions: readonly SecretVersionInfo[],
): KeyGeneration[] {
  const deactivated = user ? deactivationDatesOf(user) : {};
  const graceEnd = (d: Date | undefined) =>
    d ? new Date(d.getTime() + key.policy.deleteAfterDays * DAY_MS).toISOString() : null;
  const out: KeyGeneration[] = [];
  const seen = new Set<string>();
  for (const v of versions) {
    if (v.accessKeyId && seen.has(v.accessKeyId)) continue;
    // A version with no key is worth a line only while it is staged (a rotation before createSecret).
    if (!v.accessKeyId && !v.stages.length) continue;
    const iamKey = v.accessKeyId ? user?.keys.find((k) => k.accessKeyId === v.accessKeyId) : undefined;
    const at = v.accessKeyId ? deactivated[v.accessKeyId] : undefined;
    if (v.accessKeyId) seen.add(v.accessKeyId);
    out.push({
      accessKeyId: v.accessKeyId ?? null,
      role: roleOf(v.stages),
      versionId: v.versionId,
      stages: [...v.stages],
      storedAt: iso(v.createdDate),
      createdAt: iso(iamKey?.createDate),
      status: !user ? 'unknown' : iamKey ? iamKey.status : v.accessKeyId ? 'deleted' : 'unknown',
      deactivatedAt: iso(at),
      deletionDue: iamKey?.status === 'Inactive' ? graceEnd(at) : null,
      lastUsedDate: iso(iamKey?.lastUsedDate),
      lastUsedService: iamKey?.lastUsedService ?? null,
    });
  }
  // IAM's keys that no version read holds: the current one when the versions could not be read, else unrecorded.
  for (const k of user?.keys ?? []) {
    if (seen.has(k.accessKeyId)) continue;
    const at = deactivated[k.accessKeyId];
    const role: KeyRole =
      k.accessKeyId === state?.currentAccessKeyId
        ? 'current'
        : k.accessKeyId === state?.pending?.accessKeyId
          ? 'pending'
          : k.accessKeyId === state?.previousAccessKeyId
            ? 'previous'
            : 'unrecorded';
    out.push({
      accessKeyId: k.accessKeyId,
      role,
      versionId: null,
      stages: [],
      storedAt: null,
      createdAt: k.createDate.toISOString(),
      status: k.status,
      deactivatedAt: iso(at),
      deletionDue: k.status === 'Inactive' ? graceEnd(at) : null,
      lastUsedDate: iso(k.lastUsedDate),
      lastUsedService: k.lastUsedService ?? null,
    });
  }
  const came = (g: KeyGeneration) => g.createdAt ?? g.storedAt ?? '';
  return out.sort((a, b) => came(b).localeCompare(came(a)));
}

/** Every managed key's history (pure). */
export function keyHistories(input: ReportInput, problems: readonly ReportProblem[]): KeyHistory[] {
  const { inventory, config, states, secretHistories, now } = input;
  return config.keys.map((key): KeyHistory => {
    const user = inventory.users.find((u) => u.managedKey === key.name);
    const state = states.find((s) => s.key === key.name);
    const history = secretHistories.find((h) => h.key === key.name);
    const versions = history && 'versions' in history ? history.versions : [];
    const pending = state?.pending;
    return {
      key: key.name,
      user: user?.userName ?? key.iamUser,
      accountId: user?.accountId ?? key.accountId ?? null,
      secretId: key.secretId,
      maxAgeDays: key.policy.maxAgeDays,
      deleteAfterDays: key.policy.deleteAfterDays,
      rotatedBy: key.rotatedBy,
      keylessSince: iso(user?.keylessSince),
      rotationConfigured: state && state.error === undefined ? state.rotationConfigured : null,
      lastRotatedDate: iso(state?.lastRotatedDate),
      generations: keyGenerations(key, user, state, versions),
      inFlight: pending
        ? {
            versionId: pending.versionId,
            startedAt: iso(pending.createdDate),
            accessKeyId: pending.accessKeyId ?? null,
          }
        : null,
      attempts: (user?.attempts ?? [])
        .map((a) => ({
          id: a.id,
          mode: a.mode,
          startedAt: a.startedAt.toISOString(),
          leaseUntil: a.leaseUntil.toISOString(),
          live: isLive(a, now),
        }))
        .sort((a, b) => b.startedAt.localeCompare(a.startedAt)),
      problems: problems.filter((p) => p.key === key.name),
      versions: history && 'versions' in history ? history.total : 0,
      versionsOmitted: history && 'versions' in history ? history.total - history.versions.length : 0,
      error: history && 'error' in history ? history.error : (state?.error ?? null),
    };
  });
}

/** What happened when, across every managed key, newest first (pure). */
export function timelineOf(histories: readonly KeyHistory[]): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const h of histories) {
    for (const g of h.generations) {
      const came = g.createdAt ?? g.storedAt;
      if (came && g.accessKeyId)
        events.push({
          at: came,
          key: h.key,
          kind: 'created',
          accessKeyId: g.accessKeyId,
          text:
            g.role === 'unrecorded'
              ? `key ${g.accessKeyId} created, not recorded in the secret`
              : `key ${g.accessKeyId} created${g.versionId ? ` and stored (version ${g.versionId})` : ''}`,
        });
      if (g.deactivatedAt && g.accessKeyId)
        events.push({
          at: g.deactivatedAt,
          key: h.key,
          kind: 'deactivated',
          accessKeyId: g.accessKeyId,
          text: `key ${g.accessKeyId} deactivated by the rotator${g.status === 'deleted' ? ' (since deleted)' : ''}`,
        });
    }
    if (h.keylessSince)
      events.push({
        at: h.keylessSince,
        key: h.key,
        kind: 'keyless',
        accessKeyId: null,
        text: 'went keyless: its long-lived key retired, its jobs use Jenkins ID tokens exchanged with STS',
      });
    if (h.inFlight?.startedAt)
      events.push({
        at: h.inFlight.startedAt,
        key: h.key,
        kind: 'rotation-started',
        accessKeyId: h.inFlight.accessKeyId,
        text: `rotation started (version ${h.inFlight.versionId}), not finished`,
      });
    for (const a of h.attempts)
      events.push({
        at: a.startedAt,
        key: h.key,
        kind: 'attempt',
        accessKeyId: null,
        text: a.live
          ? `rotation attempt ${a.id} (${a.mode}) running, lease until ${a.leaseUntil}`
          : `rotation attempt ${a.id} (${a.mode}) left its record: it stopped before finishing`,
      });
  }
  return events.sort((a, b) => b.at.localeCompare(a.at)).slice(0, TIMELINE_MAX);
}

function reportChecks(checks: ReportInput['checks']): ReportChecks {
  if ('skipped' in checks) return { ran: false, reason: checks.skipped };
  return {
    ran: true,
    at: checks.at,
    findings: checks.findings,
    notChecked: checks.notChecked,
    counts: checks.counts,
  };
}

/** The report (pure): the audit's keys and problems, each managed key's history, and the checks. */
export function buildKeyReport(input: ReportInput): KeyReport {
  const { inventory, config, now } = input;
  const audit = buildAudit(inventory, config, input.configFile, input.states);
  const keys = reportKeys(audit, inventory.takenAt);
  const histories = keyHistories(input, audit.problems);
  const checks = reportChecks(input.checks);
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    generatedAt: now.toISOString(),
    takenAt: audit.takenAt,
    accountId: audit.accountId,
    configFile: audit.configFile,
    source: audit.source,
    defaults: { maxAgeDays: config.defaults.maxAgeDays, dueSoonDays: DUE_SOON_DAYS },
    keys,
    usersWithoutKeys: audit.users
      .filter((u) => !u.keys.length)
      .map((u) => ({ user: u.userName, accountId: u.accountId, managedKey: u.managedKey })),
    histories,
    timeline: timelineOf(histories),
    problems: audit.problems,
    checks,
    counts: {
      users: audit.counts.users,
      keys: keys.length,
      activeKeys: audit.counts.activeKeys,
      managedKeys: audit.counts.managedKeys,
      stale: keys.filter((k) => k.state === 'stale').length,
      dueSoon: keys.filter((k) => k.state === 'due-soon').length,
      problems: audit.problems.length,
      problemErrors: audit.counts.problemErrors,
      findings: checks.ran ? checks.findings.length : null,
    },
  };
}
