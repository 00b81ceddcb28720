import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';
import { adminRequest, handleCallsAdmin, send } from '../admin-http';
import { faultControlsOf, faultControlsShape, faultSpecProblem } from '../calls';
import { seedSchema } from './seed';
import type { JenkinsFault, JenkinsState } from './state';

const faultSchema = z
  .strictObject({
    method: z.string().min(1).optional(),
    /** Substring of the request path (query included), or `/regex/flags`. */
    path: z.string().min(1).optional(),
    /** Point name pattern (`jenkins:GET /queue/item/*`), `*` wildcards allowed. */
    point: z.string().startsWith('jenkins:').optional(),
    status: z.number().int().min(100).max(599).optional(),
    body: z.string().optional(),
    contentType: z.string().optional(),
    ...faultControlsShape,
  })
  .superRefine((f, ctx) => {
    if (f.path === undefined && f.point === undefined)
      ctx.addIssue({ code: 'custom', message: 'a fault needs path or point to match requests' });
    const problem = faultSpecProblem(f, f.status !== undefined, 'status');
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const configSchema = z.strictObject({
  csrfEnabled: z.boolean().optional(),
  awsEndpoint: z.string().url().nullable().optional(),
  rootUrl: z.string().url().optional(),
});

/**
 * Test controls under `/_localcloud/`: plain JSON, no authentication, nothing Jenkins-shaped, never logged.
 * - POST /seed, GET /state, POST|GET|DELETE /faults, GET|DELETE /requests, GET|DELETE /calls, POST /config,
 *   DELETE /sessions
 */
export function handleAdmin(
  state: JenkinsState,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): void {
  const request = adminRequest(req, res, body);
  if (!request || handleCallsAdmin(state.calls, request, res)) return;
  const { route, parse: parseOr400 } = request;
  switch (route) {
    case 'GET /_localcloud/state':
      return send(res, 200, state.snapshot());
    case 'POST /_localcloud/seed': {
      const input = parseOr400(seedSchema);
      if (!input) return;
      try {
        return send(res, 200, state.seed(input));
      } catch (err) {
        if (err instanceof Error) return send(res, 400, { error: err.message });
        throw err;
      }
    }
    case 'POST /_localcloud/config': {
      const c = parseOr400(configSchema);
      if (!c) return;
      if (c.csrfEnabled !== undefined) state.csrfEnabled = c.csrfEnabled;
      if (c.awsEndpoint !== undefined) state.awsEndpoint = c.awsEndpoint ?? undefined;
      if (c.rootUrl !== undefined) state.rootUrl = c.rootUrl.endsWith('/') ? c.rootUrl : `${c.rootUrl}/`;
      return send(res, 200, {
        csrfEnabled: state.csrfEnabled,
        awsEndpoint: state.awsEndpoint ?? null,
        rootUrl: state.rootUrl,
      });
    }
    case 'POST /_localcloud/faults': {
      const f = parseOr400(faultSchema);
      if (!f) return;
      const fault: JenkinsFault = {
        id: state.nextFaultId++,
        ...faultControlsOf(f),
        ...(f.path !== undefined ? { path: f.path } : {}),
        ...(f.point !== undefined ? { point: f.point } : {}),
        ...(f.method ? { method: f.method.toUpperCase() } : {}),
        ...(f.status !== undefined ? { status: f.status } : {}),
        ...(f.body !== undefined ? { body: f.body } : {}),
        ...(f.contentType !== undefined ? { contentType: f.contentType } : {}),
      };
      state.faults.push(fault);
      return send(res, 200, fault);
    }
    case 'GET /_localcloud/faults':
      return send(res, 200, { faults: state.faults });
    case 'DELETE /_localcloud/faults':
      state.faults = [];
      return send(res, 200, { faults: [] });
    case 'GET /_localcloud/requests':
      return send(res, 200, { requests: state.requests });
    case 'DELETE /_localcloud/requests':
      state.requests.length = 0;
      return send(res, 200, { requests: [] });
    case 'DELETE /_localcloud/sessions':
      state.sessions.clear();
      return send(res, 200, { sessions: 0 });
    default:
      return send(res, 404, { error: `no admin route ${route}` });
  }
}
