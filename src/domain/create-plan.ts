import { couldOwn, isLive, tokenForTag, type Attempt } from './attempts';
import type { AccessKeyMeta } from './keys';
import { UnsafeStateError } from './errors';

const DAY_MS = 86_400_000;

/** What createSecret observed before acting. */
export interface CreateObservation {
  userName: string;
  token: string;
  /** The clock's time when the observation was made (attempt leases and grace periods are judged by it). */
  now: Date;
  currentKeyId: string;
  /** The key already stored in AWSPENDING for this token, if any. */
  pendingKeyId?: string;
  /** Keys held by AWSPENDING on other versions: an abandoned rotation (or one another attempt still runs). */
  stalePending: { versionId: string; accessKeyId?: string }[];
  previousKeyId?: string;
  keys: AccessKeyMeta[];
  /** Every attempt recorded on the user (see attempts.ts), this one's excluded. */
  attempts: Attempt[];
  /** How far the clocks involved may disagree (default attempts.ts CLOCK_SKEW_MS). */
  clockSkewMs?: number;
  /** When this tool deactivated a key (its `key-rotator:deactivated:<id>` tag), by access key id. */
  deactivatedAt?: Record<string, Date>;
  /** The grace period between deactivation and deletion: a key inside it is what a rollback would need. */
  deleteAfterDays?: number;
  /**
   * An emergency is replacing AWSCURRENT's key, which may already be gone (deleted by an earlier emergency whose
   * rotation then failed): its absence is expected, not a sign of a wrong secret.
   */
  currentRevoked?: boolean;
}

export interface KeyDeletion {
  accessKeyId: string;
  reason: 'stale-pending' | 'orphan' | 'make-room';
  /** A make-room deletion of a key still inside its grace period: the rollback key of the last rotation. */
  insideGrace?: { deactivatedAt: Date; graceEndsAt: Date };
}

export type CreatePlan =
  | { kind: 'noop'; reason: string }
  /** Another attempt is alive and may own what is in the way: look again later, touch nothing now. */
  | { kind: 'wait'; reason: string; attempts: string[] }
  /** The previous rotation never deactivated its old key: finish that first (it checks Jenkins), then plan again. */
  | { kind: 'finish-previous'; accessKeyId: string }
  | {
      kind: 'create';
      delete: KeyDeletion[];
      clearPendingFrom: string[];
      /** Tags of dead attempts, removed once their orphans are gone. */
      removeAttempts: string[];
    };

/**
 * Decides createSecret. Only ever deletes a key that is the engine's own (the key of a stale AWSPENDING, the orphan
 * of a dead attempt) or inactive and not AWSCURRENT; a key a live attempt may own is waited for, never touched;
 * an active key nobody explains stops the rotation.
 */
export function planCreate(o: CreateObservation): CreatePlan {
  const ids = new Set(o.keys.map((k) => k.accessKeyId));
  if (o.pendingKeyId) {
    if (ids.has(o.pendingKeyId))
      return { kind: 'noop', reason: 'AWSPENDING already holds a key for this token' };
    throw new UnsafeStateError(
      `AWSPENDING for token ${o.token} holds key ${o.pendingKeyId}, which no longer exists on user ${o.userName}: this rotation cannot complete. Abandon it (key-rotator rotate ${o.userName} --abandon; the scheduled scan does it once it is old enough), then rotate again`,
      { pendingKeyId: o.pendingKeyId, fix: `key-rotator rotate ${o.userName} --abandon` },
    );
  }
  if (!ids.has(o.currentKeyId) && !o.currentRevoked)
    throw new UnsafeStateError(
      `AWSCURRENT holds key ${o.currentKeyId}, which is not a key of user ${o.userName}; fix the secret before rotating`,
      { currentKeyId: o.currentKeyId, userName: o.userName },
    );

  const skew = o.clockSkewMs;
  const live = o.attempts.filter((a) => isLive(a, o.now, skew));
  const dead = o.attempts.filter((a) => !isLive(a, o.now, skew));
  const waitFor = new Set<string>();

  const deletions: KeyDeletion[] = [];
  for (const s of o.stalePending) {
    // A direct rotation in flight keeps its attempt until it ends: its AWSPENDING is not stale while it lives.
    const owner = live.find((a) => a.token === tokenForTag(s.versionId));
    if (owner) waitFor.add(owner.id);
    else if (s.accessKeyId && s.accessKeyId !== o.currentKeyId && ids.has(s.accessKeyId))
      deletions.push({ accessKeyId: s.accessKeyId, reason: 'stale-pending' });
  }

  const known = new Set([o.currentKeyId, ...o.stalePending.flatMap((s) => s.accessKeyId ?? [])]);
  for (const k of o.keys) {
    if (known.has(k.accessKeyId) || k.accessKeyId === o.previousKeyId) continue;
    // A key nobody records: the one a live attempt is about to store, or the orphan of an attempt that died.
    const owners = live.filter((a) => couldOwn(a, k.createDate, skew));
    if (owners.length) for (const a of owners) waitFor.add(a.id);
    else if (dead.some((a) => couldOwn(a, k.createDate, skew)))
      deletions.push({ accessKeyId: k.accessKeyId, reason: 'orphan' });
  }
  if (waitFor.size)
    return {
      kind: 'wait',
      reason: `another invocation is rotating user ${o.userName} right now (attempt ${[...waitFor].join(', ')})`,
      attempts: [...waitFor],
    };

  const deleted = new Set(deletions.map((d) => d.accessKeyId));
  const remaining = o.keys.filter((k) => !deleted.has(k.accessKeyId));
  const others = remaining.filter((k) => k.accessKeyId !== o.currentKeyId);
  for (const k of others) {
    if (k.status !== 'Active') continue;
    if (k.accessKeyId === o.previousKeyId) {
      const at = o.deactivatedAt?.[k.accessKeyId];
      if (!at) return { kind: 'finish-previous', accessKeyId: k.accessKeyId };
      throw new UnsafeStateError(
        `the previous key ${k.accessKeyId} of user ${o.userName} was deactivated by this tool on ${at.toISOString()} and has been reactivated since: something still uses it. Deactivate it again (aws iam update-access-key --user-name ${o.userName} --access-key-id ${k.accessKeyId} --status Inactive) once nothing does`,
        { accessKeyId: k.accessKeyId },
      );
    }
    throw new UnsafeStateError(
      `user ${o.userName} has a second active key ${k.accessKeyId} that this rotator does not manage; it changes nothing until that key is deactivated or deleted by its owner`,
      { accessKeyId: k.accessKeyId },
    );
  }
  if (remaining.length >= 2) {
    const room = others
      .filter((k) => k.status === 'Inactive')
      .sort((a, b) => a.createDate.getTime() - b.createDate.getTime())[0];
    if (room) {
      const at = o.deactivatedAt?.[room.accessKeyId];
      const graceEndsAt = at && new Date(at.getTime() + (o.deleteAfterDays ?? 0) * DAY_MS);
      deletions.push({
        accessKeyId: room.accessKeyId,
        reason: 'make-room',
        ...(at && graceEndsAt && graceEndsAt > o.now
          ? { insideGrace: { deactivatedAt: at, graceEndsAt } }
          : {}),
      });
    }
  }
  return {
    kind: 'create',
    delete: deletions,
    clearPendingFrom: o.stalePending.map((s) => s.versionId),
    removeAttempts: dead.map((a) => a.tagKey),
  };
}
