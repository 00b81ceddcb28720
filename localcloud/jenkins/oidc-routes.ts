/**
 * The HTTP endpoints of the oidc-provider plugin (README: OpenID Connect Provider):
 * - `/oidc[/job/F…]/.well-known/openid-configuration` and `…/jwks` (Keys, an UnprotectedRootAction: anonymous, run as
 *   SYSTEM), 404 with no body for anything else or an issuer with no credential served from it;
 * - `[/job/F…]/descriptorByName/io.jenkins.plugins.oidc_provider.IdToken{String,File}Credentials/`
 *   `wellKnownOpenidConfiguration?issuer=…` and `jwks?id=…&issuer=…`: the two documents to publish at an overridden
 *   issuer (IdTokenCredentialsDescriptor).
 */
import type { ServerResponse } from 'node:http';
import { ID_TOKEN_CLASS, ID_TOKEN_FILE_CLASS, credentialId } from './credentials';
import { can, deny, notFound, type Ctx } from './context';
import {
  JWKS_SUFFIX,
  OIDC_PLUGIN,
  WELL_KNOWN,
  advertised,
  issuerCredentials,
  issuerForUri,
  issuerOfFolder,
  issuerOverride,
  issuerUrl,
  jwkOf,
  jwksOf,
  openidConfiguration,
} from './oidc';
import { sendEmpty, sendOops, sendText } from './pages';
import type { Folder, JenkinsState } from './state';

/** Stapler's rendering of a JSONObject returned by a web method. */
const sendJson = (res: ServerResponse, body: unknown): void =>
  sendText(res, 200, 'application/json;charset=UTF-8', JSON.stringify(body));

/** Whether `/oidc/…` is the plugin's (then it is served before, and without, the Overall/Read check). */
export const servesOidc = (state: JenkinsState, firstSegment: string): boolean =>
  firstSegment === 'oidc' && state.hasPlugin(OIDC_PLUGIN);

/** Keys.doDynamic: `rest` is the raw path after `/oidc` (getOriginalRestOfPath). */
export function routeKeys(state: JenkinsState, res: ServerResponse, rawPath: string): void {
  const rest = rawPath.slice('/oidc'.length);
  for (const [suffix, document] of [
    [WELL_KNOWN, 'configuration'],
    [JWKS_SUFFIX, 'jwks'],
  ] as const) {
    if (!rest.endsWith(suffix)) continue;
    const issuer = issuerForUri(state, rest.slice(0, rest.length - suffix.length));
    if (!issuer || !advertised(issuer)) break;
    return sendJson(
      res,
      document === 'configuration' ? openidConfiguration(issuerUrl(state, issuer)) : jwksOf(issuer),
    );
  }
  sendEmpty(res, 404);
}

const DESCRIPTORS = new Set([ID_TOKEN_CLASS.className, ID_TOKEN_FILE_CLASS.className]);

/** `descriptorByName/{class}/…` at the root or in a folder (`folder` = where the request was routed). */
export function routeIdTokenDescriptor(ctx: Ctx, folder: Folder, rest: string[]): void {
  const [className, method, ...more] = rest;
  if (!ctx.state.hasPlugin(OIDC_PLUGIN) || !className || !DESCRIPTORS.has(className) || more.length)
    return notFound(ctx);
  const issuerParam = ctx.query.get('issuer');
  if (method === 'wellKnownOpenidConfiguration') return sendJson(ctx.res, openidConfiguration(issuerParam));
  if (method !== 'jwks') return notFound(ctx);
  // issuerFromRequest: the folder's issuer (Job/Read, already needed to get here) or the root's (Overall/Manage,
  // which Jenkins ships disabled: Overall/Administer).
  if (folder === ctx.state.root && !can(ctx, 'Overall/Administer')) return deny(ctx, 'Overall/Administer');
  // `issuer.equals(creds.getIssuer())` without an issuer parameter: a NullPointerException.
  if (issuerParam === null) return sendOops(ctx.res, ctx.state);
  const id = ctx.query.get('id');
  const credential = issuerCredentials(issuerOfFolder(ctx.state, folder)).find(
    (c) => credentialId(c) === id && issuerOverride(c) === issuerParam,
  );
  if (!credential) return sendEmpty(ctx.res, 404);
  sendJson(ctx.res, { keys: [jwkOf(credential)] });
}
