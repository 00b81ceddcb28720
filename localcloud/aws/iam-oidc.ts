import type { ActionHandler, RequestContext } from './context';
import { AwsError, noSuchEntity } from './errors';
import { ensureLength, requiredParam, tagActions, tagsParam } from './iam-common';
import { queryList } from './protocols';
import type { AccountState, OidcProviderRecord } from './state';

/** IAM's quotas on OIDC providers. */
const PROVIDERS_PER_ACCOUNT_MAX = 100;
const CLIENT_IDS_MAX = 100;
const THUMBPRINTS_MAX = 5;

const invalidUrl = (reason: string) =>
  new AwsError('InvalidInput', `Invalid Open ID Connect Provider URL. ${reason}`, 400);

/** Hosts an `http://` issuer may have in the local cloud (see `parseProviderUrl`). */
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An issuer URL as IAM identifies it: the scheme, and the host and path (no trailing slash) of the ARN. */
export interface ProviderUrl {
  scheme: 'https' | 'http';
  /** `host[:port]/path`: what follows `oidc-provider/` in the ARN and prefixes the condition keys. */
  key: string;
}

/**
 * Checks an OIDC provider URL the way IAM does: `https://`, no query, fragment, credentials or port. The
 * localcloud exception: `http://` (and a port) are also accepted for 127.0.0.1 and localhost, so that issuers of
 * the local cloud (the Jenkins emulator's `<url>/oidc`) can be registered; any other `http://` URL is refused as
 * IAM refuses it. What is wrong is returned as `problem`.
 */
export function parseProviderUrl(url: string): ProviderUrl | { problem: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { problem: 'The URL must begin with https://.' };
  }
  const local = LOCAL_HOSTS.has(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && local))
    return { problem: 'The URL must begin with https://.' };
  if (u.search || u.hash || url.includes('#') || url.includes('?'))
    return { problem: 'Query parameters and fragments are not allowed.' };
  if (u.username || u.password) return { problem: 'Credentials are not allowed in the URL.' };
  if (u.port && !local) return { problem: 'The URL should not contain a port number.' };
  return {
    scheme: u.protocol === 'http:' ? 'http' : 'https',
    key: `${u.host}${u.pathname}`.replace(/\/$/, ''),
  };
}

export const providerArn = (accountId: string, url: ProviderUrl) =>
  `arn:aws:iam::${accountId}:oidc-provider/${url.key}`;

/** The account's provider whose URL is `issuer` (a token's `iss`), compared as IAM identifies URLs. */
export function providerForIssuer(account: AccountState, issuer: string): OidcProviderRecord | undefined {
  const wanted = parseProviderUrl(issuer);
  if ('problem' in wanted) return undefined;
  return [...account.oidcProviders.values()].find((p) => {
    const url = parseProviderUrl(p.url);
    return !('problem' in url) && url.scheme === wanted.scheme && url.key === wanted.key;
  });
}

/** The key a provider's condition keys start with (`<key>:sub`, `<key>:aud`): its host and path. */
export const providerKey = (p: OidcProviderRecord) => p.arn.slice(p.arn.indexOf('oidc-provider/') + 14);

function clientIdParam(value: string, field: string): string {
  ensureLength(value, field, 1, 255);
  return value;
}

function clientIdsParam(ctx: RequestContext): string[] {
  const ids = [...new Set(queryList(ctx.params, 'ClientIDList'))].map((id) =>
    clientIdParam(id, 'ClientIDList.member'),
  );
  if (ids.length > CLIENT_IDS_MAX)
    throw new AwsError(
      'LimitExceeded',
      `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${CLIENT_IDS_MAX}`,
      409,
    );
  return ids;
}

function thumbprintsParam(ctx: RequestContext): string[] {
  const prints = queryList(ctx.params, 'ThumbprintList');
  for (const t of prints) {
    ensureLength(t, 'ThumbprintList.member', 40, 40);
  }
  if (prints.length > THUMBPRINTS_MAX)
    throw new AwsError(
      'LimitExceeded',
      `Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: ${THUMBPRINTS_MAX}`,
      409,
    );
  return prints;
}

