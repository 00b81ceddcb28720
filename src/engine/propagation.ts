import type { Clock } from './ports';

export interface WaitOptions {
  /** Give up at this epoch ms (the policy bound, cut short by the Lambda's remaining time). */
  deadline: number;
  consecutiveSuccesses: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Spacing between the consecutive successes. */
  successSpacingMs?: number;
  signal?: AbortSignal;
  onAttempt?: (attempt: { n: number; ok: boolean; error?: string; streak: number }) => void;
}

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

/**
 * Polls `probe` until it succeeds `consecutiveSuccesses` times in a row. IAM keys propagate in seconds but
 * with a tail of tens of seconds, and one success does not mean every endpoint has the key; AWS's own tests
 * require consecutive successes (aws-facts.md §1.4). Errors are retried with capped exponential backoff;
 * `isFatal` stops at once (e.g. the key authenticates as the wrong user).
 */
export async function waitUntilUsable(
  probe: () => Promise<void>,
  clock: Clock,
  opts: WaitOptions,
  isFatal: (err: unknown) => boolean = () => false,
): Promise<number> {
  let delay = opts.initialDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 5_000;
  const spacing = opts.successSpacingMs ?? 500;
  let streak = 0;
  let n = 0;
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
    const wait = streak > 0 ? spacing : delay;
    if (clock.now().getTime() + wait > opts.deadline) throw new PropagationTimeout(n, lastError);
    await clock.sleep(wait, opts.signal);
    if (streak === 0) delay = Math.min(maxDelay, Math.round(delay * 1.6));
  }
}
