import * as z from 'zod';
import { checkTrailName } from './cloudtrail';
import { parseProviderUrl, providerArn } from './iam-oidc';
import { AwsError } from './errors';
import { checkInlinePolicy, policyDocument, type PolicyDocumentRecord } from './policy';
import { createSecretRecord } from './secretsmanager';
import { DEFAULT_EVENT_SELECTOR, type AwsState } from './state';
import { awsTrustDocument, parseTrustPolicy } from './trust';

const DAY = 86_400_000;

const accountIdSchema = z
  .string()
  .regex(/^\d{12}$/)
  .optional();
const iamNameSchema = z.string().regex(/^[\w+=,.@-]{1,128}$/, 'an IAM name: 1-128 of [A-Za-z0-9_+=,.@-]');
const iamPathSchema = z.string().regex(/^\/([\x21-\x7e]*\/)?$/, 'an IAM path: / or /a/b/');
/** A policy document: JSON text, or the JSON itself. */
const documentSchema = z
  .union([z.string(), z.record(z.string(), z.unknown())])
  .transform((d) => (typeof d === 'string' ? d : JSON.stringify(d)));
const inlinePoliciesSchema = z.record(iamNameSchema, documentSchema);
/** Managed policies to attach: ARNs, or names (the account's own policy of that name, else the AWS managed one). */
const managedPoliciesSchema = z.array(z.string().min(1)).max(10);

const tagsSchema = z.array(z.object({ Key: z.string(), Value: z.string() }));

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

export const seedSchema = z.object({
  /** Customer managed policies (created before groups and users, which may attach them by name). */
  policies: z
    .array(
      z.object({
        policyName: iamNameSchema,
        accountId: accountIdSchema,
        path: iamPathSchema.optional(),
        description: z.string().max(1000).optional(),
        document: documentSchema,
      }),
    )
    .default([]),
  groups: z
    .array(
      z.object({
        groupName: iamNameSchema,
        accountId: accountIdSchema,
        path: iamPathSchema.optional(),
        inlinePolicies: inlinePoliciesSchema.optional(),
        managedPolicies: managedPoliciesSchema.optional(),
      }),
    )
    .default([]),
  users: z
    .array(
      z.object({
        userName: z.string().min(1),
        accountId: accountIdSchema,
        path: z.string().startsWith('/').endsWith('/').optional(),
        tags: tagsSchema.optional(),
        /** Used only while no IAM policy reaches the user (see AwsState.effectivePermissions). */
        permissions: z.array(statementSchema).optional(),
        ageDays: z.number().nonnegative().optional(),
        keys: z.array(keySeedSchema).max(2).default([]),
        inlinePolicies: inlinePoliciesSchema.optional(),
        managedPolicies: managedPoliciesSchema.optional(),
        /** Group names of the same account (seeded here or existing). */
        groups: z.array(iamNameSchema).max(10).optional(),
        /** A console password (true), or one of that age, last used that many days ago. */
        loginProfile: z
          .union([
            z.boolean(),
            z.object({
              passwordResetRequired: z.boolean().default(false),
              ageDays: z.number().nonnegative().optional(),
              lastUsedDaysAgo: z.number().nonnegative().optional(),
            }),
          ])
          .optional(),
        /**
         * Enabled MFA devices: a virtual one (`arn:aws:iam::ACCOUNT:mfa/USER` unless `serialNumber` is given as an
         * ARN), or a hardware one (a serial number that is not an ARN, such as `GAHT12345678`).
         */
        mfaDevices: z
          .array(
            z.object({
              serialNumber: z
                .string()
                .regex(/^[\w+=/:,.@-]{9,256}$/)
                .optional(),
              enabledDaysAgo: z.number().nonnegative().optional(),
            }),
          )
          .max(8)
          .optional(),
      }),
    )
    .default([]),
  /** IAM OIDC identity providers (the URL: https, or http on 127.0.0.1 / localhost; see iam-oidc.ts). */
  oidcProviders: z
    .array(
      z.object({
        url: z.string().min(1).max(255),
        accountId: accountIdSchema,
        /** The audiences tokens may carry; default: `sts.amazonaws.com`. */
        clientIds: z.array(z.string().min(1).max(255)).max(100).default(['sts.amazonaws.com']),
        thumbprints: z.array(z.string().length(40)).max(5).optional(),
        tags: tagsSchema.optional(),
      }),
    )
    .default([]),
  roles: z
    .array(
      z
        .object({
          roleName: iamNameSchema,
          accountId: accountIdSchema,
          path: iamPathSchema.optional(),
          description: z.string().max(1000).optional(),
          maxSessionDuration: z.number().int().min(3600).max(43200).optional(),
          /** The trust policy; without it, `trustedPrincipals` may call sts:AssumeRole (absent: any principal). */
          trustPolicy: documentSchema.optional(),
          trustedPrincipals: z.array(z.string()).optional(),
          /** Used only while no policy is attached to the role; none at all: an administrator. */
          permissions: z.array(statementSchema).optional(),
          inlinePolicies: inlinePoliciesSchema.optional(),
          managedPolicies: managedPoliciesSchema.optional(),
          tags: tagsSchema.optional(),
        })
        .refine((r) => r.trustPolicy === undefined || r.trustedPrincipals === undefined, {
          message: 'give trustPolicy or trustedPrincipals, not both',
        }),
    )
    .default([]),
  secrets: z
    .array(
      z.object({
        name: z.string().regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/),
        accountId: accountIdSchema,
        region: z.string().optional(),
        description: z.string().optional(),
        /** The initial AWSCURRENT value. */
        secretString: z.string(),
        tags: tagsSchema.optional(),
      }),
    )
    .default([]),
  /** CloudTrail trails, logging (by default) all management events unless `managementEvents` says otherwise. */
  trails: z
    .array(
      z.object({
        name: z.string(),
        accountId: accountIdSchema,
        region: z.string().optional(),
        multiRegion: z.boolean().default(false),
        logging: z.boolean().default(true),
        s3BucketName: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)
          .optional(),
        managementEvents: z.enum(['All', 'ReadOnly', 'WriteOnly', 'None']).default('All'),
      }),
    )
    .default([]),
  /** ECR repositories. */
  repositories: z
    .array(
      z.object({
        name: z.string().regex(/^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/),
        accountId: accountIdSchema,
        region: z.string().optional(),
      }),
    )
    .default([]),
});

