import { describe, expect, it } from 'vitest';
import { rawKey, rawKeyNamed } from '../support/config-fixture';
import { parseConfig } from '../../src/config';
import { planScan, type PlanOptions } from '../../src/scan/plan';
import type { Attempt } from '../../src/domain/attempts';
import type { Inventory, InventoryKey, InventoryUser, SecretState } from '../../src/scan/types';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;
const ACCOUNT = '111122223333';
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY);
const CUR = 'AKIACURRENT000000001';
const OLD = 'AKIAOLD0000000000001';
const ROTATION_FN = 'arn:aws:lambda:us-east-1:111122223333:function:rotate';

const config = parseConfig({
  version: 1,
  defaults: { maxAgeDays: 90, deleteAfterDays: 7 },
  keys: [rawKey()],
});

const key = (accessKeyId: string, ageDays: number, over: Partial<InventoryKey> = {}): InventoryKey => ({
  accessKeyId,
  status: 'Active',
  createDate: daysAgo(ageDays),
  ageDays,
  ...over,
});

const prodUser = (keys: InventoryKey[], tags: Record<string, string> = {}): InventoryUser => ({
  userName: 'jenkins-prod',
  path: '/jenkins/',
  arn: `arn:aws:iam::${ACCOUNT}:user/jenkins/jenkins-prod`,
  accountId: ACCOUNT,
  managedKey: 'prod',
  keys,
  deactivationTags: tags,
});

const otherUser = (name: string, keys: InventoryKey[]): InventoryUser => ({
  userName: name,
  path: '/',
  arn: `arn:aws:iam::${ACCOUNT}:user/${name}`,
  accountId: ACCOUNT,
  keys,
});

const inventory = (users: InventoryUser[], problems: Inventory['problems'] = []): Inventory => ({
  takenAt: NOW,
  accountId: ACCOUNT,
  source: 'list',
  users,
  problems,
});

const state = (over: Partial<SecretState> = {}): SecretState => ({
  key: 'prod',
  secretId: 'jenkins/prod/aws-key',
  rotationConfigured: true,
  currentVersionId: 'v-current',
  currentAccessKeyId: CUR,
  currentUserName: 'jenkins-prod',
  ...over,
});

const plan = (
  users: InventoryUser[],
  st: SecretState = state(),
  opts: PlanOptions = {},
  inv = inventory(users),
) => planScan(inv, config, [st], NOW, opts);

/** A key this tool deactivated `days` days ago, unused since. */
const deactivated = (days: number, over: Partial<InventoryKey> = {}) =>
  key(OLD, 200, {
    status: 'Inactive',
    deactivatedAt: daysAgo(days),
    lastUsedDate: daysAgo(days + 1),
    ...over,
  });
const tagOf = (days: number) => ({ [OLD]: daysAgo(days).toISOString() });

