import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { originOf, ServedCall } from '../calls';
import { handleAdmin } from './admin';
import { stopJobs } from './jobs';
import { sendJettyError, sendOops } from './pages';
import { can, deny, type Ctx } from './context';
import { routeKeys, servesOidc } from './oidc-routes';
import { ensureSession, route, routeWhoAmI } from './routes';
import { authenticateBasic, crumbMatches } from './security';
import { JenkinsState, type JenkinsStateOptions, type RequestLogEntry } from './state';

export interface JenkinsEmulatorOptions extends JenkinsStateOptions {
  port?: number;
  /**
   * Serve HTTPS with this private key and certificate chain (PEM; the server certificate first, then any
   * intermediates) instead of plain HTTP. `hostname` is the name put in `url` (default 127.0.0.1); the server
   * always listens on 127.0.0.1.
   */
  tls?: { key: string; cert: string; hostname?: string };
}

export interface JenkinsEmulator {
  /** `http://127.0.0.1:PORT`, or `https://<tls.hostname>:PORT` when serving HTTPS; no trailing slash. */
  url: string;
  /** The administrator: every permission, an API token and a password. */
  admin: { username: string; apiToken: string; password: string };
  state: JenkinsState;
  close(): Promise<void>;
}

export { JenkinsState };

/** Paths served without Overall/Read (Jenkins.ALWAYS_READABLE_PATHS and UnprotectedRootActions). */
const UNPROTECTED = new Set(['login', 'logout', 'whoAmI']);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The point name of a request: `jenkins:METHOD path`, the path (still percent-encoded) without its query, and with
 * what changes from run to run replaced by `*`: the queue item id in `/queue/item/17/…` and the build number in
 * `/job/team-a/job/canary/42/…`. Folder and job names, credential ids and permalinks (`lastBuild`) stay.
 */
export function jenkinsPoint(method: string, rawPath: string): string {
  const segments = rawPath.split('/');
  let i = 1;
  while (segments[i] === 'job' && segments[i + 1]) i += 2;
  const number = (at: number) => /^\d+$/.test(segments[at] ?? '');
  if (i > 1 && number(i)) segments[i] = '*';
  else if (i === 1 && segments[1] === 'queue' && segments[2] === 'item' && number(3)) segments[3] = '*';
  return `jenkins:${method} ${segments.join('/')}`;
}

async function handle(state: JenkinsState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
  if (rawPath === '/_localcloud' || rawPath.startsWith('/_localcloud/'))
    return handleAdmin(state, req, res, body);

  const method = (req.method ?? 'GET').toUpperCase();
  const entry: RequestLogEntry = {
    at: new Date().toISOString(),
    method,
    path: rawPath,
    status: 0,
    user: null,
    apiToken: false,
  };
  res.on('finish', () => {
    entry.status = res.statusCode;
    state.requests.push(entry);
  });
  // A dropped connection (a drop or crash fault, or the client leaving) answered nothing.
  res.on('close', () => {
    if (res.writableFinished) return;
    entry.status = 0;
    state.requests.push(entry);
  });

  const served = new ServedCall(
    state.calls,
    state.calls.begin({
      emulator: 'jenkins',
      point: jenkinsPoint(method, rawPath),
      origin: originOf(req),
      caller: null,
    }),
    req,
    res,
  );
  const fault = state.takeFault(method, url, served.record);
  if (fault) {
    entry.fault = true;
    if (await served.applyFault(fault, fault.status !== undefined)) return;
    if (fault.status !== undefined) {
      if (fault.body === undefined && fault.status >= 400) return sendJettyError(req, res, fault.status);
      res.writeHead(
        fault.status,
        fault.body === undefined ? {} : { 'Content-Type': fault.contentType ?? 'text/html' },
      );
      return void res.end(fault.body ?? '');
    }
  }

  // 1. SuspiciousRequestFilter
  if (rawPath.includes(';'))
    return sendJettyError(req, res, 400, 'Semicolons are not allowed in the request URI');

  // 2. BasicHeaderProcessor
  const auth = authenticateBasic(req.headers.authorization, state.users);
  if (!auth)
    return sendJettyError(req, res, 401, 'Unauthorized', { 'WWW-Authenticate': 'Basic realm="Jenkins"' });
  entry.user = auth.user?.id ?? 'anonymous';
  entry.apiToken = auth.apiToken;
  served.record.caller = entry.user;

  const query = new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1));
  const contentType = req.headers['content-type'] ?? '';
  const form = contentType.startsWith('application/x-www-form-urlencoded')
    ? new URLSearchParams(body.toString('utf8'))
    : undefined;

  // 3. CrumbFilter: only POST, not for API-token requests (ApiCrumbExclusion).
  if (method === 'POST' && state.csrfEnabled && !auth.apiToken) {
    const presented =
      [req.headers['jenkins-crumb']].flat()[0] ?? query.get('Jenkins-Crumb') ?? form?.get('Jenkins-Crumb');
    // Validation calls req.getSession(): without the issuing session's cookie a new session never matches.
    const expected = state.crumbFor(auth.user?.id ?? 'anonymous', ensureSession({ state, req, res }));
    if (!crumbMatches(presented ?? undefined, expected))
      return sendJettyError(req, res, 403, 'No valid crumb was included in the request');
  }

  let segments: string[];
  try {
    segments = rawPath
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return sendJettyError(req, res, 400, 'Bad URI');
  }
  const ctx: Ctx = {
    state,
    req,
    res,
    method: method === 'HEAD' ? 'GET' : method,
    rawPath,
    query,
    body,
    auth,
    ...(form ? { form } : {}),
  };

  // 4. Jenkins.getTarget(): Overall/Read everywhere but a short allow-list and the UnprotectedRootActions.
  const first = segments[0] ?? '';
  if (first === 'whoAmI') return routeWhoAmI(ctx, segments.slice(1));
  if (servesOidc(state, first)) return routeKeys(state, res, rawPath);
  if (!UNPROTECTED.has(first) && !can(ctx, 'Overall/Read')) {
    return deny(ctx, 'Overall/Read');
  }
  if (first === 'login' || first === 'logout')
    return void res
      .writeHead(200, { 'Content-Type': 'text/html;charset=utf-8' })
      .end('<html><body>Sign in</body></html>');

  // 5./6. Stapler routing and the endpoints.
  route(ctx, segments);
}

/** Starts a Jenkins emulator on 127.0.0.1 (a free port unless one is given). */
export async function startJenkinsEmulator(opts: JenkinsEmulatorOptions = {}): Promise<JenkinsEmulator> {
  const state = new JenkinsState(opts);
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(state, req, res).catch(() => {
      if (!res.headersSent) sendOops(res, state);
      else res.end();
    });
  };
  const server: Server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, listener)
    : createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = opts.tls ? `https://${opts.tls.hostname ?? '127.0.0.1'}:${port}` : `http://127.0.0.1:${port}`;
  state.rootUrl = `${url}/`;
  const admin = state.admin;
  return {
    url,
    admin: { username: admin.id, apiToken: admin.apiTokens[0] ?? '', password: admin.password ?? '' },
    state,
    close: () =>
      new Promise<void>((resolve) => {
        stopJobs(state);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
