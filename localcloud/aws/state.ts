import { randomBytes, randomUUID } from 'node:crypto';
import { CallLog, type FaultControls } from '../calls';
import { AwsError, noSuchEntity } from './errors';
import {
  AWS_MANAGED_POLICIES,
  checkInlinePolicy,
  defaultStatements,
  policyDocument,
  type ManagedPolicyRecord,
  type PolicyDocumentRecord,
} from './policy';
import type { TrailEventRecord } from './trail-events';
import { awsTrustDocument, parseTrustPolicy, type TrustStatement } from './trust';

/** A permission statement, evaluated the IAM way: an explicit Deny wins, else some Allow must match. */
export interface Statement {
  effect: 'Allow' | 'Deny';
  /** `service:Action`, `*` wildcards allowed, case-insensitive (e.g. `ecr:GetAuthorizationToken`, `iam:*`). */
  actions: string[];
  /** ARN patterns with `*` wildcards; omitted means every resource. */
  resources?: string[];
}

export interface Tag {
  Key: string;
  Value: string;
}

export interface AccessKeyRecord {
  accessKeyId: string;
  secretAccessKey: string;
  userName: string;
  accountId: string;
  status: 'Active' | 'Inactive';
  /** Emulated-clock epoch ms. */
  createDate: number;
  /** The key authenticates only from this emulated-clock time on (IAM propagation). */
  usableFrom: number;
  lastUsed?: { date: number; serviceName: string; region: string };
}

export interface UserRecord {
  userName: string;
  userId: string;
  path: string;
  arn: string;
  accountId: string;
  createDate: number;
  passwordLastUsed?: number;
  tags: Tag[];
  /**
   * Seeded permissions, which apply only while no IAM policy reaches the user (inline, attached, or through a
   * group): see `AwsState.effectivePermissions`. Undefined: every action is allowed (an administrator).
   */
  permissions?: Statement[];
  /** Inline policies (PutUserPolicy) by name: each document exactly as it was put, and its statements. */
  inlinePolicies: Map<string, PolicyDocumentRecord>;
  /** ARNs of the managed policies attached to the user (AttachUserPolicy), in the order they were attached. */
  attachedPolicies: string[];
  /** The console password's profile (never the password itself). */
  loginProfile?: LoginProfileRecord;
}

export interface LoginProfileRecord {
  createDate: number;
  passwordResetRequired: boolean;
}

export interface GroupRecord {
  groupName: string;
  groupId: string;
  path: string;
  arn: string;
  accountId: string;
  createDate: number;
  /** Member user names. */
  members: Set<string>;
  inlinePolicies: Map<string, PolicyDocumentRecord>;
  attachedPolicies: string[];
}

/** An MFA device of an account: a virtual one (CreateVirtualMFADevice) or a seeded hardware one. */
export interface MfaDeviceRecord {
  serialNumber: string;
  accountId: string;
  virtual: boolean;
  /** Base32 TOTP seed of a virtual device (synthetic; what an authenticator app would be given). */
  seed?: string;
  createDate: number;
  /** The user it is enabled for, and since when; both absent while unassigned. */
  userName?: string;
  enableDate?: number;
}

/** A CloudTrail management event selector (classic event selectors; see cloudtrail.ts). */
export interface EventSelectorRecord {
  ReadWriteType: 'ReadOnly' | 'WriteOnly' | 'All';
  IncludeManagementEvents: boolean;
  DataResources: { Type: string; Values: string[] }[];
  ExcludeManagementEventSources: string[];
}

/** What a new trail logs: every management event, read and write. */
export const DEFAULT_EVENT_SELECTOR = (): EventSelectorRecord => ({
  ReadWriteType: 'All',
  IncludeManagementEvents: true,
  DataResources: [],
  ExcludeManagementEventSources: [],
});

export interface TrailRecord {
  name: string;
  arn: string;
  accountId: string;
  homeRegion: string;
  s3BucketName: string;
  s3KeyPrefix?: string;
  snsTopicName?: string;
  includeGlobalServiceEvents: boolean;
  isMultiRegionTrail: boolean;
  logFileValidationEnabled: boolean;
  cloudWatchLogsLogGroupArn?: string;
  cloudWatchLogsRoleArn?: string;
  kmsKeyId?: string;
  isLogging: boolean;
  /** Emulated-clock epoch ms of the last StartLogging / StopLogging. */
  startLoggingTime?: number;
  stopLoggingTime?: number;
  eventSelectors: EventSelectorRecord[];
  /** Advanced event selectors as they were put: stored and answered, not interpreted. */
  advancedEventSelectors?: unknown[];
  hasCustomEventSelectors: boolean;
  tags: Tag[];
  createdAt: number;
}

