import { describe, expect, it } from 'vitest';
import {
  attemptTagValue,
  isLive,
  LEGACY_INTENT_TAG,
  newAttempt,
  parseAttempts,
  tokenForTag,
  type Attempt,
} from '../../src/domain/attempts';
import { planCreate, type CreateObservation } from '../../src/domain/create-plan';
import { UnsafeStateError } from '../../src/domain/errors';
import type { AccessKeyMeta } from '../../src/domain/keys';

const NOW = new Date('2026-11-25T10:00:00Z');
const T0 = new Date('2026-08-01T00:00:00Z');
const at = (iso: string) => new Date(iso);
const key = (id: string, status: 'Active' | 'Inactive' = 'Active', createDate = T0): AccessKeyMeta => ({
  accessKeyId: id,
  status,
  createDate,
});
const CUR = 'AKIACURRENT000000001';
const NEW = 'AKIANEW0000000000001';
const base = (o: Partial<CreateObservation> = {}): CreateObservation => ({
  userName: 'jenkins-prod',
  token: 'tok-1',
  now: NOW,
  currentKeyId: CUR,
  stalePending: [],
  keys: [key(CUR)],
  attempts: [],
  ...o,
});
/** An attempt started `startedAt`, alive until `leaseUntil`. */
const attempt = (startedAt: string, leaseUntil: string, token = 'tok-1', id = 'a1'): Attempt => ({
  id,
  token,
  startedAt: at(startedAt),
  leaseUntil: at(leaseUntil),
  mode: 'hook',
  tagKey: `key-rotator:attempt:${id}`,
});
const LIVE = attempt('2026-11-25T09:59:50Z', '2026-11-25T10:00:50Z', 'tok-1', 'live');
const DEAD = attempt('2026-11-25T09:00:00Z', '2026-11-25T09:01:00Z', 'tok-1', 'dead');