/** The `OpenIDConnectProviderArn` of the request, authorized for the action before its existence is told. */
function providerArnParam(ctx: RequestContext): string {
  const arn = requiredParam(ctx.params, 'OpenIDConnectProviderArn');
  ensureLength(arn, 'OpenIDConnectProviderArn', 20, 2048);
  if (!/^arn:aws:iam::\d{12}:oidc-provider\/.+$/.test(arn))
    throw new AwsError('InvalidInput', `ARN ${arn} is not valid.`, 400);
  ctx.authorize(`iam:${ctx.action}`, arn);
  return arn;
}

function targetProvider(ctx: RequestContext): OidcProviderRecord {
  const arn = providerArnParam(ctx);
  const provider = ctx.account.oidcProviders.get(arn);
  if (!provider) throw noSuchEntity(`OpenIDConnect Provider not found for arn ${arn}`);
  return provider;
}

/**
 * IAM OpenID Connect identity providers: create (the thumbprint list optional, as IAM now allows), read, list,
 * delete, client ids, thumbprints and tags. A provider is named by its URL, so its ARN is derived from it.
 */
export const oidcProviderActions: Record<string, ActionHandler> = {
  CreateOpenIDConnectProvider: (ctx) => {
    const url = requiredParam(ctx.params, 'Url');
    ensureLength(url, 'Url', 1, 255);
    const clientIds = clientIdsParam(ctx);
    const thumbprints = thumbprintsParam(ctx);
    const tags = tagsParam(ctx.params);
    const parsed = parseProviderUrl(url);
    if ('problem' in parsed) throw invalidUrl(parsed.problem);
    const arn = providerArn(ctx.account.accountId, parsed);
    ctx.authorize('iam:CreateOpenIDConnectProvider', arn);
    if (tags.length) ctx.authorize('iam:TagOpenIDConnectProvider', arn);
    if (ctx.account.oidcProviders.has(arn))
      throw new AwsError('EntityAlreadyExists', `Provider with url ${url} already exists.`, 409);
    if (ctx.account.oidcProviders.size >= PROVIDERS_PER_ACCOUNT_MAX)
      throw new AwsError(
        'LimitExceeded',
        `Cannot exceed quota for OpenIdProvidersPerAccount: ${PROVIDERS_PER_ACCOUNT_MAX}`,
        409,
      );
    const provider = ctx.state.createOidcProvider(ctx.account.accountId, arn, url, {
      clientIds,
      thumbprints,
      tags,
    });
    return { OpenIDConnectProviderArn: provider.arn, Tags: tags.length ? tags : undefined };
  },
  GetOpenIDConnectProvider: (ctx) => {
    const p = targetProvider(ctx);
    // IAM answers the URL without its scheme.
    return {
      Url: p.url.replace(/^[a-z]+:\/\//i, ''),
      ClientIDList: p.clientIds,
      ThumbprintList: p.thumbprints,
      CreateDate: new Date(p.createDate),
      Tags: p.tags.length ? p.tags : undefined,
    };
  },
  ListOpenIDConnectProviders: (ctx) => ({
    OpenIDConnectProviderList: [...ctx.account.oidcProviders.keys()].sort().map((Arn) => ({ Arn })),
  }),
  // Idempotent, as IAM's API reference says: deleting a provider that does not exist is no error.
  DeleteOpenIDConnectProvider: (ctx) => {
    ctx.account.oidcProviders.delete(providerArnParam(ctx));
    return undefined;
  },
  AddClientIDToOpenIDConnectProvider: (ctx) => {
    const clientId = clientIdParam(requiredParam(ctx.params, 'ClientID'), 'ClientID');
    const p = targetProvider(ctx);
    if (p.clientIds.includes(clientId)) return undefined;
    if (p.clientIds.length >= CLIENT_IDS_MAX)
      throw new AwsError(
        'LimitExceeded',
        `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${CLIENT_IDS_MAX}`,
        409,
      );
    p.clientIds.push(clientId);
    return undefined;
  },
  // Idempotent too: removing a client id the provider does not have is no error.
  RemoveClientIDFromOpenIDConnectProvider: (ctx) => {
    const clientId = clientIdParam(requiredParam(ctx.params, 'ClientID'), 'ClientID');
    const p = targetProvider(ctx);
    p.clientIds = p.clientIds.filter((id) => id !== clientId);
    return undefined;
  },
  UpdateOpenIDConnectProviderThumbprint: (ctx) => {
    const thumbprints = thumbprintsParam(ctx);
    targetProvider(ctx).thumbprints = thumbprints;
    return undefined;
  },
  ...tagActions('OpenIDConnectProvider', targetProvider),
};
