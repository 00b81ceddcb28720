import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { crc32 } from 'node:zlib';
import type { CallRecord } from '../calls';
import type { RawRequest, RawRoute } from './context';
import { AwsError } from './errors';
import { buildXml } from './protocols';
import { isAllowed, type AwsState, type Principal } from './state';

/**
 * Amazon S3, as much as the rotator needs: the scan writes its key report (PutObject), tests read it back
 * (GetObject, HeadObject) and create the bucket (CreateBucket). Path-style requests (`/<bucket>/<key>`, what the
 * SDK sends with `forcePathStyle`), SigV4-signed and verified like every other service (S3 signs the path as
 * sent), with the payload's SHA-256 (`x-amz-content-sha256`) and a CRC32 checksum (`x-amz-checksum-crc32`, the
 * SDK's default) checked against the body. Authorized with the caller's IAM permissions on
 * `arn:aws:s3:::<bucket>/<key>` (objects) or `arn:aws:s3:::<bucket>`; a bucket is its creator's account's.
 */

export interface S3Object {
  body: Buffer;
  contentType: string;
  cacheControl?: string;
  etag: string;
  /** Emulated-clock epoch ms. */
  lastModified: number;
  /** `x-amz-meta-*` headers, without the prefix. */
  metadata: Record<string, string>;
}

export interface S3Bucket {
  name: string;
  accountId: string;
  region: string;
  objects: Map<string, S3Object>;
}

/** The buckets of one emulator, kept beside its state. */
const stores = new WeakMap<AwsState, Map<string, S3Bucket>>();

export function s3Buckets(state: AwsState): Map<string, S3Bucket> {
  let buckets = stores.get(state);
  if (!buckets) stores.set(state, (buckets = new Map<string, S3Bucket>()));
  return buckets;
}

/** Creates a bucket directly (seeding, tests); the same as CreateBucket by an account's administrator. */
export function createBucket(state: AwsState, name: string, accountId = state.defaultAccountId): S3Bucket {
  const buckets = s3Buckets(state);
  const existing = buckets.get(name);
  if (existing) return existing;
  const bucket: S3Bucket = { name, accountId, region: state.defaultRegion, objects: new Map() };
  buckets.set(name, bucket);
  return bucket;
}

const BUCKET = /^\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

function sendError(
  res: ServerResponse,
  err: AwsError,
  requestId: string,
  extra: Record<string, string> = {},
  head = false,
): void {
  const body = buildXml(
    { Error: { Code: err.code, Message: err.message, ...extra, RequestId: requestId } },
    true,
  );
  res.writeHead(err.status, {
    'Content-Type': 'application/xml',
    'x-amz-request-id': requestId,
    ...(head ? {} : { 'Content-Length': Buffer.byteLength(body) }),
  });
  res.end(head ? undefined : body);
}

/** An error in S3's words: authenticate()'s (Query codes) translated, S3's own as they are. */
function s3AuthError(err: unknown): AwsError {
  if (!(err instanceof AwsError))
    return new AwsError('InternalError', 'We encountered an internal error.', 500);
  switch (err.code) {
    case 'MissingAuthenticationToken':
      return new AwsError('AccessDenied', 'Anonymous users cannot access this resource.', 403);
    case 'InvalidClientTokenId':
      return new AwsError(
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
        403,
      );
    case 'ExpiredToken':
      return new AwsError('ExpiredToken', 'The provided token has expired.', 400);
    default:
      return new AwsError(err.code, err.message, err.status);
  }
}

const denied = (p: Principal, action: string, resource: string) =>
  new AwsError(
    'AccessDenied',
    `User: ${p.arn} is not authorized to perform: ${action} on resource: "${resource}" because no identity-based policy allows the ${action} action`,
    403,
  );

/** The body is what was signed and checksummed: SHA-256 (x-amz-content-sha256) and CRC32 (x-amz-checksum-crc32). */
function checkPayload(req: IncomingMessage, body: Buffer): void {
  const encoding = String(req.headers['content-encoding'] ?? '');
  const declared = String(req.headers['x-amz-content-sha256'] ?? '');
  if (encoding.includes('aws-chunked') || declared.startsWith('STREAMING-'))
    throw new AwsError(
      'NotImplemented',
      'aws-chunked uploads are not emulated: send a body of known length',
      501,
    );
  if (
    declared &&
    declared !== 'UNSIGNED-PAYLOAD' &&
    declared !== createHash('sha256').update(body).digest('hex')
  )
    throw new AwsError(
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      400,
    );
  const crc = req.headers['x-amz-checksum-crc32'];
  if (typeof crc === 'string') {
    const actual = Buffer.alloc(4);
    actual.writeUInt32BE(crc32(body));
    if (actual.toString('base64') !== crc)
      throw new AwsError('BadDigest', 'The CRC32 you specified did not match the calculated checksum.', 400);
  }
}

const httpDate = (ms: number) => new Date(ms).toUTCString();

