import { randomBytes, randomUUID } from 'node:crypto';
import { CallLog, type FaultControls } from '../calls';

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
  /** Undefined: every action is allowed (an administrator). */
  permissions?: Statement[];
  /**
   * Inline policies (PutUserPolicy) by name: each document exactly as it was put. While there is at least one,
   * `permissions` is the union of their statements; see iam.ts.
   */
  inlinePolicies: Map<string, string>;
  /** `permissions` as they were before the first inline policy, restored when the last one is deleted. */
  seededPermissions?: Statement[];
}

export interface RoleRecord {
  roleName: string;
  roleId: string;
  path: string;
  arn: string;
  accountId: string;
  createDate: number;
  /** Principal ARNs (users or account roots `arn:aws:iam::ACCOUNT:root`) that may assume the role; undefined = anyone. */
  trustedPrincipals?: string[];
  permissions?: Statement[];
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
  expiration: number;
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
  credentialReport?: { generatedAt: number; csv: string };
}

export interface EcrTokenRecord {
  password: string;
  principalArn: string;
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
}

/** The authenticated caller of a request. */
export interface Principal {
  kind: 'user' | 'assumed-role';
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
function resolveVariables(
  pattern: string,
  who: Pick<Principal, 'kind' | 'arn' | 'userId' | 'accountId'> | undefined,
) {
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
  who?: Pick<Principal, 'kind' | 'arn' | 'userId' | 'accountId'>,
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
}

/** All emulated AWS state. Times are emulated-clock epoch ms (`now()`), which tests can move forward. */
export class AwsState {
  readonly defaultAccountId: string;
  readonly defaultRegion: string;
  propagationDelayMs: number;
  clockOffsetMs = 0;
  readonly accounts = new Map<string, AccountState>();
  readonly accessKeys = new Map<string, AccessKeyRecord>();
  readonly sessions = new Map<string, SessionRecord>();
  readonly ecrTokens = new Map<string, EcrTokenRecord>();
  /** Keyed by repository ARN. */
  readonly ecrRepositories = new Map<string, EcrRepositoryRecord>();
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
    this.account(this.defaultAccountId);
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  account(accountId: string): AccountState {
    let acct = this.accounts.get(accountId);
    if (!acct) {
      acct = { accountId, users: new Map(), roles: new Map(), secrets: new Map() };
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
    };
    acct.users.set(userName, user);
    return user;
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
    return [...this.accessKeys.values()]
      .filter((k) => k.accountId === accountId && k.userName === userName)
      .sort((a, b) => a.createDate - b.createDate);
  }

  createRole(
    accountId: string,
    roleName: string,
    opts: { path?: string; trustedPrincipals?: string[]; permissions?: Statement[] } = {},
  ): RoleRecord {
    const path = opts.path ?? '/';
    const role: RoleRecord = {
      roleName,
      roleId: randomId('AROA', 17),
      path,
      arn: `arn:aws:iam::${accountId}:role${path}${roleName}`,
      accountId,
      createDate: this.now(),
      ...(opts.trustedPrincipals ? { trustedPrincipals: opts.trustedPrincipals } : {}),
      ...(opts.permissions ? { permissions: opts.permissions } : {}),
    };
    this.account(accountId).roles.set(roleName, role);
    return role;
  }

  newRequestId(): string {
    return randomUUID();
  }
}
