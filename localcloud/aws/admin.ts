import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { adminRequest, handleCallsAdmin, send } from '../admin-http';
import { faultControlsOf, faultControlsShape, faultSpecProblem } from '../calls';
import { createSecretRecord } from './secretsmanager';
import type { AwsState, Fault, RotationEvent } from './state';

const DAY = 86_400_000;

const statementSchema = z.object({
  effect: z.enum(['Allow', 'Deny']),
  actions: z.array(z.string()).min(1),
  resources: z.array(z.string()).optional(),
});

const keySeedSchema = z.object({
  accessKeyId: z
    .string()
    .regex(/^AKIA[A-Z0-9]{12,124}$/)
    .optional(),
  secretAccessKey: z.string().min(16).optional(),
  status: z.enum(['Active', 'Inactive']).default('Active'),
  /** Age of the key in days on the emulated clock (backdates CreateDate). */
  ageDays: z.number().nonnegative().optional(),
  createDate: z.iso.datetime().optional(),
  lastUsedDaysAgo: z.number().nonnegative().optional(),
  lastUsedService: z.string().default('ecr'),
  lastUsedRegion: z.string().optional(),
});

const seedSchema = z.object({
  users: z
    .array(
      z.object({
        userName: z.string().min(1),
        accountId: z
          .string()
          .regex(/^\d{12}$/)
          .optional(),
        path: z.string().startsWith('/').endsWith('/').optional(),
        tags: z.array(z.object({ Key: z.string(), Value: z.string() })).optional(),
        permissions: z.array(statementSchema).optional(),
        ageDays: z.number().nonnegative().optional(),
        keys: z.array(keySeedSchema).max(2).default([]),
      }),
    )
    .default([]),
  roles: z
    .array(
      z.object({
        roleName: z.string().min(1),
        accountId: z
          .string()
          .regex(/^\d{12}$/)
          .optional(),
        path: z.string().optional(),
        trustedPrincipals: z.array(z.string()).optional(),
        permissions: z.array(statementSchema).optional(),
      }),
    )
    .default([]),
  secrets: z
    .array(
      z.object({
        name: z.string().regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/),
        accountId: z
          .string()
          .regex(/^\d{12}$/)
          .optional(),
        region: z.string().optional(),
        description: z.string().optional(),
        /** The initial AWSCURRENT value. */
        secretString: z.string(),
        tags: z.array(z.object({ Key: z.string(), Value: z.string() })).optional(),
      }),
    )
    .default([]),
});

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

const configSchema = z.object({ propagationDelayMs: z.number().int().nonnegative().optional() });

const rotationFunctionSchema = z.object({ arn: z.string().startsWith('arn:'), url: z.url() });

export function serializeState(state: AwsState): unknown {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    now: iso(state.now()),
    propagationDelayMs: state.propagationDelayMs,
    accounts: [...state.accounts.values()].map((a) => ({
      accountId: a.accountId,
      users: [...a.users.values()].map((u) => ({
        ...u,
        createDate: iso(u.createDate),
        keys: state.keysOf(a.accountId, u.userName).map((k) => ({
          ...k,
          createDate: iso(k.createDate),
          usableFrom: iso(k.usableFrom),
          lastUsed: k.lastUsed && { ...k.lastUsed, date: iso(k.lastUsed.date) },
        })),
      })),
      roles: [...a.roles.values()],
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
    sessions: [...state.sessions.values()].map((s) => ({ ...s, expiration: iso(s.expiration) })),
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
      return send(res, 200, { propagationDelayMs: state.propagationDelayMs });
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
      const s = parseOr400(seedSchema);
      if (!s) return;
      const now = state.now();
      const users = s.users.map((u) => {
        const accountId = u.accountId ?? state.defaultAccountId;
        if (state.account(accountId).users.has(u.userName)) state.account(accountId).users.delete(u.userName);
        for (const k of state.keysOf(accountId, u.userName)) state.deleteAccessKey(k);
        const user = state.createUser(accountId, u.userName, {
          ...(u.path ? { path: u.path } : {}),
          ...(u.tags ? { tags: u.tags } : {}),
          ...(u.permissions ? { permissions: u.permissions } : {}),
          createDate: now - (u.ageDays ?? Math.max(0, ...u.keys.map((k) => k.ageDays ?? 0))) * DAY,
        });
        const keys = u.keys.map((k) => {
          const key = state.createAccessKey(user, {
            ...(k.accessKeyId ? { accessKeyId: k.accessKeyId } : {}),
            ...(k.secretAccessKey ? { secretAccessKey: k.secretAccessKey } : {}),
            status: k.status,
            createDate: k.createDate ? Date.parse(k.createDate) : now - (k.ageDays ?? 0) * DAY,
            established: true,
          });
          if (k.lastUsedDaysAgo !== undefined)
            key.lastUsed = {
              date: now - k.lastUsedDaysAgo * DAY,
              serviceName: k.lastUsedService,
              region: k.lastUsedRegion ?? state.defaultRegion,
            };
          return {
            accessKeyId: key.accessKeyId,
            secretAccessKey: key.secretAccessKey,
            status: key.status,
            createDate: new Date(key.createDate).toISOString(),
          };
        });
        return { userName: user.userName, arn: user.arn, accountId, keys };
      });
      const roles = s.roles.map((r) => {
        const role = state.createRole(r.accountId ?? state.defaultAccountId, r.roleName, {
          ...(r.path ? { path: r.path } : {}),
          ...(r.trustedPrincipals ? { trustedPrincipals: r.trustedPrincipals } : {}),
          ...(r.permissions ? { permissions: r.permissions } : {}),
        });
        return { roleName: role.roleName, arn: role.arn };
      });
      const secrets = s.secrets.map((x) => {
        const accountId = x.accountId ?? state.defaultAccountId;
        state.account(accountId).secrets.delete(x.name);
        const secret = createSecretRecord(state, {
          accountId,
          region: x.region ?? state.defaultRegion,
          name: x.name,
          description: x.description,
          tags: x.tags ?? [],
          value: { secretString: x.secretString },
        });
        return { name: secret.name, arn: secret.arn, versionId: [...secret.versions.keys()][0] };
      });
      return send(res, 200, { users, roles, secrets });
    }
    default:
      return send(res, 404, { error: `no admin route ${route}` });
  }
}
