import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { adminRequest, handleCallsAdmin, send } from '../admin-http';
import { faultControlsOf, faultControlsShape, faultSpecProblem } from '../calls';
import type { PolicyDocumentRecord } from './policy';
import { SeedError, seedAws, type AwsSeedInput } from './seed';
import type { AwsState, Fault, RotationEvent } from './state';

const DAY = 86_400_000;

const faultSchema = z
  .object({
    /** Point name pattern: `iam:CreateAccessKey`, `secretsmanager:*`, `ecr-registry:GET /v2/`. */
    action: z.string().min(3),
    error: z
      .object({
        code: z.string().min(1),
        message: z.string().optional(),
        status: z.number().int().min(400).max(599).optional(),
      })
      .optional(),
    ...faultControlsShape,
  })
  .superRefine((f, ctx) => {
    const problem = faultSpecProblem(f, f.error !== undefined, 'error');
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const clockSchema = z.object({
  advanceMs: z.number().optional(),
  advanceDays: z.number().optional(),
  set: z.iso.datetime().optional(),
});

const configSchema = z.object({
  propagationDelayMs: z.number().int().nonnegative().optional(),
  /** How long CloudTrail takes to show an event in LookupEvents (AWS: about 5 minutes). */
  trailDelayMs: z.number().int().nonnegative().optional(),
});

const rotationFunctionSchema = z.object({ arn: z.string().startsWith('arn:'), url: z.url() });

export function serializeState(state: AwsState): unknown {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const documents = (inline: Map<string, PolicyDocumentRecord>) =>
    Object.fromEntries([...inline].map(([name, p]) => [name, p.document]));
  return {
    now: iso(state.now()),
    propagationDelayMs: state.propagationDelayMs,
    accounts: [...state.accounts.values()].map((a) => ({
      accountId: a.accountId,
      users: [...a.users.values()].map((u) => ({
        ...u,
        inlinePolicies: documents(u.inlinePolicies),
        loginProfile: u.loginProfile && { ...u.loginProfile, createDate: iso(u.loginProfile.createDate) },
        groups: state.groupsOf(u).map((g) => g.groupName),
        mfaDevices: state.mfaDevicesOf(u).map((d) => d.serialNumber),
        createDate: iso(u.createDate),
        keys: state.keysOf(a.accountId, u.userName).map((k) => ({
          ...k,
          createDate: iso(k.createDate),
          usableFrom: iso(k.usableFrom),
          lastUsed: k.lastUsed && { ...k.lastUsed, date: iso(k.lastUsed.date) },
        })),
      })),
      groups: [...a.groups.values()].map((g) => ({
        ...g,
        createDate: iso(g.createDate),
        members: [...g.members],
        inlinePolicies: documents(g.inlinePolicies),
      })),
      policies: [...a.policies.values()].map((p) => ({
        ...p,
        createDate: iso(p.createDate),
        updateDate: iso(p.updateDate),
        versions: [...p.versions.values()].map((v) => ({ versionId: v.versionId, document: v.document })),
      })),
      trails: [...a.trails.values()].map((t) => ({
        ...t,
        createdAt: iso(t.createdAt),
        startLoggingTime: iso(t.startLoggingTime),
        stopLoggingTime: iso(t.stopLoggingTime),
      })),
      roles: [...a.roles.values()].map((r) => ({
        roleName: r.roleName,
        roleId: r.roleId,
        path: r.path,
        arn: r.arn,
        createDate: iso(r.createDate),
        description: r.description,
        maxSessionDuration: r.maxSessionDuration,
        assumeRolePolicyDocument: r.assumeRolePolicyDocument,
        permissions: r.permissions,
        inlinePolicies: documents(r.inlinePolicies),
        attachedPolicies: r.attachedPolicies,
        tags: r.tags,
        lastUsed: r.lastUsed && { ...r.lastUsed, date: iso(r.lastUsed.date) },
      })),
      oidcProviders: [...a.oidcProviders.values()].map((p) => ({ ...p, createDate: iso(p.createDate) })),
      secrets: [...a.secrets.values()].map((s) => ({
        ...s,
        versions: [...s.versions.values()].map((v) => ({
          versionId: v.versionId,
          secretString: v.secretString,
          stages: v.stages,
          createdDate: iso(v.createdDate),
        })),
      })),
    })),
    sessions: [...state.sessions.values()].map((s) => ({
      ...s,
      creationDate: iso(s.creationDate),
      expiration: iso(s.expiration),
    })),
    trailDelayMs: state.trailDelayMs,
    faults: state.faults,
    rotations: state.rotations,
  };
}

/** Test controls under `/_localcloud/`: plain JSON, no AWS shape, no signature. */
export function handleAdmin(state: AwsState, req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const request = adminRequest(req, res, body);
  if (!request || handleCallsAdmin(state.calls, request, res)) return;
  const { route, parse: parseOr400 } = request;
  switch (route) {
    case 'GET /_localcloud/state':
      return send(res, 200, serializeState(state));
    case 'GET /_localcloud/clock':
      return send(res, 200, { now: new Date(state.now()).toISOString(), offsetMs: state.clockOffsetMs });
    case 'POST /_localcloud/clock': {
      const c = parseOr400(clockSchema);
      if (!c) return;
      if (c.set) state.clockOffsetMs = Date.parse(c.set) - Date.now();
      state.clockOffsetMs += (c.advanceMs ?? 0) + (c.advanceDays ?? 0) * DAY;
      return send(res, 200, { now: new Date(state.now()).toISOString(), offsetMs: state.clockOffsetMs });
    }
    case 'POST /_localcloud/config': {
      const c = parseOr400(configSchema);
      if (!c) return;
      if (c.propagationDelayMs !== undefined) state.propagationDelayMs = c.propagationDelayMs;
      if (c.trailDelayMs !== undefined) state.trailDelayMs = c.trailDelayMs;
      return send(res, 200, {
        propagationDelayMs: state.propagationDelayMs,
        trailDelayMs: state.trailDelayMs,
      });
    }
    case 'POST /_localcloud/faults': {
      const f = parseOr400(faultSchema);
      if (!f) return;
      const fault: Fault = {
        id: randomUUID(),
        action: f.action,
        ...faultControlsOf(f),
        ...(f.error ? { error: f.error } : {}),
      };
      state.faults.push(fault);
      return send(res, 200, fault);
    }
    case 'GET /_localcloud/faults':
      return send(res, 200, { faults: state.faults });
    case 'DELETE /_localcloud/faults':
      state.faults = [];
      return send(res, 200, { faults: [] });
    case 'GET /_localcloud/key-events':
      return send(res, 200, { keyEvents: state.keyEvents.filter((e) => e.seq > request.since) });
    case 'DELETE /_localcloud/key-events':
      state.keyEvents.length = 0;
      return send(res, 200, { keyEvents: [] });
    case 'GET /_localcloud/rotations':
      return send(res, 200, { rotations: state.rotations });
    case 'POST /_localcloud/rotation-functions': {
      const f = parseOr400(rotationFunctionSchema);
      if (!f) return;
      state.rotationFunctions.set(f.arn, async (event: RotationEvent) => {
        const r = await fetch(f.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(event),
        });
        if (!r.ok) throw new Error(`rotation function answered ${r.status}: ${await r.text()}`);
        return r.json().catch(() => undefined);
      });
      return send(res, 200, { registered: f.arn });
    }
    case 'POST /_localcloud/seed': {
      const s = parseOr400(z.unknown());
      if (s === undefined) return;
      try {
        return send(res, 200, seedAws(state, s as AwsSeedInput));
      } catch (err) {
        if (err instanceof SeedError) return send(res, 400, { error: err.message });
        throw err;
      }
    }
    default:
      return send(res, 404, { error: `no admin route ${route}` });
  }
}