describe('planCreate', () => {
  it('creates a key when the user has only the current key', () => {
    expect(planCreate(base())).toEqual({
      kind: 'create',
      delete: [],
      clearPendingFrom: [],
      removeAttempts: [],
    });
  });

  it('does nothing when AWSPENDING already holds an existing key for this token', () => {
    const plan = planCreate(base({ pendingKeyId: NEW, keys: [key(CUR), key(NEW)] }));
    expect(plan.kind).toBe('noop');
  });

  it('refuses when AWSPENDING names a key that no longer exists, naming the way out', () => {
    expect(() => planCreate(base({ pendingKeyId: 'AKIAGONE000000000001' }))).toThrow(
      /no longer exists.*--abandon/,
    );
  });

  it('refuses when AWSCURRENT is not a key of the user', () => {
    expect(() => planCreate(base({ keys: [key('AKIAOTHER00000000001')] }))).toThrow(UnsafeStateError);
  });

  it('deletes an inactive non-current key to make room under the 2-key limit', () => {
    const plan = planCreate(base({ keys: [key(CUR), key('AKIAOLD0000000000001', 'Inactive')] }));
    expect(plan).toEqual({
      kind: 'create',
      delete: [{ accessKeyId: 'AKIAOLD0000000000001', reason: 'make-room' }],
      clearPendingFrom: [],
      removeAttempts: [],
    });
  });

  it('flags a make-room deletion inside the grace period: the rollback key of the last rotation', () => {
    const old = 'AKIAOLD0000000000001';
    const obs = (deactivated: string) =>
      base({
        keys: [key(CUR), key(old, 'Inactive')],
        previousKeyId: old,
        deactivatedAt: { [old]: at(deactivated) },
        deleteAfterDays: 7,
      });
    const inside = planCreate(obs('2026-11-22T10:00:00Z'));
    expect(inside).toMatchObject({
      kind: 'create',
      delete: [
        {
          accessKeyId: old,
          reason: 'make-room',
          insideGrace: { deactivatedAt: at('2026-11-22T10:00:00Z'), graceEndsAt: at('2026-11-29T10:00:00Z') },
        },
      ],
    });
    const after = planCreate(obs('2026-11-10T10:00:00Z'));
    expect(after).toMatchObject({ kind: 'create', delete: [{ accessKeyId: old, reason: 'make-room' }] });
    expect(after.kind === 'create' && after.delete[0]?.insideGrace).toBeUndefined();
  });

  it('stops on a second active key it does not know, naming it', () => {
    expect(() => planCreate(base({ keys: [key(CUR), key('AKIAUNKNOWN000000001')] }))).toThrow(
      /AKIAUNKNOWN000000001/,
    );
  });

  it('finishes the last rotation first when its previous key was never deactivated', () => {
    const plan = planCreate(
      base({ previousKeyId: 'AKIAPREV000000000001', keys: [key(CUR), key('AKIAPREV000000000001')] }),
    );
    expect(plan).toEqual({ kind: 'finish-previous', accessKeyId: 'AKIAPREV000000000001' });
  });

  it('stops when the previous key was deactivated by this tool and reactivated since', () => {
    expect(() =>
      planCreate(
        base({
          previousKeyId: 'AKIAPREV000000000001',
          keys: [key(CUR), key('AKIAPREV000000000001')],
          deactivatedAt: { AKIAPREV000000000001: at('2026-11-01T00:00:00Z') },
        }),
      ),
    ).toThrow(/AKIAPREV000000000001 .*reactivated/);
  });

  it('never deletes the current key even if it is inactive', () => {
    const plan = planCreate(base({ keys: [key(CUR, 'Inactive')] }));
    expect(plan).toEqual({ kind: 'create', delete: [], clearPendingFrom: [], removeAttempts: [] });
  });

  it('deletes the key of a stale AWSPENDING and clears that label', () => {
    const plan = planCreate(
      base({
        stalePending: [{ versionId: 'v-old', accessKeyId: 'AKIASTALE00000000001' }],
        keys: [key(CUR), key('AKIASTALE00000000001')],
      }),
    );
    expect(plan).toEqual({
      kind: 'create',
      delete: [{ accessKeyId: 'AKIASTALE00000000001', reason: 'stale-pending' }],
      clearPendingFrom: ['v-old'],
      removeAttempts: [],
    });
  });

  it('waits instead of taking over an AWSPENDING whose rotation a live invocation still runs', () => {
    const running = {
      ...attempt('2026-11-25T09:58:00Z', '2026-11-25T10:10:00Z', 'v-running', 'd1'),
      mode: 'direct' as const,
    };
    const plan = planCreate(
      base({
        stalePending: [{ versionId: 'v-running', accessKeyId: 'AKIASTALE00000000001' }],
        keys: [key(CUR), key('AKIASTALE00000000001', 'Active', at('2026-11-25T09:58:01Z'))],
        attempts: [running],
      }),
    );
    expect(plan).toMatchObject({ kind: 'wait', attempts: ['d1'] });
  });

  it('does not delete a stale AWSPENDING key that is the current key', () => {
    const plan = planCreate(base({ stalePending: [{ versionId: 'v-old', accessKeyId: CUR }] }));
    expect(plan).toEqual({ kind: 'create', delete: [], clearPendingFrom: ['v-old'], removeAttempts: [] });
  });

  it("deletes the orphan of a dead attempt (any token) and removes that attempt's record", () => {
    const orphan = key('AKIAORPHAN0000000001', 'Active', at('2026-11-25T09:00:01Z'));
    for (const token of ['tok-1', 'tok-other']) {
      const dead = { ...DEAD, token };
      expect(planCreate(base({ attempts: [dead], keys: [key(CUR), orphan] }))).toEqual({
        kind: 'create',
        delete: [{ accessKeyId: 'AKIAORPHAN0000000001', reason: 'orphan' }],
        clearPendingFrom: [],
        removeAttempts: [dead.tagKey],
      });
    }
  });

  it('never touches a key a live attempt may own: it waits for that attempt', () => {
    const fresh = key(NEW, 'Active', at('2026-11-25T09:59:55Z'));
    expect(planCreate(base({ attempts: [LIVE], keys: [key(CUR), fresh] }))).toEqual({
      kind: 'wait',
      reason: expect.stringMatching(/another invocation is rotating user jenkins-prod/) as string,
      attempts: ['live'],
    });
    // A dead attempt that could own it too changes nothing: the live one may be about to store it.
    expect(planCreate(base({ attempts: [DEAD, LIVE], keys: [key(CUR), fresh] })).kind).toBe('wait');
  });

  it('a key older than every attempt is nobody’s orphan: an unknown active key stops the rotation', () => {
    const old = key('AKIAOLDER00000000001', 'Active', at('2026-11-20T10:00:00Z'));
    expect(() => planCreate(base({ attempts: [DEAD, LIVE], keys: [key(CUR), old] }))).toThrow(
      UnsafeStateError,
    );
  });

  it('a key the live attempt cannot own (created before it started) is the dead attempt’s orphan', () => {
    const orphan = key('AKIAORPHAN0000000001', 'Active', at('2026-11-25T09:00:30Z'));
    const lateLive = attempt('2026-11-25T09:59:00Z', '2026-11-25T10:01:00Z', 'tok-1', 'late');
    expect(planCreate(base({ attempts: [DEAD, lateLive], keys: [key(CUR), orphan] }))).toMatchObject({
      kind: 'create',
      delete: [{ accessKeyId: 'AKIAORPHAN0000000001', reason: 'orphan' }],
      removeAttempts: [DEAD.tagKey],
    });
  });
});

describe('attempt records', () => {
  it('round-trip through an IAM tag value and expire with their lease (plus skew)', () => {
    const a = newAttempt('0f8fad5b-d9cb-469f-a165-70867728950e', NOW, at('2026-11-25T10:01:00Z'), 'direct');
    const [parsed] = parseAttempts({ [a.tagKey]: attemptTagValue(a), other: 'x' });
    expect(parsed).toEqual(a);
    expect(attemptTagValue(a)).toMatch(/^[\w.:/=+@ -]{1,256}$/); // what IAM allows in a tag value
    expect(isLive(a, at('2026-11-25T10:01:59Z'))).toBe(true);
    expect(isLive(a, at('2026-11-25T10:02:01Z'))).toBe(false);
  });

  it('hash a token holding characters IAM tags refuse', () => {
    expect(tokenForTag('abc-123')).toBe('abc-123');
    expect(tokenForTag('has#hash&amp')).toMatch(/^sha256-[0-9a-f]{40}$/);
  });

  it('read the earlier intent tag as an attempt that is already dead', () => {
    const [legacy] = parseAttempts({ [LEGACY_INTENT_TAG]: '2026-11-25T09:00:00.000Z tok-1' });
    expect(legacy).toMatchObject({ token: 'tok-1', tagKey: LEGACY_INTENT_TAG });
    expect(legacy && isLive(legacy, NOW)).toBe(false);
  });

  it('read an unreadable value as a dead attempt rather than ignoring it', () => {
    const [junk] = parseAttempts({ 'key-rotator:attempt:zz': 'garbage' });
    expect(junk && isLive(junk, NOW)).toBe(false);
  });
});