export interface RoleRecord {
  roleName: string;
  roleId: string;
  path: string;
  arn: string;
  accountId: string;
  createDate: number;
  description?: string;
  /** Seconds: the longest session AssumeRole* may grant (3600 to 43200). */
  maxSessionDuration: number;
  /** The trust policy exactly as it was set, and its parsed statements (see trust.ts). */
  assumeRolePolicyDocument: string;
  trust: TrustStatement[];
  /**
   * Seeded permissions, which apply only while no IAM policy is attached to the role (see
   * `AwsState.rolePermissions`). Undefined: every action is allowed. Roles created through the API have none.
   */
  permissions?: Statement[];
  /** Inline policies (PutRolePolicy) by name. */
  inlinePolicies: Map<string, PolicyDocumentRecord>;
  /** ARNs of the attached managed policies, in the order they were attached. */
  attachedPolicies: string[];
  tags: Tag[];
  /** The last time a session of the role was created or made a request (GetRole's RoleLastUsed). */
  lastUsed?: { date: number; region: string };
}

/** An IAM OpenID Connect identity provider. */
export interface OidcProviderRecord {
  /** `arn:aws:iam::ACCOUNT:oidc-provider/<host and path of the URL>`. */
  arn: string;
  /** The URL as it was registered, scheme included. */
  url: string;
  accountId: string;
  clientIds: string[];
  thumbprints: string[];
  tags: Tag[];
  createDate: number;
}

export interface SessionRecord {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  roleArn: string;
  assumedRoleArn: string;
  assumedRoleId: string;
  sessionName: string;
  accountId: string;
  /** Emulated-clock epoch ms. */
  creationDate: number;
  expiration: number;
  /** Set for a session of AssumeRoleWithWebIdentity: who the token said the caller was. */
  webIdentity?: { providerArn: string; subject: string; audience: string };
}

export interface SecretVersionRecord {
  versionId: string;
  secretString?: string;
  secretBinary?: Buffer;
  createdDate: number;
  /** Emulated-clock epoch ms, truncated to the UTC day as AWS reports it. */
  lastAccessedDate?: number;
  stages: string[];
}

export interface SecretRecord {
  arn: string;
  name: string;
  accountId: string;
  description?: string;
  kmsKeyId?: string;
  createdDate: number;
  lastChangedDate?: number;
  lastAccessedDate?: number;
  lastRotatedDate?: number;
  nextRotationDate?: number;
  deletedDate?: number;
  rotationEnabled: boolean;
  rotationLambdaArn?: string;
  rotationRules?: { AutomaticallyAfterDays?: number; Duration?: string; ScheduleExpression?: string };
  tags: Tag[];
  versions: Map<string, SecretVersionRecord>;
}

export interface AccountState {
  accountId: string;
  users: Map<string, UserRecord>;
  roles: Map<string, RoleRecord>;
  secrets: Map<string, SecretRecord>;
  groups: Map<string, GroupRecord>;
  /** Customer managed policies by ARN (AWS managed ones: policy.ts). */
  policies: Map<string, ManagedPolicyRecord>;
  /** MFA devices by serial number. */
  mfaDevices: Map<string, MfaDeviceRecord>;
  /** CloudTrail trails by ARN, each in its home region (multi-Region ones shadow into every other region). */
  trails: Map<string, TrailRecord>;
  /** IAM OpenID Connect identity providers by ARN. */
  oidcProviders: Map<string, OidcProviderRecord>;
  credentialReport?: { generatedAt: number; csv: string };
}

export interface EcrTokenRecord {
  password: string;
  principalArn: string;
  /** The caller the token was issued to: the registry authorizes each repository request as that caller. */
  principal: PrincipalRef;
  accountId: string;
  region: string;
  expiresAt: number;
}

export interface EcrRepositoryRecord {
  repositoryName: string;
  repositoryArn: string;
  registryId: string;
  region: string;
  createdAt: number;
  tags: Tag[];
  /** Completed layers by digest (a push's state: held in memory). */
  layers: Map<string, EcrLayerRecord>;
  /** Layer uploads in progress by upload id. */
  uploads: Map<string, { parts: Buffer[]; size: number }>;
  /** Image manifests by digest. */
  images: Map<string, EcrImageRecord>;
  /** Image tags: tag to manifest digest. */
  imageTags: Map<string, string>;
}

