import type { RequestContext, ServiceModule } from './context';
import { AwsError, noSuchEntity, validationError } from './errors';
import { queryList, queryStructList, type QueryParams } from './protocols';
import type { AccessKeyRecord, AccountState, AwsState, Statement, Tag, UserRecord } from './state';

const NAME_PATTERN = '[\\w+=,.@-]+';
const REPORT_TTL_MS = 4 * 60 * 60 * 1000;
const REPORT_COLUMNS = [
  'user',
  'arn',
  'user_creation_time',
  'password_enabled',
  'password_last_used',
  'password_last_changed',
  'password_next_rotation',
  'mfa_active',
  ...[1, 2].flatMap((n) =>
    ['active', 'last_rotated', 'last_used_date', 'last_used_region', 'last_used_service'].map(
      (c) => `access_key_${n}_${c}`,
    ),
  ),
  'cert_1_active',
  'cert_1_last_rotated',
  'cert_2_active',
  'cert_2_last_rotated',
];

/** AWS's wording for a parameter that breaks the API model's constraints. */
export function ensure(
  ok: boolean,
  param: string,
  value: string | undefined,
  constraint: string,
): asserts ok {
  if (ok) return;
  const shown = value === undefined ? 'null' : `'${value}'`;
  const field = `${param[0]!.toLowerCase()}${param.slice(1)}`;
  throw validationError(
    `1 validation error detected: Value ${shown} at '${field}' failed to satisfy constraint: Member must ${constraint}`,
  );
}

export function requiredParam(params: QueryParams, name: string): string {
  const value = params[name];
  ensure(value !== undefined, name, value, 'not be null');
  return value;
}