export type AwsSeedInput = z.input<typeof seedSchema>;
type Seed = z.output<typeof seedSchema>;

/** A seed that cannot be applied: what is wrong, naming the item. Nothing has been changed. */
export class SeedError extends Error {}

/** Runs `check`, turning an emulator error into a SeedError that names `where`. */
function at<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof AwsError) throw new SeedError(`${where}: ${err.message}`);
    throw err;
  }
}

/** Inline policies as IAM would accept them on one user or group, checked as a whole (SeedError if not). */
function inlineOf(
  where: string,
  kind: 'user' | 'group' | 'role',
  holder: string,
  docs: Record<string, string> | undefined,
): Map<string, PolicyDocumentRecord> {
  const inline = new Map<string, PolicyDocumentRecord>();
  for (const [name, doc] of Object.entries(docs ?? {}))
    inline.set(
      name,
      at(`${where}.inlinePolicies.${name}`, () => checkInlinePolicy(inline, kind, holder, name, doc)),
    );
  return inline;
}

/**
 * Checks a whole seed against the state and the seed itself (documents, references to managed policies and
 * groups, trail names), so that applying it cannot fail half-way. Returns the resolved attachments.
 */
function plan(state: AwsState, s: Seed) {
  const acct = (id: string | undefined) => id ?? state.defaultAccountId;
  const seededPolicies = s.policies.map((p, i) => {
    at(`policies[${i}].document`, () => policyDocument(p.document));
    return {
      accountId: acct(p.accountId),
      name: p.policyName,
      arn: `arn:aws:iam::${acct(p.accountId)}:policy${p.path ?? '/'}${p.policyName}`,
    };
  });
  const resolvePolicy = (where: string, accountId: string, ref: string): string => {
    const exists = (arn: string) =>
      seededPolicies.some((p) => p.arn === arn) || state.managedPolicy(accountId, arn) !== undefined;
    const arn = ref.startsWith('arn:')
      ? ref
      : (seededPolicies.find((p) => p.accountId === accountId && p.name === ref)?.arn ??
        [...(state.accounts.get(accountId)?.policies.values() ?? [])].find((p) => p.policyName === ref)
          ?.arn ??
        `arn:aws:iam::aws:policy/${ref}`);
    if (!exists(arn)) throw new SeedError(`${where}: no managed policy ${ref} in account ${accountId}`);
    return arn;
  };
  const groups = s.groups.map((g, i) => ({
    inline: inlineOf(`groups[${i}]`, 'group', g.groupName, g.inlinePolicies),
    attached: (g.managedPolicies ?? []).map((ref, j) =>
      resolvePolicy(`groups[${i}].managedPolicies[${j}]`, acct(g.accountId), ref),
    ),
  }));
  const users = s.users.map((u, i) => {
    const accountId = acct(u.accountId);
    for (const [j, g] of (u.groups ?? []).entries())
      if (
        !s.groups.some((x) => x.groupName === g && acct(x.accountId) === accountId) &&
        !state.accounts.get(accountId)?.groups.has(g)
      )
        throw new SeedError(`users[${i}].groups[${j}]: no group ${g} in account ${accountId}`);
    const mfaSerials = (u.mfaDevices ?? []).map((m, j) => {
      const serial =
        m.serialNumber ?? `arn:aws:iam::${accountId}:mfa/${u.userName}${j === 0 ? '' : `-${j + 1}`}`;
      if (serial.startsWith('arn:') && !serial.startsWith(`arn:aws:iam::${accountId}:mfa/`))
        throw new SeedError(
          `users[${i}].mfaDevices[${j}]: ${serial} is not an MFA device of account ${accountId}`,
        );
      const holder = state.accounts.get(accountId)?.mfaDevices.get(serial)?.userName;
      if (holder !== undefined && holder !== u.userName)
        throw new SeedError(`users[${i}].mfaDevices[${j}]: ${serial} is already enabled for user ${holder}`);
      return serial;
    });
    return {
      mfaSerials,
      inline: inlineOf(`users[${i}]`, 'user', u.userName, u.inlinePolicies),
      attached: (u.managedPolicies ?? []).map((ref, j) =>
        resolvePolicy(`users[${i}].managedPolicies[${j}]`, accountId, ref),
      ),
    };
  });
  const oidcProviders = s.oidcProviders.map((p, i) => {
    const url = parseProviderUrl(p.url);
    if ('problem' in url) throw new SeedError(`oidcProviders[${i}].url: ${p.url}: ${url.problem}`);
    return providerArn(acct(p.accountId), url);
  });
  const roles = s.roles.map((r, i) => {
    const trust = r.trustPolicy ?? awsTrustDocument(r.trustedPrincipals);
    at(`roles[${i}].${r.trustPolicy === undefined ? 'trustedPrincipals' : 'trustPolicy'}`, () =>
      parseTrustPolicy(trust),
    );
    return {
      inline: inlineOf(`roles[${i}]`, 'role', r.roleName, r.inlinePolicies),
      attached: (r.managedPolicies ?? []).map((ref, j) =>
        resolvePolicy(`roles[${i}].managedPolicies[${j}]`, acct(r.accountId), ref),
      ),
    };
  });
  s.trails.forEach((t, i) => at(`trails[${i}].name`, () => checkTrailName(t.name)));
  return { groups, users, oidcProviders, roles };
}

