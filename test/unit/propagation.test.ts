import { describe, expect, it } from 'vitest';
import { PropagationTimeout, waitUntilUsable } from '../../src/engine/propagation';
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

  it('backs off exponentially up to the cap while failing', async () => {
    const clock = fakeClock();
    await waitUntilUsable(failing(6), clock, {
      deadline: 600_000,
      consecutiveSuccesses: 1,
      initialDelayMs: 1000,
      maxDelayMs: 3000,
    });
    expect(clock.slept).toEqual([1000, 1600, 2560, 3000, 3000, 3000]);
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
