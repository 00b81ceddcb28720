import { Metrics } from '@aws-lambda-powertools/metrics';
import { AttachUserPolicyCommand, DetachUserPolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { CloudTrailClient, CreateTrailCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanHandler, METRICS_NAMESPACE } from '../../handlers/scan';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { compose } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { systemClock, type Clock } from '../../src/engine/ports';
import { createLogger } from '../../src/observability/logger';
import { notifiedKey, ssmChecksStateStore, type ChecksState, type ScanSummary } from '../../src/scan';
import type { Finding } from '../../src/checks/types';
import { captureOutput, type Capture } from '../support/capture';
import { lambdaContext } from '../support/rotator';

/**
 * The security checks inside the scheduled scan, over the wire: they run once a day whatever the schedule, a high
 * finding is notified the first time it is seen and not again, a fixed flaw that comes back is new again, and a
 * state that cannot be read or written never fails the scan.
 */
const KEYS: ScenarioKey[] = [
  {
    name: 'prod-ecr-push',
    iamUser: 'jenkins-prod',
    ageDays: 20,
    secretName: 'jenkins/prod/aws-key',
    credentials: [{ store: 'system', credentialId: 'aws-prod', kind: 'aws' }],
  },
];
const HOUR = 3_600_000;
const FULL_ACCESS = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess';
const POWER_USER = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser';
const PARAMETER = '/jenkins-key-rotator/test/checks-state';

let cloud: LocalCloud;
let capture: Capture;
let iam: IAMClient;
let ssm: SSMClient;
let topicArn: string;
let invoke: () => Promise<ScanSummary>;

const state = () => cloud.aws.state;
const clock: Clock = { now: () => new Date(state().now()), sleep: (ms, s) => systemClock.sleep(ms, s) };
const advanceHours = (h: number) => (state().clockOffsetMs += h * HOUR);
const subjects = () =>
  state()
    .sns.messages.filter((m) => m.topicArn === topicArn)
    .map((m) => m.subject ?? '');
const stored = async () =>
  JSON.parse(
    (await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter?.Value ?? '{}',
  ) as ChecksState;

beforeAll(async () => {
  capture = captureOutput();
  cloud = await startLocalCloud();
  const aws = cloud.aws.adminClientConfig();
  iam = new IAMClient(aws);
  ssm = new SSMClient(aws);
  const sns = new SNSClient(aws);
  topicArn = (await sns.send(new CreateTopicCommand({ Name: 'key-rotator-reports' }))).TopicArn ?? '';
  sns.destroy();
  const { config } = await seedScenario(cloud, KEYS);
  await iam.send(new AttachUserPolicyCommand({ UserName: 'jenkins-prod', PolicyArn: FULL_ACCESS }));
  const logger = createLogger('scan-checks-test');
  const composition = compose(
    parseConfig({ ...config, notifications: { snsTopicArn: topicArn } }),
    aws,
    logger,
    clock,
  );
  const handler = createScanHandler({
    composition: () => Promise.resolve(composition),
    logger,
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'scan-checks-test' }),
    options: { clock, checks: { store: ssmChecksStateStore(ssm, PARAMETER) } },
  });
  invoke = () => handler({ source: 'aws.events' }, lambdaContext());
});

afterAll(async () => {
  capture.stop();
  iam.destroy();
  ssm.destroy();
  await cloud.close();
});

