/**
 * The scan over a fleet, against the local cloud: its rotation limit per run, its deadline and checkpoint (a run
 * stopped by its deadline resumes on the next without rotating any key twice), and its IAM rate as the emulator
 * sees it. The scan signs with its own key, so its calls are told apart from the rotation hook's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { peakIamCalls, seedAdmin, seedFleetUsers } from '../../localcloud/fleet';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey, type SeededKey } from '../../localcloud/scenario';
import { compose, type Composition } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { runScan, type CheckpointStore, type ScanCheckpoint, type ScanOptions } from '../../src/scan';
import { ROTATE_LAMBDA_ARN, wireRotator } from '../../test/support/rotator';

const KEYS = 6;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

let cloud: LocalCloud;
let seeded: SeededKey[];
let composition: Composition;
let scanKeyId: string;

class MemoryCheckpoint implements CheckpointStore {
  value: ScanCheckpoint | undefined;
  saves = 0;
  load() {
    return Promise.resolve(this.value);
  }
  save(c: ScanCheckpoint) {
    this.saves++;
    this.value = c;
    return Promise.resolve();
  }
}

const rotateSecretCalls = (since: number) =>
  cloud.aws.state.calls.since(since).filter((c) => c.point === 'secretsmanager:RotateSecret').length;

beforeAll(async () => {
  cloud = await startLocalCloud();
  const keys: ScenarioKey[] = Array.from({ length: KEYS }, (_, i) => ({
    name: `k${i}`,
    iamUser: `jenkins-k${i}`,
    ageDays: 100 + i,
    secretName: `jenkins/k${i}/aws-key`,
    credentials: [{ store: 'system', credentialId: `aws-k${i}`, kind: 'aws' }],
  }));
  const scenario = await seedScenario(cloud, keys);
  seeded = scenario.seeded;
  // Unmanaged users around them, some stale: audited from the credential report, never touched.
  seedFleetUsers(cloud.aws.state, { count: 300, staleEvery: 7 });
  const quick = { ...scenario.config, defaults: { consecutiveSuccesses: 1 } };
  wireRotator(cloud, quick, { silent: true });
  const scanner = seedAdmin(cloud.aws.state, 'key-rotator-scan');
  scanKeyId = scanner.accessKeyId;
  composition = compose(
    parseConfig(quick),
    { region: 'us-east-1', endpoint: cloud.aws.url, credentials: scanner },
    silent,
  );
});

afterAll(async () => {
  await cloud.close();
});

const base = (store: CheckpointStore): ScanOptions => ({
  checks: false,
  rotationLambdaArn: ROTATE_LAMBDA_ARN,
  pathPrefix: '/jenkins/',
  checkpoint: store,
  fleet: { iamCallsPerSecond: 50, maxRotationsPerRun: 4 },
});

describe('a scan interrupted by its deadline', () => {
  const store = new MemoryCheckpoint();
  let since = 0;

  it('starts rotations until the deadline is near, then defers the rest, with why, and saves where it stopped', async () => {
    since = cloud.aws.state.calls.lastSeq;
    // The function's clock: plenty of time until two rotations have started, then 30 s (reserve: 60 s).
    const remainingMs = () => (rotateSecretCalls(since) >= 2 ? 30_000 : 600_000);
    const s = await runScan(composition, { ...base(store), remainingMs });
    expect(s.started.map((x) => x.key)).toEqual(['k0', 'k1']);
    expect(s.deferred.map((d) => [d.key, d.action])).toEqual([
      ['k2', 'rotate'],
      ['k3', 'rotate'],
      ['k4', 'rotate'],
      ['k5', 'rotate'],
    ]);
    expect(s.deferred[0]?.reason).toMatch(
      /stopped before the function's timeout \(30 s left, 60 s kept in reserve\)/,
    );
    expect(s.deferred[2]?.reason).toMatch(/limit of 4 rotations \(fleet.maxRotationsPerRun\)/);
    expect(s.counts.deferred).toBe(4);
    expect(s.fleet?.stoppedAt?.remainingSeconds).toBe(30);
    expect(s.fleet?.checkpoint).toEqual({ saved: true });
    expect(store.value?.deferred).toEqual(['k2', 'k3', 'k4', 'k5']);
    expect(rotateSecretCalls(since)).toBe(2);
    await waitForRotations(cloud.aws.state, 60_000);
  });

  it('the next run starts with what was deferred, never the keys already rotated', async () => {
    const before = cloud.aws.state.calls.lastSeq;
    // The last run's deferred keys go first: make the checkpoint's order differ from the plan's to see it.
    store.value = { ...store.value!, deferred: ['k5', 'k4', 'k3', 'k2'] };
    const s = await runScan(composition, base(store));
    expect(s.started.map((x) => x.key)).toEqual(['k5', 'k4', 'k3', 'k2']);
    expect(s.deferred).toEqual([]);
    expect(s.fleet?.resumed).toEqual({ savedAt: expect.any(String) as unknown, deferred: 4 });
    expect(s.fleet?.stoppedAt).toBeUndefined();
    // The keys the first run rotated are not due any more: never started again.
    expect(
      s.skipped.filter((x) => (x.key === 'k0' || x.key === 'k1') && /^not due: 0 days old/.test(x.reason)),
    ).toHaveLength(2);
    expect(rotateSecretCalls(before)).toBe(4);
    expect(store.value?.deferred).toEqual([]);
    await waitForRotations(cloud.aws.state, 60_000);
  });

  it('rotated every key exactly once: one new key per user, each secret on it, the old key inactive', async () => {
    const s = await runScan(composition, base(store));
    expect(s.started).toEqual([]);
    const created = cloud.aws.state.keyEvents.filter((e) => e.kind === 'create' && e.seq > since);
    for (const k of seeded) {
      const mine = created.filter((e) => e.userName === k.iamUser);
      expect(mine, k.iamUser).toHaveLength(1);
      const keys = cloud.aws.state.keysOf(cloud.aws.state.defaultAccountId, k.iamUser);
      expect(keys.find((x) => x.accessKeyId === k.accessKeyId)?.status).toBe('Inactive');
      expect(keys.find((x) => x.accessKeyId === mine[0]?.accessKeyId)?.status).toBe('Active');
    }
    expect(cloud.aws.state.rotations.filter((r) => r.status === 'succeeded')).toHaveLength(KEYS);
  });

  it('never sent IAM more than its configured rate in any one-second window', () => {
    expect(peakIamCalls(cloud.aws.state, since, 1000, scanKeyId)).toBeLessThanOrEqual(50);
  });
});

describe('the scan IAM rate', () => {
  it('holds a low rate over a listing of hundreds of users: no one-second window above it', async () => {
    const since = cloud.aws.state.calls.lastSeq;
    const s = await runScan(composition, {
      ...base(new MemoryCheckpoint()),
      source: 'list',
      fleet: { iamCallsPerSecond: 40 },
    });
    const calls = cloud.aws.state.calls
      .since(since)
      .filter((c) => c.point.startsWith('iam:') && c.accessKeyId === scanKeyId).length;
    expect(calls).toBeGreaterThan(300);
    expect(s.fleet).toMatchObject({ iamCallsPerSecond: 40, iamCalls: calls });
    expect(peakIamCalls(cloud.aws.state, since, 1000, scanKeyId)).toBeLessThanOrEqual(40);
    expect(s.failed).toEqual([]);
  });
});
