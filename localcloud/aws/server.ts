import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { originOf, ServedCall, takeFault, type CallRecord } from '../calls';
import { handleAdmin } from './admin';
import {
  accessDenied,
  makeAuthorize,
  type RawRoute,
  type RequestContext,
  type ServiceModule,
} from './context';
import { AwsError } from './errors';
import {
  parseForm,
  sendJsonError,
  sendJsonResult,
  sendQueryError,
  sendQueryResult,
  type QueryParams,
} from './protocols';
import { SERVICES, RAW_ROUTES } from './services';
import { recordApiEvent } from './trail-events';
import { parseAmzDate, parseAuthorization, signatureMatches } from './sigv4';
import {
  AwsState,
  isAllowed,
  matchesPattern,
  type AwsStateOptions,
  type Fault,
  type Principal,
} from './state';

export interface AwsEmulatorOptions extends AwsStateOptions {
  port?: number;
  host?: string;
}

export interface AwsEmulator {
  /** `http://127.0.0.1:PORT`: the single endpoint for every service (`AWS_ENDPOINT_URL`). */
  url: string;
  state: AwsState;
  /** Credentials of the seeded administrator (full permissions, no propagation delay). */
  admin: { accessKeyId: string; secretAccessKey: string; userName: string; accountId: string };
  /** Config for any AWS SDK v3 client talking to the emulator as its administrator. */
  adminClientConfig(region?: string): {
    region: string;
    endpoint: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  close(): Promise<void>;
}

const MAX_SKEW_MS = 15 * 60 * 1000;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const STS_ACTIONS = new Set([
  'GetCallerIdentity',
  'AssumeRole',
  'AssumeRoleWithWebIdentity',
  'GetSessionToken',
  'GetAccessKeyInfo',
]);

function findService(
  req: IncomingMessage,
  scopeService: string | undefined,
  params: QueryParams,
): ServiceModule | undefined {
  if (scopeService) return SERVICES.find((s) => s.signingName === scopeService);
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string')
    return SERVICES.find((s) => s.targetPrefix && target.startsWith(`${s.targetPrefix}.`));
  const action = params['Action'];
  if (action) return SERVICES.find((s) => s.signingName === (STS_ACTIONS.has(action) ? 'sts' : 'iam'));
  return undefined;
}

function sendError(
  res: ServerResponse,
  svc: ServiceModule | undefined,
  err: AwsError,
  requestId: string,
): void {
  if (svc?.protocol === 'json') sendJsonError(res, err, requestId);
  else sendQueryError(res, svc?.signingName ?? 'iam', err, requestId);
}

/** Translates generic codes to each protocol's spelling (Throttling vs ThrottlingException, ...). */
function protocolError(
  protocol: 'query' | 'json',
  code: string,
  message?: string,
  status?: number,
): AwsError {
  const table: Record<string, { query: [string, number, string]; json: [string, number, string] }> = {
    Throttling: {
      query: ['Throttling', 400, 'Rate exceeded'],
      json: ['ThrottlingException', 400, 'Rate exceeded'],
    },
    InvalidClientTokenId: {
      query: ['InvalidClientTokenId', 403, 'The security token included in the request is invalid.'],
      json: ['UnrecognizedClientException', 400, 'The security token included in the request is invalid.'],
    },
    SignatureDoesNotMatch: {
      query: [
        'SignatureDoesNotMatch',
        403,
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      ],
      json: [
        'InvalidSignatureException',
        400,
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      ],
    },
    MissingAuthenticationToken: {
      query: ['MissingAuthenticationToken', 403, 'Request is missing Authentication Token'],
      json: ['MissingAuthenticationTokenException', 400, 'Missing Authentication Token'],
    },
    ExpiredToken: {
      query: ['ExpiredToken', 403, 'The security token included in the request is expired'],
      json: ['ExpiredTokenException', 400, 'The security token included in the request is expired'],
    },
    InternalFailure: {
      query: ['InternalFailure', 500, 'We encountered an internal error. Please try again.'],
      json: ['InternalFailure', 500, 'We encountered an internal error. Please try again.'],
    },
  };
  const entry = table[code]?.[protocol];
  if (entry)
    return new AwsError(
      entry[0],
      message ?? entry[2],
      status ?? entry[1],
      entry[1] >= 500 ? 'Receiver' : 'Sender',
    );
  const st = status ?? 400;
  return new AwsError(code, message ?? code, st, st >= 500 ? 'Receiver' : 'Sender');
}

/**
 * Whether the request carries a SigV4 signature made with the secret of the access key it names (an IAM user's
 * key or a session's). Checked before {@link authenticate}, which decides what a client is told, because the
 * signer is asynchronous; false for an unknown key, no signature or one that cannot be checked.
 */
async function signatureVerified(state: AwsState, req: IncomingMessage, body: Buffer): Promise<boolean> {
  const auth = parseAuthorization(req.headers.authorization);
  if (!auth) return false;
  const secret =
    state.accessKeys.get(auth.accessKeyId)?.secretAccessKey ??
    state.sessions.get(auth.accessKeyId)?.secretAccessKey;
  if (secret === undefined) return false;
  const signed = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
  return signatureMatches(signed, auth, secret).catch(() => false);
}

/**
 * Resolves the caller, given whether its signature verified ({@link signatureVerified}), exactly as far as AWS
 * would tell a client why it failed.
 */
function authenticate(
  state: AwsState,
  req: IncomingMessage,
  signed: boolean,
  svc: ServiceModule,
): { principal: Principal; region: string } {
  const auth = parseAuthorization(req.headers.authorization);
  if (!auth) throw protocolError(svc.protocol, 'MissingAuthenticationToken');
  const amzDate = parseAmzDate(req.headers['x-amz-date'] as string | undefined);
  const now = state.now();
  let principal: Principal;
  const key = state.accessKeys.get(auth.accessKeyId);
  if (key) {
    if (key.status !== 'Active' || now < key.usableFrom)
      throw protocolError(svc.protocol, 'InvalidClientTokenId');
    const acct = state.account(key.accountId);
    const user = acct.users.get(key.userName);
    if (!user) throw protocolError(svc.protocol, 'InvalidClientTokenId');
    const permissions = state.effectivePermissions(user);
    principal = {
      kind: 'user',
      arn: user.arn,
      userId: user.userId,
      accountId: user.accountId,
      accessKeyId: key.accessKeyId,
      ...(permissions ? { permissions } : {}),
    };
  } else {
    const session = state.sessions.get(auth.accessKeyId);
    if (!session || req.headers['x-amz-security-token'] !== session.sessionToken)
      throw protocolError(svc.protocol, 'InvalidClientTokenId');
    if (now >= session.expiration) throw protocolError(svc.protocol, 'ExpiredToken');
    const role = state.roleByArn(session.roleArn);
    if (!role) throw protocolError(svc.protocol, 'InvalidClientTokenId');
    const permissions = state.rolePermissions(role);
    principal = {
      kind: 'assumed-role',
      arn: session.assumedRoleArn,
      userId: session.assumedRoleId,
      accountId: session.accountId,
      accessKeyId: session.accessKeyId,
      ...(permissions ? { permissions } : {}),
    };
  }
  if (!signed) throw protocolError(svc.protocol, 'SignatureDoesNotMatch');
  // Skew is judged against the real clock: the emulated clock moves key ages, not the client's signing time.
  if (!Number.isFinite(amzDate) || Math.abs(Date.now() - amzDate) > MAX_SKEW_MS)
    throw protocolError(
      svc.protocol,
      'SignatureDoesNotMatch',
      'Signature expired: request time is too skewed.',
    );
  if (key) key.lastUsed = { date: now, serviceName: svc.signingName, region: auth.region };
  else {
    const role = state.roleByArn(state.sessions.get(auth.accessKeyId)?.roleArn ?? '');
    if (role) role.lastUsed = { date: now, region: auth.region };
  }
  return { principal, region: auth.region };
}

/**
 * The caller of an action AWS serves without a signature: anonymous, allowed nothing. A signature sent anyway is
 * not checked; its region, if any, is the request's region.
 */
function anonymousCaller(state: AwsState, req: IncomingMessage): { principal: Principal; region: string } {
  const auth = parseAuthorization(req.headers.authorization);
  return {
    principal: { kind: 'anonymous', arn: '', userId: '', accountId: state.defaultAccountId, accessKeyId: '' },
    region: auth?.region ?? state.defaultRegion,
  };
}

/** The fault that applies to `call`, if any (matched by point name, case-insensitively, and origin). */
const faultFor = (state: AwsState, call: CallRecord): Fault | undefined =>
  takeFault(state.faults, call, (f) => matchesPattern(f.action, call.point, true));

/** The action a request names: `X-Amz-Target`'s operation (JSON services) or the `Action` parameter. */
function actionOf(req: IncomingMessage, svc: ServiceModule | undefined, params: QueryParams): string {
  const target = req.headers['x-amz-target'];
  // The operation follows the last dot (CloudTrail's prefix has dots of its own).
  const fromTarget = typeof target === 'string' ? target.slice(target.lastIndexOf('.') + 1) : '';
  if (svc) return svc.protocol === 'json' ? fromTarget : (params['Action'] ?? '');
  return params['Action'] ?? fromTarget;
}

async function handleApi(
  state: AwsState,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const requestId = state.newRequestId();
  const auth = parseAuthorization(req.headers.authorization);
  const contentType = String(req.headers['content-type'] ?? '');
  // Query APIs take their parameters in a form body (as the SDKs send them) or, with GET, in the query string.
  const query = (req.url ?? '').split('?')[1];
  const params = contentType.includes('x-www-form-urlencoded')
    ? parseForm(body.toString('utf8'))
    : req.method === 'GET' && query
      ? parseForm(query)
      : {};
  const svc = findService(req, auth?.service, params);
  const action = actionOf(req, svc, params);
  const served = new ServedCall(
    state.calls,
    state.calls.begin({
      emulator: 'aws',
      point: `${svc?.signingName ?? 'unknown'}:${action}`,
      origin: originOf(req),
      caller: null,
      ...(auth ? { accessKeyId: auth.accessKeyId } : {}),
    }),
    req,
    res,
  );
  const call = served.record;
  // The latency knob: every AWS call answers this much later (the bench's "20 ms per call"). The call is recorded
  // when it arrives, before the wait.
  if (state.callLatencyMs > 0) await new Promise((r) => setTimeout(r, state.callLatencyMs).unref());
  if (!svc) {
    call.error = 'UnknownService';
    sendQueryError(res, 'iam', new AwsError('UnknownService', 'No such service', 400), requestId);
    return;
  }
  let input: Record<string, unknown> = {};
  const deferred: (() => Promise<void>)[] = [];
  let ctx: RequestContext | undefined;
  const trailed = svc.trailed?.[action];
  try {
    if (svc.protocol === 'json') {
      try {
        input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        throw new AwsError('SerializationException', 'Request body is not valid JSON', 400);
      }
    }
    const handler = svc.actions[action];
    if (!handler)
      throw svc.protocol === 'json'
        ? new AwsError('UnknownOperationException', `Unknown operation ${action}`, 400)
        : new AwsError('InvalidAction', `Could not find operation ${action}`, 400);
    const unauthenticated = svc.unauthenticated?.has(action) === true;
    const { principal, region } = unauthenticated
      ? anonymousCaller(state, req)
      : authenticate(state, req, await signatureVerified(state, req, body), svc);
    if (principal.arn) call.caller = principal.arn;
    const fullAction = `${svc.signingName}:${action}`;
    // Actions that authorize themselves on their resource first are not refused here, on `*`, so their
    // AccessDenied names the resource as AWS's does.
    if (
      !unauthenticated &&
      fullAction !== 'sts:GetCallerIdentity' &&
      !svc.authorizesOnResource?.has(action) &&
      !isAllowed(principal.permissions, fullAction)
    )
      throw accessDenied(svc.protocol, principal, fullAction, '*');
    const fault = faultFor(state, call);
    if (fault) {
      if (await served.applyFault(fault, fault.error !== undefined)) {
        state.callLog.push({ at: state.now(), service: svc.signingName, action, error: 'ConnectionDropped' });
        return;
      }
      if (fault.error)
        throw protocolError(svc.protocol, fault.error.code, fault.error.message, fault.error.status);
    }
    ctx = {
      state,
      account: state.account(principal.accountId),
      principal,
      region,
      service: svc.signingName,
      action,
      requestId,
      callSeq: call.seq,
      headers: req.headers,
      params,
      input,
      now: state.now(),
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      trail: {},
      authorize: makeAuthorize(svc.protocol, principal),
      defer: (task) => deferred.push(task),
    };
    const result = await handler(ctx);
    if (trailed) recordApiEvent(state, ctx, trailed.readOnly);
    state.callLog.push({ at: ctx.now, service: svc.signingName, action, principal: principal.arn });
    if (svc.protocol === 'json') sendJsonResult(res, result, requestId);
    else
      sendQueryResult(res, svc.signingName, action, result as Record<string, unknown> | undefined, requestId);
  } catch (err) {
    const awsErr =
      err instanceof AwsError
        ? err
        : protocolError(svc.protocol, 'InternalFailure', err instanceof Error ? err.message : String(err));
    if (ctx && trailed) recordApiEvent(state, ctx, trailed.readOnly, awsErr);
    state.callLog.push({ at: state.now(), service: svc.signingName, action, error: awsErr.code });
    call.error = awsErr.code;
    sendError(res, svc, awsErr, requestId);
  }
  // The service has accepted the call: its deferred work (RotateSecret's rotation) runs even when the answer is
  // lost to a drop-after or crash fault, once the connection has been dropped.
  await served.settled;
  for (const task of deferred) setImmediate(() => void task().catch(() => undefined));
}

/** A registry request: recorded and faulted like an API call, under the route's point names. */
async function handleRaw(
  state: AwsState,
  route: RawRoute,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  body: Buffer,
): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const served = new ServedCall(
    state.calls,
    state.calls.begin({
      emulator: 'aws',
      point: `${route.name}:${method} ${path}`,
      origin: originOf(req),
      caller: null,
    }),
    req,
    res,
  );
  const fault = faultFor(state, served.record);
  if (fault) {
    if (await served.applyFault(fault, fault.error !== undefined)) return;
    if (fault.error) return route.sendFault(res, fault.error);
  }
  const signed = await signatureVerified(state, req, body);
  route.handle(req, res, state, served.record, {
    body,
    authenticate: (signingName) =>
      authenticate(state, req, signed, { signingName, protocol: 'query', actions: {} }),
  });
}

/** Starts the AWS emulator on 127.0.0.1 (a free port unless one is given). */
export async function startAwsEmulator(opts: AwsEmulatorOptions = {}): Promise<AwsEmulator> {
  const state = new AwsState(opts);
  const adminUser = state.createUser(state.defaultAccountId, 'localcloud-admin');
  const adminKey = state.createAccessKey(adminUser, { established: true });
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = req.url ?? '/';
      if (url.startsWith('/_localcloud/')) return handleAdmin(state, req, res, body);
      const path = url.split('?')[0] ?? '/';
      const route = RAW_ROUTES.find((r) => r.matches(path));
      if (route) return handleRaw(state, route, req, res, path, body);
      return handleApi(state, req, res, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`emulator error: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    adminClientConfig: (region = state.defaultRegion) => ({
      region,
      endpoint: url,
      credentials: { accessKeyId: adminKey.accessKeyId, secretAccessKey: adminKey.secretAccessKey },
    }),
    state,
    admin: {
      accessKeyId: adminKey.accessKeyId,
      secretAccessKey: adminKey.secretAccessKey,
      userName: adminUser.userName,
      accountId: adminUser.accountId,
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
