import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { PERMISSIONS, type PermissionName } from './security';

/** What Jenkins-rendered pages need to know about the instance. */
export interface Instance {
  version: string;
  /** X-Jenkins-Session: a per-start hash. */
  sessionHash: string;
}

const JETTY_VERSION = '12.1.1';

export const escapeHtml = (s: string): string =>
  s
    .replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
    .replace(/[^\x20-\x7e\n\t]/gu, (c) => `&#${c.codePointAt(0)};`);

/** Request URI without the query string, as Jetty reports it. */
const requestUri = (req: IncomingMessage): string => (req.url ?? '/').split('?')[0] ?? '/';

/** Functions.advertiseHeaders (plus the Api security headers for `…/api/*` responses). */
export function advertiseHeaders(res: ServerResponse, inst: Instance): void {
  res.setHeader('X-Hudson', '1.395');
  res.setHeader('X-Jenkins', inst.version);
  res.setHeader('X-Jenkins-Session', inst.sessionHash);
}

/**
 * Jetty's default error handler (ee9 ErrorHandler): the body format is negotiated on `Accept` in quality order,
 * most specific type first; no Accept header at all → HTML; nothing acceptable → empty body (§7.1).
 */
export function sendJettyError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message = STATUS_CODES[status] ?? 'Error',
  headers: Record<string, string> = {},
): void {
  const uri = requestUri(req);
  const reason = STATUS_CODES[status] ?? '';
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Cache-Control', 'must-revalidate,no-cache,no-store');
  const accept = req.headers.accept;
  const types = accept === undefined ? ['text/html'] : acceptableTypes(accept);
  for (const type of types) {
    if (type === 'text/html' || type === 'text/*' || type === '*/*') {
      const body = [
        '<html>',
        '<head>',
        '<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>',
        `<title>Error ${status} ${escapeHtml(message)}</title>`,
        '</head>',
        '<body>',
        `<h2>HTTP ERROR ${status} ${escapeHtml(message)}</h2>`,
        '<table>',
        `<tr><th>URI:</th><td>${escapeHtml(uri)}</td></tr>`,
        `<tr><th>STATUS:</th><td>${status}</td></tr>`,
        `<tr><th>MESSAGE:</th><td>${escapeHtml(message)}</td></tr>`,
        '<tr><th>SERVLET:</th><td>Stapler</td></tr>',
        '</table>',
        `<hr/><a href="https://jetty.org/">Powered by Jetty:// ${JETTY_VERSION}</a><hr/>`,
        '',
        '</body>',
        '</html>',
        '',
      ].join('\n');
      return end(res, status, 'text/html;charset=iso-8859-1', Buffer.from(body, 'latin1'), reason);
    }
    if (type === 'application/json' || type === 'text/json') {
      // A Java HashMap: iteration order of these four keys is servlet, message, url, status.
      const fields: [string, string][] = [
        ['servlet', 'Stapler'],
        ['message', message],
        ['url', uri],
        ['status', String(status)],
      ];
      const body = `{\n${fields.map(([k, v]) => `${JSON.stringify(k)}:${asciiJson(v)}`).join(',\n')}\n}`;
      return end(res, status, 'application/json', Buffer.from(body, 'utf8'), reason);
    }
    if (type === 'text/plain') {
      const body = `HTTP ERROR ${status} ${message}\nURI: ${uri}\nSTATUS: ${status}\nMESSAGE: ${message}\nSERVLET: Stapler\n`;
      return end(res, status, 'text/plain;charset=iso-8859-1', Buffer.from(body, 'latin1'), reason);
    }
  }
  end(res, status, undefined, Buffer.alloc(0), reason);
}

const asciiJson = (s: string): string =>
  JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** QuotedQualityCSV with MOST_SPECIFIC_MIME_ORDERING: by quality, then specific before wildcard, stable. */
function acceptableTypes(accept: string): string[] {
  const entries = accept
    .split(',')
    .map((part, index) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim());
      const q = params.find((p) => /^q=/i.test(p));
      const quality = q ? Number(q.slice(2)) : 1;
      const specificity = type === '*/*' ? 0 : type.endsWith('/*') ? 1 : 2;
      return {
        type: type.toLowerCase(),
        quality: Number.isFinite(quality) ? quality : 0,
        specificity,
        index,
      };
    })
    .filter((e) => e.type && e.quality > 0);
  entries.sort((a, b) => b.quality - a.quality || b.specificity - a.specificity || a.index - b.index);
  return entries.map((e) => e.type);
}

function end(
  res: ServerResponse,
  status: number,
  contentType: string | undefined,
  body: Buffer,
  reason?: string,
): void {
  if (contentType) res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', body.length);
  res.writeHead(status, reason);
  res.end(body);
}

