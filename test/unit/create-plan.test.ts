import { describe, expect, it } from 'vitest';
import { planCreate, type CreateObservation } from '../../src/domain/create-plan';
import { UnsafeStateError } from '../../src/domain/errors';
import type { AccessKeyMeta } from '../../src/domain/keys';

const T0 = new Date('2026-08-01T00:00:00Z');
const key = (id: string, status: 'Active' | 'Inactive' = 'Active', createDate = T0): AccessKeyMeta => ({
  accessKeyId: id,
  status,
  createDate,
});
const CUR = 'AKIACURRENT000000001';
const base = (o: Partial<CreateObservation> = {}): CreateObservation => ({
  userName: 'jenkins-prod',
  token: 'tok-1',
  currentKeyId: CUR,
  stalePending: [],
  keys: [key(CUR)],
  ...o,
});

describe('planCreate', () => {
  it('creates a key when the user has only the current key', () => {
    expect(planCreate(base())).toEqual({ kind: 'create', delete: [], clearPendingFrom: [] });
  });

  it('does nothing when AWSPENDING already holds an existing key for this token', () => {
    const plan = planCreate(
      base({ pendingKeyId: 'AKIANEW0000000000001', keys: [key(CUR), key('AKIANEW0000000000001')] }),
    );
    expect(plan.kind).toBe('noop');
  });

  it('refuses when AWSPENDING names a key that no longer exists', () => {
    expect(() => planCreate(base({ pendingKeyId: 'AKIAGONE000000000001' }))).toThrow(/no longer exists/);
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
    });
  });

  it('stops on a second active key it does not know, naming it', () => {
    expect(() => planCreate(base({ keys: [key(CUR), key('AKIAUNKNOWN000000001')] }))).toThrow(
      /AKIAUNKNOWN000000001/,
    );
  });

  it('stops when the previous key is still active rather than deleting a key in use', () => {
    expect(() =>
      planCreate(
        base({ previousKeyId: 'AKIAPREV000000000001', keys: [key(CUR), key('AKIAPREV000000000001')] }),
      ),
    ).toThrow(/previous key AKIAPREV000000000001 .* still active/);
  });

  it('never deletes the current key even if it is inactive', () => {
    const plan = planCreate(base({ keys: [key(CUR, 'Inactive')] }));
    expect(plan).toEqual({ kind: 'create', delete: [], clearPendingFrom: [] });
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
    });
  });

  it('does not delete a stale AWSPENDING key that is the current key', () => {
    const plan = planCreate(base({ stalePending: [{ versionId: 'v-old', accessKeyId: CUR }] }));
    expect(plan).toEqual({ kind: 'create', delete: [], clearPendingFrom: ['v-old'] });
  });

  it('deletes an orphan created by an earlier attempt of the same token', () => {
    const intentAt = new Date('2026-11-25T10:00:00Z');
    const orphan = key('AKIAORPHAN0000000001', 'Active', new Date('2026-11-25T10:00:01Z'));
    const plan = planCreate(base({ intent: { token: 'tok-1', at: intentAt }, keys: [key(CUR), orphan] }));
    expect(plan).toEqual({
      kind: 'create',
      delete: [{ accessKeyId: 'AKIAORPHAN0000000001', reason: 'orphan-of-this-token' }],
      clearPendingFrom: [],
    });
  });

  it('does not treat a key as an orphan when the intent belongs to another token', () => {
    const orphan = key('AKIAORPHAN0000000001', 'Active', new Date('2026-11-25T10:00:01Z'));
    expect(() =>
      planCreate(
        base({
          intent: { token: 'tok-other', at: new Date('2026-11-25T10:00:00Z') },
          keys: [key(CUR), orphan],
        }),
      ),
    ).toThrow(/does not manage/);
  });

  it('does not treat an older key as an orphan of this token', () => {
    const old = key('AKIAOLDER00000000001', 'Active', new Date('2026-11-20T10:00:00Z'));
    expect(() =>
      planCreate(
        base({ intent: { token: 'tok-1', at: new Date('2026-11-25T10:00:00Z') }, keys: [key(CUR), old] }),
      ),
    ).toThrow(UnsafeStateError);
  });
});
