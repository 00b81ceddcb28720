import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';

/** The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header. */
export interface SigV4Header {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/;

export function parseAuthorization(header: string | undefined): SigV4Header | undefined {
  if (!header) return undefined;
  const m = AUTH_RE.exec(header.trim());
  if (!m) return undefined;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
  return {
    accessKeyId: accessKeyId!,
    date: date!,
    region: region!,
    service: service!,
    signedHeaders: signedHeaders!.split(';'),
    signature: signature!,
  };
}

/** SHA-256 (and, given a secret, HMAC-SHA256) from node:crypto, in the shape the SigV4 signer takes. */
class NodeSha256 implements Checksum {
  #hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.#hash = this.#fresh();
  }
  #fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key =
      typeof this.secret === 'string'
        ? this.secret
        : ArrayBuffer.isView(this.secret)
          ? Buffer.from(this.secret.buffer, this.secret.byteOffset, this.secret.byteLength)
          : Buffer.from(this.secret);
    return createHmac('sha256', key);
  }
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}

/** The query string as the signer takes it: decoded names and values, repeated names as lists. */
function queryOf(rawQuery: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const pair of rawQuery.split('&').filter(Boolean)) {
    const i = pair.indexOf('=');
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    const k = decode(i < 0 ? pair : pair.slice(0, i));
    const v = i < 0 ? '' : decode(pair.slice(i + 1));
    const seen = out[k];
    out[k] = seen === undefined ? v : [...(Array.isArray(seen) ? seen : [seen]), v];
  }
  return out;
}

export interface SignedRequest {
  method: string;
  /** Path and query as received, e.g. `/` or `/v2/?a=b`. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Computes the signature the client should have sent, had it signed with `secretAccessKey`: the request as
 * received (its signed headers only, its path, query and body, its `x-amz-date`) signed again by the AWS SDK's own
 * signer, @smithy/signature-v4, so that canonicalization is the SDK's, not a copy of it. S3 signs the path as sent
 * (and its payload hash is the `x-amz-content-sha256` header); every other service encodes the path once more.
 * Undefined when no signature can match (no valid `x-amz-date`, or a declared payload hash of another body).
 */
export async function expectedSignature(
  req: SignedRequest,
  auth: SigV4Header,
  secretAccessKey: string,
): Promise<string | undefined> {
  const signingDate = parseAmzDate(String(req.headers['x-amz-date'] ?? ''));
  if (!Number.isFinite(signingDate)) return undefined;
  // Every service but S3 signs the hash of the body it received; a declared hash of another body cannot match. S3
  // signs the declared hash, and checks it against the body itself (XAmzContentSHA256Mismatch).
  const declared = req.headers['x-amz-content-sha256'];
  if (
    auth.service !== 's3' &&
    typeof declared === 'string' &&
    declared !== createHash('sha256').update(req.body).digest('hex')
  )
    return undefined;
  const q = req.url.indexOf('?');
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const raw = req.headers[name];
    headers[name] = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey },
    region: auth.region,
    service: auth.service,
    sha256: NodeSha256,
    uriEscapePath: auth.service !== 's3',
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: headers['host'] ?? '',
      path: q < 0 ? req.url : req.url.slice(0, q),
      query: queryOf(q < 0 ? '' : req.url.slice(q + 1)),
      headers,
      body: req.body,
    },
    { signingDate: new Date(signingDate), signableHeaders: new Set(auth.signedHeaders) },
  );
  return /Signature=([0-9a-f]{64})$/.exec(String(signed.headers['authorization'] ?? ''))?.[1];
}

export async function signatureMatches(
  req: SignedRequest,
  auth: SigV4Header,
  secretAccessKey: string,
): Promise<boolean> {
  const signature = await expectedSignature(req, auth, secretAccessKey);
  if (signature === undefined) return false;
  const expected = Buffer.from(signature, 'hex');
  const given = Buffer.from(auth.signature, 'hex');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** `20261125T101500Z` -> epoch ms, or NaN. */
export function parseAmzDate(value: string | undefined): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}
