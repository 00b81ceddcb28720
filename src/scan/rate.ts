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

/**
 * Callers send at 90% of their share: calls leave at least 1/rate apart, but the network (and a busy event loop at
 * either end) delays some more than others, and two calls that arrive closer than they left could put one more
 * call than the rate into a one-second window at IAM. The 10% is the room for that (measured: at full pace the
 * local cloud saw 11 calls in one window of a 10-a-second run).
 */
export const PACING = 0.9;

/**
 * The part of the fleet's IAM rate (`fleet.iamCallsPerSecond`) one process may use, when the scan and up to
 * `hookConcurrency` rotation hook instances (the rotate function's reserved concurrency) call IAM at the same time.
 * Lambda instances share no memory, so no single bucket can hold them all: the scan keeps to half the rate (its
 * inventory must fit in one run: at 10 a second, about 3,500 managed users), and the hook instances share the
 * other half equally, so that together they never exceed the rate. Without a hook concurrency (the CLI, one
 * process): the whole rate.
 */
export function iamShare(
  ratePerSecond: number,
  hookConcurrency: number | undefined,
  caller: 'scan' | 'hook',
): number {
  if (hookConcurrency === undefined || hookConcurrency <= 0) return ratePerSecond;
  return caller === 'scan' ? ratePerSecond / 2 : ratePerSecond / 2 / hookConcurrency;
}

/**
 * The bucket of one caller's share (`iamShare`), sent at PACING of it; `instances` callers of the same kind in one
 * process (the local cloud's stand-in for several Lambda instances) share one bucket of their sum.
 */
export function iamShareBucket(
  ratePerSecond: number,
  hookConcurrency: number | undefined,
  caller: 'scan' | 'hook',
  instances = 1,
): TokenBucket {
  return new TokenBucket(iamShare(ratePerSecond, hookConcurrency, caller) * instances * PACING);
}

/**
 * The rotate function's reserved concurrency as serverless.yml hands it to the scan and the hook
 * (`HOOK_CONCURRENCY`); undefined when unset, empty or not a positive whole number (no sharing then).
 */
export function hookConcurrencyFrom(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env['HOOK_CONCURRENCY']?.trim();
  if (!raw || !/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 ? n : undefined;
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