/**
 * Applies a seed (the body of `POST /_localcloud/seed`, usable in-process too): customer managed policies,
 * groups, users (replacing any of the same name, with their keys) with their policies, groups, console password
 * and MFA devices, OIDC providers and roles (each replacing any of the same URL or name) with their trust and
 * permission policies, secrets, CloudTrail trails and ECR repositories. Throws SeedError, having changed
 * nothing, when the seed is invalid or names what does not exist.
 */
export function seedAws(state: AwsState, input: AwsSeedInput) {
  const parsed = seedSchema.safeParse(input);
  if (!parsed.success) throw new SeedError(z.prettifyError(parsed.error));
  const s = parsed.data;
  const resolved = plan(state, s);
  const now = state.now();
  const acct = (id: string | undefined) => id ?? state.defaultAccountId;

  const policies = s.policies.map((p) => {
    const accountId = acct(p.accountId);
    const policy = state.createManagedPolicy(accountId, p.policyName, p.document, {
      ...(p.path ? { path: p.path } : {}),
      ...(p.description === undefined ? {} : { description: p.description }),
    });
    return { policyName: policy.policyName, arn: policy.arn };
  });
  const groups = s.groups.map((g, i) => {
    const group = state.createGroup(acct(g.accountId), g.groupName, g.path ? { path: g.path } : {});
    group.inlinePolicies = resolved.groups[i]!.inline;
    group.attachedPolicies = resolved.groups[i]!.attached;
    return { groupName: group.groupName, arn: group.arn };
  });
  const users = s.users.map((u, i) => {
    const accountId = acct(u.accountId);
    const account = state.account(accountId);
    // A user seeded again starts afresh: no keys, groups or MFA devices of the one it replaces.
    for (const k of state.keysOf(accountId, u.userName)) state.deleteAccessKey(k);
    for (const g of account.groups.values()) g.members.delete(u.userName);
    for (const [serial, d] of account.mfaDevices)
      if (d.userName === u.userName) account.mfaDevices.delete(serial);
    account.users.delete(u.userName);
    const user = state.createUser(accountId, u.userName, {
      ...(u.path ? { path: u.path } : {}),
      ...(u.tags ? { tags: u.tags } : {}),
      ...(u.permissions ? { permissions: u.permissions } : {}),
      createDate: now - (u.ageDays ?? Math.max(0, ...u.keys.map((k) => k.ageDays ?? 0))) * DAY,
    });
    user.inlinePolicies = resolved.users[i]!.inline;
    user.attachedPolicies = resolved.users[i]!.attached;
    for (const g of u.groups ?? []) account.groups.get(g)?.members.add(user.userName);
    if (u.loginProfile) {
      const p = u.loginProfile === true ? { passwordResetRequired: false } : u.loginProfile;
      user.loginProfile = {
        createDate: now - (p.ageDays ?? 0) * DAY,
        passwordResetRequired: p.passwordResetRequired,
      };
      if (p.lastUsedDaysAgo !== undefined) user.passwordLastUsed = now - p.lastUsedDaysAgo * DAY;
    }
    const mfaDevices = resolved.users[i]!.mfaSerials.map((serial, j) => {
      if (serial.startsWith('arn:') && !account.mfaDevices.has(serial)) {
        const rest = serial.slice(`arn:aws:iam::${accountId}:mfa`.length);
        const slash = rest.lastIndexOf('/');
        state.createVirtualMfaDevice(accountId, rest.slice(slash + 1), { path: rest.slice(0, slash + 1) });
      }
      const enabledDaysAgo = u.mfaDevices?.[j]?.enabledDaysAgo ?? 0;
      return state.enableMfaDevice(user, serial, now - enabledDaysAgo * DAY).serialNumber;
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
    return { userName: user.userName, arn: user.arn, accountId, keys, mfaDevices };
  });
  const oidcProviders = s.oidcProviders.map((p, i) => {
    const accountId = acct(p.accountId);
    const provider = state.createOidcProvider(accountId, resolved.oidcProviders[i]!, p.url, {
      clientIds: [...new Set(p.clientIds)],
      ...(p.thumbprints ? { thumbprints: p.thumbprints } : {}),
      ...(p.tags ? { tags: p.tags } : {}),
    });
    return { url: provider.url, arn: provider.arn };
  });
  // A role seeded again replaces the one of that name, with its policies.
  const roles = s.roles.map((r, i) => {
    const role = state.createRole(acct(r.accountId), r.roleName, {
      ...(r.path ? { path: r.path } : {}),
      ...(r.trustPolicy === undefined ? {} : { trustPolicy: r.trustPolicy }),
      ...(r.trustedPrincipals ? { trustedPrincipals: r.trustedPrincipals } : {}),
      ...(r.permissions ? { permissions: r.permissions } : {}),
      ...(r.description === undefined ? {} : { description: r.description }),
      ...(r.maxSessionDuration === undefined ? {} : { maxSessionDuration: r.maxSessionDuration }),
      ...(r.tags ? { tags: r.tags } : {}),
    });
    role.inlinePolicies = resolved.roles[i]!.inline;
    role.attachedPolicies = resolved.roles[i]!.attached;
    return { roleName: role.roleName, arn: role.arn };
  });
  const secrets = s.secrets.map((x) => {
    const accountId = acct(x.accountId);
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
  const trails = s.trails.map((t) => {
    const accountId = acct(t.accountId);
    const region = t.region ?? state.defaultRegion;
    state.account(accountId).trails.delete(`arn:aws:cloudtrail:${region}:${accountId}:trail/${t.name}`);
    const trail = state.createTrail(accountId, region, t.name, {
      isMultiRegionTrail: t.multiRegion,
      logging: t.logging,
      ...(t.s3BucketName ? { s3BucketName: t.s3BucketName } : {}),
    });
    if (t.managementEvents !== 'All') {
      trail.eventSelectors = [
        t.managementEvents === 'None'
          ? { ...DEFAULT_EVENT_SELECTOR(), IncludeManagementEvents: false }
          : { ...DEFAULT_EVENT_SELECTOR(), ReadWriteType: t.managementEvents },
      ];
      trail.hasCustomEventSelectors = true;
    }
    return { name: trail.name, arn: trail.arn };
  });
  const repositories = s.repositories.map((r) => {
    const accountId = acct(r.accountId);
    const region = r.region ?? state.defaultRegion;
    const arn = `arn:aws:ecr:${region}:${accountId}:repository/${r.name}`;
    const repo = state.ecrRepositories.get(arn) ?? state.createEcrRepository(accountId, region, r.name);
    return { name: repo.repositoryName, arn: repo.repositoryArn };
  });
  return { policies, groups, users, oidcProviders, roles, secrets, trails, repositories };
}
