import { createHash, randomBytes } from 'node:crypto';

/**
 * Ownership markers: which invocation is creating (or, for a direct rotation, running) a rotation of a user right
 * now. Each attempt writes its own IAM user tag before it creates a key, so a concurrent or later attempt can tell
 * a key that a live attempt is about to store (leave it alone, wait) from the orphan of a dead one (delete it).
 *
 * Tag `key-rotator:attempt:<id>` = `<token> <startedAt> <leaseUntil> <mode>`. The lease is the most the attempt
 * can still run (its Lambda deadline, or the create-and-store window): past it plus a clock-skew allowance, the
 * attempt is dead whatever it was doing. IAM tags have no compare-and-swap; what makes one winner is the 2-key
 * limit (CreateAccessKey fails for every attempt but one) together with these records.
 */
export const ATTEMPT_TAG_PREFIX = 'key-rotator:attempt:';
/** The marker of earlier versions (`<at> <token>`, no lease): read as an attempt that is already dead. */
export const LEGACY_INTENT_TAG = 'key-rotator:creating';
/** Allowance for clocks that disagree (Lambda, IAM's CreateDate, the operator's machine). */
export const CLOCK_SKEW_MS = 60_000;

export interface Attempt {
  id: string;
  /** The token (ClientRequestToken), or its hash when it holds characters IAM tags refuse. */
  token: string;
  startedAt: Date;
  leaseUntil: Date;
  /** `hook`: one createSecret call; `direct`: a whole in-process rotation (CLI, emergency). */
  mode: 'hook' | 'direct';
  /** The tag key that holds it, to remove it. */
  tagKey: string;
}

/** IAM tag values allow letters, digits, spaces and `_.:/=+-@`; a token with anything else is stored hashed. */
export function tokenForTag(token: string): string {
  return /^[\w.:/=+@-]{1,100}$/.test(token)
    ? token
    : `sha256-${createHash('sha256').update(token).digest('hex').slice(0, 40)}`;
}

export function newAttempt(token: string, now: Date, leaseUntil: Date, mode: Attempt['mode']): Attempt {
  const id = randomBytes(6).toString('hex');
  return {
    id,
    token: tokenForTag(token),
    startedAt: now,
    leaseUntil,
    mode,
    tagKey: `${ATTEMPT_TAG_PREFIX}${id}`,
  };
}

export const attemptTagValue = (a: Attempt): string =>
  `${a.token} ${a.startedAt.toISOString()} ${a.leaseUntil.toISOString()} ${a.mode}`;

const date = (s: string | undefined): Date | undefined => {
  const d = s === undefined ? undefined : new Date(s);
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
};

/** Every attempt recorded in a user's tags; unreadable values count as attempts that are already dead. */
export function parseAttempts(tags: Record<string, string>): Attempt[] {
  const out: Attempt[] = [];
  for (const [tagKey, value] of Object.entries(tags)) {
    const parts = value.split(' ');
    if (tagKey.startsWith(ATTEMPT_TAG_PREFIX)) {
      const [token = '', started, lease, mode] = parts;
      const startedAt = date(started) ?? new Date(0);
      out.push({
        id: tagKey.slice(ATTEMPT_TAG_PREFIX.length),
        token,
        startedAt,
        leaseUntil: date(lease) ?? startedAt,
        mode: mode === 'direct' ? 'direct' : 'hook',
        tagKey,
      });
    } else if (tagKey === LEGACY_INTENT_TAG) {
      const startedAt = date(parts[0]) ?? new Date(0);
      out.push({
        id: 'legacy',
        token: parts[1] ?? '',
        startedAt,
        leaseUntil: startedAt,
        mode: 'hook',
        tagKey,
      });
    }
  }
  return out;
}

/** Alive until its lease (plus skew) has passed: until then it may still create a key or store one. */
export const isLive = (a: Attempt, now: Date, skewMs = CLOCK_SKEW_MS): boolean =>
  now.getTime() <= a.leaseUntil.getTime() + skewMs;

/** Could `a` have created a key created at `createDate`? (It was started before, allowing for skew.) */
export const couldOwn = (a: Attempt, createDate: Date, skewMs = CLOCK_SKEW_MS): boolean =>
  createDate.getTime() >= a.startedAt.getTime() - skewMs;
