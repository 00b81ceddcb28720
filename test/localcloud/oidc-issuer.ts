import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** A signing key of a test issuer: its private half and its public JWK (with `kid`). */
export interface IssuerKey {
  kid: string;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

export function rsaKey(kid: string): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An RS256 JWT of these claims, signed with `key` (header `kid` = the key's, unless `kid` overrides it). */
export function signJwt(
  key: IssuerKey,
  claims: Record<string, unknown>,
  kid: string | null = key.kid,
): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(kid === null ? {} : { kid }) };
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/**
 * A tiny OpenID Connect issuer on 127.0.0.1 (`<url>/oidc`), serving its discovery document and JWKS the way the
 * Jenkins oidc-provider plugin does (over https with `tls`), and counting the requests it gets.
 */
export interface TestIssuer {
  /** The issuer URL: what tokens carry as `iss`. */
  url: string;
  keys: IssuerKey[];
  /** Requests served, by path. */
  hits: Map<string, number>;
  /** Answers every request with this status while set (an issuer in trouble). */
  failWith?: number;
  /** Claims for a token of this issuer, valid for an hour from `nowMs` (the AWS emulator's clock). */
  claims(nowMs: number, extra?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startIssuer(
  keys: IssuerKey[] = [rsaKey('key-1')],
  tls?: { key: string; cert: string },
): Promise<TestIssuer> {
  const issuer: TestIssuer = {
    url: '',
    keys,
    hits: new Map(),
    claims: (nowMs, extra = {}) => {
      const now = Math.floor(nowMs / 1000);
      return {
        iss: issuer.url,
        sub: 'job/team-a/deploy',
        aud: 'sts.amazonaws.com',
        iat: now,
        nbf: now,
        exp: now + 3600,
        build_number: 42,
        ...extra,
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    issuer.hits.set(path, (issuer.hits.get(path) ?? 0) + 1);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (issuer.failWith) return json(issuer.failWith, { error: 'unavailable' });
    if (path === '/oidc/.well-known/openid-configuration')
      return json(200, {
        issuer: issuer.url,
        jwks_uri: `${issuer.url}/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    if (path === '/oidc/jwks') return json(200, { keys: issuer.keys.map((k) => k.jwk) });
    json(404, { error: 'not found' });
  };
  const server: Server = tls ? createHttpsServer(tls, handle) : createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/oidc`;
  return issuer;
}

/** A URL on 127.0.0.1 where nothing listens (a port taken, then released). */
export async function unreachableUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/oidc`;
}
