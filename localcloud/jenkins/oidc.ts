/**
 * The OpenID Connect Provider plugin (`oidc-provider`, io.jenkins.plugins.oidc_provider): the key pair of an ID-token
 * credential, the issuers (Jenkins itself and each folder with ID-token credentials), their discovery and JWKS
 * documents, and the ID tokens builds get. README: "OpenID Connect Provider", with the sources each rule was read from.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { credentialId, type Credential } from './credentials';
import { loadPrivateKey } from './oidc-keys';
import { itemUrl, type Folder, type JenkinsState } from './state';

export const OIDC_PLUGIN = 'oidc-provider';
/** Keys.URL_NAME, WELL_KNOWN_OPENID_CONFIGURATION, JWKS */
export const OIDC_URL_NAME = 'oidc';
export const WELL_KNOWN = '/.well-known/openid-configuration';
export const JWKS_SUFFIX = '/jwks';

// --- public keys ---------------------------------------------------------------------------------------------------

/** BigInteger.toByteArray: two's complement, so a leading 0x00 when the top bit is set (every RSA 2048 modulus). */
function javaUnsigned(b64url: string): string {
  const bytes = Buffer.from(b64url, 'base64url');
  const first = bytes[0] ?? 0;
  return (first >= 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes).toString('base64url');
}

export interface Jwk {
  kid: string;
  kty: 'RSA';
  alg: 'RS256';
  use: 'sig';
  n: string;
  e: string;
}

/** Keys.key: the public key of a credential, `kid` its id; `n` and `e` as BigInteger.toByteArray, base64url. */
export function jwkOf(c: Credential): Jwk {
  const pub = createPublicKey(loadPrivateKey(stringField(c, 'privateKey'))).export({ format: 'jwk' });
  return {
    kid: credentialId(c) ?? '',
    kty: 'RSA',
    alg: 'RS256',
    use: 'sig',
    n: javaUnsigned(pub.n ?? ''),
    e: javaUnsigned(pub.e ?? ''),
  };
}

const stringField = (c: Credential, name: string): string | undefined => {
  const v = c.values[name];
  return typeof v === 'string' ? v : undefined;
};

export const isIdTokenCredential = (c: Credential): boolean =>
  c.cls.kind === 'idToken' || c.cls.kind === 'idTokenFile';

/** The issuer override (`issuer`): null unless set; "" stays "" (the XML path bypasses the setter's fixEmpty). */
export const issuerOverride = (c: Credential): string | undefined => stringField(c, 'issuer');
export const audienceOf = (c: Credential): string | undefined => stringField(c, 'audience');

// --- issuers ------------------------------------------------------------------------------------------------------

/** RootIssuer (the folder is the root) or FolderIssuer. */
export interface Issuer {
  folder: Folder;
  /** '' for the root, `/job/a/job/b` for a folder (FolderIssuer.uri: the folder's URL with a leading slash). */
  uri: string;
}

export const rootIssuer = (state: JenkinsState): Issuer => ({ folder: state.root, uri: '' });

export const issuerOfFolder = (state: JenkinsState, folder: Folder): Issuer => ({
  folder,
  uri: folder === state.root ? '' : itemUrl(folder).replace(/\/$/, ''),
});

/** Issuer.url: Jenkins' root URL + `oidc` + uri. */
export const issuerUrl = (state: JenkinsState, issuer: Issuer): string =>
  `${state.rootUrl}${OIDC_URL_NAME}${issuer.uri}`;

/**
 * Issuer.credentials: the ID-token credentials of the issuer's own store (nothing inherited), global domain only,
 * the first of each id.
 */
export function issuerCredentials(issuer: Issuer): Credential[] {
  const out = new Map<string, Credential>();
  for (const c of issuer.folder.store.domains.get('_')?.credentials ?? []) {
    const id = credentialId(c);
    if (isIdTokenCredential(c) && id !== undefined && !out.has(id)) out.set(id, c);
  }
  return [...out.values()];
}

/**
 * Issuer.Factory.forUri: '' is the root; `(/job/NAME)+` a folder (names percent-decoded), which must then have exactly
 * that URI (Keys.findIssuer compares). Jobs and missing items are no issuer.
 */
export function issuerForUri(state: JenkinsState, uri: string): Issuer | undefined {
  if (uri === '') return rootIssuer(state);
  if (!/^(\/job\/[^/]+)+$/.test(uri)) return undefined;
  let path: string;
  try {
    path = uri
      .slice('/job/'.length)
      .split('/job/')
      .map((n) => decodeURIComponent(n))
      .join('/');
  } catch {
    return undefined;
  }
  const folder = state.folder(path);
  if (!folder || folder === state.root) return undefined;
  const issuer = issuerOfFolder(state, folder);
  return issuer.uri === uri ? issuer : undefined;
}

/** Keys.findIssuer: an issuer is advertised only while it has a credential without an issuer override. */
export const advertised = (issuer: Issuer): boolean =>
  issuerCredentials(issuer).some((c) => issuerOverride(c) === undefined);

