import type { Attempt } from '../domain/attempts';
import type { ProblemKind, Repair } from '../domain/diagnose';
import type { ScanChecks } from './checks';
import type { KeyProblem } from './problems';

/** One access key as the inventory saw it. Ids and dates only: the inventory never holds key material. */
export interface InventoryKey {
  accessKeyId: string;
  status: 'Active' | 'Inactive';
  createDate: Date;
  /** Whole days since `createDate` at the inventory's `takenAt`. */
  ageDays: number;
  lastUsedDate?: Date;
  lastUsedService?: string;
  /** When this tool deactivated the key: the user tag `key-rotator:deactivated:<AccessKeyId>` (managed users). */
  deactivatedAt?: Date;
}

export interface InventoryUser {
  userName: string;
  path: string;
  arn: string;
  accountId: string;
  /** Name of the configured key that manages this user (iamUser + account), if any. */
  managedKey?: string;
  keys: InventoryKey[];
  /**
   * Managed users only: the raw values of this tool's deactivation tags, by the access key id they name, including
   * tags whose key no longer exists and values that are not a date.
   */
  deactivationTags?: Record<string, string>;
  /** Managed users only: the rotation attempts recorded in the user's tags (see domain/attempts.ts). */
  attempts?: Attempt[];
  /** Managed users only: the key went keyless then (`keyless apply --retire-key`, tag key-rotator:keyless). */
  keylessSince?: Date;
  /**
   * Managed users only: this tool's tags were not read, because they could not change a decision (the user's only
   * key is its AWSCURRENT key, active, no rotation in flight): `attempts` and `deactivationTags` are then empty.
   */
  tagsNotRead?: true;
  /**
   * Unmanaged users, when the scan audits them from the credential report without listing (`unmanagedKeys:
   * 'report'`): their keys as the report's columns describe them. `keys` is then empty.
   */
  reportedKeys?: ReportedKey[];
}

/** A key seen only in the credential report, which has no key ids: its slot (1 or 2) names it. */
export interface ReportedKey {
  slot: number;
  status: 'Active' | 'Inactive';
  /** The report's `access_key_N_last_rotated`: when the key was created or last changed. */
  createDate: Date;
  ageDays: number;
  lastUsedDate?: Date;
  lastUsedService?: string;
}

export type InventorySource = 'credential-report' | 'list';

/** The IAM users and access keys of the rotator's account, plus the managed users of other accounts. */
export interface Inventory {
  /** The clock's time when the inventory was taken; ages are relative to it. */
  takenAt: Date;
  /** The account the rotator runs in. */
  accountId: string;
  /** How the account's users were discovered. Managed users are always read directly (ListAccessKeys). */
  source: InventorySource;
  /** When `source` is the credential report: when IAM generated it. */
  reportGeneratedAt?: Date;
  /** Why the credential report was not used, when it was not. */
  reportSkippedReason?: string;
  users: InventoryUser[];
  /**
   * What could not be read. `key` names a managed key when the problem is one (its user is missing or unreadable);
   * otherwise the problem is about a user (`user`) or the whole discovery (neither).
   */
  problems: InventoryProblem[];
}

export interface InventoryProblem {
  key?: string;
  user?: string;
  accountId?: string;
  reason: string;
}

/** What Secrets Manager says about one managed key's secret. Ids only: never the secret value. */
export interface SecretState {
  /** The managed key's name. */
  key: string;
  secretId: string;
  arn?: string;
  /** A rotation function is set on the secret (DescribeSecret's RotationLambdaARN). */
  rotationConfigured: boolean;
  currentVersionId?: string;
  /** The access key id and user held by AWSCURRENT. */
  currentAccessKeyId?: string;
  currentUserName?: string;
  /** The access key id held by AWSPREVIOUS, when it is on a version other than AWSCURRENT's. */
  previousAccessKeyId?: string;
  /**
   * AWSPENDING on a version other than AWSCURRENT's: a rotation that has not finished, when it began, and the key
   * it created (none yet when createSecret has not stored one).
   */
  pending?: { versionId: string; createdDate?: Date; accessKeyId?: string };
  lastRotatedDate?: Date;
  /** Why the secret could not be read; the key is then reported as failed. */
  error?: string;
}

