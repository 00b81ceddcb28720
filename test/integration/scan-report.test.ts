import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createScanHandler, METRICS_NAMESPACE } from '../../handlers/scan';
import { createBucket, s3Buckets } from '../../localcloud/aws/s3';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { LOCAL_ROTATE_LAMBDA_ARN, wireRotationHook } from '../../localcloud/wire';
import { seedDemo } from '../../scripts/demo-seed';
import { createLogger } from '../../src/observability/logger';
import type { KeyReport } from '../../src/report/model';
import { reportDestination, s3ReportWriter } from '../../src/report/s3';
import { summaryText, type ScanOptions, type ScanSummary } from '../../src/scan';
import { captureOutput, type Capture } from '../support/capture';
import { lambdaContext } from '../support/rotator';

/**
 * The scheduled scan writes the key report to S3 each run (the reportBucket parameter): the page and its data,
 * under the prefix, built from what the scan leaves, with the findings of the checks it ran. A failed upload is in
 * the summary and its text, and fails neither the rotation it started nor the scan.
 */
const BUCKET = 'key-reports';
let cloud: LocalCloud;
let capture: Capture;
let s3: S3Client;

async function scan(report: ScanOptions['report']): Promise<ScanSummary> {
  const { config } = await seedDemo(cloud);
  const logger = createLogger('scan-report-test', 'SILENT');
  const { composition } = wireRotationHook(cloud, config, logger, LOCAL_ROTATE_LAMBDA_ARN);
  const handler = createScanHandler({
    composition: () => Promise.resolve(composition),
    logger,
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'scan-report-test' }),
    rotationLambdaArn: LOCAL_ROTATE_LAMBDA_ARN,
    // The scan and the hook share this composition, so the scan's IAM rate paces the rotation it starts too; the
    // checks then read Jenkins while that rotation is mid-way. A rate far above the calls made keeps this test about
    // the report (the race between the checks and a rotation the scan just started is the checks' to handle).
    options: { ...(report ? { report } : {}), fleet: { iamCallsPerSecond: 100 } },
  });
  const summary = await handler({ source: 'aws.events' }, lambdaContext(900_000));
  // Let the rotation the scan started finish before the cloud goes.
  while (cloud.aws.state.rotations.some((r) => r.status === 'running'))
    await new Promise((r) => setTimeout(r, 50));
  return summary;
}

const object = async (key: string) =>
  (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body?.transformToString();

beforeEach(async () => {
  capture = captureOutput();
  cloud = await startLocalCloud();
  createBucket(cloud.aws.state, BUCKET);
  s3 = new S3Client({ ...cloud.aws.adminClientConfig(), forcePathStyle: true });
});

afterEach(async () => {
  s3.destroy();
  await cloud.close();
  capture.stop();
});

describe('the scan writes the key report to S3', () => {
  it('puts the page and its data under the prefix, with the findings of the checks it ran', async () => {
    const summary = await scan(s3ReportWriter({ bucket: BUCKET, prefix: 'key-rotator/' }));
    expect(summary.started.map((x) => x.key)).toEqual(['prod-ecr-push']);
    expect(summary.report).toEqual({
      ok: true,
      location: `s3://${BUCKET}/key-rotator/key-report.html`,
      bytes: expect.any(Number) as unknown,
    });
    expect(summaryText(summary)).toContain(`Key report: s3://${BUCKET}/key-rotator/key-report.html`);
    const page = (await object('key-rotator/key-report.html')) ?? '';
    expect(Buffer.byteLength(page)).toBe(summary.report?.bytes);
    const data = JSON.parse((await object('key-rotator/key-report.json')) ?? '{}') as KeyReport;
    expect(data.format).toBe('jenkins-key-rotator/key-report');
    // Every key of the account at the time of the report, in the page too.
    expect(data.keys.length).toBeGreaterThanOrEqual(3);
    for (const k of data.keys) expect(page).toContain(`<th scope="row" class="mono">${k.accessKeyId}</th>`);
    expect(data.histories.map((h) => h.key)).toEqual(['prod-ecr-push', 'dev-ecr-push']);
    // The checks ran in this scan: their findings are in the report.
    expect(data.checks.ran).toBe(true);
    expect(data.counts.findings).toBe(3);
    expect(
      s3Buckets(cloud.aws.state).get(BUCKET)?.objects.get('key-rotator/key-report.html')?.contentType,
    ).toBe('text/html; charset=utf-8');
    for (const k of cloud.aws.state.accessKeys.values())
      expect(page + JSON.stringify(data)).not.toContain(k.secretAccessKey);
  });

  it('a failed upload is in the summary; the rotation is started and the scan does not fail', async () => {
    cloud.aws.state.faults.push({
      id: 's3-down',
      action: `s3:PUT /${BUCKET}/*`,
      remaining: 10,
      error: { code: 'ServiceUnavailable', message: 'injected by the test', status: 503 },
    });
    const summary = await scan(s3ReportWriter({ bucket: BUCKET, prefix: 'key-rotator/' }));
    expect(summary.started.map((x) => x.key)).toEqual(['prod-ecr-push']);
    expect(summary.failed).toEqual([]);
    expect(summary.report).toMatchObject({
      ok: false,
      location: `s3://${BUCKET}/key-rotator/key-report.html`,
      error: expect.stringContaining('injected by the test') as unknown,
    });
    expect(summaryText(summary)).toMatch(
      /Key report NOT written to s3:\/\/key-reports\/key-rotator\/key-report\.html: /,
    );
    expect(s3Buckets(cloud.aws.state).get(BUCKET)?.objects.size).toBe(0);
  });

  it('without a bucket there is no report and no S3 call', async () => {
    const summary = await scan(undefined);
    expect(summary.report).toBeUndefined();
    expect(cloud.aws.state.calls.calls.filter((c) => c.point.startsWith('s3:'))).toEqual([]);
  });
});

describe('REPORT_BUCKET and REPORT_PREFIX', () => {
  it('name the destination; nothing without a bucket; a bad value is an error naming it', () => {
    expect(reportDestination({})).toBeUndefined();
    expect(reportDestination({ REPORT_BUCKET: '', REPORT_PREFIX: 'key-rotator/' })).toBeUndefined();
    expect(reportDestination({ REPORT_BUCKET: 'team-reports', REPORT_PREFIX: 'key-rotator/' })).toEqual({
      bucket: 'team-reports',
      prefix: 'key-rotator/',
    });
    expect(() => reportDestination({ REPORT_BUCKET: 'Team_Reports' })).toThrow(
      'REPORT_BUCKET "Team_Reports" is not an S3 bucket name',
    );
    expect(() => reportDestination({ REPORT_BUCKET: 'team-reports', REPORT_PREFIX: '/abs/' })).toThrow(
      /REPORT_PREFIX "\/abs\/" must be a key prefix/,
    );
  });
});
