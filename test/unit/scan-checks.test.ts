import { describe, expect, it } from 'vitest';
import type { CheckReport, Finding } from '../../src/checks/types';
import {
  checksDue,
  nextChecksState,
  notifiedKey,
  scanChecks,
  ssmChecksStateStore,
} from '../../src/scan/checks';
import type { Composition } from '../../src/compose';
import { DEFAULT_CHECKS } from '../../src/config';

const HOUR = 3_600_000;
const at = (iso: string) => new Date(iso);

function finding(id: string, severity: Finding['severity'] = 'high'): Finding {
  return {
    check: 'console-password',
    severity,
    resource: { kind: 'iam-user', id, accountId: '111122223333' },
    title: `user ${id} can sign in`,
    fix: `aws iam delete-login-profile --user-name ${id}`,
  };
}
const report = (findings: Finding[]): CheckReport => ({
  at: '2026-12-01T00:00:00.000Z',
  findings,
  notChecked: [],
  policies: [],
  counts: { high: findings.filter((f) => f.severity === 'high').length, medium: 0, low: 0, notChecked: 0 },
});

describe('checksDue', () => {
  const now = at('2026-12-02T00:00:00Z');
  it('is due with no state, or a state without a run', () => {
    expect(checksDue(undefined, now, 24)).toBe(true);
    expect(checksDue({ notified: {} }, now, 24)).toBe(true);
  });
  it('waits everyHours, less five minutes of schedule jitter', () => {
    expect(checksDue({ notified: {}, lastRunAt: '2026-12-01T00:10:00Z' }, now, 24)).toBe(false);
    expect(checksDue({ notified: {}, lastRunAt: '2026-12-01T00:04:00Z' }, now, 24)).toBe(true);
    expect(checksDue({ notified: {}, lastRunAt: '2026-12-01T23:00:00Z' }, now, 1)).toBe(true);
  });
  it('never runs when everyHours is 0', () => {
    expect(checksDue(undefined, now, 0)).toBe(false);
  });
});

describe('nextChecksState', () => {
  const now = at('2026-12-02T00:00:00Z');
  it('a high finding is new once; medium and low are never notified', () => {
    const r = report([finding('a'), finding('b', 'medium')]);
    const first = nextChecksState(r, undefined, now);
    expect(first.newHigh.map((f) => f.resource.id)).toEqual(['a']);
    expect(first.state.notified).toEqual({ [notifiedKey(finding('a'))]: '2026-12-02' });
    expect(notifiedKey(finding('a'))).toMatch(/^[\w-]{12}$/);
    expect(notifiedKey(finding('a'))).not.toBe(notifiedKey(finding('b')));
    const second = nextChecksState(r, first.state, at('2026-12-03T00:00:00Z'));
    expect(second.newHigh).toEqual([]);
    // First seen is kept, not moved forward.
    expect(second.state.notified[notifiedKey(finding('a'))]).toBe('2026-12-02');
  });
  it('forgets what is gone, so a flaw that comes back is new again', () => {
    const s1 = nextChecksState(report([finding('a')]), undefined, now).state;
    const s2 = nextChecksState(report([]), s1, now).state;
    expect(s2.notified).toEqual({});
    expect(nextChecksState(report([finding('a')]), s2, now).newHigh).toHaveLength(1);
  });
});

describe('scanChecks', () => {
  const composition = { config: { checks: DEFAULT_CHECKS } } as unknown as Composition;
  const clock = { now: () => at('2026-12-02T00:00:00Z'), sleep: () => Promise.resolve() };
  it('a failure to read what the checks need is reported, never thrown, and the state is not advanced', async () => {
    let saved = 0;
    const warnings: string[] = [];
    const r = await scanChecks(
      composition,
      () => Promise.reject(new Error('credential report unavailable')),
      {
        clock,
        store: { load: () => Promise.resolve(undefined), save: () => Promise.resolve(void saved++) },
        log: { info: () => {}, warn: (m) => warnings.push(m), error: () => {} },
      },
    );
    expect(r).toEqual({ ran: false, reason: 'the checks failed: credential report unavailable' });
    expect(saved).toBe(0);
    expect(warnings).toEqual(['security checks failed']);
  });
});

describe('ssmChecksStateStore', () => {
  it('keeps the parameter inside the standard tier, dropping the oldest notifications first', async () => {
    const puts: string[] = [];
    const ssm = {
      send: (cmd: { input: { Value: string } }) => Promise.resolve(void puts.push(cmd.input.Value)),
    };
    const notified: Record<string, string> = {};
    for (let i = 0; i < 200; i++)
      notified[notifiedKey(finding(`user-${i}`))] = new Date(Date.UTC(2026, 0, 1) + i * 24 * HOUR)
        .toISOString()
        .slice(0, 10);
    await ssmChecksStateStore(ssm as never, '/p').save({ lastRunAt: '2026-12-02T00:00:00.000Z', notified });
    const value = JSON.parse(puts[0] ?? '{}') as { notified: Record<string, string>; lastRunAt: string };
    expect(puts[0]!.length).toBeLessThanOrEqual(4000);
    expect(value.lastRunAt).toBe('2026-12-02T00:00:00.000Z');
    const kept = Object.keys(value.notified);
    expect(kept.length).toBeGreaterThan(100);
    expect(kept).toContain(notifiedKey(finding('user-199')));
    expect(kept).not.toContain(notifiedKey(finding('user-0')));
  });
});
