import { z } from 'zod';
import { constructCredential, parseCredentialXml, type Credential } from './credentials';
import { PERMISSION_NAMES } from './security';
import { itemUrl, viewOf, type JenkinsState, type StoreRef } from './state';

const permission = z.enum(PERMISSION_NAMES);
const storeRef = z.union([z.literal('system'), z.strictObject({ folder: z.string().min(1) })]);
const scope = z.enum(['GLOBAL', 'SYSTEM', 'USER']);

const common = {
  store: storeRef,
  /** Domain URL name; default `_` (global). */
  domain: z.string().min(1).optional(),
  id: z.string().min(1),
  scope: scope.optional(),
  description: z.string().optional(),
};

const credentialSeed = z.union([
  z.strictObject({ store: storeRef, domain: z.string().min(1).optional(), xml: z.string().min(1) }),
  z.discriminatedUnion('kind', [
    z.strictObject({
      ...common,
      kind: z.literal('aws'),
      accessKey: z.string(),
      secretKey: z.string(),
      iamRoleArn: z.string().optional(),
      iamExternalId: z.string().optional(),
      iamMfaSerialNumber: z.string().optional(),
      stsTokenDuration: z.number().int().optional(),
    }),
    z.strictObject({
      ...common,
      kind: z.literal('usernamePassword'),
      username: z.string(),
      password: z.string(),
      usernameSecret: z.boolean().optional(),
    }),
    z.strictObject({ ...common, kind: z.literal('string'), secret: z.string() }),
  ]),
]);

const jobSeed = z.strictObject({
  path: z.string().min(1),
  parameters: z.array(z.string().min(1)).optional(),
  disabled: z.boolean().optional(),
  check: z.enum(['sts-identity', 'ecr-login', 'noop']).optional(),
  credentialId: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  durationMs: z.number().int().nonnegative().max(600_000).optional(),
  expectedArn: z.string().optional(),
  quietPeriodMs: z.number().int().nonnegative().max(600_000).optional(),
  description: z.string().optional(),
});

export const seedSchema = z.strictObject({
  users: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        fullName: z.string().optional(),
        password: z.string().min(1).optional(),
        apiTokens: z.array(z.string().min(1)).optional(),
        /** Default: every permission. */
        permissions: z.array(permission).optional(),
      }),
    )
    .optional(),
  /** Permissions of requests without Authorization (default none). */
  anonymousPermissions: z.array(permission).optional(),
  folders: z.array(z.string().min(1)).optional(),
  credentials: z.array(credentialSeed).optional(),
  jobs: z.array(jobSeed).optional(),
  csrfEnabled: z.boolean().optional(),
  awsEndpoint: z.string().url().optional(),
});

export type SeedInput = z.input<typeof seedSchema>;

export interface SeedResult {
  users: { id: string; password: string | null; apiTokens: string[]; permissions: string[] }[];
  folders: string[];
  credentials: {
    store: StoreRef;
    domain: string;
    id: string | null;
    kind: string;
    className: string;
    displayName: string;
  }[];
  jobs: { path: string; url: string }[];
  csrfEnabled: boolean;
}

/**
 * Applies a seed (validated with `seedSchema`; throws ZodError). Users, credentials (by id) and jobs (by path) are
 * created or replaced; folders a credential or job needs are created.
 */
export function applySeed(state: JenkinsState, raw: SeedInput): SeedResult {
  const input = seedSchema.parse(raw);
  if (input.csrfEnabled !== undefined) state.csrfEnabled = input.csrfEnabled;
  if (input.awsEndpoint !== undefined) state.awsEndpoint = input.awsEndpoint;
  if (input.anonymousPermissions) state.anonymousPermissions = new Set(input.anonymousPermissions);
  const users = (input.users ?? []).map((u) => {
    const user = state.createUser(u.id, {
      ...(u.password !== undefined ? { password: u.password } : {}),
      ...(u.apiTokens ? { apiTokens: u.apiTokens } : {}),
      ...(u.permissions ? { permissions: u.permissions } : {}),
      ...(u.fullName !== undefined ? { fullName: u.fullName } : {}),
    });
    return {
      id: user.id,
      password: user.password ?? null,
      apiTokens: user.apiTokens,
      permissions: [...user.permissions],
    };
  });
  const folders = (input.folders ?? []).map((path) => {
    state.createFolder(path);
    return path;
  });
  const credentials = (input.credentials ?? []).map((seed) => {
    const store: StoreRef = seed.store;
    if (store !== 'system') state.createFolder(store.folder);
    const domain = seed.domain ?? '_';
    let credential: Credential;
    if ('xml' in seed) credential = parseCredentialXml(seed.xml);
    else {
      const { store: _s, domain: _d, kind, ...fields } = seed;
      credential = constructCredential(kind, { ...fields, scope: fields.scope ?? 'GLOBAL' });
    }
    state.putCredential(store, credential, domain);
    const view = viewOf(credential);
    return {
      store,
      domain,
      id: view.id,
      kind: view.kind,
      className: view.className,
      displayName: view.displayName,
    };
  });
  const jobs = (input.jobs ?? []).map((spec) => {
    const job = state.createJob(spec);
    return { path: spec.path, url: state.absoluteUrl(itemUrl(job)) };
  });
  return { users, folders, credentials, jobs, csrfEnabled: state.csrfEnabled };
}