describe('planScan: rotation by age', () => {
  it.each([
    [89, false],
    [90, true],
    [91, true],
  ])('a managed key %i days old is due: %s', (age, due) => {
    const p = plan([prodUser([key(CUR, age)])]);
    expect(p.rotate.map((r) => r.accessKeyId)).toEqual(due ? [CUR] : []);
    if (due)
      expect(p.rotate[0]).toMatchObject({
        key: 'prod',
        secretId: 'jenkins/prod/aws-key',
        userName: 'jenkins-prod',
        ageDays: age,
        maxAgeDays: 90,
      });
    else
      expect(p.skipped).toEqual([
        {
          key: 'prod',
          accessKeyId: CUR,
          reason: expect.stringMatching(/^not due: 89 days old, rotated at 90 days/) as unknown,
        },
      ]);
    expect(p.failed).toEqual([]);
  });

  it("uses the key's own policy over the defaults", () => {
    const own = parseConfig({
      version: 1,
      keys: [{ ...rawKey(), policy: { maxAgeDays: 30, deleteAfterDays: 3 } }],
    });
    const p = planScan(inventory([prodUser([key(CUR, 30)])]), own, [state()], NOW);
    expect(p.rotate).toHaveLength(1);
    expect(p.rotate[0]?.maxAgeDays).toBe(30);
  });

  it('measures the age of the AWSCURRENT key, not of another key of the user', () => {
    const p = plan([prodUser([key(CUR, 10), key(OLD, 300, { status: 'Inactive' })])]);
    expect(p.rotate).toEqual([]);
  });

  it('passes the rotation function only to a secret that has none', () => {
    const withFn = plan([prodUser([key(CUR, 100)])], state(), { rotationLambdaArn: ROTATION_FN });
    expect(withFn.rotate[0]?.rotationLambdaArn).toBeUndefined();
    const without = plan([prodUser([key(CUR, 100)])], state({ rotationConfigured: false }), {
      rotationLambdaArn: ROTATION_FN,
    });
    expect(without.rotate[0]?.rotationLambdaArn).toBe(ROTATION_FN);
  });

  it('fails a due key whose secret has no rotation function when none is given', () => {
    const p = plan([prodUser([key(CUR, 100)])], state({ rotationConfigured: false }));
    expect(p.rotate).toEqual([]);
    expect(p.failed).toEqual([
      { key: 'prod', reason: expect.stringContaining('ROTATION_LAMBDA_ARN is not set') as unknown },
    ]);
  });

  it('fails a due key whose user has a second active key, naming it, instead of starting a doomed rotation', () => {
    const p = plan([prodUser([key(CUR, 100), key('AKIASTRANGER00000001', 5)])]);
    expect(p.rotate).toEqual([]);
    expect(p.failed).toEqual([
      { key: 'prod', reason: expect.stringContaining('AKIASTRANGER00000001') as unknown },
    ]);
  });

  it('rotates a due key whose user also has an inactive key (the engine makes room)', () => {
    expect(plan([prodUser([key(CUR, 100), key(OLD, 300, { status: 'Inactive' })])]).rotate).toHaveLength(1);
  });

  it('fails when AWSCURRENT holds a key the user does not have', () => {
    const p = plan([prodUser([key('AKIASOMETHINGELSE001', 100)])]);
    expect(p.rotate).toEqual([]);
    expect(p.failed[0]?.reason).toMatch(
      /AWSCURRENT .* holds key AKIACURRENT000000001, which is not a key of user/,
    );
  });

  it('fails when the secret holds a key of another user', () => {
    const p = plan([prodUser([key(CUR, 100)])], state({ currentUserName: 'someone-else' }));
    expect(p.rotate).toEqual([]);
    expect(p.failed[0]?.reason).toMatch(/holds a key of user someone-else/);
  });

  it('fails with the reason when the secret cannot be read, and touches nothing of that user', () => {
    const p = plan(
      [prodUser([key(CUR, 100), deactivated(30)], tagOf(30))],
      state({ error: 'cannot read secret jenkins/prod/aws-key: AccessDeniedException' }),
    );
    expect(p.rotate).toEqual([]);
    expect(p.delete).toEqual([]);
    expect(p.failed).toEqual([
      { key: 'prod', reason: 'cannot read secret jenkins/prod/aws-key: AccessDeniedException' },
    ]);
    expect(p.skipped).toContainEqual({
      key: 'prod',
      accessKeyId: OLD,
      reason: expect.stringMatching(/AWSCURRENT is unknown/) as unknown,
    });
  });

  it('fails with the inventory problem when the managed user could not be read', () => {
    const inv = inventory(
      [],
      [{ key: 'prod', user: 'jenkins-prod', reason: 'IAM user jenkins-prod not found in account 1' }],
    );
    const p = planScan(inv, config, [state()], NOW);
    expect(p.failed).toEqual([{ key: 'prod', reason: 'IAM user jenkins-prod not found in account 1' }]);
  });

  it('lists a rotation that completed in the last 24 hours as rotated', () => {
    const recent = plan(
      [prodUser([key(CUR, 0)])],
      state({ lastRotatedDate: new Date(NOW.getTime() - 3 * HOUR) }),
    );
    expect(recent.rotated).toEqual([
      { key: 'prod', accessKeyId: CUR, at: new Date(NOW.getTime() - 3 * HOUR).toISOString() },
    ]);
    const older = plan([prodUser([key(CUR, 2)])], state({ lastRotatedDate: daysAgo(2) }));
    expect(older.rotated).toEqual([]);
  });
});