export interface RotateAction {
  key: string;
  secretId: string;
  userName: string;
  accountId: string;
  /** The AWSCURRENT key that is due, and what the decision was based on. */
  accessKeyId: string;
  createDate: Date;
  ageDays: number;
  maxAgeDays: number;
  /** Passed to RotateSecret as RotationLambdaARN: set only when the secret has no rotation function yet. */
  rotationLambdaArn?: string;
  /**
   * To make room, this rotation deletes the last rotation's rollback key: an inactive key still inside its grace
   * period (deleteAfterDays after its deactivation). The rotation does it, with a warning; reports say so.
   */
  rollbackKey?: RollbackKey;
}

export interface RollbackKey {
  accessKeyId: string;
  deactivatedAt: Date;
  graceEndsAt: Date;
}

/**
 * A problem the scan repairs by itself before it rotates anything, through the engine (which reads the state
 * again first): `finish` completes a promoted rotation (the previous key deactivated once every Jenkins target
 * holds the current key, and recorded); `abandon` undoes a rotation in flight older than the key's
 * `abandonStuckAfterHours` that no live invocation runs (Jenkins back on the current key, the pending key
 * deleted, AWSPENDING removed). The key's rotation is then left to the next run.
 */
export interface RepairAction {
  key: string;
  userName: string;
  accountId: string;
  repair: Repair;
  problem: KeyProblem;
}

/** A repair the scan made. */
export interface RepairedEntry {
  key: string;
  kind: ProblemKind;
  action: Repair;
  /** What the engine did, ids only. */
  detail: string;
  accessKeyId?: string;
  versionId?: string;
}

export interface DeleteAction {
  key: string;
  userName: string;
  accountId: string;
  accessKeyId: string;
  deactivatedAt: Date;
  /** Keys the deletion must never touch, re-checked right before acting. */
  currentAccessKeyId: string;
  tagKey: string;
}

/** Removes a deactivation tag whose key no longer exists (IAM allows 50 tags per user). */
export interface UntagAction {
  key: string;
  userName: string;
  accountId: string;
  accessKeyId: string;
  tagKey: string;
}

export interface SkipEntry {
  key: string;
  reason: string;
  accessKeyId?: string;
}

export interface FailEntry {
  key: string;
  reason: string;
  accessKeyId?: string;
}

/** An action the scan did not take this run, and why: the next run decides again (docs/fleet.md). */
export interface DeferredEntry {
  key: string;
  action: 'rotate' | 'finish' | 'abandon' | 'delete' | 'untag';
  accessKeyId?: string;
  reason: string;
}

export interface InProgressEntry {
  key: string;
  secretId: string;
  versionId?: string;
  since?: string;
  /** Older than the stuck threshold: it also counts as a failure, since it blocks every later rotation. */
  stuck: boolean;
}

export interface UnmanagedStaleEntry {
  user: string;
  accountId: string;
  /** The key's id; absent when it was seen only in the credential report, whose slot `keySlot` names it. */
  accessKeyId?: string;
  keySlot?: number;
  ageDays: number;
  lastUsedDate?: string;
}

export interface RotatedEntry {
  key: string;
  accessKeyId?: string;
  at: string;
}

/** What a scan would do, decided from the inventory alone (pure). The actions are confirmed again before acting. */
export interface ScanPlan {
  now: Date;
  /** Problems the scan repairs first (see {@link RepairAction}). */
  repair: RepairAction[];
  /** The other rotation problems of managed keys: reported, with the command that fixes each. */
  problems: KeyProblem[];
  rotate: RotateAction[];
  delete: DeleteAction[];
  untag: UntagAction[];
  skipped: SkipEntry[];
  failed: FailEntry[];
  inProgress: InProgressEntry[];
  unmanagedStale: UnmanagedStaleEntry[];
  /** Rotations that completed recently (the secret's LastRotatedDate), for the report. */
  rotated: RotatedEntry[];
  /** Managed keys that went keyless: never rotated; an active key on their user is a failure. */
  keyless: KeylessEntry[];
}

