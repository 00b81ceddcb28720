import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/engine/ports';
import { isThrottling, mapLimit, withBackoff } from '../../src/scan/limit';

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });

function fakeClock() {
  const slept: number[] = [];
  const clock: Clock = {
    now: () => new Date(0),
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
  };
  return { clock, slept };
}

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

describe('withBackoff', () => {
  it('repeats a throttled call with growing, capped waits until it succeeds', async () => {
    const { clock, slept } = fakeClock();
    let calls = 0;
    const r = await withBackoff(
      () => (++calls < 4 ? Promise.reject(throttled()) : Promise.resolve('ok')),
      clock,
      { baseMs: 100, maxMs: 250 },
    );
    expect(r).toBe('ok');
    expect(calls).toBe(4);
    expect(slept).toHaveLength(3);
    slept.forEach((ms, i) => expect(ms).toBeLessThanOrEqual(Math.min(250, 100 * 2 ** i)));
  });

  it('does not repeat other errors', async () => {
    const { clock, slept } = fakeClock();
    let calls = 0;
    await expect(
      withBackoff(() => (calls++, Promise.reject(new Error('AccessDenied'))), clock),
    ).rejects.toThrow('AccessDenied');
    expect(calls).toBe(1);
    expect(slept).toEqual([]);
  });

  it('gives up after the last attempt with the throttling error', async () => {
    const { clock } = fakeClock();
    let calls = 0;
    await expect(
      withBackoff(() => (calls++, Promise.reject(throttled())), clock, { attempts: 3 }),
    ).rejects.toThrow('Rate exceeded');
    expect(calls).toBe(3);
  });

  it('recognises the throttling errors of both AWS protocols', () => {
    expect(isThrottling(throttled())).toBe(true);
    expect(isThrottling(Object.assign(new Error('x'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isThrottling(new Error('NoSuchEntity'))).toBe(false);
  });
});