describe('planScan: a rotation in progress', () => {
  it('is reported, not fought, even when the key is due', () => {
    const p = plan(
      [prodUser([key(CUR, 120)])],
      state({ pending: { versionId: 'v-pending', createdDate: new Date(NOW.getTime() - 30 * 60_000) } }),
    );
    expect(p.rotate).toEqual([]);
    expect(p.inProgress).toEqual([
      {
        key: 'prod',
        secretId: 'jenkins/prod/aws-key',
        versionId: 'v-pending',
        since: new Date(NOW.getTime() - 30 * 60_000).toISOString(),
        stuck: false,
      },
    ]);
    expect(p.failed).toEqual([]);
  });

  it('is stuck past the threshold, and then also a failure', () => {
    const since = new Date(NOW.getTime() - 3 * HOUR);
    const p = plan(
      [prodUser([key(CUR, 120)])],
      state({ pending: { versionId: 'v-pending', createdDate: since } }),
    );
    expect(p.inProgress).toEqual([expect.objectContaining({ stuck: true })]);
    expect(p.failed).toEqual([
      {
        key: 'prod',
        reason: expect.stringMatching(
          /has not finished since .*key-rotator rotate jenkins-prod --resume.*--abandon.*abandons it once it is 24 hours old/,
        ) as unknown,
      },
    ]);
    expect(p.rotate).toEqual([]);
  });

  it('takes the stuck threshold from the options', () => {
    const since = new Date(NOW.getTime() - 3 * HOUR);
    const p = plan([prodUser([key(CUR, 120)])], state({ pending: { versionId: 'v', createdDate: since } }), {
      stuckAfterHours: 4,
    });
    expect(p.inProgress[0]?.stuck).toBe(false);
    expect(p.failed).toEqual([]);
  });
});

describe('planScan: managed and unmanaged users', () => {
  it.each([
    [89, false],
    [90, true],
    [91, true],
  ])('an active key of an unmanaged user %i days old is reported: %s', (age, reported) => {
    const p = plan([prodUser([key(CUR, 1)]), otherUser('alice', [key('AKIAALICE00000000001', age)])]);
    expect(p.unmanagedStale).toEqual(
      reported
        ? [{ user: 'alice', accountId: ACCOUNT, accessKeyId: 'AKIAALICE00000000001', ageDays: age }]
        : [],
    );
    // Never touched, whatever its age.
    expect([...p.rotate, ...p.delete, ...p.untag].map((a) => a.accessKeyId)).not.toContain(
      'AKIAALICE00000000001',
    );
  });

  it('does not report inactive keys of unmanaged users, and never deletes them even with a tag-like age', () => {
    const p = plan([
      prodUser([key(CUR, 1)]),
      otherUser('bob', [
        key('AKIABOB0000000000001', 400, { status: 'Inactive', deactivatedAt: daysAgo(300) }),
      ]),
    ]);
    expect(p.unmanagedStale).toEqual([]);
    expect(p.delete).toEqual([]);
  });

  it('does not report the keys of managed users as unmanaged', () => {
    expect(plan([prodUser([key(CUR, 200)])]).unmanagedStale).toEqual([]);
  });

  it('uses the default max age for unmanaged users', () => {
    const strict = parseConfig({
      version: 1,
      defaults: { maxAgeDays: 30, deleteAfterDays: 7 },
      keys: [rawKey()],
    });
    const p = planScan(
      inventory([prodUser([key(CUR, 1)]), otherUser('alice', [key('AKIAALICE00000000001', 30)])]),
      strict,
      [state()],
      NOW,
    );
    expect(p.unmanagedStale.map((s) => s.accessKeyId)).toEqual(['AKIAALICE00000000001']);
  });

  it('reports users whose keys could not be read as skipped, and a failed discovery as a failure', () => {
    const p = planScan(
      inventory(
        [prodUser([key(CUR, 1)])],
        [
          { user: 'carol', accountId: ACCOUNT, reason: 'could not read its access keys: AccessDenied' },
          {
            accountId: ACCOUNT,
            reason: 'could not list IAM users, so unmanaged keys were not audited: AccessDenied',
          },
        ],
      ),
      config,
      [state()],
      NOW,
    );
    expect(p.skipped).toContainEqual({
      key: 'user/carol',
      reason: 'could not read its access keys: AccessDenied',
    });
    expect(p.failed).toEqual([
      { key: 'audit', reason: expect.stringMatching(/could not list IAM users/) as unknown },
    ]);
  });
});

