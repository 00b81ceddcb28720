import { describe, expect, it } from 'vitest';
import { parseConfig, type ManagedKey } from '../../src/config';
import type { AccessKeyMeta } from '../../src/domain/keys';
import type { Clock } from '../../src/engine/ports';
import type { CredentialReportResult, IamReader, IamUserRef } from '../../src/scan/iam-reader';
import { tagsMatter, takeInventory, type InventoryOptions } from '../../src/scan/inventory';
import { planScan } from '../../src/scan/plan';
import type { SecretState } from '../../src/scan/types';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;
const ACCOUNT = '111122223333';
const OTHER = '444455556666';
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const csvTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, '+00:00');

class FakeClock implements Clock {
  t = NOW.getTime();
  now = () => new Date(this.t);
  sleep = (ms: number) => {
    this.t += ms;
    return Promise.resolve();
  };
}

interface FakeUser {
  ref: IamUserRef;
  keys: AccessKeyMeta[];
  tags?: Record<string, string>;
  lastUsed?: Record<string, Date>;
  failKeys?: boolean;
}

/** An IAM account in memory that counts every call by name. */
class FakeIam implements IamReader {
  calls: string[] = [];
  users = new Map<string, FakeUser>();
  /** What successive GetCredentialReport calls answer (the last one repeats). */
  reports: (CredentialReportResult | Error)[] = [{ missing: 'not-present' }];
  generateState = 'STARTED';
  listUsersError?: Error;

  add(userName: string, keys: AccessKeyMeta[], extra: Partial<FakeUser> = {}, path = '/') {
    this.users.set(userName.toLowerCase(), {
      ref: { userName, path, arn: `arn:aws:iam::${ACCOUNT}:user${path}${userName}` },
      keys,
      ...extra,
    });
    return this;
  }
  private user(name: string) {
    return this.users.get(name.toLowerCase());
  }
  generateCredentialReport() {
    this.calls.push('GenerateCredentialReport');
    return Promise.resolve(this.generateState);
  }
  getCredentialReport() {
    this.calls.push('GetCredentialReport');
    const r = this.reports.length > 1 ? this.reports.shift()! : this.reports[0]!;
    return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  }
  listUsers(pathPrefix: string) {
    this.calls.push('ListUsers');
    if (this.listUsersError) return Promise.reject(this.listUsersError);
    const refs = [...this.users.values()].map((u) => u.ref).filter((r) => r.path.startsWith(pathPrefix));
    // One call per page of 1,000 users, as the SDK's paginator asks for them.
    for (let page = 1000; page < refs.length; page += 1000) this.calls.push('ListUsers');
    return Promise.resolve(refs);
  }
  getUser(userName: string) {
    this.calls.push(`GetUser ${userName}`);
    return Promise.resolve(this.user(userName)?.ref);
  }
  listAccessKeys(userName: string) {
    this.calls.push(`ListAccessKeys ${userName}`);
    const u = this.user(userName);
    if (u?.failKeys)
      return Promise.reject(new Error('User is not authorized to perform: iam:ListAccessKeys'));
    return Promise.resolve(u?.keys ?? []);
  }
  lastUsed(accessKeyId: string) {
    this.calls.push(`GetAccessKeyLastUsed ${accessKeyId}`);
    for (const u of this.users.values())
      if (u.keys.some((k) => k.accessKeyId === accessKeyId)) {
        const date = u.lastUsed?.[accessKeyId];
        return Promise.resolve(date ? { date, service: 'ecr' } : {});
      }
    return Promise.resolve({});
  }
  userTags(userName: string) {
    this.calls.push(`ListUserTags ${userName}`);
    return Promise.resolve(this.user(userName)?.tags ?? {});
  }
  /** The credential report IAM would write for these users now. */
  csv(): string {
    const header =
      'user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,' +
      [1, 2]
        .flatMap((n) =>
          ['active', 'last_rotated', 'last_used_date', 'last_used_region', 'last_used_service'].map(
            (c) => `access_key_${n}_${c}`,
          ),
        )
        .join(',') +
      ',cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated';
    const root = `<root_account>,arn:aws:iam::${ACCOUNT}:root,${csvTime(ago(900 * DAY))},not_supported,no_information,not_supported,not_supported,false,true,${csvTime(ago(900 * DAY))},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`;
    const rows = [...this.users.values()].map((u) => {
      const slots = [0, 1].flatMap((i) => {
        const k = u.keys[i];
        const used = k && u.lastUsed?.[k.accessKeyId];
        return k
          ? [
              String(k.status === 'Active'),
              csvTime(k.createDate),
              used ? csvTime(used) : 'N/A',
              used ? 'us-east-1' : 'N/A',
              used ? 'ecr' : 'N/A',
            ]
          : ['false', 'N/A', 'N/A', 'N/A', 'N/A'];
      });
      return [
        u.ref.userName,
        u.ref.arn,
        csvTime(ago(1000 * DAY)),
        'false',
        'N/A',
        'N/A',
        'N/A',
        'false',
        ...slots,
        'false',
        'N/A',
        'false',
        'N/A',
      ].join(',');
    });
    return [header, root, ...rows].join('\n');
  }
}