function objectHeaders(o: S3Object, requestId: string): Record<string, string | number> {
  return {
    'Content-Type': o.contentType,
    'Content-Length': o.body.length,
    ETag: o.etag,
    'Last-Modified': httpDate(o.lastModified),
    'x-amz-request-id': requestId,
    ...(o.cacheControl ? { 'Cache-Control': o.cacheControl } : {}),
    ...Object.fromEntries(Object.entries(o.metadata).map(([k, v]) => [`x-amz-meta-${k}`, v])),
  };
}

function serve(
  req: IncomingMessage,
  res: ServerResponse,
  state: AwsState,
  call: CallRecord,
  raw: RawRequest,
  requestId: string,
): void {
  const method = (req.method ?? 'GET').toUpperCase();
  const m = BUCKET.exec((req.url ?? '/').split('?')[0] ?? '/');
  const bucketName = m?.[1] ?? '';
  const key = m?.[2] ? decodeURIComponent(m[2]) : '';
  const { principal } = raw.authenticate('s3');
  call.caller = principal.arn;
  const authorize = (action: string, resource: string) => {
    if (!isAllowed(principal.permissions, action, resource, principal))
      throw denied(principal, action, resource);
  };
  const buckets = s3Buckets(state);
  const bucket = buckets.get(bucketName);
  const noBucket = () => new AwsError('NoSuchBucket', 'The specified bucket does not exist', 404);

  if (!key) {
    if (method !== 'PUT') throw new AwsError('NotImplemented', `${method} on a bucket is not emulated`, 501);
    authorize('s3:CreateBucket', `arn:aws:s3:::${bucketName}`);
    if (bucket)
      throw new AwsError(
        bucket.accountId === principal.accountId ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists',
        'The requested bucket name is not available.',
        409,
      );
    createBucket(state, bucketName, principal.accountId);
    res.writeHead(200, { Location: `/${bucketName}`, 'x-amz-request-id': requestId, 'Content-Length': 0 });
    return void res.end();
  }

  const arn = `arn:aws:s3:::${bucketName}/${key}`;
  if (method === 'PUT') {
    authorize('s3:PutObject', arn);
    // Another account's bucket: no bucket policy is emulated, so it is refused as AWS refuses it without one.
    if (!bucket) throw noBucket();
    if (bucket.accountId !== principal.accountId) throw denied(principal, 's3:PutObject', arn);
    checkPayload(req, raw.body);
    const metadata: Record<string, string> = {};
    for (const [h, v] of Object.entries(req.headers))
      if (h.startsWith('x-amz-meta-') && typeof v === 'string') metadata[h.slice('x-amz-meta-'.length)] = v;
    const etag = `"${createHash('md5').update(raw.body).digest('hex')}"`;
    const cacheControl = req.headers['cache-control'];
    bucket.objects.set(key, {
      body: Buffer.from(raw.body),
      contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
      ...(typeof cacheControl === 'string' ? { cacheControl } : {}),
      etag,
      lastModified: state.now(),
      metadata,
    });
    res.writeHead(200, { ETag: etag, 'x-amz-request-id': requestId, 'Content-Length': 0 });
    return void res.end();
  }
  if (method === 'GET' || method === 'HEAD') {
    authorize('s3:GetObject', arn);
    if (!bucket) throw noBucket();
    if (bucket.accountId !== principal.accountId) throw denied(principal, 's3:GetObject', arn);
    const o = bucket.objects.get(key);
    if (!o) throw new AwsError('NoSuchKey', 'The specified key does not exist.', 404);
    res.writeHead(200, objectHeaders(o, requestId));
    return void res.end(method === 'HEAD' ? undefined : o.body);
  }
  throw new AwsError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405);
}

/** Path-style S3 requests: `/<bucket>` and `/<bucket>/<key>` (the registry's `/v2/` and others match first). */
export const s3: RawRoute = {
  name: 's3',
  matches: (path) => BUCKET.test(path),
  handle: (req, res, state, call, raw) => {
    const requestId = state.newRequestId();
    try {
      serve(req, res, state, call, raw, requestId);
    } catch (err) {
      const e = s3AuthError(err);
      call.error = e.code;
      const m = BUCKET.exec((req.url ?? '/').split('?')[0] ?? '/');
      const extra: Record<string, string> =
        e.code === 'NoSuchKey' && m?.[2]
          ? { Key: decodeURIComponent(m[2]) }
          : e.code === 'NoSuchBucket'
            ? { BucketName: m?.[1] ?? '' }
            : {};
      sendError(res, e, requestId, extra, (req.method ?? '').toUpperCase() === 'HEAD');
    }
  },
  sendFault: (res, { code, message, status }) => {
    const c = code === 'Throttling' || code === 'ThrottlingException' ? 'SlowDown' : code;
    sendError(
      res,
      new AwsError(c, message ?? (c === 'SlowDown' ? 'Please reduce your request rate.' : c), status ?? 503),
      'fault',
    );
  },
};
