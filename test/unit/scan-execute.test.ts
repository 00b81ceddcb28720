import { describe, expect, it } from 'vitest';
import { ConcurrentRotationError } from '../../src/domain/errors';
import type { AccessKeyMeta } from '../../src/domain/keys';
import type { AbandonResult } from '../../src/engine/engine';
import type { Clock } from '../../src/engine/ports';
import { executePlan, type ActionPorts } from '../../src/scan/execute';
import type { StartResult } from '../../src/scan/secret-state';
import type { KeyProblem } from '../../src/scan/problems';
import type { DeleteAction, RepairAction, RotateAction, ScanPlan, UntagAction } from '../../src/scan/types';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY);
const ACCOUNT = '111122223333';
const CUR = 'AKIACURRENT000000001';
const OLD = 'AKIAOLD0000000000001';
const clock: Clock = { now: () => NOW, sleep: () => Promise.resolve() };

const emptyPlan = (over: Partial<ScanPlan> = {}): ScanPlan => ({
  now: NOW,
  repair: [],
  problems: [],
  rotate: [],
  delete: [],
  untag: [],
  skipped: [],
  failed: [],
  inProgress: [],
  unmanagedStale: [],
  rotated: [],
  keyless: [],
  ...over,
});

const rotateAction = (over: Partial<RotateAction> = {}): RotateAction => ({
  key: 'prod',
  secretId: 'jenkins/prod/aws-key',
  userName: 'jenkins-prod',
  accountId: ACCOUNT,
  accessKeyId: CUR,
  createDate: daysAgo(120),
  ageDays: 120,
  maxAgeDays: 90,
  ...over,
});

const deleteAction = (over: Partial<DeleteAction> = {}): DeleteAction => ({
  key: 'prod',
  userName: 'jenkins-prod',
  accountId: ACCOUNT,
  accessKeyId: OLD,
  deactivatedAt: daysAgo(10),
  currentAccessKeyId: CUR,
  tagKey: `key-rotator:deactivated:${OLD}`,
  ...over,
});

/** IAM and Secrets Manager as the executor sees them, recording every call in order. */
class FakePorts implements ActionPorts {
  clock = clock;
  calls: string[] = [];
  keys = new Map<string, AccessKeyMeta[]>();
  used = new Map<string, Date>();
  start: (a: RotateAction) => Promise<StartResult> = () =>
    Promise.resolve({ kind: 'started', versionId: 'v-new' });
  listKeys(_key: string, userName: string) {
    this.calls.push(`ListAccessKeys ${userName}`);
    return Promise.resolve(this.keys.get(userName) ?? []);
  }
  lastUsed(_key: string, accessKeyId: string) {
    this.calls.push(`GetAccessKeyLastUsed ${accessKeyId}`);
    return Promise.resolve(this.used.get(accessKeyId));
  }
  deleteKey(_key: string, userName: string, accessKeyId: string) {
    this.calls.push(`DeleteAccessKey ${userName} ${accessKeyId}`);
    return Promise.resolve();
  }
  untag(_key: string, userName: string, tagKey: string) {
    this.calls.push(`UntagUser ${userName} ${tagKey}`);
    return Promise.resolve();
  }
  startRotation(a: RotateAction) {
    this.calls.push(`RotateSecret ${a.secretId}${a.rotationLambdaArn ? ` ${a.rotationLambdaArn}` : ''}`);
    return this.start(a);
  }
  finishResult: () => Promise<{ actions: string[]; warnings?: string[] }> = () =>
    Promise.resolve({ actions: [`deactivated the previous key ${OLD}`] });
  finish(key: string) {
    this.calls.push(`finish ${key}`);
    return this.finishResult();
  }
  abandonResult: () => Promise<AbandonResult> = () =>
    Promise.resolve({ done: true, actions: ['deleted the new key AKIAPENDING000000001'] });
  abandon(key: string, versionId: string) {
    this.calls.push(`abandon ${key} ${versionId}`);
    return this.abandonResult();
  }
}

const meta = (accessKeyId: string, status: 'Active' | 'Inactive', ageDays: number): AccessKeyMeta => ({
  accessKeyId,
  status,
  createDate: daysAgo(ageDays),
});

function ports(keys: AccessKeyMeta[] = [meta(CUR, 'Active', 120), meta(OLD, 'Inactive', 300)]) {
  const p = new FakePorts();
  p.keys.set('jenkins-prod', keys);
  p.used.set(OLD, daysAgo(11));
  return p;
}