const k = (id: string, ageDays: number, status: 'Active' | 'Inactive' = 'Active'): AccessKeyMeta => ({
  accessKeyId: id,
  status,
  createDate: new Date(Math.floor((NOW.getTime() - ageDays * DAY) / 1000) * 1000),
});

const target = {
  url: 'https://jenkins.example.com',
  user: 'key-rotator',
  tokenSecretId: 'jenkins/api-token',
  store: 'system',
};
const rawKey = (name: string, iamUser: string, extra: Record<string, unknown> = {}) => ({
  name,
  iamUser,
  secretId: `jenkins/${name}`,
  jenkins: [{ ...target, credentialId: `aws-${name}` }],
  verify: { ecr: { region: 'us-east-1' } },
  ...extra,
});
const config = (...keys: ReturnType<typeof rawKey>[]) => parseConfig({ version: 1, keys });
const PROD = config(rawKey('prod', 'jenkins-prod'));

/** A typical account: the managed user, an unmanaged user with keys, and one without. */
function account() {
  return new FakeIam()
    .add(
      'jenkins-prod',
      [k('AKIAPROD000000000001', 120)],
      { lastUsed: { AKIAPROD000000000001: ago(DAY) } },
      '/jenkins/',
    )
    .add('alice', [k('AKIAALICE00000000001', 200), k('AKIAALICE00000000002', 3, 'Inactive')], {
      lastUsed: { AKIAALICE00000000001: ago(2 * DAY) },
    })
    .add('console-only', []);
}

function inventoryOf(
  iam: FakeIam,
  cfg = PROD,
  opts: InventoryOptions = {},
  clock = new FakeClock(),
  readerFor?: (key: ManagedKey) => IamReader,
) {
  return takeInventory(
    cfg,
    { clock, ownAccountId: () => Promise.resolve(ACCOUNT), own: iam, readerFor: readerFor ?? (() => iam) },
    opts,
  );
}

const count = (iam: FakeIam, prefix: string) => iam.calls.filter((c) => c.startsWith(prefix)).length;