/** A page rendered through Jenkins' `l:layout` (advertises X-Jenkins headers). */
export function sendJenkinsPage(
  res: ServerResponse,
  inst: Instance,
  status: number,
  title: string,
  bodyHtml: string,
  headers: Record<string, string | string[]> = {},
): void {
  advertiseHeaders(res, inst);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  const html = [
    '<!DOCTYPE html><html class=""><head resURL="/static/00000000" data-rooturl="" data-resurl="/static/00000000">',
    `<title>${escapeHtml(title)} [Jenkins]</title>`,
    '</head><body id="jenkins" class="yui-skin-sam full-screen jenkins-' + escapeHtml(inst.version) + '">',
    '<div id="page-body" class="app-page-body"><div id="main-panel">',
    bodyHtml,
    '</div></div>',
    `<footer class="page-footer"><div class="page-footer__links"><a class="jenkins_ver" href="https://www.jenkins.io/">Jenkins ${escapeHtml(inst.version)}</a></div></footer>`,
    '</body></html>',
  ].join('\n');
  end(res, status, 'text/html;charset=utf-8', Buffer.from(html, 'utf8'));
}

/** Jenkins' `/404` page (Stapler routing failure). */
export function sendNotFound(res: ServerResponse, inst: Instance): void {
  sendJenkinsPage(
    res,
    inst,
    404,
    'Jenkins',
    '<h1>Not Found</h1>\n<p>This page may not exist, or you may not have permission to see it.</p>',
  );
}

/** Jenkins' `/oops` page for unhandled exceptions: HTML whatever `Accept` says. */
export function sendOops(res: ServerResponse, inst: Instance): void {
  sendJenkinsPage(
    res,
    inst,
    500,
    'Jenkins',
    `<h1>Oops!</h1>\n<div id="error-description"><h2>A problem occurred while processing the request</h2>\n<p>Logging ID=${randomUUID()}</p></div>`,
  );
}

/** AccessDeniedException3.reportAsHeaders */
function deniedHeaders(userId: string, permission: PermissionName): Record<string, string | string[]> {
  const p = PERMISSIONS[permission];
  return {
    'X-You-Are-Authenticated-As': userId,
    'X-You-Are-In-Group-Disabled':
      'JENKINS-39402: use -Dhudson.security.AccessDeniedException2.REPORT_GROUP_HEADERS=true or use /whoAmI to diagnose',
    'X-Required-Permission': p.id,
    ...(p.impliedBy.length ? { 'X-Permission-Implied-By': [...p.impliedBy] } : {}),
  };
}

/** AccessDeniedHandlerImpl: an authenticated user lacks a permission (§2.5). */
export function sendAccessDenied(
  res: ServerResponse,
  inst: Instance,
  userId: string,
  permission: PermissionName,
): void {
  sendJenkinsPage(
    res,
    inst,
    403,
    'Access Denied',
    `<h1>Access Denied</h1>\n<p>${escapeHtml(userId)} is missing the ${escapeHtml(permission)} permission</p>`,
    deniedHeaders(userId, permission),
  );
}

/** HudsonAuthenticationEntryPoint: anonymous lacks a permission (§2.3). */
export function sendLoginRequired(
  req: IncomingMessage,
  res: ServerResponse,
  inst: Instance,
  permission: PermissionName,
): void {
  if (req.headers['x-requested-with'] === 'XMLHttpRequest') return sendJettyError(req, res, 403);
  advertiseHeaders(res, inst);
  for (const [k, v] of Object.entries(deniedHeaders('anonymous', permission))) res.setHeader(k, v);
  const loginForm = `/login?from=${encodeURIComponent(req.url ?? '/')}`;
  const html =
    `<html><head><meta http-equiv='refresh' content='1;url=${escapeHtml(loginForm)}'/>` +
    `<script id='redirect' data-redirect-url='${escapeHtml(loginForm)}' src='/static/00000000/scripts/redirect.js'></script>` +
    "</head><body style='background-color:white; color:white;'>\n\n\nAuthentication required\n<!--\n" +
    ' '.repeat(512) +
    '\n-->\n\n</body></html>';
  end(res, 403, 'text/html;charset=utf-8', Buffer.from(html, 'utf8'));
}

/** @RequirePOST on another method: 405 + `Allow: POST` (retry.jelly). */
export function sendRequirePost(res: ServerResponse, inst: Instance): void {
  sendJenkinsPage(
    res,
    inst,
    405,
    'Jenkins',
    '<h1>This URL requires POST</h1>\n<p>The URL you\'re trying to access requires that requests be sent using POST (like a form submission).</p>\n<form method="POST"><input type="submit" value="Proceed"/></form>',
    { Allow: 'POST' },
  );
}

/** hudson.model.Failure: 400 HTML error page plus `X-Error`. */
export function sendFailure(res: ServerResponse, inst: Instance, message: string): void {
  sendJenkinsPage(res, inst, 400, 'Jenkins', `<h1>Error</h1>\n<p>${escapeHtml(message)}</p>`, {
    'X-Error': message,
  });
}

/** Api.doJson: `application/json;charset=UTF-8` with the Api security headers. */
export function sendApiJson(res: ServerResponse, inst: Instance, body: unknown, pretty = false): void {
  advertiseHeaders(res, inst);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'deny');
  const text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
  end(res, 200, 'application/json;charset=utf-8', Buffer.from(text, 'utf8'));
}

export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string | undefined,
  body: string,
): void {
  end(res, status, contentType, Buffer.from(body, 'utf8'));
}

/** setStatus only: 200/409 from the credentials XML endpoints, no body, no Content-Type. */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  end(res, status, undefined, Buffer.alloc(0));
}