export interface EcrLayerRecord {
  digest: string;
  data: Buffer;
  /** Known once a manifest names the layer. */
  mediaType?: string;
}

export interface EcrImageRecord {
  digest: string;
  manifest: string;
  mediaType: string;
  pushedAt: number;
}

/** Who a caller is, as policy evaluation needs it (policy variables). */
export type PrincipalRef = Pick<Principal, 'kind' | 'arn' | 'userId' | 'accountId'>;

/** The authenticated caller of a request. */
export interface Principal {
  /** `anonymous`: an action served without a signature (AssumeRoleWithWebIdentity); it may do nothing. */
  kind: 'user' | 'assumed-role' | 'anonymous';
  arn: string;
  /** UserId for users, `ROLEID:session` for assumed roles. */
  userId: string;
  accountId: string;
  accessKeyId: string;
  permissions?: Statement[];
}

/** A fault of the AWS emulator; `skip`, `remaining`, `latencyMs`, `drop`, `crash` and `origin` see FaultControls. */
export interface Fault extends FaultControls {
  id: string;
  /**
   * Point name pattern, `*` wildcards allowed, case-insensitive: `service:Action` (`iam:CreateAccessKey`,
   * `secretsmanager:*`) or a registry request (`ecr-registry:GET /v2/`).
   */
  action: string;
  /** Error to answer with; `Throttling` is translated per protocol (the registry: 429 TOOMANYREQUESTS). */
  error?: { code: string; message?: string; status?: number };
}

export type KeyStatus = AccessKeyRecord['status'];

/** One change to an access key, in the shared sequence of the CallLog. */
export interface KeyEvent {
  seq: number;
  kind: 'create' | 'update' | 'delete';
  accountId: string;
  userName: string;
  accessKeyId: string;
  /** Null for a create. */
  statusBefore: KeyStatus | null;
  /** Null for a delete. */
  statusAfter: KeyStatus | null;
  /** Emulated-clock epoch ms. */
  at: number;
  /** The API call that made the change; absent for admin (seed) and in-process changes. */
  callSeq?: number;
}

export interface RotationRun {
  secretId: string;
  token: string;
  lambdaArn: string;
  status: 'running' | 'succeeded' | 'failed';
  steps: { step: string; ok: boolean; error?: string }[];
  startedAt: number;
  finishedAt?: number;
}

export interface SnsTopicRecord {
  arn: string;
  name: string;
  accountId: string;
  region: string;
  createdAt: number;
}

/** A message accepted by Publish, kept for tests and demos (see sns.ts). */
export interface SnsMessageRecord {
  messageId: string;
  topicArn: string;
  subject?: string;
  message: string;
  /** Emulated-clock epoch ms. */
  at: number;
}

/** The event Secrets Manager sends a rotation Lambda. */
export interface RotationEvent {
  Step: 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
  SecretId: string;
  ClientRequestToken: string;
  RotationToken?: string;
}

/** A registered stand-in for a rotation Lambda, keyed by its function ARN. */
export type RotationFunction = (event: RotationEvent) => Promise<unknown>;

/** An IAM entity that holds policies. */
export type PolicyHolder = UserRecord | GroupRecord | RoleRecord;

const holderKind = (h: PolicyHolder): { kind: 'user' | 'group' | 'role'; name: string } =>
  'userName' in h
    ? { kind: 'user', name: h.userName }
    : 'groupName' in h
      ? { kind: 'group', name: h.groupName }
      : { kind: 'role', name: h.roleName };

/** IAM's default quotas. */
const ATTACHED_POLICIES_MAX = 10;
const GROUPS_PER_USER_MAX = 10;

const ALNUM_UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function randomId(prefix: string, length: number): string {
  const bytes = randomBytes(length);
  let s = prefix;
  for (let i = 0; i < length; i++) s += ALNUM_UPPER[bytes[i]! % ALNUM_UPPER.length];
  return s;
}

export const randomSecret = (): string =>
  randomBytes(30).toString('base64').replace(/[+]/g, 'x').slice(0, 40);