describe('planScan: clean-up guards', () => {
  const cleanup = (old: InventoryKey, tags: Record<string, string>, st = state()) =>
    plan([prodUser([key(CUR, 10), old], tags)], st);
  const skipReason = (p: ReturnType<typeof plan>) => p.skipped.find((s) => s.accessKeyId === OLD)?.reason;

  it('deletes a key this tool deactivated past the grace period, still inactive and unused since', () => {
    const p = cleanup(deactivated(8), tagOf(8));
    expect(p.delete).toEqual([
      {
        key: 'prod',
        userName: 'jenkins-prod',
        accountId: ACCOUNT,
        accessKeyId: OLD,
        deactivatedAt: daysAgo(8),
        currentAccessKeyId: CUR,
        tagKey: `key-rotator:deactivated:${OLD}`,
      },
    ]);
  });

  it('deletes a key never used at all once the grace period has passed', () => {
    const never = key(OLD, 200, { status: 'Inactive', deactivatedAt: daysAgo(7) });
    expect(cleanup(never, tagOf(7)).delete).toHaveLength(1);
  });

  it("keeps an inactive key without this tool's tag: not ours", () => {
    const p = cleanup(key(OLD, 200, { status: 'Inactive', lastUsedDate: daysAgo(300) }), {});
    expect(p.delete).toEqual([]);
    expect(skipReason(p)).toMatch(/not deactivated by this tool/);
  });

  it.each([0, 1, 6])('keeps a key deactivated %i days ago: within the 7-day grace', (days) => {
    const p = cleanup(deactivated(days), tagOf(days));
    expect(p.delete).toEqual([]);
    expect(skipReason(p)).toMatch(/grace period, from /);
  });

  it('keeps a key that was reactivated after this tool deactivated it', () => {
    const p = cleanup(deactivated(30, { status: 'Active' }), tagOf(30));
    expect(p.delete).toEqual([]);
    expect(skipReason(p)).toMatch(/reactivated/);
  });

  it('keeps a key used after its deactivation', () => {
    const p = cleanup(deactivated(30, { lastUsedDate: daysAgo(29) }), tagOf(30));
    expect(p.delete).toEqual([]);
    expect(skipReason(p)).toMatch(/used .* after its deactivation/);
  });

  it('keeps the AWSCURRENT key even when it carries a deactivation tag', () => {
    const p = plan([
      prodUser([key(CUR, 10, { status: 'Inactive', deactivatedAt: daysAgo(30) })], {
        [CUR]: daysAgo(30).toISOString(),
      }),
    ]);
    expect(p.delete).toEqual([]);
    expect(p.skipped.find((s) => s.accessKeyId === CUR)?.reason).toMatch(/it is AWSCURRENT/);
  });

  it('keeps a key whose tag does not hold a date', () => {
    const p = cleanup(key(OLD, 200, { status: 'Inactive' }), { [OLD]: 'yesterday' });
    expect(p.delete).toEqual([]);
    expect(skipReason(p)).toMatch(/does not hold a date/);
  });

  it("uses the key's own grace period", () => {
    const own = parseConfig({ version: 1, keys: [{ ...rawKey(), policy: { deleteAfterDays: 30 } }] });
    const p = planScan(inventory([prodUser([key(CUR, 10), deactivated(8)], tagOf(8))]), own, [state()], NOW);
    expect(p.delete).toEqual([]);
  });

  it('removes a deactivation tag whose key no longer exists, and nothing else', () => {
    const p = plan([prodUser([key(CUR, 10)], { AKIAGONE000000000001: daysAgo(40).toISOString() })]);
    expect(p.untag).toEqual([
      {
        key: 'prod',
        userName: 'jenkins-prod',
        accountId: ACCOUNT,
        accessKeyId: 'AKIAGONE000000000001',
        tagKey: 'key-rotator:deactivated:AKIAGONE000000000001',
      },
    ]);
    expect(p.delete).toEqual([]);
  });

  it('still cleans up while a rotation is in progress, but never the AWSCURRENT key', () => {
    const p = cleanup(deactivated(8), tagOf(8), state({ pending: { versionId: 'v-p', createdDate: NOW } }));
    expect(p.delete.map((d) => d.accessKeyId)).toEqual([OLD]);
  });
});

