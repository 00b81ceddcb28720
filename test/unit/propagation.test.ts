import { describe, expect, it } from 'vitest';
import {
  BACKOFF_PROBING,
  PropagationTimeout,
  STEADY_PROBING,
  waitUntilUsable,
} from '../../src/engine/propagation';
import type { Clock } from '../../src/engine/ports';

/** A clock whose sleep advances virtual time at once. */
function fakeClock(start = 0): Clock & { slept: number[] } {
  let t = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => new Date(t),
    sleep: (ms) => {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

const failing = (n: number, name = 'InvalidClientTokenId') => {
  let calls = 0;
  return () => {
    calls += 1;
    return calls <= n ? Promise.reject(Object.assign(new Error('not yet'), { name })) : Promise.resolve();
  };
};

describe('waitUntilUsable', () => {
  it('needs the configured number of consecutive successes', async () => {
    const clock = fakeClock();
    const attempts = await waitUntilUsable(failing(2), clock, { deadline: 60_000, consecutiveSuccesses: 3 });
    expect(attempts).toBe(5);
  });

  it('restarts the streak after a failure between successes', async () => {
    const clock = fakeClock();
    const results = [true, false, true, true];
    let i = 0;
    const probe = () => (results[i++] ? Promise.resolve() : Promise.reject(new Error('flap')));
    expect(await waitUntilUsable(probe, clock, { deadline: 60_000, consecutiveSuccesses: 2 })).toBe(4);
  });

  it('probes on a steady, jittered interval while failing, and spaces the successes more tightly', async () => {
    for (const [r, failWait, okWait] of [
      [0, 150, 75],
      [0.5, 200, 100],
      [0.9999, 250, 125],
    ] as const) {
      const clock = fakeClock();
      await waitUntilUsable(failing(4), clock, {
        deadline: 60_000,
        consecutiveSuccesses: 3,
        random: () => r,
      });
      expect(clock.slept).toEqual([failWait, failWait, failWait, failWait, okWait, okWait]);
    }
  });

  it('sees a key within one interval of its starting to work, at any propagation delay', async () => {
    // 30 s: past the steady phase (about 22 s), the probes left spread over the 90 s left: about 2.4 s apart.
    for (const delay of [0, 2_500, 8_000, 30_000]) {
      const clock = fakeClock();
      let seed = 7;
      // A deterministic spread of jitter draws (a linear congruential generator).
      const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
      const probe = () =>
        clock.now().getTime() >= delay
          ? Promise.resolve()
          : Promise.reject(new Error('InvalidClientTokenId'));
      await waitUntilUsable(probe, clock, { deadline: 120_000, consecutiveSuccesses: 3, random });
      // First success at most one jittered interval (250 ms) late, then two success spacings (125 ms each).
      expect(clock.now().getTime() - delay).toBeLessThanOrEqual((delay > 22_000 ? 2_500 : 250) + 2 * 125);
    }
  });

  it('makes at most maxProbes calls however long the timeout, probing until the deadline', async () => {
    for (const timeout of [120_000, 900_000]) {
      const clock = fakeClock();
      let probes = 0;
      let last = 0;
      const err = await waitUntilUsable(
        () => {
          probes += 1;
          last = clock.now().getTime();
          return Promise.reject(Object.assign(new Error('not yet'), { name: 'InvalidClientTokenId' }));
        },
        clock,
        { deadline: timeout, consecutiveSuccesses: 3, random: () => 0.5 },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PropagationTimeout);
      expect(probes).toBe(150);
      // Steady for the first three quarters of the budget, then spread evenly up to the deadline.
      expect(clock.slept.slice(0, 111).every((ms) => ms === 200)).toBe(true);
      expect(clock.slept.at(-1)).toBeGreaterThan(200);
      expect(last).toBeLessThanOrEqual(timeout);
      expect(last).toBeGreaterThan(timeout - 2 * clock.slept.at(-1)!);
    }
  });

  it('keeps the old exponential backoff as a pacing to compare with', async () => {
    const clock = fakeClock();
    await waitUntilUsable(failing(6), clock, {
      deadline: 600_000,
      consecutiveSuccesses: 2,
      pacing: { ...BACKOFF_PROBING, initialDelayMs: 1000, maxDelayMs: 3000 },
    });
    expect(clock.slept).toEqual([1000, 1600, 2560, 3000, 3000, 3000, 500]);
    expect(STEADY_PROBING.kind).toBe('steady');
  });

  it('gives up at the deadline with the last error', async () => {
    const clock = fakeClock();
    const err = await waitUntilUsable(failing(1000), clock, {
      deadline: 10_000,
      consecutiveSuccesses: 1,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PropagationTimeout);
    expect((err as Error).message).toMatch(/InvalidClientTokenId/);
    expect(clock.now().getTime()).toBeLessThanOrEqual(10_000);
  });

  it('stops at once on a fatal error', async () => {
    const clock = fakeClock();
    const fatal = Object.assign(new Error('wrong user'), { name: 'WrongIdentity' });
    await expect(
      waitUntilUsable(
        () => Promise.reject(fatal),
        clock,
        { deadline: 60_000, consecutiveSuccesses: 1 },
        (e) => (e as Error).name === 'WrongIdentity',
      ),
    ).rejects.toBe(fatal);
    expect(clock.slept).toEqual([]);
  });
});
