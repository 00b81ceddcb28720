import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';

/** Answers a test-control request with a JSON body. */
export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export interface AdminRequest {
  /** `METHOD /path`, without the query string. */
  route: string;
  /** The body validated by `schema`, or undefined after answering 400 with zod's explanation. */
  parse: <T>(schema: z.ZodType<T>) => T | undefined;
}

/**
 * The common front of both emulators' `/_localcloud/` controls: the route and a JSON body checked by a schema.
 * Undefined (after answering 400) when the body is not JSON.
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
  return {
    route: `${req.method ?? 'GET'} ${(req.url ?? '').split('?')[0] ?? ''}`,
    parse: <T>(schema: z.ZodType<T>) => {
      const r = schema.safeParse(json);
      if (r.success) return r.data;
      send(res, 400, { error: z.prettifyError(r.error) });
      return undefined;
    },
  };
}