/** IAM wildcards: `*` any run of characters, `?` exactly one (secret ARNs end in `-??????`). */
export function matchesPattern(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) =>
        p
          .split('?')
          .map((q) => q.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.'),
      )
      .join('.*')}$`,
    caseInsensitive ? 'i' : '',
  );
  return re.test(value);
}

/**
 * IAM policy variables in a Resource (`${aws:username}`, `${aws:userid}`, `${aws:PrincipalAccount}`), resolved for
 * the caller. A variable IAM cannot resolve for this caller (aws:username for a role session) leaves the pattern
 * matching nothing, as in IAM, where such a statement does not apply.
 */
function resolveVariables(pattern: string, who: PrincipalRef | undefined) {
  if (!pattern.includes('${')) return pattern;
  const vars: Record<string, string | undefined> = {
    'aws:username': who?.kind === 'user' ? who.arn.slice(who.arn.lastIndexOf('/') + 1) : undefined,
    'aws:userid': who?.userId,
    'aws:principalaccount': who?.accountId,
  };
  let unresolved = false;
  const out = pattern.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    const v = vars[name.toLowerCase()];
    if (v === undefined) unresolved = true;
    return v ?? '';
  });
  return unresolved ? undefined : out;
}

/** IAM-style evaluation. Undefined permissions mean an administrator. `who`: the caller, for policy variables. */
export function isAllowed(
  permissions: Statement[] | undefined,
  action: string,
  resource = '*',
  who?: PrincipalRef,
): boolean {
  if (!permissions) return true;
  const matches = (r: string) => {
    const pattern = resolveVariables(r, who);
    return pattern !== undefined && matchesPattern(pattern, resource);
  };
  const applies = (s: Statement) =>
    s.actions.some((a) => matchesPattern(a, action, true)) &&
    (s.resources === undefined || resource === '*' || s.resources.some(matches));
  if (
    permissions.some(
      (s) => s.effect === 'Deny' && applies(s) && (s.resources === undefined || resource !== '*'),
    )
  )
    return false;
  return permissions.some((s) => s.effect === 'Allow' && applies(s));
}

export interface AwsStateOptions {
  /** The call record to share with a Jenkins emulator (one sequence for both); default: a new one. */
  calls?: CallLog;
  accountId?: string;
  region?: string;
  propagationDelayMs?: number;
  /** Added to every AWS API call before it is handled (ms; default 0): a real endpoint's round trip. */
  callLatencyMs?: number;
  /**
   * CA certificates (PEM) trusted, besides Node's, when the emulator fetches an OIDC issuer's keys over https:
   * the test CA of an HTTPS Jenkins emulator, say.
   */
  trustedCaPem?: string[];
}

const userKey = (accountId: string, userName: string) => `${accountId}\u0000${userName}`;

/** All emulated AWS state. Times are emulated-clock epoch ms (`now()`), which tests can move forward. */
export class AwsState {
  readonly defaultAccountId: string;
  readonly defaultRegion: string;
  propagationDelayMs: number;
  /** See AwsStateOptions.callLatencyMs; may be changed while the emulator runs. */
  callLatencyMs: number;
  /** See AwsStateOptions.trustedCaPem; may be added to while the emulator runs. */
  readonly trustedCaPem: string[];
  clockOffsetMs = 0;
  readonly accounts = new Map<string, AccountState>();
  readonly accessKeys = new Map<string, AccessKeyRecord>();
  /**
   * `accessKeys` by account and user, so that a user's keys are found without a scan of every key (the credential
   * report of 5,000 users stays linear). `keysOf` checks each entry against `accessKeys`, which tests may edit.
   */
  readonly #keysByUser = new Map<string, Set<AccessKeyRecord>>();
  readonly sessions = new Map<string, SessionRecord>();
  readonly ecrTokens = new Map<string, EcrTokenRecord>();
  /** Keyed by repository ARN. */
  readonly ecrRepositories = new Map<string, EcrRepositoryRecord>();
  /** GetDownloadUrlForLayer links by id (see ecr.ts `layerLink`). */
  readonly ecrLayerLinks = new Map<string, { repositoryArn: string; digest: string; expiresAt: number }>();
  faults: Fault[] = [];
  readonly rotations: RotationRun[] = [];
  readonly rotationFunctions = new Map<string, RotationFunction>();
  /** SNS topics by ARN, and every message published to them, oldest first. */
  readonly sns = { topics: new Map<string, SnsTopicRecord>(), messages: [] as SnsMessageRecord[] };
  readonly callLog: { at: number; service: string; action: string; principal?: string; error?: string }[] =
    [];
  /** Every outside call, shared with the Jenkins emulator of the same local cloud. */
  readonly calls: CallLog;
  /** Every access key creation, status update and deletion, oldest first. */
  readonly keyEvents: KeyEvent[] = [];
  /** CloudTrail's event history (see trail-events.ts), oldest first. */
  readonly trailEvents: TrailEventRecord[] = [];
  /** How long after a call its event shows in LookupEvents, emulated-clock ms (AWS: about 5 minutes). */
  trailDelayMs = 0;
  /**
   * Called synchronously as each key change is applied (before any answer is sent), to check invariants across
   * both emulators at that instant. What it throws propagates to whatever made the change (an API call then
   * answers InternalFailure, the change having been applied).
   */
  onKeyEvent: ((event: Readonly<KeyEvent>) => void) | undefined;

  constructor(opts: AwsStateOptions = {}) {
    this.calls = opts.calls ?? new CallLog();
    this.defaultAccountId = opts.accountId ?? '111122223333';
    this.defaultRegion = opts.region ?? 'us-east-1';
    this.propagationDelayMs = opts.propagationDelayMs ?? 0;
    this.callLatencyMs = opts.callLatencyMs ?? 0;
    this.trustedCaPem = [...(opts.trustedCaPem ?? [])];
    this.account(this.defaultAccountId);
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  account(accountId: string): AccountState {
    let acct = this.accounts.get(accountId);
    if (!acct) {
      acct = {
        accountId,
        users: new Map(),
        roles: new Map(),
        secrets: new Map(),
        groups: new Map(),
        policies: new Map(),
        mfaDevices: new Map(),
        trails: new Map(),
        oidcProviders: new Map(),
      };
      this.accounts.set(accountId, acct);
    }
    return acct;
  }

  createUser(
    accountId: string,
    userName: string,
    opts: { path?: string; tags?: Tag[]; permissions?: Statement[]; createDate?: number } = {},
  ): UserRecord {
    const acct = this.account(accountId);
    const path = opts.path ?? '/';
    const user: UserRecord = {
      userName,
      userId: randomId('AIDA', 17),
      path,
      arn: `arn:aws:iam::${accountId}:user${path}${userName}`,
      accountId,
      createDate: opts.createDate ?? this.now(),
      tags: opts.tags ?? [],
      ...(opts.permissions ? { permissions: opts.permissions } : {}),
      inlinePolicies: new Map(),
      attachedPolicies: [],
    };
    acct.users.set(userName, user);
    return user;
  }

  /**
   * What `user` may do: the union of its inline policies, the default versions of its attached managed policies,
   * and the inline and attached policies of its groups (isAllowed lets an explicit Deny win). While no policy
   * reaches the user, its seeded `permissions` (undefined: an administrator).
   */
  effectivePermissions(user: UserRecord): Statement[] | undefined {
    const docs: Statement[][] = [];
    const collect = (inline: Map<string, PolicyDocumentRecord>, attached: string[]) => {
      for (const d of inline.values()) docs.push(d.statements);
      for (const arn of attached) {
        const policy = this.managedPolicy(user.accountId, arn);
        if (policy) docs.push(defaultStatements(policy));
      }
    };
    collect(user.inlinePolicies, user.attachedPolicies);
    for (const group of this.groupsOf(user)) collect(group.inlinePolicies, group.attachedPolicies);
    return docs.length > 0 ? docs.flat() : user.permissions;
  }

  /**
   * What a session of `role` may do: exactly the role's inline policies and the default versions of its attached
   * managed policies (isAllowed lets an explicit Deny win). While none is attached, its seeded `permissions`
   * (undefined: an administrator; roles created through the API have none, so they may do nothing).
   */
  rolePermissions(role: RoleRecord): Statement[] | undefined {
    const docs: Statement[][] = [...role.inlinePolicies.values()].map((d) => d.statements);
    for (const arn of role.attachedPolicies) {
      const policy = this.managedPolicy(role.accountId, arn);
      if (policy) docs.push(defaultStatements(policy));
    }
    return docs.length > 0 ? docs.flat() : role.permissions;
  }

  /** What a caller may do now (undefined: everything), resolved from its current IAM state. */
  permissionsOf(who: PrincipalRef): Statement[] | undefined {
    const acct = this.accounts.get(who.accountId);
    const parts = who.arn.split('/');
    // A user's name ends its ARN (after its path); an assumed role's ARN is `assumed-role/ROLE/SESSION`.
    if (who.kind === 'user') {
      const user = acct?.users.get(parts[parts.length - 1] ?? '');
      return user?.arn === who.arn ? this.effectivePermissions(user) : [];
    }
    if (who.kind === 'anonymous') return [];
    const role = acct?.roles.get(parts[1] ?? '');
    return role ? this.rolePermissions(role) : [];
  }

  /** The role an ARN names (path included), if its account has it. */
  roleByArn(arn: string): RoleRecord | undefined {
    const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
    const role = m ? this.accounts.get(m[1]!)?.roles.get(m[2]!) : undefined;
    return role?.arn === arn ? role : undefined;
  }

  /** A managed policy `accountId` can use: an AWS managed one, or one of its own. */
  managedPolicy(accountId: string, arn: string): ManagedPolicyRecord | undefined {
    return AWS_MANAGED_POLICIES.get(arn) ?? this.accounts.get(accountId)?.policies.get(arn);
  }

  /** Creates a customer managed policy with `document` as its default version v1 (throws MalformedPolicyDocument). */
  createManagedPolicy(
    accountId: string,
    policyName: string,
    document: string,
    opts: { path?: string; description?: string; tags?: Tag[] } = {},
  ): ManagedPolicyRecord {
    const path = opts.path ?? '/';
    const arn = `arn:aws:iam::${accountId}:policy${path}${policyName}`;
    const now = this.now();
    const policy: ManagedPolicyRecord = {
      policyName,
      policyId: randomId('ANPA', 17),
      arn,
      path,
      ...(opts.description === undefined ? {} : { description: opts.description }),
      owner: accountId,
      createDate: now,
      updateDate: now,
      defaultVersionId: 'v1',
      versions: new Map([['v1', { versionId: 'v1', createDate: now, ...policyDocument(document) }]]),
      nextVersion: 2,
      tags: opts.tags ?? [],
    };
    this.account(accountId).policies.set(arn, policy);
    return policy;
  }

  /** Stores an inline policy on a user, group or role after IAM's checks (see `checkInlinePolicy`). */
  putInlinePolicy(holder: PolicyHolder, policyName: string, document: string): void {
    const { kind, name } = holderKind(holder);
    holder.inlinePolicies.set(
      policyName,
      checkInlinePolicy(holder.inlinePolicies, kind, name, policyName, document),
    );
  }

  /** Attaches a managed policy to a user, group or role (idempotent, as in IAM) within IAM's quota. */
  attachPolicy(holder: PolicyHolder, arn: string): void {
    if (!this.managedPolicy(holder.accountId, arn))
      throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
    if (holder.attachedPolicies.includes(arn)) return;
    const { kind } = holderKind(holder);
    if (holder.attachedPolicies.length >= ATTACHED_POLICIES_MAX)
      throw new AwsError(
        'LimitExceeded',
        `Cannot exceed quota for PoliciesPer${kind[0]!.toUpperCase()}${kind.slice(1)}: ${ATTACHED_POLICIES_MAX}`,
        409,
      );
    holder.attachedPolicies.push(arn);
  }

  /** Adds `user` to `group` within IAM's groups-per-user quota (idempotent). */
  addUserToGroup(group: GroupRecord, user: UserRecord): void {
    if (group.members.has(user.userName)) return;
    if (this.groupsOf(user).length >= GROUPS_PER_USER_MAX)
      throw new AwsError(
        'LimitExceeded',
        `Cannot exceed quota for GroupsPerUser: ${GROUPS_PER_USER_MAX}`,
        409,
      );
    group.members.add(user.userName);
  }

  /** Users, groups and roles (and so AttachmentCount) that a managed policy is attached to in `accountId`. */
  attachmentsOf(
    accountId: string,
    arn: string,
  ): { users: UserRecord[]; groups: GroupRecord[]; roles: RoleRecord[] } {
    const acct = this.account(accountId);
    return {
      users: [...acct.users.values()].filter((u) => u.attachedPolicies.includes(arn)),
      groups: [...acct.groups.values()].filter((g) => g.attachedPolicies.includes(arn)),
      roles: [...acct.roles.values()].filter((r) => r.attachedPolicies.includes(arn)),
    };
  }

  createGroup(accountId: string, groupName: string, opts: { path?: string } = {}): GroupRecord {
    const path = opts.path ?? '/';
    const group: GroupRecord = {
      groupName,
      groupId: randomId('AGPA', 17),
      path,
      arn: `arn:aws:iam::${accountId}:group${path}${groupName}`,
      accountId,
      createDate: this.now(),
      members: new Set(),
      inlinePolicies: new Map(),
      attachedPolicies: [],
    };
    this.account(accountId).groups.set(groupName, group);
    return group;
  }

  /** The groups `user` belongs to, by name. */
  groupsOf(user: UserRecord): GroupRecord[] {
    const acct = this.accounts.get(user.accountId);
    if (!acct || acct.groups.size === 0) return [];
    return [...acct.groups.values()]
      .filter((g) => g.members.has(user.userName))
      .sort((a, b) => a.groupName.localeCompare(b.groupName));
  }

  /** Creates an unassigned virtual MFA device with a fresh random TOTP seed. */
  createVirtualMfaDevice(accountId: string, name: string, opts: { path?: string } = {}): MfaDeviceRecord {
    const device: MfaDeviceRecord = {
      serialNumber: `arn:aws:iam::${accountId}:mfa${opts.path ?? '/'}${name}`,
      accountId,
      virtual: true,
      seed: randomId('', 64),
      createDate: this.now(),
    };
    this.account(accountId).mfaDevices.set(device.serialNumber, device);
    return device;
  }

  /** Enables `device` for `user` (a hardware device is created on the fly from its serial number). */
  enableMfaDevice(user: UserRecord, serialNumber: string, enableDate = this.now()): MfaDeviceRecord {
    const devices = this.account(user.accountId).mfaDevices;
    const device = devices.get(serialNumber) ?? {
      serialNumber,
      accountId: user.accountId,
      virtual: false,
      createDate: enableDate,
    };
    device.userName = user.userName;
    device.enableDate = enableDate;
    devices.set(serialNumber, device);
    return device;
  }

  /**
   * Creates a trail in its home region, logging off and with CloudTrail's default event selector (all management
   * events), as CreateTrail does; `logging` starts it at once.
   */
  createTrail(
    accountId: string,
    region: string,
    name: string,
    opts: Partial<
      Pick<
        TrailRecord,
        | 's3BucketName'
        | 's3KeyPrefix'
        | 'snsTopicName'
        | 'includeGlobalServiceEvents'
        | 'isMultiRegionTrail'
        | 'logFileValidationEnabled'
        | 'cloudWatchLogsLogGroupArn'
        | 'cloudWatchLogsRoleArn'
        | 'kmsKeyId'
        | 'tags'
      >
    > & { logging?: boolean } = {},
  ): TrailRecord {
    const { logging, ...settings } = opts;
    const now = this.now();
    const trail: TrailRecord = {
      name,
      arn: `arn:aws:cloudtrail:${region}:${accountId}:trail/${name}`,
      accountId,
      homeRegion: region,
      s3BucketName: `aws-cloudtrail-logs-${accountId}`,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: false,
      logFileValidationEnabled: false,
      tags: [],
      ...settings,
      isLogging: logging === true,
      ...(logging ? { startLoggingTime: now } : {}),
      eventSelectors: [DEFAULT_EVENT_SELECTOR()],
      hasCustomEventSelectors: false,
      createdAt: now,
    };
    this.account(accountId).trails.set(trail.arn, trail);
    return trail;
  }

  createEcrRepository(
    accountId: string,
    region: string,
    repositoryName: string,
    opts: { tags?: Tag[] } = {},
  ): EcrRepositoryRecord {
    const repo: EcrRepositoryRecord = {
      repositoryName,
      repositoryArn: `arn:aws:ecr:${region}:${accountId}:repository/${repositoryName}`,
      registryId: accountId,
      region,
      createdAt: this.now(),
      tags: opts.tags ?? [],
      layers: new Map(),
      uploads: new Map(),
      images: new Map(),
      imageTags: new Map(),
    };
    this.ecrRepositories.set(repo.repositoryArn, repo);
    return repo;
  }

  /** The MFA devices enabled for `user`, oldest first. */
  mfaDevicesOf(user: UserRecord): MfaDeviceRecord[] {
    return [...this.account(user.accountId).mfaDevices.values()]
      .filter((d) => d.userName === user.userName)
      .sort((a, b) => (a.enableDate ?? 0) - (b.enableDate ?? 0));
  }

  createAccessKey(
    user: UserRecord,
    opts: {
      accessKeyId?: string;
      secretAccessKey?: string;
      status?: 'Active' | 'Inactive';
      createDate?: number;
      /** Skip the propagation delay (seeded keys are long established). */
      established?: boolean;
      /** The API call creating it, for the key event log. */
      callSeq?: number;
    } = {},
  ): AccessKeyRecord {
    const createDate = opts.createDate ?? this.now();
    const key: AccessKeyRecord = {
      accessKeyId: opts.accessKeyId ?? randomId('AKIA', 16),
      secretAccessKey: opts.secretAccessKey ?? randomSecret(),
      userName: user.userName,
      accountId: user.accountId,
      status: opts.status ?? 'Active',
      createDate,
      usableFrom: opts.established ? createDate : this.now() + this.propagationDelayMs,
    };
    this.accessKeys.set(key.accessKeyId, key);
    const owner = userKey(key.accountId, key.userName);
    let keys = this.#keysByUser.get(owner);
    if (!keys) this.#keysByUser.set(owner, (keys = new Set()));
    keys.add(key);
    this.keyEvent('create', key, null, key.status, opts.callSeq);
    return key;
  }

  /** Sets a key's status (a reactivated key, like a new one, authenticates only after the propagation delay). */
  setAccessKeyStatus(key: AccessKeyRecord, status: KeyStatus, callSeq?: number): void {
    const before = key.status;
    if (before === 'Inactive' && status === 'Active')
      key.usableFrom = Math.max(key.usableFrom, this.now() + this.propagationDelayMs);
    key.status = status;
    this.keyEvent('update', key, before, status, callSeq);
  }

  deleteAccessKey(key: AccessKeyRecord, callSeq?: number): void {
    if (!this.accessKeys.delete(key.accessKeyId)) return;
    this.keyEvent('delete', key, key.status, null, callSeq);
  }

  private keyEvent(
    kind: KeyEvent['kind'],
    key: AccessKeyRecord,
    statusBefore: KeyStatus | null,
    statusAfter: KeyStatus | null,
    callSeq: number | undefined,
  ): void {
    const event: KeyEvent = {
      seq: this.calls.nextSeq(),
      kind,
      accountId: key.accountId,
      userName: key.userName,
      accessKeyId: key.accessKeyId,
      statusBefore,
      statusAfter,
      at: this.now(),
      ...(callSeq === undefined ? {} : { callSeq }),
    };
    this.keyEvents.push(event);
    this.onKeyEvent?.(event);
  }

  keysOf(accountId: string, userName: string): AccessKeyRecord[] {
    const indexed = this.#keysByUser.get(userKey(accountId, userName));
    if (!indexed) return [];
    const keys: AccessKeyRecord[] = [];
    for (const k of indexed)
      if (this.accessKeys.get(k.accessKeyId) === k) keys.push(k);
      else indexed.delete(k); // deleted (through the API or by a test, straight from the map)
    return keys.sort((a, b) => a.createDate - b.createDate);
  }

  /**
   * Creates a role. Its trust policy is `trustPolicy` (a document; MalformedPolicyDocument if it is not one), or
   * one letting `trustedPrincipals` (AWS principal ARNs or account roots; undefined: any AWS principal) call
   * sts:AssumeRole. Without `permissions` and policies the role is an administrator (seeded roles); the API's
   * CreateRole passes `permissions: []`.
   */
  createRole(
    accountId: string,
    roleName: string,
    opts: {
      path?: string;
      trustedPrincipals?: string[];
      trustPolicy?: string;
      permissions?: Statement[];
      description?: string;
      maxSessionDuration?: number;
      tags?: Tag[];
    } = {},
  ): RoleRecord {
    const path = opts.path ?? '/';
    const document = opts.trustPolicy ?? awsTrustDocument(opts.trustedPrincipals);
    const role: RoleRecord = {
      roleName,
      roleId: randomId('AROA', 17),
      path,
      arn: `arn:aws:iam::${accountId}:role${path}${roleName}`,
      accountId,
      createDate: this.now(),
      ...(opts.description === undefined ? {} : { description: opts.description }),
      maxSessionDuration: opts.maxSessionDuration ?? 3600,
      assumeRolePolicyDocument: document,
      trust: parseTrustPolicy(document),
      ...(opts.permissions ? { permissions: opts.permissions } : {}),
      inlinePolicies: new Map(),
      attachedPolicies: [],
      tags: opts.tags ?? [],
    };
    this.account(accountId).roles.set(roleName, role);
    return role;
  }

  /** The OIDC provider `url` names (scheme and port included, see oidc.ts), with these client ids. */
  createOidcProvider(
    accountId: string,
    arn: string,
    url: string,
    opts: { clientIds?: string[]; thumbprints?: string[]; tags?: Tag[] } = {},
  ): OidcProviderRecord {
    const provider: OidcProviderRecord = {
      arn,
      url,
      accountId,
      clientIds: opts.clientIds ?? [],
      thumbprints: opts.thumbprints ?? [],
      tags: opts.tags ?? [],
      createDate: this.now(),
    };
    this.account(accountId).oidcProviders.set(arn, provider);
    return provider;
  }

  newRequestId(): string {
    return randomUUID();
  }
}