describe('takeInventory: credential report or list', () => {
  it('uses a fresh credential report: no ListUsers, last use from the report, no key listing for keyless users', async () => {
    const iam = account();
    iam.reports = [{ generatedAt: ago(HOUR), csv: iam.csv() }];
    const inv = await inventoryOf(iam);
    expect(inv.source).toBe('credential-report');
    expect(inv.reportGeneratedAt).toEqual(ago(HOUR));
    expect(count(iam, 'ListUsers')).toBe(0);
    expect(count(iam, 'GenerateCredentialReport')).toBe(0);
    expect(iam.calls).not.toContain('ListAccessKeys console-only');
    // Unmanaged keys: last use from the report, not one GetAccessKeyLastUsed per key.
    expect(iam.calls.filter((c) => c.startsWith('GetAccessKeyLastUsed AKIAALICE'))).toEqual([]);
    const alice = inv.users.find((u) => u.userName === 'alice');
    expect(alice?.keys).toEqual([
      expect.objectContaining({
        accessKeyId: 'AKIAALICE00000000001',
        ageDays: 200,
        lastUsedDate: ago(2 * DAY),
        lastUsedService: 'ecr',
      }),
      expect.objectContaining({ accessKeyId: 'AKIAALICE00000000002', status: 'Inactive', ageDays: 3 }),
    ]);
    expect(inv.users.find((u) => u.userName === 'console-only')?.keys).toEqual([]);
    expect(inv.users.map((u) => u.userName)).not.toContain('<root_account>');
  });

  it('always reads managed users directly, even when the report is used (their last use from the report)', async () => {
    const iam = account();
    iam.reports = [{ generatedAt: ago(HOUR), csv: iam.csv() }];
    const inv = await inventoryOf(iam);
    expect(iam.calls).toEqual(
      expect.arrayContaining(['ListAccessKeys jenkins-prod', 'ListUserTags jenkins-prod']),
    );
    expect(iam.calls).not.toContain('GetAccessKeyLastUsed AKIAPROD000000000001');
    expect(inv.users.find((u) => u.userName === 'jenkins-prod')).toMatchObject({
      managedKey: 'prod',
      path: '/jenkins/',
      keys: [{ accessKeyId: 'AKIAPROD000000000001', ageDays: 120, lastUsedDate: ago(DAY) }],
    });
  });

  it('gets the last use of a key the report does not know (created since) from GetAccessKeyLastUsed', async () => {
    const iam = account();
    iam.reports = [{ generatedAt: ago(HOUR), csv: iam.csv() }];
    iam.users.get('alice')!.keys[1] = k('AKIAALICE00000000003', 0);
    await inventoryOf(iam);
    expect(iam.calls).toContain('GetAccessKeyLastUsed AKIAALICE00000000003');
    expect(iam.calls).not.toContain('GetAccessKeyLastUsed AKIAALICE00000000001');
  });

  it('falls back to listing when the report is older than the limit and IAM will not generate a new one', async () => {
    const iam = account();
    iam.reports = [{ generatedAt: ago(3 * HOUR), csv: iam.csv() }];
    iam.generateState = 'COMPLETE';
    const inv = await inventoryOf(iam, PROD, { reportMaxAgeHours: 1 });
    expect(inv.source).toBe('list');
    expect(inv.reportSkippedReason).toMatch(/3\.0 hours old \(limit 1\)/);
    expect(count(iam, 'ListUsers')).toBe(1);
    // Listing: every user's keys and each key's last use are read.
    expect(iam.calls).toEqual(
      expect.arrayContaining([
        'ListAccessKeys console-only',
        'ListAccessKeys alice',
        'GetAccessKeyLastUsed AKIAALICE00000000001',
        'GetAccessKeyLastUsed AKIAALICE00000000002',
      ]),
    );
    expect(inv.users.find((u) => u.userName === 'alice')?.keys[0]?.lastUsedDate).toEqual(ago(2 * DAY));
  });

  it('uses a report just under the 4-hour default, and not one just over it', async () => {
    const fresh = account();
    fresh.reports = [{ generatedAt: ago(4 * HOUR - 60_000), csv: fresh.csv() }];
    expect((await inventoryOf(fresh)).source).toBe('credential-report');
    const stale = account();
    stale.reports = [{ generatedAt: ago(4 * HOUR), csv: stale.csv() }];
    stale.generateState = 'COMPLETE';
    expect((await inventoryOf(stale)).source).toBe('list');
  });

  it('generates a report when there is none and waits for it', async () => {
    const iam = account();
    const clock = new FakeClock();
    iam.reports = [{ missing: 'not-present' }, { missing: 'in-progress' }, { missing: 'in-progress' }];
    const ready = { generatedAt: NOW, csv: iam.csv() };
    iam.reports.push(ready);
    const inv = await inventoryOf(iam, PROD, {}, clock);
    expect(count(iam, 'GenerateCredentialReport')).toBe(1);
    expect(inv.source).toBe('credential-report');
    expect(clock.t).toBeGreaterThan(NOW.getTime());
  });

  it('lists instead when the new report is not ready in time', async () => {
    const iam = account();
    iam.reports = [{ missing: 'in-progress' }];
    const inv = await inventoryOf(iam, PROD, { reportWaitSeconds: 5 });
    expect(inv.source).toBe('list');
    expect(inv.reportSkippedReason).toMatch(/within 5 s/);
  });

  it('lists instead when the report cannot be read at all', async () => {
    const iam = account();
    iam.reports = [new Error('User is not authorized to perform: iam:GetCredentialReport')];
    const inv = await inventoryOf(iam);
    expect(inv.source).toBe('list');
    expect(inv.reportSkippedReason).toMatch(/not authorized/);
    expect(inv.users).toHaveLength(3);
  });

  it('lists without touching the report when told to', async () => {
    const iam = account();
    const inv = await inventoryOf(iam, PROD, { source: 'list' });
    expect(inv.source).toBe('list');
    expect(count(iam, 'GetCredentialReport') + count(iam, 'GenerateCredentialReport')).toBe(0);
  });

  it('keeps to the path prefix in both modes, but always reads the managed users', async () => {
    const listed = await inventoryOf(account(), PROD, { source: 'list', pathPrefix: '/jenkins/' });
    expect(listed.users.map((u) => u.userName)).toEqual(['jenkins-prod']);
    const iam = account();
    iam.reports = [{ generatedAt: ago(HOUR), csv: iam.csv() }];
    const reported = await inventoryOf(iam, config(rawKey('a', 'alice')), { pathPrefix: '/jenkins/' });
    expect(reported.users.map((u) => u.userName).sort()).toEqual(['alice', 'jenkins-prod']);
    expect(reported.users.find((u) => u.userName === 'alice')?.managedKey).toBe('a');
  });
});

