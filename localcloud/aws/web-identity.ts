import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { rootCertificates } from 'node:tls';
import { AwsError } from './errors';
import type { AwsState, OidcProviderRecord } from './state';

/**
 * OpenID Connect ID tokens as STS checks them for AssumeRoleWithWebIdentity: a JWT whose signature verifies with
 * a key of its issuer's JWKS (found through `<iss>/.well-known/openid-configuration`, fetched over HTTP and
 * cached briefly), whose claims are current on the emulator's clock. Errors carry STS's codes and, where AWS's
 * wording is known, its words.
 */

/** The claims STS reads from an ID token. */
export interface IdTokenClaims {
  iss: string;
  sub: string;
  /** One audience or several. */
  aud: string[];
  /** Seconds since the epoch. */
  exp: number;
  iat: number;
  nbf?: number;
  amr?: string[];
  [claim: string]: unknown;
}

export interface DecodedToken {
  header: { alg: string; kid?: string; typ?: string };
  claims: IdTokenClaims;
  signingInput: string;
  signature: Buffer;
}

/** How long a fetched JWKS is trusted before it is fetched again (real time: it is about the network). */
export const JWKS_CACHE_MS = 60_000;
const FETCH_TIMEOUT_MS = 5_000;
/** Clock skew allowed for `nbf` and `iat`, as verifiers commonly allow: `exp` itself gets none. */
const SKEW_S = 300;

/** The signature algorithms STS accepts for OIDC tokens, as node:crypto verifies them. */
const ALGORITHMS: Record<string, { hash: string; kty: 'RSA' | 'EC'; ieee?: true }> = {
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  ES256: { hash: 'sha256', kty: 'EC', ieee: true },
  ES384: { hash: 'sha384', kty: 'EC', ieee: true },
  ES512: { hash: 'sha512', kty: 'EC', ieee: true },
};

export const invalidToken = (message: string) => new AwsError('InvalidIdentityToken', message, 400);
const notAJwt = () =>
  invalidToken(
    'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)',
  );
/** AWS's answer when the issuer's keys cannot be had or do not fit the token. */
const noVerificationKey = () =>
  invalidToken(
    "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
  );

function b64json(part: string): unknown {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw notAJwt();
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw notAJwt();
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Decodes a compact JWS without trusting it: its header, claims (the ones STS needs present) and signature. */
export function decodeToken(token: string): DecodedToken {
  const parts = token.split('.');
  if (parts.length !== 3) throw notAJwt();
  const [h, p, s] = parts as [string, string, string];
  const header = b64json(h);
  const payload = b64json(p);
  if (!isRecord(header) || !isRecord(payload) || !/^[A-Za-z0-9_-]*$/.test(s)) throw notAJwt();
  const alg = header['alg'];
  if (typeof alg !== 'string' || !ALGORITHMS[alg])
    throw invalidToken(
      `The token is signed with ${JSON.stringify(alg)}; STS accepts ${Object.keys(ALGORITHMS).join(', ')}.`,
    );
  const kid = header['kid'];
  const claim = (name: string) => {
    if (payload[name] === undefined) throw invalidToken(`The ID Token has no '${name}' claim.`);
    return payload[name];
  };
  const iss = claim('iss');
  const sub = claim('sub');
  const audRaw = claim('aud');
  const aud = typeof audRaw === 'string' ? [audRaw] : audRaw;
  const exp = claim('exp');
  const iat = claim('iat');
  const nbf = payload['nbf'];
  const amrRaw = payload['amr'];
  if (
    typeof iss !== 'string' ||
    typeof sub !== 'string' ||
    !Array.isArray(aud) ||
    !aud.every((a) => typeof a === 'string') ||
    typeof exp !== 'number' ||
    typeof iat !== 'number' ||
    (nbf !== undefined && typeof nbf !== 'number')
  )
    throw notAJwt();
  const amr =
    typeof amrRaw === 'string'
      ? [amrRaw]
      : Array.isArray(amrRaw)
        ? amrRaw.filter((x): x is string => typeof x === 'string')
        : undefined;
  return {
    header: { alg, ...(typeof kid === 'string' ? { kid } : {}) },
    claims: {
      ...payload,
      iss,
      sub,
      aud,
      exp,
      iat,
      ...(nbf === undefined ? {} : { nbf }),
      ...(amr ? { amr } : {}),
    },
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

// ---- the issuer's keys -------------------------------------------------------------------------------------------

interface CachedKeys {
  keys: JsonWebKey[];
  fetchedAt: number;
}

/** Fetched JWKS per emulator, by issuer URL. */
const caches = new WeakMap<AwsState, Map<string, CachedKeys>>();

/** What went wrong reaching the issuer: its network (IDPCommunicationError) or its answer (no key). */
class IssuerError extends Error {
  constructor(
    message: string,
    readonly unreachable: boolean,
  ) {
    super(message);
  }
}

/** Only the local cloud's loopback issuers may be reached over plain http (see iam-oidc.ts). */
function checkFetchUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new IssuerError(`not a URL: ${url}`, false);
  }
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && local))
    throw new IssuerError(`${url} is not an https URL`, false);
}

/** The largest discovery document or JWKS read (real ones are a few KB). */
const MAX_BODY = 1 << 20;