export function intParam(params: QueryParams, name: string, min: number, max: number): number | undefined {
  const raw = params[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  ensure(Number.isInteger(n) && n >= min, name, raw, `have value greater than or equal to ${min}`);
  ensure(n <= max, name, raw, `have value less than or equal to ${max}`);
  return n;
}

function userNameParam(params: QueryParams, maxLength = 128): string | undefined {
  const name = params['UserName'];
  if (name === undefined) return undefined;
  ensure(name.length <= maxLength, 'UserName', name, `have length less than or equal to ${maxLength}`);
  ensure(
    new RegExp(`^${NAME_PATTERN}$`).test(name),
    'UserName',
    name,
    `satisfy regular expression pattern: ${NAME_PATTERN}`,
  );
  return name;
}

function tagsParam(params: QueryParams): Tag[] {
  return queryStructList(params, 'Tags', ['Key', 'Value'] as const).map(({ Key, Value }) => {
    ensure(Key !== undefined, 'Tags.member.Key', Key, 'not be null');
    ensure(Value !== undefined, 'Tags.member.Value', Value, 'not be null');
    return { Key, Value };
  });
}

/** `Marker`/`MaxItems` paging as IAM does it: `IsTruncated` always, `Marker` only when more items follow. */
function paginate<T>(params: QueryParams, items: T[]): { page: T[]; IsTruncated: boolean; Marker?: string } {
  const max = intParam(params, 'MaxItems', 1, 1000) ?? 100;
  const marker = params['Marker'];
  const start = marker === undefined ? 0 : Number(Buffer.from(marker, 'base64').toString('utf8').slice(2));
  if (!Number.isInteger(start) || start < 0) throw validationError('Invalid Marker.');
  const end = start + max;
  const page = items.slice(start, end);
  return end < items.length
    ? { page, IsTruncated: true, Marker: Buffer.from(`m:${end}`).toString('base64') }
    : { page, IsTruncated: false };
}

/**
 * The user a request names in `UserName`, or the calling user when the name is optional and omitted. The caller
 * is authorized on the user's ARN before the user's existence is revealed, as IAM does.
 */
function targetUser(ctx: RequestContext, nameRequired = false): UserRecord {
  const name =
    userNameParam(ctx.params) ?? (nameRequired ? requiredParam(ctx.params, 'UserName') : callerName(ctx));
  const user = ctx.account.users.get(name);
  ctx.authorize(`iam:${ctx.action}`, user?.arn ?? `arn:aws:iam::${ctx.account.accountId}:user/${name}`);
  if (!user) throw noSuchEntity(`The user with name ${name} cannot be found.`);
  return user;
}

function callerName(ctx: RequestContext): string {
  const self = [...ctx.account.users.values()].find((u) => u.arn === ctx.principal.arn);
  if (!self) throw validationError('Must specify userName when calling with non-User credentials');
  return self.userName;
}

/** The `AccessKeyId` of the request, which must belong to `user`. */
function keyOf(ctx: RequestContext, user: UserRecord): AccessKeyRecord {
  const id = requiredParam(ctx.params, 'AccessKeyId');
  const key = ctx.state.accessKeys.get(id);
  if (key?.accountId !== user.accountId || key.userName !== user.userName)
    throw noSuchEntity(`The Access Key with id ${id} cannot be found.`);
  return key;
}

const userView = (u: UserRecord, withTags: boolean) => ({
  Path: u.path,
  UserName: u.userName,
  UserId: u.userId,
  Arn: u.arn,
  CreateDate: new Date(u.createDate),
  PasswordLastUsed: u.passwordLastUsed === undefined ? undefined : new Date(u.passwordLastUsed),
  Tags: withTags && u.tags.length ? u.tags : undefined,
});

const keyView = (k: AccessKeyRecord) => ({
  UserName: k.userName,
  AccessKeyId: k.accessKeyId,
  Status: k.status,
  CreateDate: new Date(k.createDate),
});

/** The credential report CSV as IAM writes it: `<root_account>` first, `+00:00` times, lower-case booleans. */
function credentialReportCsv(state: AwsState, acct: AccountState, now: number): string {
  const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
  const cell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const noCerts = ['false', 'N/A', 'false', 'N/A'];
  const keyColumns = (keys: AccessKeyRecord[]) =>
    [keys[0], keys[1]].flatMap((k) =>
      k
        ? [
            String(k.status === 'Active'),
            time(k.createDate),
            k.lastUsed ? time(k.lastUsed.date) : 'N/A',
            k.lastUsed?.region ?? 'N/A',
            k.lastUsed?.serviceName ?? 'N/A',
          ]
        : ['false', 'N/A', 'N/A', 'N/A', 'N/A'],
    );
  const users = [...acct.users.values()].sort((a, b) => a.userName.localeCompare(b.userName));
  const rows = [
    REPORT_COLUMNS,
    [
      '<root_account>',
      `arn:aws:iam::${acct.accountId}:root`,
      time(Math.min(now, ...users.map((u) => u.createDate))),
      'not_supported',
      'no_information',
      'not_supported',
      'not_supported',
      'false',
      ...keyColumns([]),
      ...noCerts,
    ],
    ...users.map((u) => [
      u.userName,
      u.arn,
      time(u.createDate),
      'false',
      u.passwordLastUsed === undefined ? 'N/A' : time(u.passwordLastUsed),
      'N/A',
      'N/A',
      'false',
      ...keyColumns(state.keysOf(acct.accountId, u.userName)),
      ...noCerts,
    ]),
  ];
  return rows.map((r) => r.map(cell).join(',')).join('\n');
}

// ---- inline user policies ------------------------------------------------------------------------------------

/** IAM's quota on the aggregate size of a user's inline policies (characters, whitespace not counted). */
const USER_INLINE_POLICIES_MAX_CHARS = 2048;
const POLICY_VERSIONS = ['2012-10-17', '2008-10-17'];
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'Resource']);
/** Valid IAM that the emulator would have to evaluate to be faithful; it refuses them rather than ignore them. */
const UNEVALUATED_KEYS = ['NotAction', 'NotResource', 'Condition'];

const malformed = (message: string): AwsError => new AwsError('MalformedPolicyDocument', message, 400);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A `string | string[]` policy element as a non-empty list of strings, or undefined when absent or not that. */
function stringList(v: unknown): string[] | undefined {
  const list = typeof v === 'string' ? [v] : v;
  return Array.isArray(list) && list.length > 0 && list.every((x) => typeof x === 'string')
    ? list
    : undefined;
}

/**
 * Parses an identity-based policy document into the emulator's statements, refusing with IAM's
 * MalformedPolicyDocument what IAM refuses and, with a message saying so, what the emulator cannot evaluate.
 */
