import { couldOwn, isLive, tokenForTag, type Attempt } from './attempts';
import type { AccessKeyMeta } from './keys';

const HOUR_MS = 3_600_000;

/** One managed key's rotation state, as read from Secrets Manager and IAM. Ids and dates only. */
export interface RotationObservation {
  now: Date;
  userName: string;
  currentVersionId?: string;
  currentKeyId?: string;
  /** AWSPREVIOUS's key, when AWSPREVIOUS is on a version other than AWSCURRENT's. */
  previousKeyId?: string;
  /** AWSPENDING on a version other than AWSCURRENT's: a rotation that has not finished. */
  pending?: { versionId: string; createdDate?: Date; accessKeyId?: string };
  keys: readonly AccessKeyMeta[];
  /** When this tool deactivated each key (its deactivation tag). */
  deactivatedAt: Readonly<Record<string, Date>>;
  attempts: readonly Attempt[];
  /** How far the clocks involved may disagree (default attempts.ts CLOCK_SKEW_MS). */
  clockSkewMs?: number;
}

export type ProblemKind =
  | 'rotation-running'
  | 'rotation-in-flight'
  | 'pending-key-gone'
  | 'previous-still-active'
  | 'previous-reactivated'
  | 'deactivated-untagged'
  | 'orphan-key'
  | 'second-active-key';

/** What the scheduled scan may do about a problem by itself: complete a finishSecret, or abandon the rotation. */
export type Repair = 'finish' | 'abandon';

export interface RotationProblem {
  kind: ProblemKind;
  /** `error`: blocks rotations or leaves a key working that should not; `warning`: needs a look; `info`: none. */
  severity: 'error' | 'warning' | 'info';
  message: string;
  /** The command that fixes it. */
  fix?: string;
  /** What the scan may do about it by itself, now (an abandon only once the rotation is old enough). */
  repair?: Repair;
  accessKeyId?: string;
  versionId?: string;
  /** Hours since the rotation in flight started. */
  ageHours?: number;
}

export interface DiagnoseOptions {
  /** A rotation in flight older than this may be abandoned by the scan (0: never). */
  abandonAfterHours: number;
}

const hours = (from: Date, to: Date) => Math.floor(((to.getTime() - from.getTime()) / HOUR_MS) * 10) / 10;

/**
 * The problems of one managed key's rotation, each with the command that fixes it and what the scan may repair on
 * its own: rotations in flight and their age, an AWSPENDING whose key is gone, a previous key still active or
 * deactivated without its tag, and keys nobody records (a second active key, an orphan of a dead attempt).
 */
export function diagnoseRotation(o: RotationObservation, opts: DiagnoseOptions): RotationProblem[] {
  const out: RotationProblem[] = [];
  const cmd = (flag = '') => `key-rotator rotate ${o.userName}${flag}`;
  const ids = new Set(o.keys.map((k) => k.accessKeyId));
  const skew = o.clockSkewMs;
  const live = o.attempts.filter((a) => isLive(a, o.now, skew));
  const p = o.pending;
  if (p) {
    const ageHours = p.createdDate ? hours(p.createdDate, o.now) : undefined;
    const age = ageHours === undefined ? '' : `, started ${ageHours} h ago`;
    const running = live.find((a) => a.token === tokenForTag(p.versionId));
    const old = ageHours !== undefined && opts.abandonAfterHours > 0 && ageHours >= opts.abandonAfterHours;
    const base = { versionId: p.versionId, ...(ageHours !== undefined ? { ageHours } : {}) };
    if (running)
      out.push({
        ...base,
        kind: 'rotation-running',
        severity: 'info',
        message: `a rotation is running right now (version ${p.versionId}${age}, attempt ${running.id} until ${running.leaseUntil.toISOString()})`,
      });
    else if (p.accessKeyId && !ids.has(p.accessKeyId))
      out.push({
        ...base,
        kind: 'pending-key-gone',
        severity: 'error',
        accessKeyId: p.accessKeyId,
        message: `AWSPENDING (version ${p.versionId}${age}) holds key ${p.accessKeyId}, which no longer exists: this rotation can never complete and blocks every later one`,
        fix: cmd(' --abandon'),
        ...(old ? { repair: 'abandon' as const } : {}),
      });
    else
      out.push({
        ...base,
        kind: 'rotation-in-flight',
        severity: old ? 'error' : 'warning',
        ...(p.accessKeyId ? { accessKeyId: p.accessKeyId } : {}),
        message: `a rotation is unfinished (version ${p.versionId}${age}${p.accessKeyId ? `, new key ${p.accessKeyId}` : ', no key created yet'}); it blocks every later rotation until it completes`,
        fix: `${cmd(' --resume')} (or ${cmd(' --abandon')} to undo it)`,
        ...(old ? { repair: 'abandon' as const } : {}),
      });
  }
  const prev = o.previousKeyId && o.previousKeyId !== o.currentKeyId ? o.previousKeyId : undefined;
  const prevKey = prev ? o.keys.find((k) => k.accessKeyId === prev) : undefined;
  if (prev && prevKey) {
    const tagged = o.deactivatedAt[prev];
    if (prevKey.status === 'Active' && !tagged)
      out.push({
        kind: 'previous-still-active',
        severity: 'error',
        accessKeyId: prev,
        message: `the previous key ${prev} is still active: the last rotation promoted the new key but never deactivated the old one (user ${o.userName} has two active keys)`,
        fix: cmd(' --resume'),
        ...(p ? {} : { repair: 'finish' as const }),
      });
    else if (prevKey.status === 'Active' && tagged)
      out.push({
        kind: 'previous-reactivated',
        severity: 'warning',
        accessKeyId: prev,
        message: `the previous key ${prev} was deactivated by this tool on ${tagged.toISOString()} and reactivated since: something still uses it (user ${o.userName} has two active keys)`,
        fix: `find what uses it (its last use is in the audit), then: aws iam update-access-key --user-name ${o.userName} --access-key-id ${prev} --status Inactive`,
      });
    else if (prevKey.status === 'Inactive' && !tagged)
      out.push({
        kind: 'deactivated-untagged',
        severity: 'warning',
        accessKeyId: prev,
        message: `the previous key ${prev} is inactive but its deactivation was never recorded (tag key-rotator:deactivated:${prev}): the clean-up will never delete it`,
        fix: cmd(' --resume'),
        ...(p ? {} : { repair: 'finish' as const }),
      });
  }
  const known = new Set([o.currentKeyId, prev, p?.accessKeyId].filter((x): x is string => x !== undefined));
  for (const k of o.keys) {
    if (known.has(k.accessKeyId) || k.status !== 'Active') continue;
    if (live.some((a) => couldOwn(a, k.createDate, skew))) continue; // being created right now
    const orphanOf = o.attempts.find((a) => !isLive(a, o.now, skew) && couldOwn(a, k.createDate, skew));
    out.push(
      orphanOf
        ? {
            kind: 'orphan-key',
            severity: 'warning',
            accessKeyId: k.accessKeyId,
            message: `key ${k.accessKeyId} was created by a rotation attempt that died before storing it (an orphan, never handed to anyone)`,
            fix: `${cmd()} (its createSecret deletes it)`,
          }
        : {
            kind: 'second-active-key',
            severity: 'error',
            accessKeyId: k.accessKeyId,
            message: `user ${o.userName} has a second active key ${k.accessKeyId} that no secret stage records: rotations stop until it is gone`,
            fix: `find what uses it (the audit shows its last use), then: aws iam update-access-key --user-name ${o.userName} --access-key-id ${k.accessKeyId} --status Inactive`,
          },
    );
  }
  return out;
}