/**
 * GETs `url` as JSON: https with Node's CAs and the emulator's `trustedCaPem`, no redirects, a timeout. What the
 * network refuses, times out or answers 5xx is `unreachable`; any other non-200 or non-JSON answer is not.
 */
function fetchJson(state: AwsState, url: string): Promise<unknown> {
  checkFetchUrl(url);
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  const ca = state.trustedCaPem.length ? [...rootCertificates, ...state.trustedCaPem] : undefined;
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: FETCH_TIMEOUT_MS, ...(ca ? { ca } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY)
          req.destroy(new IssuerError(`${url} answered more than ${MAX_BODY} bytes`, false));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (status >= 500) return reject(new IssuerError(`${url} answered HTTP ${status}`, true));
        if (status !== 200) return reject(new IssuerError(`${url} answered HTTP ${status}`, false));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new IssuerError(`${url} did not answer JSON`, false));
        }
      });
      res.on('error', (err) => reject(new IssuerError(`could not reach ${url}: ${err.message}`, true)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', (err) =>
      reject(
        err instanceof IssuerError ? err : new IssuerError(`could not reach ${url}: ${err.message}`, true),
      ),
    );
  });
}

async function fetchKeys(state: AwsState, issuer: string): Promise<JsonWebKey[]> {
  const discovery = await fetchJson(state, `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  const jwksUri = isRecord(discovery) ? discovery['jwks_uri'] : undefined;
  if (typeof jwksUri !== 'string') throw new IssuerError('the discovery document has no jwks_uri', false);
  const jwks = await fetchJson(state, jwksUri);
  const keys = isRecord(jwks) ? jwks['keys'] : undefined;
  if (!Array.isArray(keys)) throw new IssuerError(`${jwksUri} holds no "keys" list`, false);
  return keys.filter(isRecord);
}

/**
 * The issuer's keys, from the cache while fresh. `refresh` fetches them again (a `kid` the cached set lacks: the
 * issuer may have rotated its keys).
 */
async function issuerKeys(state: AwsState, issuer: string, refresh: boolean): Promise<JsonWebKey[]> {
  let cache = caches.get(state);
  if (!cache) caches.set(state, (cache = new Map<string, CachedKeys>()));
  const cached = cache.get(issuer);
  if (cached && !refresh && Date.now() - cached.fetchedAt < JWKS_CACHE_MS) return cached.keys;
  const keys = await fetchKeys(state, issuer);
  cache.set(issuer, { keys, fetchedAt: Date.now() });
  return keys;
}

function keyFor(keys: JsonWebKey[], token: DecodedToken): JsonWebKey | undefined {
  const { kty } = ALGORITHMS[token.header.alg]!;
  const usable = keys.filter(
    (k) =>
      k.kty === kty &&
      (k['use'] === undefined || k['use'] === 'sig') &&
      (!k['alg'] || k['alg'] === token.header.alg),
  );
  if (token.header.kid !== undefined) return usable.find((k) => k['kid'] === token.header.kid);
  // Without a kid, a token can only name the issuer's one key.
  return usable.length === 1 ? usable[0] : undefined;
}

/**
 * Verifies the token's signature with its issuer's key (the issuer being `provider`'s URL). An issuer that cannot
 * be reached (network error, timeout, 5xx) is IDPCommunicationError; one whose answer holds no key for the token,
 * and a signature that does not verify, are InvalidIdentityToken.
 */
export async function verifySignature(
  state: AwsState,
  provider: OidcProviderRecord,
  token: DecodedToken,
): Promise<void> {
  let key: JsonWebKey | undefined;
  try {
    key = keyFor(await issuerKeys(state, provider.url, false), token);
    if (!key) key = keyFor(await issuerKeys(state, provider.url, true), token);
  } catch (err) {
    if (!(err instanceof IssuerError)) throw err;
    if (err.unreachable)
      throw new AwsError(
        'IDPCommunicationError',
        `The identity provider ${provider.url} could not be reached: ${err.message}`,
        400,
      );
    throw noVerificationKey();
  }
  if (!key) throw noVerificationKey();
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key, format: 'jwk' });
  } catch {
    throw noVerificationKey();
  }
  const { hash, ieee } = ALGORITHMS[token.header.alg]!;
  const ok = verify(
    hash,
    Buffer.from(token.signingInput),
    ieee ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : publicKey,
    token.signature,
  );
  if (!ok) throw invalidToken('The web identity token signature could not be verified.');
}

/**
 * The token's times against the emulator's clock: expired (`exp` passed) is ExpiredTokenException in AWS's
 * words; not yet valid (`nbf`) or issued in the future (`iat`), beyond a 5-minute skew, is InvalidIdentityToken.
 */
export function checkTimes(claims: IdTokenClaims, nowMs: number): void {
  const now = Math.floor(nowMs / 1000);
  if (now >= claims.exp)
    throw new AwsError(
      'ExpiredTokenException',
      `Token expired: current date/time ${now} must be before the expiration date/time ${claims.exp}`,
      400,
    );
  if (claims.nbf !== undefined && now + SKEW_S < claims.nbf)
    throw invalidToken(`The token is not valid before ${claims.nbf} (current date/time ${now}).`);
  if (now + SKEW_S < claims.iat)
    throw invalidToken(`The token was issued in the future: iat ${claims.iat}, current date/time ${now}.`);
}
