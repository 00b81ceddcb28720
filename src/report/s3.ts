import { clientSettings } from '../aws/clients';
import type { Composition } from '../compose';
import { messageOf } from '../domain/errors';
import type { ReportUpload, ScanOptions, ScanReportInput } from '../scan';
import { collectKeyReport } from './collect';
import { renderReportHtml } from './html';

/** Where the scan writes its key report: `<prefix>key-report.html`, and its data as `<prefix>key-report.json`. */
export interface ReportDestination {
  bucket: string;
  /** Empty, or a key prefix such as `key-rotator/` (the scan role may write under it only). */
  prefix: string;
}

export const REPORT_OBJECT = 'key-report.html';
export const REPORT_DATA_OBJECT = 'key-report.json';

/** An S3 bucket name (the rules for buckets created since 2018: lower case, digits, dots and hyphens). */
const BUCKET = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The destination from REPORT_BUCKET and REPORT_PREFIX; undefined when no bucket is set. Throws on a bad value. */
export function reportDestination(env: NodeJS.ProcessEnv): ReportDestination | undefined {
  const bucket = env['REPORT_BUCKET']?.trim();
  if (!bucket) return undefined;
  if (!BUCKET.test(bucket))
    throw new Error(`REPORT_BUCKET "${bucket}" is not an S3 bucket name (the reportBucket parameter)`);
  const prefix = env['REPORT_PREFIX']?.trim() ?? '';
  if (prefix.startsWith('/') || prefix.includes('*'))
    throw new Error(
      `REPORT_PREFIX "${prefix}" must be a key prefix such as key-rotator/ (no leading / and no *; the reportPrefix parameter)`,
    );
  return { bucket, prefix };
}

/**
 * The scan's report stage: builds the key report from what the scan leaves (its inventory and secret states, the
 * checks' report when they ran), reads each managed key's secret versions for the history, and puts the page and
 * its data in S3 (s3:PutObject only; the client is loaded on first use, so a scan without a bucket never loads
 * it). Never throws: a failure is the result's `error`.
 */
export function s3ReportWriter(
  dest: ReportDestination,
  generator = 'jenkins-key-rotator (scheduled scan)',
): NonNullable<ScanOptions['report']> {
  return async (composition: Composition, input: ScanReportInput): Promise<ReportUpload> => {
    const key = `${dest.prefix}${REPORT_OBJECT}`;
    const location = `s3://${dest.bucket}/${key}`;
    try {
      const report = await collectKeyReport(composition, {
        inventory: input.inventory,
        states: input.states,
        checkReport: input.checks,
        clock: input.clock,
        ...(input.log ? { log: input.log } : {}),
      });
      const html = renderReportHtml(report, { generator });
      const { PutObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
      const setup = composition.clients.setup;
      const s3 = new S3Client({
        ...clientSettings(setup),
        // A bucket in another Region answers with a redirect; an endpoint of our own (the local cloud) is path-style.
        followRegionRedirects: true,
        ...(setup.endpoint ? { forcePathStyle: true } : {}),
      });
      try {
        await s3.send(
          new PutObjectCommand({
            Bucket: dest.bucket,
            Key: key,
            Body: html,
            ContentType: 'text/html; charset=utf-8',
            CacheControl: 'no-cache',
          }),
        );
        await s3.send(
          new PutObjectCommand({
            Bucket: dest.bucket,
            Key: `${dest.prefix}${REPORT_DATA_OBJECT}`,
            Body: JSON.stringify(report),
            ContentType: 'application/json',
            CacheControl: 'no-cache',
          }),
        );
      } finally {
        s3.destroy();
      }
      input.log?.info('key report written', { location, bytes: Buffer.byteLength(html) });
      return { ok: true, location, bytes: Buffer.byteLength(html) };
    } catch (err) {
      input.log?.warn('the key report could not be written', { location, error: messageOf(err) });
      return { ok: false, location, error: messageOf(err) };
    }
  };
}
