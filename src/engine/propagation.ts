import type { Clock } from './ports';

/**
 * How the probes of a new key are spaced.
 *
 * `steady` (the default): a probe every `intervalMs` (jittered), so a key that starts to work is seen within one
 * interval, whenever that happens; the successes after the first are `successSpacingMs` apart. The call count has a
 * ceiling: the first three quarters of `maxProbes` go at the steady pace (about 22 s with the defaults, the usual
 * propagation time and then some), the last quarter is spread evenly over what is left until the deadline. So a
 * wait makes at most `maxProbes` calls however long the timeout, and still probes until the deadline (only a key
 * that keeps flapping, each streak of successes broken by a failure, can use them up sooner).
 *
 * `backoff`: the pacing before steady probing (exponential backoff between failures); kept as the baseline of
 * `npm run bench`, which measures both side by side.
 */
export type ProbePacing = SteadyPacing | BackoffPacing;

export interface SteadyPacing {
  kind: 'steady';
  intervalMs: number;
  successSpacingMs: number;
  /** Each wait is drawn from [1 - jitter, 1 + jitter] times its nominal value. */
  jitter: number;
  maxProbes: number;
}

export interface BackoffPacing {
  kind: 'backoff';
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  successSpacingMs: number;
}

export const STEADY_PROBING: SteadyPacing = {
  kind: 'steady',
  intervalMs: 200,
  successSpacingMs: 100,
  jitter: 0.25,
  maxProbes: 150,
};

/** Exponential backoff from 500 ms (×1.6, at most 5 s), successes 500 ms apart: the pacing before issue 12. */
export const BACKOFF_PROBING: BackoffPacing = {
  kind: 'backoff',
  initialDelayMs: 500,
  maxDelayMs: 5_000,
  factor: 1.6,
  successSpacingMs: 500,
};

export interface WaitOptions {
  /** Give up at this epoch ms (the policy bound, cut short by the Lambda's remaining time). */
  deadline: number;
  consecutiveSuccesses: number;
  /** Default {@link STEADY_PROBING}. */
  pacing?: ProbePacing;
  /** Uniform in [0, 1) (default Math.random): the jitter's source, fixed in tests. */
  random?: () => number;
  signal?: AbortSignal;
  onAttempt?: (attempt: { n: number; ok: boolean; error?: string; streak: number }) => void;
}

/**
 * Whether a failed probe is worth a log line or a line of progress: the first, then every tenth (about every 2 s
 * at the steady pace), so a 10 s propagation is a handful of lines, not fifty.
 */
export const reportsFailedProbe = (attempt: number): boolean => attempt === 1 || attempt % 10 === 0;

export class PropagationTimeout extends Error {
  constructor(
    readonly attempts: number,
    readonly lastError: string | undefined,
  ) {
    super(
      `the new key did not authenticate consistently before the deadline (${attempts} attempts${lastError ? `, last error: ${lastError}` : ''})`,
    );
    this.name = 'PropagationTimeout';
  }
}

/** What the pacing needs to know to choose the wait before probe `n + 1`. */
interface Progress {
  /** Probes made so far. */
  n: number;
  streak: number;
  now: number;
  deadline: number;
  /** Waits so far while failing (the backoff's exponent). */
  failedWaits: number;
}

/** The wait before the next probe; undefined when the steady pacing's probes are used up. */
export function nextWait(pacing: ProbePacing, p: Progress, random: () => number): number | undefined {
  if (pacing.kind === 'backoff') {
    if (p.streak > 0) return pacing.successSpacingMs;
    return Math.min(pacing.maxDelayMs, Math.round(pacing.initialDelayMs * pacing.factor ** p.failedWaits));
  }
  const left = pacing.maxProbes - p.n;
  if (left <= 0) return undefined;
  const jitter = (ms: number) => Math.round(ms * (1 - pacing.jitter + 2 * pacing.jitter * random()));
  // A streak in progress goes on at its own pace, in either phase.
  if (p.streak > 0) return jitter(pacing.successSpacingMs);
  const steady = jitter(pacing.intervalMs);
  // Past the steady three quarters: the probes left, evenly over the time left (never faster than steady).
  if (p.n < Math.floor(pacing.maxProbes * 0.75)) return steady;
  return Math.max(steady, Math.floor((p.deadline - p.now) / left));
}

/**
 * Polls `probe` until it succeeds `consecutiveSuccesses` times in a row. IAM keys propagate in seconds but
 * with a tail of tens of seconds, and one success does not mean every endpoint has the key; AWS's own tests
 * require consecutive successes (aws-facts.md §1.4). Failures are retried at the pacing's rhythm until the
 * deadline; `isFatal` stops at once (e.g. the key authenticates as the wrong user).
 */
export async function waitUntilUsable(
  probe: () => Promise<void>,
  clock: Clock,
  opts: WaitOptions,
  isFatal: (err: unknown) => boolean = () => false,
): Promise<number> {
  const pacing = opts.pacing ?? STEADY_PROBING;
  const random = opts.random ?? Math.random;
  let streak = 0;
  let n = 0;
  let failedWaits = 0;
  let lastError: string | undefined;
  for (;;) {
    n += 1;
    try {
      await probe();
      streak += 1;
      opts.onAttempt?.({ n, ok: true, streak });
      if (streak >= opts.consecutiveSuccesses) return n;
    } catch (err) {
      if (isFatal(err)) throw err;
      streak = 0;
      lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      opts.onAttempt?.({ n, ok: false, error: lastError, streak });
    }
    const now = clock.now().getTime();
    const wait = nextWait(pacing, { n, streak, now, deadline: opts.deadline, failedWaits }, random);
    if (wait === undefined || now + wait > opts.deadline) throw new PropagationTimeout(n, lastError);
    await clock.sleep(wait, opts.signal);
    if (streak === 0) failedWaits += 1;
  }
}