describe('the security checks in the scheduled scan', () => {
  let first: ScanSummary;

  it('the first scan runs them and notifies each high finding, with its fix', async () => {
    first = await invoke();
    expect(first.failed).toEqual([]);
    expect(first.checks).toMatchObject({ ran: true });
    if (!first.checks?.ran) throw new Error('checks did not run');
    const checks = first.checks.newHigh.map((f) => `${f.check} ${f.resource.id}`);
    expect(checks).toEqual(
      expect.arrayContaining([
        'ecr-broad-managed-policy jenkins-prod',
        `no-cloudtrail ${state().defaultAccountId}`,
      ]),
    );
    expect(first.checks.newHighCount).toBe(first.checks.counts.high);
    expect(subjects().at(-1)).toBe(
      `Key rotation scan ok: 0 started, 0 failed, 0 deleted, 0 unmanaged stale, ${first.checks.newHighCount} NEW HIGH findings`,
    );
    const sent = JSON.parse(state().sns.messages.at(-1)?.message ?? '{}') as ScanSummary;
    expect(sent.checks).toEqual(first.checks);
    expect(first.checks.newHigh.find((f) => f.check === 'ecr-broad-managed-policy')?.fix).toMatch(
      /detach-user-policy --user-name jenkins-prod/,
    );
    // What was notified is remembered in the parameter, by fingerprint.
    const saved = await stored();
    expect(saved.lastRunAt).toBe(first.checks.at);
    expect(Object.keys(saved.notified).sort()).toEqual(
      first.checks.newHigh.map((f) => notifiedKey(f as Finding)).sort(),
    );
  });

  it('published the counts as metrics', () => {
    const emf = capture
      .text()
      .split('\n')
      .filter((l) => l.includes('"CheckFindingsHigh"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf.at(-1)).toMatchObject({
      CheckFindingsHigh: first.checks?.ran ? first.checks.counts.high : -1,
      CheckFindingsNewHigh: first.checks?.ran ? first.checks.newHighCount : -1,
    });
  });

  it('an hourly scan does not run them again within the day, and says when they run next', async () => {
    advanceHours(1);
    const r = await invoke();
    expect(r.checks).toEqual({
      ran: false,
      reason: 'the checks run every 24 h',
      lastRunAt: first.checks?.ran ? first.checks.at : '',
      nextAt: new Date(Date.parse(first.checks?.ran ? first.checks.at : '') + 24 * HOUR).toISOString(),
    });
    expect(subjects().at(-1)).toBe('Key rotation scan ok: 0 started, 0 failed, 0 deleted, 0 unmanaged stale');
  });

  it('a day later they run again: the same flaws are counted, not notified again', async () => {
    advanceHours(23);
    const r = await invoke();
    if (!r.checks?.ran) throw new Error('checks did not run');
    expect(r.checks.newHigh).toEqual([]);
    expect(r.checks.counts.high).toBe(first.checks?.ran ? first.checks.counts.high : -1);
    expect(subjects().at(-1)).toMatch(/, \d+ high findings$/);
    expect(subjects().at(-1)).not.toMatch(/NEW/);
  });

  it('a fixed flaw is forgotten; a new one, or the old one back, is notified once', async () => {
    // Fix: a trail that logs; swap FullAccess for PowerUser (also too broad, so a new finding).
    const ct = new CloudTrailClient(cloud.aws.adminClientConfig());
    await ct.send(
      new CreateTrailCommand({ Name: 'org', S3BucketName: 'trail-bucket', IsMultiRegionTrail: true }),
    );
    await ct.send(new StartLoggingCommand({ Name: 'org' }));
    ct.destroy();
    await iam.send(new DetachUserPolicyCommand({ UserName: 'jenkins-prod', PolicyArn: FULL_ACCESS }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'jenkins-prod', PolicyArn: POWER_USER }));
    advanceHours(24);
    const r = await invoke();
    if (!r.checks?.ran) throw new Error('checks did not run');
    const found = (s: ScanSummary['checks']) =>
      s?.ran ? s.newHigh.map((f) => `${f.check} ${f.resource.location ?? ''}`) : [];
    expect(found(r.checks).some((f) => f.includes('AmazonEC2ContainerRegistryPowerUser'))).toBe(true);
    expect(found(r.checks).some((f) => f.includes('AmazonEC2ContainerRegistryFullAccess'))).toBe(false);
    expect(r.checks.newHigh.map((f) => f.check)).not.toContain('no-cloudtrail');
    const saved = await stored();
    expect(Object.keys(saved.notified)).toHaveLength(r.checks.counts.high);

    // FullAccess back: notified again, since it was fixed in between.
    await iam.send(new AttachUserPolicyCommand({ UserName: 'jenkins-prod', PolicyArn: FULL_ACCESS }));
    advanceHours(24);
    const again = await invoke();
    expect(found(again.checks).some((f) => f.includes('AmazonEC2ContainerRegistryFullAccess'))).toBe(true);
    expect(found(again.checks).some((f) => f.includes('AmazonEC2ContainerRegistryPowerUser'))).toBe(false);
  });

  it('a state that cannot be read or written never fails the scan: the checks run and say so', async () => {
    advanceHours(24);
    state().faults.push({
      id: 'ssm-down',
      action: 'ssm:*',
      remaining: 100,
      error: { code: 'InternalServerError', status: 500 },
    });
    try {
      const r = await invoke();
      expect(r.failed).toEqual([]);
      if (!r.checks?.ran) throw new Error('checks did not run');
      expect(r.checks.stateError).toMatch(/^could not read the checks' state/);
      // Without the state every high finding counts as new: notified once more rather than missed.
      expect(r.checks.newHighCount).toBe(r.checks.counts.high);
      expect(r.notifications).toEqual([{ channel: 'sns', ok: true }]);
    } finally {
      state().faults = state().faults.filter((f) => f.id !== 'ssm-down');
    }
    // Back up: the next run (the state was not advanced by the failed save) runs again.
    const next = await invoke();
    expect(next.checks?.ran).toBe(true);
  });
});