describe('executePlan: clean-up, confirmed before acting', () => {
  it('lists the keys again, checks the last use again, deletes, then removes the tag', async () => {
    const p = ports();
    const r = await executePlan(emptyPlan({ delete: [deleteAction()] }), p);
    expect(p.calls).toEqual([
      'ListAccessKeys jenkins-prod',
      `GetAccessKeyLastUsed ${OLD}`,
      `DeleteAccessKey jenkins-prod ${OLD}`,
      `UntagUser jenkins-prod key-rotator:deactivated:${OLD}`,
    ]);
    expect(r.deleted).toEqual([{ key: 'prod', user: 'jenkins-prod', accountId: ACCOUNT, accessKeyId: OLD }]);
  });

  it('keeps a key reactivated since the inventory', async () => {
    const p = ports([meta(CUR, 'Active', 120), meta(OLD, 'Active', 300)]);
    const r = await executePlan(emptyPlan({ delete: [deleteAction()] }), p);
    expect(p.calls.filter((c) => c.startsWith('Delete'))).toEqual([]);
    expect(r.deleted).toEqual([]);
    expect(r.skipped).toEqual([
      { key: 'prod', accessKeyId: OLD, reason: 'reactivated since the inventory: left alone' },
    ]);
  });

  it('keeps a key used after its deactivation, as GetAccessKeyLastUsed says now', async () => {
    const p = ports();
    p.used.set(OLD, daysAgo(1));
    const r = await executePlan(emptyPlan({ delete: [deleteAction()] }), p);
    expect(p.calls.filter((c) => c.startsWith('Delete'))).toEqual([]);
    expect(r.skipped[0]?.reason).toMatch(/after its deactivation/);
  });

  it('never deletes the AWSCURRENT key, even if the plan named it', async () => {
    const p = ports([meta(CUR, 'Inactive', 120)]);
    const r = await executePlan(emptyPlan({ delete: [deleteAction({ accessKeyId: CUR })] }), p);
    expect(p.calls.filter((c) => c.startsWith('Delete'))).toEqual([]);
    expect(r.skipped[0]?.reason).toMatch(/AWSCURRENT/);
  });

  it('only removes the tag of a key that is already gone', async () => {
    const p = ports([meta(CUR, 'Active', 120)]);
    const r = await executePlan(emptyPlan({ delete: [deleteAction()] }), p);
    expect(p.calls).toEqual([
      'ListAccessKeys jenkins-prod',
      `UntagUser jenkins-prod key-rotator:deactivated:${OLD}`,
    ]);
    expect(r.deleted).toEqual([]);
  });

  it('removes an orphan tag only if its key is really gone', async () => {
    const orphan: UntagAction = {
      key: 'prod',
      userName: 'jenkins-prod',
      accountId: ACCOUNT,
      accessKeyId: 'AKIAGONE000000000001',
      tagKey: 'key-rotator:deactivated:AKIAGONE000000000001',
    };
    const p = ports();
    await executePlan(emptyPlan({ untag: [orphan, { ...orphan, accessKeyId: OLD, tagKey: 'k2' }] }), p);
    expect(p.calls.filter((c) => c.startsWith('Untag'))).toEqual([
      'UntagUser jenkins-prod key-rotator:deactivated:AKIAGONE000000000001',
    ]);
  });

  it('reports a failed deletion and carries on', async () => {
    const p = ports();
    p.deleteKey = () => Promise.reject(new Error('ServiceFailure'));
    const r = await executePlan(emptyPlan({ delete: [deleteAction()], rotate: [rotateAction()] }), p);
    expect(r.failed).toEqual([{ key: 'prod', accessKeyId: OLD, reason: 'delete failed: ServiceFailure' }]);
    expect(r.started).toHaveLength(1);
  });
});

