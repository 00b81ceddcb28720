import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, s3Buckets } from '../../localcloud/aws/s3';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws, type Creds } from '../support/aws';
import { userWithKey } from './users';

/** S3 in the AWS emulator, through the real S3 client (path-style, SigV4, the SDK's default CRC32 checksums). */
let aws: AwsEmulator;
let s3: S3Client;
const clients: S3Client[] = [];

const client = (creds: Creds) => {
  const c = new S3Client({ ...clientConfig(aws.url, creds), forcePathStyle: true });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  aws = await startAws();
  s3 = client(aws.admin);
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await aws.close();
});

describe('S3 buckets and objects', () => {
  it('CreateBucket makes a bucket of the caller’s account; a second time it is already owned', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'key-reports' }));
    expect(s3Buckets(aws.state).get('key-reports')?.accountId).toBe(aws.state.defaultAccountId);
    await expect(s3.send(new CreateBucketCommand({ Bucket: 'key-reports' }))).rejects.toMatchObject({
      name: 'BucketAlreadyOwnedByYou',
      $metadata: { httpStatusCode: 409 },
    });
  });

  it('PutObject stores the body with its type; GetObject and HeadObject give it back', async () => {
    const html = '<!DOCTYPE html><title>keys</title><p>AKIA… 120 days</p>';
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: 'key-reports',
        Key: 'key-rotator/key-report.html',
        Body: html,
        ContentType: 'text/html; charset=utf-8',
        CacheControl: 'no-cache',
        Metadata: { 'generated-by': 'test' },
      }),
    );
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    const got = await s3.send(
      new GetObjectCommand({ Bucket: 'key-reports', Key: 'key-rotator/key-report.html' }),
    );
    expect(await got.Body?.transformToString()).toBe(html);
    expect(got.ContentType).toBe('text/html; charset=utf-8');
    expect(got.CacheControl).toBe('no-cache');
    expect(got.ETag).toBe(put.ETag);
    expect(got.Metadata).toEqual({ 'generated-by': 'test' });
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: 'key-reports', Key: 'key-rotator/key-report.html' }),
    );
    expect(head.ContentLength).toBe(Buffer.byteLength(html));
  });

  it('signs keys with characters S3 encodes (a colon, a space) and overwrites an object', async () => {
    const Key = 'key-rotator/2026-05-30T10:15:00Z report.html';
    await s3.send(new PutObjectCommand({ Bucket: 'key-reports', Key, Body: 'one' }));
    await s3.send(new PutObjectCommand({ Bucket: 'key-reports', Key, Body: 'two' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'key-reports', Key }));
    expect(await got.Body?.transformToString()).toBe('two');
    expect(s3Buckets(aws.state).get('key-reports')?.objects.has(Key)).toBe(true);
  });

  it('answers NoSuchKey and NoSuchBucket as S3 does', async () => {
    await expect(
      s3.send(new GetObjectCommand({ Bucket: 'key-reports', Key: 'missing.html' })),
    ).rejects.toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    await expect(
      s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'a.html', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
    await expect(
      s3.send(new HeadObjectCommand({ Bucket: 'key-reports', Key: 'missing.html' })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });
});

describe('S3 authentication and authorization', () => {
  it('refuses a wrong secret and an unknown key id', async () => {
    const wrong = client({ accessKeyId: aws.admin.accessKeyId, secretAccessKey: 'x'.repeat(40) });
    await expect(
      wrong.send(new PutObjectCommand({ Bucket: 'key-reports', Key: 'a.html', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
    const unknown = client({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x'.repeat(40) });
    await expect(
      unknown.send(new GetObjectCommand({ Bucket: 'key-reports', Key: 'a.html' })),
    ).rejects.toMatchObject({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } });
  });

  it('grants s3:PutObject on a prefix and nothing else, as the scan role has it', async () => {
    const { creds } = userWithKey(aws, 'report-writer', {
      permissions: [
        { effect: 'Allow', actions: ['s3:PutObject'], resources: ['arn:aws:s3:::key-reports/key-rotator/*'] },
      ],
    });
    const writer = client(creds);
    await writer.send(new PutObjectCommand({ Bucket: 'key-reports', Key: 'key-rotator/r.html', Body: 'ok' }));
    expect(s3Buckets(aws.state).get('key-reports')?.objects.get('key-rotator/r.html')?.body.toString()).toBe(
      'ok',
    );
    await expect(
      writer.send(new PutObjectCommand({ Bucket: 'key-reports', Key: 'elsewhere/r.html', Body: 'no' })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining(
        's3:PutObject on resource: "arn:aws:s3:::key-reports/elsewhere/r.html"',
      ) as unknown,
    });
    await expect(
      writer.send(new GetObjectCommand({ Bucket: 'key-reports', Key: 'key-rotator/r.html' })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(s3Buckets(aws.state).get('key-reports')?.objects.has('elsewhere/r.html')).toBe(false);
  });

  it("refuses another account's bucket (no bucket policy is emulated)", async () => {
    createBucket(aws.state, 'other-account-reports', '444455556666');
    await expect(
      s3.send(new PutObjectCommand({ Bucket: 'other-account-reports', Key: 'a.html', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('checks the body against its checksum', async () => {
    // A CRC32 that does not match the body: what a corrupted upload looks like.
    await expect(
      s3.send(
        new PutObjectCommand({
          Bucket: 'key-reports',
          Key: 'corrupt.html',
          Body: 'the body',
          ChecksumCRC32: 'AAAAAA==',
        }),
      ),
    ).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
  });

  it('records each request and answers injected faults in S3’s shape', async () => {
    aws.state.faults.push({
      id: 's3-down',
      action: 's3:PUT /key-reports/*',
      remaining: 1,
      error: { code: 'ServiceUnavailable', message: 'injected by the test', status: 503 },
    });
    await expect(
      s3.send(new PutObjectCommand({ Bucket: 'key-reports', Key: 'f.html', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
    const calls = aws.state.calls.calls.filter((c) => c.point === 's3:PUT /key-reports/f.html');
    expect(calls.length).toBeGreaterThan(0);
  });
});