/** Keys.openidConfiguration, in json-lib's insertion order. */
export function openidConfiguration(issuer: string | null): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${String(issuer)}${JWKS_SUFFIX}`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    authorization_endpoint: 'https://unimplemented',
    token_endpoint: 'https://unimplemented',
  };
}

/** Keys.doDynamic's JWKS: the keys of the issuer's credentials that are served from it (no issuer override). */
export const jwksOf = (issuer: Issuer): { keys: Jwk[] } => ({
  keys: issuerCredentials(issuer)
    .filter((c) => issuerOverride(c) === undefined)
    .map(jwkOf),
});

// --- tokens -------------------------------------------------------------------------------------------------------

export type ClaimType = 'string' | 'boolean' | 'integer';

/** io.jenkins.plugins.oidc_provider.config.ClaimTemplate */
export interface ClaimTemplate {
  name: string;
  /** Build variables substituted as Util.replaceMacro does (`${NAME}` or `$NAME`). */
  format: string;
  type: ClaimType;
}

/** IdTokenConfiguration (Manage Jenkins » Security » OpenID Connect; JCasC `security.idToken`). */
export interface IdTokenConfiguration {
  /** Seconds a token is valid; default 3600. */
  tokenLifetime: number;
  /** Claims of every token; default none. */
  claimTemplates: ClaimTemplate[];
  /** Claims of tokens used in builds; default `sub` = `${JOB_URL}`, `build_number` = `${BUILD_NUMBER}` (integer). */
  buildClaimTemplates: ClaimTemplate[];
}

export const DEFAULT_BUILD_CLAIM_TEMPLATES: readonly ClaimTemplate[] = [
  { name: 'sub', format: '${JOB_URL}', type: 'string' },
  { name: 'build_number', format: '${BUILD_NUMBER}', type: 'integer' },
];

export const defaultIdTokenConfiguration = (): IdTokenConfiguration => ({
  tokenLifetime: 3600,
  claimTemplates: [],
  buildClaimTemplates: [...DEFAULT_BUILD_CLAIM_TEMPLATES],
});

/** IdTokenCredentials.STANDARD_CLAIMS: what a claim template may not set. */
export const STANDARD_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'acr',
  'amr',
  'azp',
  'nbf',
  'jti',
]);

/** Why a token could not be made, as the exception Jenkins would fail the build with. */
export class IdTokenError extends Error {
  override readonly name = 'IdTokenError';
}

/** hudson.Util.replaceMacro: `$NAME` and `${NAME}` of known variables replaced, others left as they are. */
export function replaceMacro(format: string, env: Readonly<Record<string, string>>): string {
  return format.replace(/\$([A-Za-z0-9_]+|\{[A-Za-z0-9_.]+\})/g, (whole, ref: string) => {
    const name = ref.startsWith('{') ? ref.slice(1, -1) : ref;
    return Object.hasOwn(env, name) ? (env[name] ?? whole) : whole;
  });
}

function claimValue(t: ClaimTemplate, text: string): string | number | boolean {
  switch (t.type) {
    case 'string':
      return text;
    case 'boolean':
      // Boolean.valueOf
      return text.toLowerCase() === 'true';
    case 'integer': {
      // Integer.valueOf
      const n = /^[-+]?\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647)
        throw new IdTokenError(`java.lang.NumberFormatException: For input string: "${text}"`);
      return n;
    }
  }
}

export interface IdToken {
  /** The compact JWS; a bearer secret for its lifetime: never log it. */
  token: string;
  header: Record<string, string>;
  claims: Record<string, string | number | boolean>;
}

/**
 * IdTokenCredentials.token() for a build: header `kid` = the credential id, RS256; `iss` (the override, or the issuer
 * the credential was found in), `aud` when set, `exp` = now + tokenLifetime, `iat`, then the general and the
 * build-scoped claim templates over the build's variables. Throws IdTokenError as the plugin fails.
 */
export function buildIdToken(opts: {
  credential: Credential;
  issuer: string;
  env: Readonly<Record<string, string>>;
  config: IdTokenConfiguration;
  now?: number;
}): IdToken {
  const { credential, config } = opts;
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  const claims: Record<string, string | number | boolean> = { iss: opts.issuer };
  const audience = audienceOf(credential);
  if (audience !== undefined) claims['aud'] = audience;
  claims['exp'] = now + config.tokenLifetime;
  claims['iat'] = now;
  let definedSub = false;
  for (const t of [...config.claimTemplates, ...config.buildClaimTemplates]) {
    if (STANDARD_CLAIMS.has(t.name))
      throw new IdTokenError(
        `java.lang.SecurityException: An id token claim template must not specify ${t.name}`,
      );
    if (t.name === 'sub') definedSub = true;
    const formatted = replaceMacro(t.format, opts.env);
    if (formatted.includes('${'))
      throw new IdTokenError(`java.lang.RuntimeException: Apparently unsubstituted claims: ${formatted}`);
    claims[t.name] = claimValue(t, formatted);
  }
  if (!definedSub)
    throw new IdTokenError('java.lang.SecurityException: An id token claim template must specify sub');
  const header = { typ: 'JWT', kid: credentialId(credential) ?? '', alg: 'RS256' };
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o), 'utf8').toString('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  let key: KeyObject;
  try {
    key = loadPrivateKey(stringField(credential, 'privateKey'));
  } catch (err) {
    throw new IdTokenError(err instanceof Error ? err.message : String(err));
  }
  const signature = sign('sha256', Buffer.from(input, 'utf8'), key).toString('base64url');
  return { token: `${input}.${signature}`, header, claims };
}

/**
 * IdTokenCredentials.findIssuer for a build: the issuer whose own store holds the credential, i.e. the store the
 * binding found it in, provided it sits in that store's global domain; otherwise no issuer serves it and the plugin
 * throws IllegalStateException.
 */
export function issuerForBuild(
  state: JenkinsState,
  credential: Credential,
  foundIn: Folder,
  build: { job: string; number: number },
): string {
  const override = issuerOverride(credential);
  if (override !== undefined) return override;
  const issuer = issuerOfFolder(state, foundIn);
  if (!issuerCredentials(issuer).includes(credential))
    throw new IdTokenError(
      `java.lang.IllegalStateException: Could not find issuer corresponding to ${credentialId(credential) ?? 'null'} for ${build.job}#${build.number}`,
    );
  return issuerUrl(state, issuer);
}