describe('executePlan: starting rotations', () => {
  it('confirms the key, then calls RotateSecret, after the clean-up', async () => {
    const p = ports();
    const r = await executePlan(emptyPlan({ rotate: [rotateAction()], delete: [deleteAction()] }), p);
    expect(p.calls.indexOf('RotateSecret jenkins/prod/aws-key')).toBeGreaterThan(
      p.calls.indexOf(`DeleteAccessKey jenkins-prod ${OLD}`),
    );
    expect(r.started).toEqual([
      { key: 'prod', secretId: 'jenkins/prod/aws-key', accessKeyId: CUR, ageDays: 120, versionId: 'v-new' },
    ]);
  });

  it('passes the rotation function when the plan says the secret has none', async () => {
    const p = ports();
    await executePlan(
      emptyPlan({ rotate: [rotateAction({ rotationLambdaArn: 'arn:aws:lambda:us-east-1:1:function:f' })] }),
      p,
    );
    expect(p.calls).toContain('RotateSecret jenkins/prod/aws-key arn:aws:lambda:us-east-1:1:function:f');
  });

  it('reports a rotation already in progress instead of failing', async () => {
    const p = ports();
    p.start = () => Promise.resolve({ kind: 'in-progress', reason: "A previous rotation isn't complete." });
    const r = await executePlan(emptyPlan({ rotate: [rotateAction()] }), p);
    expect(r.inProgress).toEqual([{ key: 'prod', secretId: 'jenkins/prod/aws-key', stuck: false }]);
    expect(r.failed).toEqual([]);
    expect(r.started).toEqual([]);
  });

  it('reports a rotation that cannot start, with the reason, and still starts the others', async () => {
    const p = ports();
    p.keys.set('jenkins-dev', [meta('AKIADEV0000000000001', 'Active', 95)]);
    p.start = (a) =>
      a.key === 'prod'
        ? Promise.reject(new Error('Secrets Manager cannot invoke the specified Lambda function.'))
        : Promise.resolve({ kind: 'started' });
    const r = await executePlan(
      emptyPlan({
        rotate: [
          rotateAction(),
          rotateAction({
            key: 'dev',
            secretId: 'jenkins/dev/aws-key',
            userName: 'jenkins-dev',
            accessKeyId: 'AKIADEV0000000000001',
          }),
        ],
      }),
      p,
    );
    expect(r.failed).toEqual([
      {
        key: 'prod',
        accessKeyId: CUR,
        reason:
          '120 days old and due, but the rotation could not start: Secrets Manager cannot invoke the specified Lambda function.',
      },
    ]);
    expect(r.started.map((s) => s.key)).toEqual(['dev']);
  });

  it('does not start when the key changed since the inventory', async () => {
    const gone = ports([meta(OLD, 'Inactive', 300)]);
    const r1 = await executePlan(emptyPlan({ rotate: [rotateAction()] }), gone);
    expect(r1.skipped[0]?.reason).toMatch(/is gone/);
    const inactive = ports([meta(CUR, 'Inactive', 120)]);
    const r2 = await executePlan(emptyPlan({ rotate: [rotateAction()] }), inactive);
    expect(r2.skipped[0]?.reason).toMatch(/is inactive/);
    for (const p of [gone, inactive]) expect(p.calls.filter((c) => c.startsWith('RotateSecret'))).toEqual([]);
  });

  it('fails instead of starting when a second active key appeared since the inventory', async () => {
    const p = ports([meta(CUR, 'Active', 120), meta('AKIANEWCOMER00000001', 'Active', 0)]);
    const r = await executePlan(emptyPlan({ rotate: [rotateAction()] }), p);
    expect(p.calls.filter((c) => c.startsWith('RotateSecret'))).toEqual([]);
    expect(r.failed[0]?.reason).toMatch(/AKIANEWCOMER00000001/);
  });
});

const problem = (over: Partial<KeyProblem> = {}): KeyProblem => ({
  key: 'prod',
  user: 'jenkins-prod',
  accountId: ACCOUNT,
  kind: 'rotation-in-flight',
  severity: 'error',
  message: 'a rotation is unfinished (version v-stuck, started 30 h ago)',
  fix: 'key-rotator rotate jenkins-prod --resume',
  repair: 'abandon',
  versionId: 'v-stuck',
  ...over,
});
const repairOf = (p: KeyProblem): RepairAction => ({
  key: p.key,
  userName: p.user,
  accountId: p.accountId,
  repair: p.repair ?? 'finish',
  problem: p,
});