describe('takeInventory: managed and unmanaged', () => {
  it('marks a user managed when a key names it, in any letter case, and reads its deactivation tags', async () => {
    const iam = new FakeIam().add(
      'Jenkins-Prod',
      [k('AKIAPROD000000000001', 10), k('AKIAPROD000000000002', 100, 'Inactive')],
      {
        tags: {
          'key-rotator:deactivated:AKIAPROD000000000002': ago(9 * DAY).toISOString(),
          'key-rotator:deactivated:AKIAGONE000000000001': ago(99 * DAY).toISOString(),
          'key-rotator:attempt:0a1b2c3d4e5f': `v-token ${ago(HOUR).toISOString()} ${ago(0).toISOString()} direct`,
          team: 'ci',
        },
      },
    );
    const inv = await inventoryOf(iam, PROD, { source: 'list' });
    const u = inv.users[0];
    // The attempt records too, read after the keys (as the engine does) so a new key has its attempt seen.
    expect(u?.attempts).toEqual([
      expect.objectContaining({ id: '0a1b2c3d4e5f', token: 'v-token', mode: 'direct', leaseUntil: ago(0) }),
    ]);
    expect(iam.calls.indexOf('ListUserTags Jenkins-Prod')).toBeGreaterThan(
      iam.calls.indexOf('ListAccessKeys Jenkins-Prod'),
    );
    expect(u?.managedKey).toBe('prod');
    expect(u?.keys[1]?.deactivatedAt).toEqual(ago(9 * DAY));
    expect(u?.keys[0]?.deactivatedAt).toBeUndefined();
    expect(u?.deactivationTags).toEqual({
      AKIAPROD000000000002: ago(9 * DAY).toISOString(),
      AKIAGONE000000000001: ago(99 * DAY).toISOString(),
    });
  });

  it('does not read the tags of unmanaged users', async () => {
    const iam = account();
    const inv = await inventoryOf(iam, PROD, { source: 'list' });
    expect(iam.calls.filter((c) => c.startsWith('ListUserTags'))).toEqual(['ListUserTags jenkins-prod']);
    expect(inv.users.find((u) => u.userName === 'alice')?.managedKey).toBeUndefined();
    expect(inv.users.find((u) => u.userName === 'alice')?.deactivationTags).toBeUndefined();
  });

  it('reads a managed user of another account through its own reader', async () => {
    const own = account();
    const other = new FakeIam().add('jenkins-prod', [k('AKIAOTHER00000000001', 50)]);
    const cfg = config(
      rawKey('prod', 'jenkins-prod'),
      rawKey('far', 'jenkins-prod', { assumeRoleArn: `arn:aws:iam::${OTHER}:role/key-rotator` }),
    );
    const inv = await inventoryOf(own, cfg, { source: 'list' }, new FakeClock(), (key) =>
      key.assumeRoleArn ? other : own,
    );
    const far = inv.users.find((u) => u.managedKey === 'far');
    expect(far).toMatchObject({ accountId: OTHER, keys: [{ accessKeyId: 'AKIAOTHER00000000001' }] });
    expect(inv.users.find((u) => u.managedKey === 'prod')?.accountId).toBe(ACCOUNT);
    expect(other.calls).toContain('GetUser jenkins-prod');
  });

  it('does not treat a same-named user of another account as managed', async () => {
    const cfg = config(rawKey('far', 'alice', { accountId: OTHER }));
    const inv = await inventoryOf(account(), cfg, { source: 'list' });
    expect(inv.users.find((u) => u.userName === 'alice')?.managedKey).toBeUndefined();
    expect(inv.problems).toEqual([
      expect.objectContaining({ key: 'far', reason: expect.stringMatching(/no assumeRoleArn/) as unknown }),
    ]);
  });

  it('reports a managed user that does not exist as a problem of its key', async () => {
    const inv = await inventoryOf(new FakeIam(), PROD, { source: 'list' });
    expect(inv.problems).toEqual([
      {
        key: 'prod',
        user: 'jenkins-prod',
        accountId: ACCOUNT,
        reason: `IAM user jenkins-prod not found in account ${ACCOUNT}`,
      },
    ]);
  });

  it('carries on past a user whose keys cannot be read, reporting it', async () => {
    const iam = account();
    iam.users.get('alice')!.failKeys = true;
    const inv = await inventoryOf(iam, PROD, { source: 'list' });
    expect(inv.users.map((u) => u.userName).sort()).toEqual(['console-only', 'jenkins-prod']);
    expect(inv.problems).toEqual([
      {
        user: 'alice',
        accountId: ACCOUNT,
        reason: expect.stringMatching(/could not read its access keys: .*ListAccessKeys/) as unknown,
      },
    ]);
  });

  it('still reads the managed users when ListUsers is denied, and says the audit is incomplete', async () => {
    const iam = account();
    iam.listUsersError = new Error('User is not authorized to perform: iam:ListUsers');
    const inv = await inventoryOf(iam, PROD, { source: 'list' });
    expect(inv.users.map((u) => u.userName)).toEqual(['jenkins-prod']);
    expect(inv.problems).toEqual([
      {
        accountId: ACCOUNT,
        reason: expect.stringMatching(
          /could not list IAM users, so unmanaged keys were not audited/,
        ) as unknown,
      },
    ]);
  });
});