const PENDING = 'AKIAPENDING000000001';
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * HOUR);
const withPolicy = (policy: Record<string, unknown>) =>
  parseConfig({
    version: 1,
    defaults: { maxAgeDays: 90, deleteAfterDays: 7 },
    keys: [{ ...rawKey(), policy }],
  });

describe('planScan: rotation problems, and what the scan repairs by itself', () => {
  it('a promoted rotation whose previous key is still active: repaired (finish), its rotation left to the next run', () => {
    const p = plan([prodUser([key(CUR, 100), key(OLD, 200)])], state({ previousAccessKeyId: OLD }));
    expect(p.repair).toEqual([
      expect.objectContaining({
        key: 'prod',
        userName: 'jenkins-prod',
        accountId: ACCOUNT,
        repair: 'finish',
        problem: expect.objectContaining({
          kind: 'previous-still-active',
          severity: 'error',
          accessKeyId: OLD,
        }) as unknown,
      }),
    ]);
    expect(p.problems).toEqual([]);
    // Due, but not rotated in the same run: the inventory no longer says what the repair leaves.
    expect(p.rotate).toEqual([]);
    expect(p.failed).toEqual([]);
    expect(p.skipped).toContainEqual(
      expect.objectContaining({
        key: 'prod',
        reason: expect.stringMatching(
          /^rotation left to the next run: this run first finishes the last rotation/,
        ) as unknown,
      }),
    );
  });

  it('a previous key inactive but never tagged: repaired (finish) so that the clean-up can delete it later', () => {
    const p = plan(
      [prodUser([key(CUR, 10), key(OLD, 200, { status: 'Inactive' })])],
      state({ previousAccessKeyId: OLD }),
    );
    expect(p.repair.map((r) => [r.repair, r.problem.kind])).toEqual([['finish', 'deactivated-untagged']]);
  });

  it('a rotation in flight older than abandonStuckAfterHours, no live attempt: repaired (abandon), not in progress', () => {
    const p = plan(
      [prodUser([key(CUR, 120), key(PENDING, 1)])],
      state({ pending: { versionId: 'v-stuck', createdDate: hoursAgo(25), accessKeyId: PENDING } }),
    );
    expect(p.repair).toEqual([
      expect.objectContaining({
        repair: 'abandon',
        problem: expect.objectContaining({
          kind: 'rotation-in-flight',
          versionId: 'v-stuck',
          ageHours: 25,
        }) as unknown,
      }),
    ]);
    expect(p.inProgress).toEqual([]);
    expect(p.failed).toEqual([]);
    expect(p.rotate).toEqual([]);
    expect(p.skipped).toContainEqual(
      expect.objectContaining({
        reason: expect.stringMatching(
          /this run first abandons the rotation in flight \(rotation-in-flight\)/,
        ) as unknown,
      }),
    );
  });

  it('a younger rotation in flight is reported with its fix, in progress, and left alone', () => {
    const p = plan(
      [prodUser([key(CUR, 120), key(PENDING, 0)])],
      state({ pending: { versionId: 'v-young', createdDate: hoursAgo(3), accessKeyId: PENDING } }),
    );
    expect(p.repair).toEqual([]);
    expect(p.problems).toEqual([
      expect.objectContaining({
        key: 'prod',
        user: 'jenkins-prod',
        kind: 'rotation-in-flight',
        severity: 'warning',
        ageHours: 3,
        fix: 'key-rotator rotate jenkins-prod --resume (or key-rotator rotate jenkins-prod --abandon to undo it)',
      }),
    ]);
    expect(p.inProgress).toEqual([expect.objectContaining({ versionId: 'v-young', stuck: true })]);
  });

  it('never abandons with abandonStuckAfterHours 0: the old rotation stays a problem and a failure', () => {
    const p = planScan(
      inventory([prodUser([key(CUR, 120), key(PENDING, 3)])]),
      withPolicy({ abandonStuckAfterHours: 0 }),
      [state({ pending: { versionId: 'v-old', createdDate: hoursAgo(72), accessKeyId: PENDING } })],
      NOW,
    );
    expect(p.repair).toEqual([]);
    expect(p.problems.map((x) => x.kind)).toEqual(['rotation-in-flight']);
    expect(p.failed[0]?.reason).not.toMatch(/the scan abandons it/);
  });

  it('an AWSPENDING whose key is gone: an error with its fix; abandoned once old enough', () => {
    const young = plan(
      [prodUser([key(CUR, 120)])],
      state({ pending: { versionId: 'v-gone', createdDate: hoursAgo(1), accessKeyId: PENDING } }),
    );
    expect(young.repair).toEqual([]);
    expect(young.problems).toEqual([
      expect.objectContaining({
        kind: 'pending-key-gone',
        severity: 'error',
        accessKeyId: PENDING,
        fix: 'key-rotator rotate jenkins-prod --abandon',
      }),
    ]);
    const old = plan(
      [prodUser([key(CUR, 120)])],
      state({ pending: { versionId: 'v-gone', createdDate: hoursAgo(30), accessKeyId: PENDING } }),
    );
    expect(old.repair.map((r) => [r.repair, r.problem.kind])).toEqual([['abandon', 'pending-key-gone']]);
    expect(old.problems).toEqual([]);
  });

  it('a rotation a live attempt runs right now is never repaired, whatever its age', () => {
    const attempt: Attempt = {
      id: 'a1',
      token: 'v-running',
      startedAt: hoursAgo(30),
      leaseUntil: new Date(NOW.getTime() + 10 * 60_000),
      mode: 'direct',
      tagKey: 'key-rotator:attempt:a1',
    };
    const user = { ...prodUser([key(CUR, 120), key(PENDING, 1)]), attempts: [attempt] };
    const p = plan(
      [user],
      state({ pending: { versionId: 'v-running', createdDate: hoursAgo(30), accessKeyId: PENDING } }),
    );
    expect(p.repair).toEqual([]);
    expect(p.problems.map((x) => [x.kind, x.severity])).toEqual([['rotation-running', 'info']]);
    expect(p.inProgress).toHaveLength(1);
  });

  it('a second active key nobody records: an error with its fix, never repaired', () => {
    const p = plan([prodUser([key(CUR, 10), key('AKIASTRANGER00000001', 5)])]);
    expect(p.repair).toEqual([]);
    expect(p.problems).toEqual([
      expect.objectContaining({
        kind: 'second-active-key',
        severity: 'error',
        accessKeyId: 'AKIASTRANGER00000001',
        fix: expect.stringMatching(
          /aws iam update-access-key .*AKIASTRANGER00000001 --status Inactive/,
        ) as unknown,
      }),
    ]);
  });

  it('lists problems most severe first', () => {
    const cfg = parseConfig({
      version: 1,
      keys: [rawKey(), rawKeyNamed('dev')],
    });
    const dev: InventoryUser = {
      ...otherUser('jenkins-dev', [key('AKIADEV0000000000001', 5)]),
      managedKey: 'dev',
    };
    const p = planScan(
      inventory([prodUser([key(CUR, 10), key(PENDING, 0)]), dev]),
      cfg,
      [
        state({ pending: { versionId: 'v', createdDate: hoursAgo(1), accessKeyId: PENDING } }),
        state({
          key: 'dev',
          secretId: 'jenkins/dev/aws-key',
          currentAccessKeyId: 'AKIADEV0000000000001',
          currentUserName: 'jenkins-dev',
          pending: { versionId: 'w', createdDate: hoursAgo(1), accessKeyId: 'AKIAGONE000000000001' },
        }),
      ],
      NOW,
    );
    expect(p.problems.map((x) => [x.key, x.severity])).toEqual([
      ['dev', 'error'],
      ['prod', 'warning'],
    ]);
  });
});