describe('executePlan: repairs, through the engine, before anything else', () => {
  it('abandons a stuck rotation and finishes a promoted one before the clean-up and the rotations', async () => {
    const p = ports();
    const finish = problem({
      key: 'dev',
      kind: 'previous-still-active',
      repair: 'finish',
      accessKeyId: OLD,
      versionId: undefined,
    });
    const r = await executePlan(
      emptyPlan({
        repair: [repairOf(problem()), repairOf(finish)],
        delete: [deleteAction()],
        rotate: [rotateAction({ key: 'qa' })],
      }),
      p,
    );
    expect(p.calls.slice(0, 2)).toEqual(['abandon prod v-stuck', 'finish dev']);
    expect(r.repaired).toEqual([
      {
        key: 'prod',
        kind: 'rotation-in-flight',
        action: 'abandon',
        detail: 'deleted the new key AKIAPENDING000000001',
        versionId: 'v-stuck',
      },
      {
        key: 'dev',
        kind: 'previous-still-active',
        action: 'finish',
        detail: `deactivated the previous key ${OLD}`,
        accessKeyId: OLD,
      },
    ]);
    expect(r.failed).toEqual([]);
    expect(r.unrepaired).toEqual([]);
  });

  it('an abandon the engine could not complete is a failure, and its problem stays', async () => {
    const p = ports();
    p.abandonResult = () =>
      Promise.resolve({
        done: false,
        actions: ['left version v-stuck pending: Jenkins target(s) jenkins-0 may still hold the new key'],
      });
    const r = await executePlan(emptyPlan({ repair: [repairOf(problem())] }), p);
    expect(r.repaired).toEqual([]);
    expect(r.unrepaired).toEqual([problem()]);
    expect(r.failed).toEqual([
      {
        key: 'prod',
        reason: expect.stringMatching(
          /^could not abandon the rotation in flight \(a rotation is unfinished .*\): left version v-stuck pending: Jenkins/,
        ) as unknown,
      },
    ]);
  });

  it('a finish the engine refuses (Jenkins not on the current key) is a failure naming why', async () => {
    const p = ports();
    p.finishResult = () =>
      Promise.reject(new Error('Jenkins target jenkins-0 holds AKIAOLD, not the current key'));
    const pr = problem({ kind: 'previous-still-active', repair: 'finish', accessKeyId: OLD });
    const r = await executePlan(emptyPlan({ repair: [repairOf(pr)] }), p);
    expect(r.unrepaired).toEqual([pr]);
    expect(r.failed[0]).toMatchObject({ key: 'prod', accessKeyId: OLD });
    expect(r.failed[0]?.reason).toMatch(
      /^could not finish the last rotation .*holds AKIAOLD, not the current key$/,
    );
  });

  it('a rotation someone started running since the inventory is left to them, not a failure', async () => {
    const p = ports();
    p.abandonResult = () =>
      Promise.reject(new ConcurrentRotationError('the rotation of version v-stuck is running right now'));
    const r = await executePlan(emptyPlan({ repair: [repairOf(problem())] }), p);
    expect(r.failed).toEqual([]);
    expect(r.unrepaired).toEqual([]);
    expect(r.skipped[0]?.reason).toMatch(/^did not abandon the rotation in flight: .*running right now/);
  });

  it('a started rotation that deletes the rollback key of the last one says so', async () => {
    const p = ports();
    const rollbackKey = { accessKeyId: OLD, deactivatedAt: daysAgo(2), graceEndsAt: daysAgo(-5) };
    const r = await executePlan(emptyPlan({ rotate: [rotateAction({ rollbackKey })] }), p);
    expect(r.started[0]?.warning).toMatch(
      new RegExp(`deletes key ${OLD}, the rollback key of the last rotation .*inside its grace period`),
    );
  });
});

describe('executePlan: stopping before the deadline', () => {
  it('begins nothing once `stop` gives a reason: each action is done or deferred, none half-done', async () => {
    const p = ports([meta(CUR, 'Active', 120), meta(OLD, 'Inactive', 300)]);
    p.keys.set('jenkins-dev', [meta('AKIADEV0000000000001', 'Active', 120)]);
    const dev = rotateAction({ key: 'dev', secretId: 'jenkins/dev/aws-key', userName: 'jenkins-dev' });
    const dev2 = { ...dev, accessKeyId: 'AKIADEV0000000000001' };
    let asked = 0;
    const r = await executePlan(emptyPlan({ delete: [deleteAction()], rotate: [rotateAction(), dev2] }), p, {
      // Time for the clean-up and one rotation; then the deadline is near.
      stop: () => (++asked > 2 ? 'deadline near' : undefined),
    });
    expect(r.deleted).toHaveLength(1);
    expect(r.started.map((s) => s.key)).toEqual(['prod']);
    expect(r.deferred).toEqual([
      { key: 'dev', action: 'rotate', accessKeyId: 'AKIADEV0000000000001', reason: 'deadline near' },
    ]);
    expect(p.calls.filter((c) => c.includes('jenkins-dev') || c.includes('jenkins/dev'))).toEqual([]);
  });

  it('defers the repairs and the clean-up too, and asks no more once stopped', async () => {
    const p = ports();
    let asked = 0;
    const r = await executePlan(emptyPlan({ delete: [deleteAction()], rotate: [rotateAction()] }), p, {
      stop: () => (++asked, 'deadline near'),
    });
    expect(r.deferred.map((d) => d.action)).toEqual(['delete', 'rotate']);
    expect(p.calls).toEqual([]);
    expect(asked).toBe(1);
  });
});
