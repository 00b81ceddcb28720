import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';
import type { CallLog } from './calls';

/** Answers a test-control request with a JSON body. */
export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export interface AdminRequest {
  /** `METHOD /path`, without the query string. */
  route: string;
  /** `?since=SEQ`: only what comes after that point of the shared sequence (0 when absent). */
  since: number;
  /** The body validated by `schema`, or undefined after answering 400 with zod's explanation. */
  parse: <T>(schema: z.ZodType<T>) => T | undefined;
}

/**
 * The common front of both emulators' `/_localcloud/` controls: the route and a JSON body checked by a schema.
 * Undefined (after answering 400) when the body is not JSON or `since` is not a sequence number.
 */
export function adminRequest(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): AdminRequest | undefined {
  let json: unknown = {};
  try {
    json = body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch {
    send(res, 400, { error: 'body is not JSON' });
    return undefined;
  }
  const [path = '', query = ''] = (req.url ?? '').split('?');
  const sinceParam = new URLSearchParams(query).get('since');
  const since = sinceParam === null ? 0 : Number(sinceParam);
  if (!/^\d+$/.test(sinceParam ?? '0') || !Number.isSafeInteger(since)) {
    send(res, 400, {
      error: `since must be a non-negative integer (a seq), got ${JSON.stringify(sinceParam)}`,
    });
    return undefined;
  }
  return {
    route: `${req.method ?? 'GET'} ${path}`,
    since,
    parse: <T>(schema: z.ZodType<T>) => {
      const r = schema.safeParse(json);
      if (r.success) return r.data;
      send(res, 400, { error: z.prettifyError(r.error) });
      return undefined;
    },
  };
}

/** `GET /_localcloud/calls[?since=SEQ]` and `DELETE /_localcloud/calls`, on both emulators; false for other routes. */
export function handleCallsAdmin(calls: CallLog, request: AdminRequest, res: ServerResponse): boolean {
  if (request.route === 'GET /_localcloud/calls') send(res, 200, { calls: calls.since(request.since) });
  else if (request.route === 'DELETE /_localcloud/calls') {
    calls.clear();
    send(res, 200, { calls: [] });
  } else return false;
  return true;
}
