import type { AccessKeyMeta } from './keys';
import { UnsafeStateError } from './errors';

/** What createSecret observed before acting. */
export interface CreateObservation {
  userName: string;
  token: string;
  currentKeyId: string;
  /** The key already stored in AWSPENDING for this token, if any. */
  pendingKeyId?: string;
  /** Keys held by AWSPENDING on other versions: an abandoned rotation. */
  stalePending: { versionId: string; accessKeyId?: string }[];
  previousKeyId?: string;
  keys: AccessKeyMeta[];
  /** The engine's own record that it was about to create a key for some token (an IAM user tag). */
  intent?: { token: string; at: Date };
  /**
   * An emergency is replacing AWSCURRENT's key, which may already be gone (deleted by an earlier emergency whose
   * rotation then failed): its absence is expected, not a sign of a wrong secret.
   */
  currentRevoked?: boolean;
}

export interface KeyDeletion {
  accessKeyId: string;
  reason: 'stale-pending' | 'orphan-of-this-token' | 'make-room';
}

export type CreatePlan =
  { kind: 'noop'; reason: string } | { kind: 'create'; delete: KeyDeletion[]; clearPendingFrom: string[] };

/** A key created by a crashed attempt is recognised if created after its intent, allowing for clock skew. */
const INTENT_SKEW_MS = 60_000;

/**
 * Decides createSecret. Only ever deletes a key that is the engine's own (stale pending, an orphan of this
 * token) or inactive and not AWSCURRENT; an active key it does not know stops the rotation.
 */
export function planCreate(o: CreateObservation): CreatePlan {
  const ids = new Set(o.keys.map((k) => k.accessKeyId));
  if (o.pendingKeyId) {
    if (ids.has(o.pendingKeyId))
      return { kind: 'noop', reason: 'AWSPENDING already holds a key for this token' };
    throw new UnsafeStateError(
      `AWSPENDING for token ${o.token} holds key ${o.pendingKeyId}, which no longer exists on user ${o.userName}; cancel this rotation (CancelRotateSecret) and start a new one`,
      { pendingKeyId: o.pendingKeyId },
    );
  }
  if (!ids.has(o.currentKeyId) && !o.currentRevoked)
    throw new UnsafeStateError(
      `AWSCURRENT holds key ${o.currentKeyId}, which is not a key of user ${o.userName}; fix the secret before rotating`,
      { currentKeyId: o.currentKeyId, userName: o.userName },
    );

  const deletions: KeyDeletion[] = [];
  for (const s of o.stalePending)
    if (s.accessKeyId && s.accessKeyId !== o.currentKeyId && ids.has(s.accessKeyId))
      deletions.push({ accessKeyId: s.accessKeyId, reason: 'stale-pending' });

  const known = new Set([o.currentKeyId, ...deletions.map((d) => d.accessKeyId)]);
  if (o.intent && o.intent.token === o.token)
    for (const k of o.keys)
      if (
        !known.has(k.accessKeyId) &&
        k.accessKeyId !== o.previousKeyId &&
        k.createDate.getTime() >= o.intent.at.getTime() - INTENT_SKEW_MS
      )
        deletions.push({ accessKeyId: k.accessKeyId, reason: 'orphan-of-this-token' });

  const deleted = new Set(deletions.map((d) => d.accessKeyId));
  const remaining = o.keys.filter((k) => !deleted.has(k.accessKeyId));
  const others = remaining.filter((k) => k.accessKeyId !== o.currentKeyId);
  for (const k of others) {
    if (k.status !== 'Active') continue;
    if (k.accessKeyId === o.previousKeyId)
      throw new UnsafeStateError(
        `the previous key ${k.accessKeyId} of user ${o.userName} is still active; the last rotation did not finish deactivating it. Deactivate it (or rotate with --delete-old) once nothing uses it`,
        { accessKeyId: k.accessKeyId },
      );
    throw new UnsafeStateError(
      `user ${o.userName} has a second active key ${k.accessKeyId} that this rotator does not manage; it changes nothing until that key is deactivated or deleted by its owner`,
      { accessKeyId: k.accessKeyId },
    );
  }
  if (remaining.length >= 2) {
    const room = others
      .filter((k) => k.status === 'Inactive')
      .sort((a, b) => a.createDate.getTime() - b.createDate.getTime())[0];
    if (room) deletions.push({ accessKeyId: room.accessKeyId, reason: 'make-room' });
  }
  return { kind: 'create', delete: deletions, clearPendingFrom: o.stalePending.map((s) => s.versionId) };
}
