export type JenkinsErrorReason =
  | 'unauthorized'
  | 'crumb'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'server'
  | 'login-page'
  | 'redirect'
  | 'timeout'
  | 'network'
  | 'tls'
  | 'bad-response';

const RETRYABLE_REASONS: ReadonlySet<JenkinsErrorReason> = new Set(['server', 'timeout', 'network']);

export interface JenkinsErrorInit {
  method: string;
  /** Request path relative to the base URL; any query string is dropped. */
  path: string;
  status?: number;
  reason: JenkinsErrorReason;
  requiredPermission?: string;
  /** Short, secret-free explanation (Jenkins' error message, a hint). */
  detail?: string;
  /** A sanitized cause; never an AxiosError (it carries the request config, auth included). */
  cause?: Error;
}

/**
 * A failed Jenkins request. Carries only the method, the path (no host, no query), the status and a reason;
 * never headers, cookies, tokens, passwords, request or response bodies.
 */
export class JenkinsError extends Error {
  override readonly name = 'JenkinsError';
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly reason: JenkinsErrorReason;
  readonly requiredPermission?: string;

  constructor(init: JenkinsErrorInit) {
    const path = stripQuery(init.path);
    const status = init.status === undefined ? '' : ` ${init.status}`;
    const detail = init.detail ? `: ${init.detail}` : '';
    super(`Jenkins ${init.method} ${path} failed (${init.reason}${status})${detail}`, {
      ...(init.cause ? { cause: init.cause } : {}),
    });
    this.method = init.method;
    this.path = path;
    if (init.status !== undefined) this.status = init.status;
    this.reason = init.reason;
    if (init.requiredPermission !== undefined) this.requiredPermission = init.requiredPermission;
  }

  /** Network errors, timeouts and 5xx may succeed on a later attempt; auth, permission and 4xx errors will not. */
  get retryable(): boolean {
    return RETRYABLE_REASONS.has(this.reason);
  }

  toJSON(): Record<string, unknown> {
    const cause =
      this.cause instanceof Error ? { name: this.cause.name, message: this.cause.message } : undefined;
    return {
      name: this.name,
      message: this.message,
      method: this.method,
      path: this.path,
      status: this.status,
      reason: this.reason,
      requiredPermission: this.requiredPermission,
      cause,
    };
  }
}

export function isJenkinsError(e: unknown): e is JenkinsError {
  return e instanceof JenkinsError || (e instanceof Error && e.name === 'JenkinsError' && 'reason' in e);
}

/** The secret-free stand-in for a transport failure (the AxiosError itself is dropped). */
export class JenkinsTransportError extends Error {
  override readonly name = 'JenkinsTransportError';
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

export function stripQuery(path: string): string {
  const cut = path.search(/[?#]/);
  return cut === -1 ? path : path.slice(0, cut);
}

export type HeaderBag = Record<string, string | string[] | undefined>;

export function header(headers: HeaderBag, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === wanted) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

export interface Classification {
  reason: JenkinsErrorReason;
  requiredPermission?: string;
  detail?: string;
}

/** Where a login redirect typically points: Jenkins' own login, a security-realm plugin, or an SSO/IdP gateway. */
const LOGIN_LOCATION =
  /(\/login\b|\/signin|\/sign-in|\/sso\b|saml|oauth|\/oidc|openid|\/authorize\b|\/realms\/|\/adfs\b|\/idp\b|\/cas\/|securityRealm|j_spring_security|commenceLogin)/i;

export function looksLikeHtml(headers: HeaderBag, body: string): boolean {
  const type = header(headers, 'content-type') ?? '';
  return /text\/html|application\/xhtml/i.test(type) || /^\s*(<!doctype html|<html[\s>])/i.test(body);
}

const MAX_DETAIL = 200;

function truncate(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL)}…` : flat;
}

/** Jenkins' own short message: `X-Error` (Failure pages) or the `message` of a Jetty JSON error body (§7.1). */
function jenkinsMessage(headers: HeaderBag, body: string): string | undefined {
  const xError = header(headers, 'x-error');
  if (xError) return truncate(xError);
  const type = header(headers, 'content-type') ?? '';
  if (/json/i.test(type) || /^\s*\{/.test(body)) {
    try {
      const parsed: unknown = JSON.parse(body);
      if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string') {
        return truncate(parsed.message);
      }
    } catch {
      // not JSON after all
    }
  }
  if (/^text\/plain/i.test(type) && body.trim() !== '') return truncate(body);
  return undefined;
}

function locationSummary(location: string): string {
  try {
    const u = new URL(location, 'http://relative.invalid');
    return u.host === 'relative.invalid' ? u.pathname : `${u.host}${u.pathname}`;
  } catch {
    return 'an unparsable location';
  }
}

/**
 * Maps a Jenkins response that the caller did not expect to a reason (jenkins-api.md §9.4). `body` is the response
 * text; it is read for Jenkins' short message only and never copied whole.
 */
export function classifyError(
  status: number,
  headers: HeaderBag,
  method: string,
  body: string,
): Classification {
  const message = jenkinsMessage(headers, body);
  const withDetail = (c: Classification, fallback?: string): Classification => {
    const detail = message ?? fallback;
    return detail ? { ...c, detail } : c;
  };

  if (status >= 200 && status < 300) {
    if (looksLikeHtml(headers, body)) {
      return {
        reason: 'login-page',
        detail: 'got an HTML page where Jenkins data was expected (SSO/proxy login page?)',
      };
    }
    return { reason: 'bad-response', detail: `unexpected ${status} response` };
  }
  if (status >= 300 && status < 400) {
    const location = header(headers, 'location');
    if (location && LOGIN_LOCATION.test(locationSummary(location))) {
      return { reason: 'login-page', detail: `redirected to a login page (${locationSummary(location)})` };
    }
    return {
      reason: 'redirect',
      detail: location
        ? `redirected to ${locationSummary(location)}; check the base URL`
        : 'redirect without Location',
    };
  }
  if (status === 401) return withDetail({ reason: 'unauthorized' }, 'bad user name, API token or password');
  if (status === 403) {
    const permission = header(headers, 'x-required-permission');
    if (permission) {
      const user = header(headers, 'x-you-are-authenticated-as');
      const hint =
        user === 'anonymous'
          ? `request arrived as anonymous (Authorization header dropped on the way?); needs ${permission}`
          : `${user ?? 'user'} is missing ${permission}`;
      return { reason: 'forbidden', requiredPermission: permission, detail: hint };
    }
    if (/crumb/i.test(message ?? body.slice(0, 2000)) || method.toUpperCase() === 'POST') {
      return withDetail(
        { reason: 'crumb' },
        'no valid CSRF crumb; use an API token or keep the session cookie',
      );
    }
    return withDetail({ reason: 'forbidden' });
  }
  if (status === 404) return { reason: 'not-found' };
  if (status === 409) return withDetail({ reason: 'conflict' });
  if (status === 408) return withDetail({ reason: 'timeout' });
  if (status === 429 || status >= 500) {
    // 500 pages are Jenkins' HTML "Oops" page: only the status is useful.
    return looksLikeHtml(headers, body) ? { reason: 'server' } : withDetail({ reason: 'server' });
  }
  return withDetail({ reason: 'bad-response' }, `unexpected status ${status}`);
}