describe('takeInventory: what it costs at fleet size', () => {
  const MANAGED = 10;
  /** 5,000 users: 10 managed (a key each, AWSCURRENT, active), 4,990 unmanaged with a key, every 10th stale. */
  function fleet() {
    const iam = new FakeIam();
    const keys = [];
    const states: SecretState[] = [];
    for (let i = 0; i < 5000; i++) {
      const id = `AKIAFLEET${String(i).padStart(11, '0')}`;
      const name = `user-${String(i).padStart(4, '0')}`;
      iam.add(name, [k(id, i % 10 === 0 ? 200 : 30)], { lastUsed: { [id]: ago(DAY) } }, '/jenkins/');
      if (i < MANAGED) {
        keys.push(rawKey(`k${i}`, name));
        states.push({
          key: `k${i}`,
          secretId: `jenkins/k${i}`,
          rotationConfigured: true,
          currentAccessKeyId: id,
          currentUserName: name,
        });
      }
    }
    return { iam, cfg: config(...keys), states };
  }
  const lean = (states: SecretState[]): InventoryOptions => ({
    unmanagedKeys: 'report',
    lastUsed: 'needed',
    secretStates: states,
  });

  it('with a fresh report: 1 call + 1 per managed user (11, at most 13), whatever the unmanaged users', async () => {
    const { iam, cfg, states } = fleet();
    iam.reports = [{ generatedAt: ago(HOUR), csv: iam.csv() }];
    const inv = await inventoryOf(iam, cfg, lean(states));
    expect(iam.calls.length).toBeLessThanOrEqual(3 + MANAGED);
    expect(iam.calls.length).toBe(1 + MANAGED);
    expect(count(iam, 'ListAccessKeys')).toBe(MANAGED);
    expect(inv.users).toHaveLength(5000);
    // The unmanaged keys are audited from the report's columns: age and last use, the stale ones reported.
    const u = inv.users.find((x) => x.userName === 'user-0010');
    expect(u?.keys).toEqual([]);
    expect(u?.reportedKeys).toEqual([
      {
        slot: 1,
        status: 'Active',
        createDate: expect.any(Date) as unknown,
        ageDays: 200,
        lastUsedDate: ago(DAY),
        lastUsedService: 'ecr',
      },
    ]);
    const plan = planScan(inv, cfg, states, NOW);
    expect(plan.unmanagedStale).toHaveLength(499);
    expect(plan.unmanagedStale[0]).toMatchObject({ user: 'user-0010', keySlot: 1, ageDays: 200 });
    // Managed keys keep their ids and their last use, matched from the report.
    expect(inv.users.find((x) => x.managedKey === 'k3')?.keys[0]).toMatchObject({
      accessKeyId: 'AKIAFLEET00000000003',
      lastUsedDate: ago(DAY),
    });
  });

  it('generating the report first costs 2 calls more (13)', async () => {
    const { iam, cfg, states } = fleet();
    iam.reports = [{ missing: 'not-present' }, { generatedAt: NOW, csv: iam.csv() }];
    const inv = await inventoryOf(iam, cfg, lean(states));
    expect(inv.source).toBe('credential-report');
    expect(iam.calls.length).toBe(3 + MANAGED);
  });

  it('the list fallback: 1 call per page of users + 1 per user, last use only for managed keys', async () => {
    const { iam, cfg, states } = fleet();
    const inv = await inventoryOf(iam, cfg, { ...lean(states), source: 'list' });
    const pages = 5;
    expect(count(iam, 'ListUsers')).toBe(pages);
    expect(count(iam, 'ListAccessKeys')).toBe(5000);
    expect(count(iam, 'GetAccessKeyLastUsed')).toBe(MANAGED);
    expect(count(iam, 'ListUserTags')).toBe(0);
    expect(iam.calls.length).toBeLessThanOrEqual(pages + 5000 + MANAGED);
    expect(inv.users.find((x) => x.userName === 'user-0010')?.keys[0]?.lastUsedDate).toBeUndefined();
  });

  it('reads the tags of a managed user whenever they can change a decision', async () => {
    const { iam, cfg, states } = fleet();
    iam.reports = [{ generatedAt: ago(HOUR), csv: iam.csv() }];
    iam.users.get('user-0001')!.keys.push(k('AKIAFLEETSECOND00001', 1, 'Inactive'));
    const pending = states.map((s) => (s.key === 'k2' ? { ...s, pending: { versionId: 'v-pending' } } : s));
    const inv = await inventoryOf(iam, cfg, lean(pending));
    expect(iam.calls.filter((c) => c.startsWith('ListUserTags')).sort()).toEqual([
      'ListUserTags user-0001',
      'ListUserTags user-0002',
    ]);
    expect(inv.users.find((x) => x.managedKey === 'k0')?.tagsNotRead).toBe(true);
    expect(inv.users.find((x) => x.managedKey === 'k1')?.tagsNotRead).toBeUndefined();
  });
});

describe('tagsMatter', () => {
  const state: SecretState = {
    key: 'p',
    secretId: 's',
    rotationConfigured: true,
    currentAccessKeyId: 'AKIA1',
  };
  const one = [k('AKIA1', 10)];
  it('is false only for a user whose only key is its active AWSCURRENT key, no rotation in flight', () => {
    expect(tagsMatter(one, state)).toBe(false);
    expect(tagsMatter(one, undefined)).toBe(true);
    expect(tagsMatter(one, { ...state, error: 'AccessDenied' })).toBe(true);
    expect(tagsMatter(one, { ...state, pending: { versionId: 'v' } })).toBe(true);
    expect(tagsMatter([], state)).toBe(true);
    expect(tagsMatter([k('AKIA1', 10, 'Inactive')], state)).toBe(true);
    expect(tagsMatter([k('AKIA2', 10)], state)).toBe(true);
    expect(tagsMatter([...one, k('AKIA2', 1, 'Inactive')], state)).toBe(true);
  });
});
