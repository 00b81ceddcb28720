import { IAMClient } from '@aws-sdk/client-iam';
import type { clientSettings } from '../aws/clients';

/** Something every rate-limited call waits on before it is sent. */
export interface RateLimiter {
  take(): Promise<void>;
}

/**
 * A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. Callers are served one after another
 * in call order, each when a token is there; the bucket refills by the time that really passed, so a late timer
 * never lets the next calls catch up. With the default burst of 1, two calls are never released closer than
 * 1/rate apart, and no window of one second holds more than `ratePerSecond` of them. IAM throttles with token
 * buckets too, per API and account (aws-facts.md §2.1).
 */
export class TokenBucket implements RateLimiter {
  readonly intervalMs: number;
  #tokens: number;
  #last: number;
  #tail: Promise<void> = Promise.resolve();
  /** Calls let through so far, and how long they waited in all (ms): what the summary reports. */
  taken = 0;
  waitedMs = 0;

  constructor(
    readonly ratePerSecond: number,
    readonly burst = 1,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond))
      throw new RangeError(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
    if (!Number.isInteger(burst) || burst < 1)
      throw new RangeError(`burst must be a whole number of at least 1, got ${burst}`);
    this.intervalMs = 1000 / ratePerSecond;
    this.#tokens = burst;
    this.#last = now();
  }

  take(): Promise<void> {
    const asked = this.now();
    const turn = this.#tail.then(() => this.#acquire(asked));
    this.#tail = turn;
    return turn;
  }

  #refill(): void {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#last) / this.intervalMs);
    this.#last = now;
  }

  async #acquire(asked: number): Promise<void> {
    this.#refill();
    while (this.#tokens < 1) {
      await this.sleep((1 - this.#tokens) * this.intervalMs);
      this.#refill();
    }
    this.#tokens -= 1;
    this.taken++;
    this.waitedMs += this.now() - asked;
  }
}

const MIDDLEWARE = 'keyRotatorIamRateLimit';

/**
 * Makes every request `client` sends wait for `limiter` first, retries included: the middleware sits in the
 * deserialize step, inside the SDK's retry loop, so each attempt costs a token. Returns the undo. Installing it
 * again on the same client replaces the previous limiter (clients live across warm invocations).
 */
export function rateLimit(client: IAMClient, limiter: RateLimiter): () => void {
  client.middlewareStack.add(
    (next) => async (args) => {
      await limiter.take();
      return next(args);
    },
    { step: 'deserialize', name: MIDDLEWARE, override: true, priority: 'low' },
  );
  return () => void client.middlewareStack.remove(MIDDLEWARE);
}

/**
 * The attempts the scan's IAM reads make, throttling included: the SDK's adaptive retry mode backs off and slows
 * its own client-side rate when IAM answers "Rate exceeded", so nothing is stacked on top of it.
 */
export const SCAN_IAM_MAX_ATTEMPTS = 8;

/** An IAM client for the scan's reads (settings: the composition's, for the account): adaptive retries. */
export function scanIamClient(settings: ReturnType<typeof clientSettings>): IAMClient {
  return new IAMClient({
    ...settings,
    retryMode: 'adaptive',
    maxAttempts: SCAN_IAM_MAX_ATTEMPTS,
  });
}