export function parsePolicyDocument(document: string): Statement[] {
  let doc: unknown;
  try {
    doc = JSON.parse(document);
  } catch {
    throw malformed('Syntax errors in policy.');
  }
  if (!isRecord(doc)) throw malformed('Syntax errors in policy.');
  for (const key of Object.keys(doc))
    if (!['Version', 'Id', 'Statement'].includes(key)) throw malformed('Syntax errors in policy.');
  if (doc['Version'] !== undefined && !POLICY_VERSIONS.includes(doc['Version'] as string))
    throw malformed('The policy must contain a valid version string');
  const raw = doc['Statement'];
  const statements = Array.isArray(raw) ? (raw as unknown[]) : raw === undefined ? [] : [raw];
  if (statements.length === 0) throw malformed('Syntax errors in policy.');
  return statements.map((st) => {
    if (!isRecord(st)) throw malformed('Syntax errors in policy.');
    const unevaluated = UNEVALUATED_KEYS.find((k) => k in st);
    if (unevaluated)
      throw malformed(
        `${unevaluated} is not supported by the localcloud emulator, which does not evaluate it: ` +
          'use only Effect, Action and Resource (with * wildcards).',
      );
    if ('Principal' in st || 'NotPrincipal' in st)
      throw malformed('Policy document should not specify a principal.');
    for (const key of Object.keys(st))
      if (!STATEMENT_KEYS.has(key)) throw malformed('Syntax errors in policy.');
    const effect = st['Effect'];
    if (effect === undefined) throw malformed('Missing required field Effect.');
    if (effect !== 'Allow' && effect !== 'Deny')
      throw malformed(`Invalid effect: ${JSON.stringify(effect)}. The effect must be Allow or Deny.`);
    if (st['Action'] === undefined) throw malformed('Policy statement must contain actions.');
    const actions = stringList(st['Action']);
    if (!actions) throw malformed('Syntax errors in policy.');
    for (const action of actions) {
      if (action !== '*' && !/^[a-z0-9-]+:./i.test(action))
        throw malformed('Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.');
      if (action.includes('?'))
        throw malformed(
          `Action ${action}: the localcloud emulator evaluates * wildcards only, not ?. Use * instead.`,
        );
    }
    if (st['Resource'] === undefined) throw malformed('Policy statement must contain resources.');
    const resources = stringList(st['Resource']);
    if (!resources) throw malformed('Syntax errors in policy.');
    for (const resource of resources)
      if (resource !== '*' && !resource.startsWith('arn:'))
        throw malformed(`Resource ${resource} must be in ARN format or "*".`);
    // `*` among the resources means every resource: the emulator's "resources omitted".
    return resources.includes('*') ? { effect, actions } : { effect, actions, resources };
  });
}

/** Recomputes what the server authenticates with: the union of the inline policies, or the seeded permissions. */
function applyInlinePolicies(user: UserRecord): void {
  if (user.inlinePolicies.size > 0) {
    user.permissions = [...user.inlinePolicies.values()].flatMap(parsePolicyDocument);
    return;
  }
  if (user.seededPermissions) user.permissions = user.seededPermissions;
  else delete user.permissions;
  delete user.seededPermissions;
}

function policyNameParam(params: QueryParams): string {
  const name = requiredParam(params, 'PolicyName');
  ensure(name.length >= 1, 'PolicyName', name, 'have length greater than or equal to 1');
  ensure(name.length <= 128, 'PolicyName', name, 'have length less than or equal to 128');
  ensure(
    new RegExp(`^${NAME_PATTERN}$`).test(name),
    'PolicyName',
    name,
    `satisfy regular expression pattern: ${NAME_PATTERN}`,
  );
  return name;
}

/** The named inline policy of `user`, or IAM's NoSuchEntity. */
function inlinePolicyOf(user: UserRecord, name: string): string {
  const document = user.inlinePolicies.get(name);
  if (document === undefined) throw noSuchEntity(`The user policy with name ${name} cannot be found.`);
  return document;
}

