import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJson, TreeSyntaxError, type Bean } from './export';
import {
  escapeHtml,
  sendAccessDenied,
  sendApiJson,
  sendEmpty,
  sendJenkinsPage,
  sendJettyError,
  sendLoginRequired,
  sendNotFound,
} from './pages';
import { reportedPermission, type Authentication, type PermissionName } from './security';
import type { Item, JenkinsState } from './state';

/** One request as the Jenkins routing sees it, after the filters of jenkins-api.md §1 have passed. */
export interface Ctx {
  state: JenkinsState;
  req: IncomingMessage;
  res: ServerResponse;
  /** HEAD is routed as GET. */
  method: string;
  /** Path without query, still percent-encoded. */
  rawPath: string;
  query: URLSearchParams;
  body: Buffer;
  auth: Authentication;
  /** Parameters of an `application/x-www-form-urlencoded` body. */
  form?: URLSearchParams;
}

/** The request's user has the permission on the item (default: on Jenkins itself). */
export const can = (ctx: Ctx, p: PermissionName, item?: Item): boolean => ctx.state.allows(ctx.auth, p, item);

/**
 * AccessDeniedException3 → login page for anonymous, access-denied page for users. Like ACL.checkPermission it names
 * the first enabled permission of the chain (Job/ExtendedRead while disabled is reported as Job/Configure).
 */
export function deny(ctx: Ctx, p: PermissionName): void {
  const reported = reportedPermission(p, ctx.state.toggles);
  if (ctx.auth.user) sendAccessDenied(ctx.res, ctx.state, ctx.auth.user.id, reported);
  else sendLoginRequired(ctx.req, ctx.res, ctx.state, reported);
}

export const notFound = (ctx: Ctx): void => sendNotFound(ctx.res, ctx.state);

export const page = (ctx: Ctx, title: string, html = `<h1>${escapeHtml(title)}</h1>`): void =>
  sendJenkinsPage(ctx.res, ctx.state, 200, title, html);

/** Scheme and host of the request (Jetty's ForwardedRequestCustomizer honours X-Forwarded-*). */
export function requestOrigin(req: IncomingMessage): string {
  const first = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h)?.split(',')[0]?.trim();
  const encrypted = 'encrypted' in req.socket && req.socket.encrypted === true;
  const proto = first(req.headers['x-forwarded-proto']) ?? (encrypted ? 'https' : 'http');
  const host = first(req.headers['x-forwarded-host']) ?? req.headers.host ?? '127.0.0.1';
  return `${proto}://${host}`;
}

export function redirect(ctx: Ctx, status: number, relative: string): void {
  const location = new URL(relative, `${requestOrigin(ctx.req)}${ctx.rawPath}`).toString();
  sendEmpty(ctx.res, status, { Location: location });
}

export function api(ctx: Ctx, root: Bean): void {
  let body: unknown;
  try {
    body = exportJson(root, ctx.query);
  } catch (err) {
    if (err instanceof TreeSyntaxError) return sendJettyError(ctx.req, ctx.res, 400, err.message);
    throw err;
  }
  sendApiJson(ctx.res, ctx.state, body, ctx.query.get('pretty') === 'true');
}

export const isApiJson = (rest: string[]): boolean =>
  rest.length === 2 && rest[0] === 'api' && rest[1] === 'json';
