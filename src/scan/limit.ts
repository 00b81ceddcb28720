import type { Clock } from '../engine/ports';

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. IAM publishes no
 * request rates and throttles with token buckets (aws-facts.md §2.1), so a scan of thousands of users goes a few
 * calls at a time rather than all at once.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);

export const isThrottling = (err: unknown): boolean =>
  err instanceof Error &&
  (THROTTLING.has(err.name) ||
    (err as { Code?: unknown }).Code === 'Throttling' ||
    /Rate exceeded/.test(err.message));

export interface BackoffOptions {
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
}

/**
 * Repeats `fn` while IAM answers "Rate exceeded", with capped exponential backoff and full jitter, on top of the
 * SDK's own few retries: a scan would rather wait than report a user it could not read.
 */
export async function withBackoff<T>(
  fn: () => Promise<T>,
  clock: Clock,
  opts: BackoffOptions = {},
): Promise<T> {
  const attempts = opts.attempts ?? 6;
  const base = opts.baseMs ?? 1_000;
  const max = opts.maxMs ?? 20_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isThrottling(err)) throw err;
      await clock.sleep(Math.random() * Math.min(max, base * 2 ** (attempt - 1)));
    }
  }
}