describe('planScan: the rollback key (item 7)', () => {
  it('a due rotation that must delete an inactive key still inside its grace period says so', () => {
    const p = plan([prodUser([key(CUR, 100), deactivated(2)], tagOf(2))]);
    expect(p.rotate[0]?.rollbackKey).toEqual({
      accessKeyId: OLD,
      deactivatedAt: daysAgo(2),
      graceEndsAt: new Date(daysAgo(2).getTime() + 7 * DAY),
    });
  });

  it('not when the inactive key is past its grace period, or was not deactivated by this tool', () => {
    expect(
      plan([prodUser([key(CUR, 100), deactivated(8)], tagOf(8))]).rotate[0]?.rollbackKey,
    ).toBeUndefined();
    expect(
      plan([prodUser([key(CUR, 100), key(OLD, 300, { status: 'Inactive' })])]).rotate[0]?.rollbackKey,
    ).toBeUndefined();
  });
});

describe('a self-rotated key (rotatedBy "self")', () => {
  const selfConfig = parseConfig({
    version: 1,
    defaults: { maxAgeDays: 90, deleteAfterDays: 7 },
    keys: [
      {
        ...rawKey(),
        rotatedBy: 'self',
        jenkins: (rawKey()['jenkins'] as Record<string, unknown>[]).map(({ tokenSecretId: _t, ...t }) => ({
          ...t,
          tokenEnv: 'JENKINS_TOKEN',
        })),
      },
    ],
  });
  const selfPlan = (ageDays: number) =>
    planScan(inventory([prodUser([key(CUR, ageDays)])]), selfConfig, [state()], NOW, {
      rotationLambdaArn: ROTATION_FN,
    });

  it('is never rotated by the scan, even when due: its own job next to Jenkins does it', () => {
    const p = selfPlan(91);
    expect(p.rotate).toEqual([]);
    expect(p.failed).toEqual([]);
    expect(p.skipped).toEqual([
      expect.objectContaining({
        key: 'prod',
        reason: expect.stringMatching(/self-rotated: its job next to Jenkins/) as string,
      }),
    ]);
  });

  it('is reported overdue (a failure, so the scan alerts) once its job has missed the due date', () => {
    const p = selfPlan(92);
    expect(p.rotate).toEqual([]);
    expect(p.failed).toEqual([
      expect.objectContaining({
        key: 'prod',
        reason: expect.stringMatching(
          /^self-rotation overdue: key AKIACURRENT000000001 is 92 days old .*self-rotate prod/,
        ) as string,
      }),
    ]);
  });

  it('is left alone before it is due', () => {
    expect(selfPlan(10).skipped[0]?.reason).toMatch(/^not due/);
  });
});
