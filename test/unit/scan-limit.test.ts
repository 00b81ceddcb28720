import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../src/scan/limit';
import { hookConcurrencyFrom, iamShare, TokenBucket } from '../../src/scan/rate';

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight and the results in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });

  it('handles an empty list', async () => {
    expect(await mapLimit([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});

/** A token bucket on a fake clock: sleeping moves time; `times` are when each take resolved. */
function bucketOn(rate: number, burst = 1) {
  let t = 0;
  const bucket = new TokenBucket(
    rate,
    burst,
    () => t,
    (ms) => {
      t += ms;
      return Promise.resolve();
    },
  );
  return { bucket, now: () => t };
}

/** The most times that fall in any window [s, s + ms). */
const peak = (times: number[], ms: number) =>
  Math.max(0, ...times.map((s) => times.filter((x) => x >= s && x < s + ms).length));

describe('TokenBucket', () => {
  it('lets through at most `rate` calls in any one-second window, in call order', async () => {
    const { bucket, now } = bucketOn(10);
    const times: number[] = [];
    for (let i = 0; i < 55; i++) {
      await bucket.take();
      times.push(now());
    }
    expect(peak(times, 1000)).toBe(10);
    expect(times[54]).toBeCloseTo(5400, 6);
    expect(bucket.taken).toBe(55);
  });

  it('serves concurrent callers one after another, in call order', async () => {
    const { bucket, now } = bucketOn(4);
    const released: [number, number][] = [];
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => bucket.take().then(() => released.push([i, now()]))),
    );
    expect(released).toEqual([
      [0, 0],
      [1, 250],
      [2, 500],
      [3, 750],
      [4, 1000],
    ]);
    expect(bucket.waitedMs).toBe(2500);
  });

  it('does not let calls catch up after a late timer: the next waits a full interval from the late one', async () => {
    let t = 0;
    const bucket = new TokenBucket(
      10,
      1,
      () => t,
      (ms) => {
        t += ms + 30; // every timer fires 30 ms late
        return Promise.resolve();
      },
    );
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      await bucket.take();
      times.push(t);
    }
    expect(times).toEqual([0, 130, 260, 390]);
  });

  it('saves up at most `burst` tokens while idle', async () => {
    const { bucket, now } = bucketOn(10, 3);
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      await bucket.take();
      times.push(now());
    }
    expect(times.slice(0, 3)).toEqual([0, 0, 0]);
    expect(times[3]).toBeCloseTo(100, 6);
  });

  it('refuses a rate or burst that makes no sense', () => {
    expect(() => new TokenBucket(0)).toThrow(/ratePerSecond must be a positive number, got 0/);
    expect(() => new TokenBucket(Number.NaN)).toThrow(/ratePerSecond/);
    expect(() => new TokenBucket(5, 0)).toThrow(/burst must be a whole number of at least 1, got 0/);
  });
});

describe('the IAM rate shared by the scan and the rotation hook instances', () => {
  it('gives the scan half the rate and the hook instances the other half, summing to the rate', () => {
    expect(iamShare(10, 5, 'scan')).toBe(5);
    expect(iamShare(10, 5, 'hook')).toBe(1);
    expect(iamShare(10, 5, 'scan') + 5 * iamShare(10, 5, 'hook')).toBeCloseTo(10);
    expect(iamShare(12, 1, 'hook')).toBe(6);
    // No hook concurrency known (the CLI, one process): the whole rate.
    expect(iamShare(10, undefined, 'scan')).toBe(10);
    expect(iamShare(10, 0, 'hook')).toBe(10);
  });

  it('reads HOOK_CONCURRENCY as a positive whole number, else not at all', () => {
    expect(hookConcurrencyFrom({ HOOK_CONCURRENCY: '5' })).toBe(5);
    expect(hookConcurrencyFrom({ HOOK_CONCURRENCY: ' 12 ' })).toBe(12);
    for (const bad of ['', '0', '-1', '2.5', 'five', '${param:rotateReservedConcurrency}'])
      expect(hookConcurrencyFrom({ HOOK_CONCURRENCY: bad }), bad).toBeUndefined();
    expect(hookConcurrencyFrom({})).toBeUndefined();
  });
});
