import type { RequestContext, ServiceModule } from './context';
import { AwsError, noSuchEntity, validationError } from './errors';
import { queryStructList, type QueryParams } from './protocols';
import type { AccessKeyRecord, AccountState, AwsState, Tag, UserRecord } from './state';

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
    ListUserTags: (ctx) => {
      const { page, ...more } = paginate(ctx.params, targetUser(ctx, true).tags);
      return { Tags: page, ...more };
    },
    CreateAccessKey: (ctx) => {
      const user = targetUser(ctx);
      // Inactive keys count too: only deleting one frees a slot.
      if (ctx.state.keysOf(user.accountId, user.userName).length >= 2)
        throw new AwsError('LimitExceeded', 'Cannot exceed quota for AccessKeysPerUser: 2', 409);
      const key = ctx.state.createAccessKey(user);
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
      const key = keyOf(ctx, targetUser(ctx));
      // A reactivated key, like a new one, authenticates only once the change has propagated.
      if (key.status === 'Inactive' && status === 'Active')
        key.usableFrom = Math.max(key.usableFrom, ctx.now + ctx.state.propagationDelayMs);
      key.status = status;
      return undefined;
    },
    DeleteAccessKey: (ctx) => {
      ctx.state.accessKeys.delete(keyOf(ctx, targetUser(ctx)).accessKeyId);
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
