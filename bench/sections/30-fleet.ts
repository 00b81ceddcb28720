/**
 * The fleet run: an account of `--users` IAM users (default 500) of which `--due` (default 50) are managed keys
 * past their max age; every AWS call answers 20 ms late; the scan holds IAM to 10 calls a second and signs with
 * its own key, the rotation hook runs at most 5 invocations at once (the rotate function's reserved concurrency),
 * the scan and the hook's instances the scan keeping to half the rate and the hook's
 * instances sharing the other half (src/scan/rate.ts iamShare).
 * Scans run back to back until every due key is rotated. `--users 5000 --due 1000` is the full size.
 */
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { peakIamCalls, seedAdmin, seedFleetUsers } from '../../localcloud/fleet';
import { startLocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { compose } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { ConcurrencyGate } from '../../src/jenkins/limit';
import { runScan, type ScanCheckpoint, type ScanSummary } from '../../src/scan';
import { iamShareBucket } from '../../src/scan/rate';
import { wireRotationHook } from '../../localcloud/wire';
import { createLogger } from '../../src/observability/logger';
import { ROTATE_LAMBDA_ARN } from '../../test/support/rotator';
import { option, type BenchSection } from '../section';

const LATENCY_MS = 20;
const IAM_RATE = 10;
const RESERVED = 5;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const THROTTLED = /Throttl|Rate exceeded|TooManyRequests/i;

async function fleetBench(users: number, due: number) {
  const cloud = await startLocalCloud();
  try {
    const keys: ScenarioKey[] = Array.from({ length: due }, (_, i) => ({
      name: `k${i}`,
      iamUser: `jenkins-k${String(i).padStart(4, '0')}`,
      ageDays: 100,
      secretName: `jenkins/k${i}/aws-key`,
      credentials: [{ store: 'system', credentialId: `aws-k${i}`, kind: 'aws' }],
    }));
    const { config } = await seedScenario(cloud, keys);
    seedFleetUsers(cloud.aws.state, { count: Math.max(0, users - due), staleEvery: 10 });
    // One success is enough here: the subject is the fleet's pacing, not one rotation's propagation wait.
    const raw = {
      ...config,
      defaults: { consecutiveSuccesses: 1 },
      fleet: { iamCallsPerSecond: IAM_RATE, maxRotationsPerRun: due },
    };
    // The hook's instances each keep to their share of the IAM rate (handlers/rotate.ts); here one process stands for
    // all RESERVED of them, so its bucket holds their sum. The scan keeps to its half (hookConcurrency).
    const { invoke } = wireRotationHook(cloud, raw, createLogger('bench', 'SILENT'), ROTATE_LAMBDA_ARN, {
      iamLimiter: iamShareBucket(IAM_RATE, RESERVED, 'hook', RESERVED),
    });
    // Lambda's reserved concurrency: at most RESERVED invocations of the hook at once, the rest wait their turn.
    const reserved = new ConcurrencyGate(RESERVED);
    cloud.aws.state.rotationFunctions.set(ROTATE_LAMBDA_ARN, (event) => reserved.run(() => invoke(event)));
    const scanner = seedAdmin(cloud.aws.state, 'key-rotator-scan');
    const composition = compose(
      parseConfig(raw),
      { region: 'us-east-1', endpoint: cloud.aws.url, credentials: scanner },
      silent,
    );
    let saved: ScanCheckpoint | undefined;
    const checkpoint = {
      load: () => Promise.resolve(saved),
      save: (c: ScanCheckpoint) => Promise.resolve(void (saved = c)),
    };

    cloud.aws.state.callLatencyMs = LATENCY_MS;
    const since = cloud.aws.state.calls.lastSeq;
    const t0 = performance.now();
    const summaries: ScanSummary[] = [];
    let firstScanMs = 0;
    const succeeded = () => cloud.aws.state.rotations.filter((r) => r.status === 'succeeded').length;
    while (succeeded() < due && summaries.length < 20) {
      const s = await runScan(composition, {
        checks: false,
        rotationLambdaArn: ROTATE_LAMBDA_ARN,
        pathPrefix: '/jenkins/',
        checkpoint,
        hookConcurrency: RESERVED,
      });
      summaries.push(s);
      firstScanMs ||= performance.now() - t0;
      // Paced by the hooks' half of the IAM rate, a rotation's ~9 IAM calls take ~2 s of it: 5 s a key is ample.
      await waitForRotations(cloud.aws.state, Math.max(30 * 60_000, due * 5_000));
    }
    const allRotatedMs = performance.now() - t0;
    const calls = cloud.aws.state.calls.since(since);
    const scanIam = calls.filter((c) => c.point.startsWith('iam:') && c.accessKeyId === scanner.accessKeyId);
    const throttled = summaries.flatMap((s) =>
      [...s.failed, ...s.skipped, ...s.deferred].filter((e) => THROTTLED.test(e.reason)),
    ).length;
    return {
      users,
      due,
      latencyMs: LATENCY_MS,
      iamCallsPerSecond: IAM_RATE,
      reservedConcurrency: RESERVED,
      runs: summaries.length,
      started: summaries.reduce((n, s) => n + s.counts.started, 0),
      rotated: succeeded(),
      failedRotations: cloud.aws.state.rotations.filter((r) => r.status !== 'succeeded').length,
      firstScanSeconds: Math.round(firstScanMs / 100) / 10,
      allRotatedSeconds: Math.round(allRotatedMs / 100) / 10,
      scanIamCalls: scanIam.length,
      peakScanIamPerSecond: peakIamCalls(cloud.aws.state, since, 1000, scanner.accessKeyId),
      peakAllIamPerSecond: peakIamCalls(cloud.aws.state, since, 1000),
      hookPeakConcurrency: reserved.peak,
      throttlingInSummaries: throttled,
    };
  } finally {
    await cloud.close();
  }
}

export const section: BenchSection = {
  name: 'fleet',
  title: 'The fleet run: due keys rotated under the IAM rate (20 ms per AWS call)',
  async run(ctx) {
    const r = await fleetBench(option(ctx.argv, 'users', 500), option(ctx.argv, 'due', 50));
    return {
      lines: [
        `${r.users} IAM users, ${r.due} managed keys due; scan IAM rate ${r.iamCallsPerSecond}/s, rotate reserved concurrency ${r.reservedConcurrency}, ${r.latencyMs} ms per AWS call`,
        `all ${r.rotated} of ${r.due} due keys rotated in ${r.allRotatedSeconds} s (${r.runs} scan run(s), ${r.started} rotations started, ${r.failedRotations} failed); the first scan took ${r.firstScanSeconds} s`,
        `peak IAM calls in any 1 s window: the scan's ${r.peakScanIamPerSecond} (configured ${r.iamCallsPerSecond}), all callers with the rotations ${r.peakAllIamPerSecond}; the scan made ${r.scanIamCalls} IAM calls`,
        `rotation hook invocations at once, at most: ${r.hookPeakConcurrency}; throttling errors in the summaries: ${r.throttlingInSummaries}`,
      ],
      json: r,
    };
  },
};