/** IAM, AWS Query protocol (XML). */
export const iam: ServiceModule = {
  signingName: 'iam',
  protocol: 'query',
  actions: {
    CreateUser: (ctx) => {
      const name = userNameParam(ctx.params, 64) ?? requiredParam(ctx.params, 'UserName');
      const path = ctx.params['Path'] ?? '/';
      ensure(
        /^\/([\x21-\x7e]*\/)?$/.test(path) && path.length <= 512,
        'Path',
        path,
        'satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)',
      );
      const tags = tagsParam(ctx.params);
      const arn = `arn:aws:iam::${ctx.account.accountId}:user${path}${name}`;
      ctx.authorize('iam:CreateUser', arn);
      if (tags.length) ctx.authorize('iam:TagUser', arn);
      // IAM names are unique regardless of case.
      if ([...ctx.account.users.keys()].some((n) => n.toLowerCase() === name.toLowerCase()))
        throw new AwsError('EntityAlreadyExists', `User with name ${name} already exists.`, 409);
      return { User: userView(ctx.state.createUser(ctx.account.accountId, name, { path, tags }), true) };
    },
    GetUser: (ctx) => ({ User: userView(targetUser(ctx), true) }),
    DeleteUser: (ctx) => {
      const user = targetUser(ctx, true);
      // IAM refuses while anything is attached to the user; of those, the emulator has keys and inline policies.
      if (ctx.state.keysOf(user.accountId, user.userName).length > 0)
        throw new AwsError('DeleteConflict', 'Cannot delete entity, must delete access keys first.', 409);
      if (user.inlinePolicies.size > 0)
        throw new AwsError('DeleteConflict', 'Cannot delete entity, must delete policies first.', 409);
      ctx.account.users.delete(user.userName);
      return undefined;
    },
    ListUsers: (ctx) => {
      const prefix = ctx.params['PathPrefix'] ?? '/';
      ensure(
        prefix.startsWith('/'),
        'PathPrefix',
        prefix,
        'satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*',
      );
      const users = [...ctx.account.users.values()]
        .filter((u) => u.path.startsWith(prefix))
        .sort((a, b) => a.userName.localeCompare(b.userName));
      const { page, ...more } = paginate(ctx.params, users);
      return { Users: page.map((u) => userView(u, false)), ...more };
    },
    TagUser: (ctx) => {
      const tags = tagsParam(ctx.params);
      ensure(tags.length > 0, 'Tags', undefined, 'not be null');
      const user = targetUser(ctx, true);
      for (const tag of tags) {
        const existing = user.tags.find((t) => t.Key === tag.Key);
        if (existing) existing.Value = tag.Value;
        else user.tags.push(tag);
      }
      return undefined;
    },
    UntagUser: (ctx) => {
      const keys = queryList(ctx.params, 'TagKeys');
      ensure(keys.length > 0, 'TagKeys', undefined, 'not be null');
      const user = targetUser(ctx, true);
      user.tags = user.tags.filter((t) => !keys.includes(t.Key));
      return undefined;
    },
    ListUserTags: (ctx) => {
      const { page, ...more } = paginate(ctx.params, targetUser(ctx, true).tags);
      return { Tags: page, ...more };
    },
    CreateAccessKey: (ctx) => {
      const user = targetUser(ctx);
      // Inactive keys count too: only deleting one frees a slot.
      if (ctx.state.keysOf(user.accountId, user.userName).length >= 2)
        throw new AwsError('LimitExceeded', 'Cannot exceed quota for AccessKeysPerUser: 2', 409);
      const key = ctx.state.createAccessKey(user, { callSeq: ctx.callSeq });
      return { AccessKey: { ...keyView(key), SecretAccessKey: key.secretAccessKey } };
    },
    ListAccessKeys: (ctx) => {
      const user = targetUser(ctx);
      const { page, ...more } = paginate(ctx.params, ctx.state.keysOf(user.accountId, user.userName));
      return { AccessKeyMetadata: page.map(keyView), ...more };
    },
    UpdateAccessKey: (ctx) => {
      const status = requiredParam(ctx.params, 'Status');
      ensure(
        status === 'Active' || status === 'Inactive',
        'Status',
        status,
        'satisfy enum value set: [Active, Inactive]',
      );
      ctx.state.setAccessKeyStatus(keyOf(ctx, targetUser(ctx)), status, ctx.callSeq);
      return undefined;
    },
    DeleteAccessKey: (ctx) => {
      ctx.state.deleteAccessKey(keyOf(ctx, targetUser(ctx)), ctx.callSeq);
      return undefined;
    },
    GetAccessKeyLastUsed: (ctx) => {
      const id = requiredParam(ctx.params, 'AccessKeyId');
      const key = ctx.state.accessKeys.get(id);
      const owner =
        key?.accountId === ctx.account.accountId ? ctx.account.users.get(key.userName) : undefined;
      // IAM answers AccessDenied, not NoSuchEntity, for a key it cannot find (note its "perform" without a colon).
      if (!key || !owner)
        throw new AwsError(
          'AccessDenied',
          `User: ${ctx.principal.arn} is not authorized to perform iam:GetAccessKeyLastUsed on resource: access key ${id}`,
          403,
        );
      ctx.authorize('iam:GetAccessKeyLastUsed', owner.arn);
      const used = key.lastUsed;
      return {
        UserName: key.userName,
        AccessKeyLastUsed: used
          ? { LastUsedDate: new Date(used.date), ServiceName: used.serviceName, Region: used.region }
          : { ServiceName: 'N/A', Region: 'N/A' },
      };
    },
    PutUserPolicy: (ctx) => {
      const policyName = policyNameParam(ctx.params);
      const document = requiredParam(ctx.params, 'PolicyDocument');
      ensure(document.length >= 1, 'PolicyDocument', document, 'have length greater than or equal to 1');
      ensure(
        document.length <= 131072,
        'PolicyDocument',
        document,
        'have length less than or equal to 131072',
      );
      const user = targetUser(ctx, true);
      parsePolicyDocument(document);
      const after = new Map(user.inlinePolicies).set(policyName, document);
      const size = [...after.values()].reduce((n, d) => n + d.replace(/\s/g, '').length, 0);
      if (size > USER_INLINE_POLICIES_MAX_CHARS)
        throw new AwsError(
          'LimitExceeded',
          `Maximum policy size of ${USER_INLINE_POLICIES_MAX_CHARS} bytes exceeded for user ${user.userName}`,
          409,
        );
      if (user.inlinePolicies.size === 0 && user.permissions) user.seededPermissions = user.permissions;
      user.inlinePolicies.set(policyName, document);
      applyInlinePolicies(user);
      return undefined;
    },
    GetUserPolicy: (ctx) => {
      const policyName = policyNameParam(ctx.params);
      const user = targetUser(ctx, true);
      // IAM answers the document URL-encoded (RFC 3986); callers decode it themselves.
      return {
        UserName: user.userName,
        PolicyName: policyName,
        PolicyDocument: encodeURIComponent(inlinePolicyOf(user, policyName)),
      };
    },
    ListUserPolicies: (ctx) => {
      const user = targetUser(ctx, true);
      const names = [...user.inlinePolicies.keys()].sort((a, b) => a.localeCompare(b));
      const { page, ...more } = paginate(ctx.params, names);
      return { PolicyNames: page, ...more };
    },
    DeleteUserPolicy: (ctx) => {
      const policyName = policyNameParam(ctx.params);
      const user = targetUser(ctx, true);
      inlinePolicyOf(user, policyName);
      user.inlinePolicies.delete(policyName);
      applyInlinePolicies(user);
      return undefined;
    },
    GenerateCredentialReport: (ctx) => {
      const report = ctx.account.credentialReport;
      if (report && ctx.now - report.generatedAt < REPORT_TTL_MS) return { State: 'COMPLETE' };
      ctx.account.credentialReport = {
        generatedAt: ctx.now,
        csv: credentialReportCsv(ctx.state, ctx.account, ctx.now),
      };
      return { State: 'STARTED', Description: 'No report exists. Starting a new report generation task' };
    },
    GetCredentialReport: (ctx) => {
      const report = ctx.account.credentialReport;
      if (!report)
        throw new AwsError(
          'ReportNotPresent',
          'Credential report does not exist. Use GenerateCredentialReport to generate a report.',
          410,
        );
      if (ctx.now - report.generatedAt >= REPORT_TTL_MS)
        throw new AwsError(
          'ReportExpired',
          'The most recent credential report has expired. Use GenerateCredentialReport to generate a new report.',
          410,
        );
      return {
        Content: Buffer.from(report.csv).toString('base64'),
        ReportFormat: 'text/csv',
        GeneratedTime: new Date(report.generatedAt),
      };
    },
  },
};