export interface KeylessEntry {
  key: string;
  user: string;
  since: string;
  /** Active access keys on the user: none is expected (each is also a failure). */
  activeKeys: string[];
}

export interface StartedEntry {
  key: string;
  secretId: string;
  accessKeyId: string;
  ageDays: number;
  versionId?: string;
  /** Something the rotation does that an operator should know (it deletes the rollback key of the last one). */
  warning?: string;
}

export interface DeletedEntry {
  key: string;
  user: string;
  accountId: string;
  accessKeyId: string;
}

/** Where the scan wrote its key report (the `reportBucket` stage parameter), or why it could not. */
export interface ReportUpload {
  ok: boolean;
  /** `s3://bucket/key` of the HTML page. */
  location: string;
  /** The page's size. */
  bytes?: number;
  error?: string;
}

export interface NotificationResult {
  channel: 'sns' | 'webhook';
  ok: boolean;
  detail?: string;
}

/** One scan's result: the function's return value, its log line, its metrics and its notification. */
export interface ScanSummary {
  startedAt: string;
  finishedAt: string;
  accountId: string;
  inventory: {
    source: InventorySource;
    reportGeneratedAt?: string;
    reportSkippedReason?: string;
    users: number;
    keys: number;
  };
  rotated: RotatedEntry[];
  started: StartedEntry[];
  /**
   * What this run left for the next one, and why: rotations past `fleet.maxRotationsPerRun`, and every action not
   * begun once the Lambda's deadline was near. None is half-done.
   */
  deferred: DeferredEntry[];
  /** Problems the scan repaired by itself this run. */
  repaired: RepairedEntry[];
  skipped: SkipEntry[];
  failed: FailEntry[];
  deleted: DeletedEntry[];
  inProgress: InProgressEntry[];
  unmanagedStale: UnmanagedStaleEntry[];
  /** Managed keys that went keyless (`key-rotator keyless`): not rotated, their users watched for new keys. */
  keyless: KeylessEntry[];
  /**
   * Rotation problems left after the repairs, most severe first, each with the command that fixes it. One of
   * severity `error` fails the scan, as a failure does.
   */
  problems: KeyProblem[];
  /**
   * The security checks (see src/scan/checks.ts), when this scan ran them or says when they run. They never fail
   * the scan: a new high finding is in the title and the notification, once.
   */
  checks?: ScanChecks;
  /**
   * The key report written this run, when the scan writes one (ScanOptions.report). A failed upload is reported
   * here and in the notification; it never fails the scan.
   */
  report?: ReportUpload;
  /** How the run paced itself (docs/fleet.md). */
  fleet?: FleetSummary;
  /** Filled in by the caller that sends notifications (the scan handler). */
  notifications: NotificationResult[];
  counts: {
    rotated: number;
    started: number;
    deferred: number;
    skipped: number;
    failed: number;
    deleted: number;
    inProgress: number;
    stuck: number;
    unmanagedStale: number;
    repaired: number;
    problems: number;
    /** Problems of severity `error`: each fails the scan. */
    problemErrors: number;
  };
}

/** The scan's pacing: its IAM rate, the rotation limit, whether it stopped at its deadline, its checkpoint. */
export interface FleetSummary {
  /** The configured rate every IAM call of the run waited for. */
  iamCallsPerSecond: number;
  /** IAM requests the run sent (attempts, retries included), and how long they waited for the rate in all. */
  iamCalls: number;
  iamWaitSeconds: number;
  maxRotationsPerRun: number;
  /** Set when the run stopped at its deadline: what it skipped (checks, report) and its actions are deferred. */
  stoppedAt?: { reason: string; remainingSeconds: number };
  /** What the last run left (from the checkpoint): its deferred rotations were put first this run. */
  resumed?: { savedAt: string; deferred: number };
  /** Whether this run's checkpoint was saved, or why not. */
  checkpoint?: { saved: boolean; error?: string };
}
