import type { ActionHandler, RequestContext } from './context';
import { AwsError, noSuchEntity, validationError } from './errors';
import { queryList, queryStructList, type QueryParams } from './protocols';
import type { GroupRecord, RoleRecord, Tag, UserRecord } from './state';

/** IAM's pattern for user, group, policy and MFA device names. */
export const NAME_PATTERN = '[\\w+=,.@-]+';
const PATH_CONSTRAINT = 'satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)';

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

/** The model's length bounds of a string parameter; `shown` is what the error echoes (undefined: not the value). */
export function ensureLength(
  value: string,
  param: string,
  min: number,
  max: number,
  shown: string | undefined = value,
): void {
  ensure(value.length >= min, param, shown, `have length greater than or equal to ${min}`);
  ensure(value.length <= max, param, shown, `have length less than or equal to ${max}`);
}

/** The model's enum of a string parameter. */
export function ensureOneOf(value: string, param: string, allowed: readonly string[]): void {
  ensure(allowed.includes(value), param, value, `satisfy enum value set: [${allowed.join(', ')}]`);
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

/** A Query boolean (`true`/`false`), or undefined when absent. */
export function boolParam(params: QueryParams, name: string): boolean | undefined {
  const raw = params[name];
  if (raw === undefined) return undefined;
  ensure(raw === 'true' || raw === 'false', name, raw, 'be a boolean');
  return raw === 'true';
}

/** An IAM entity name parameter (`UserName`, `GroupName`, `PolicyName`, ...), checked when present. */
export function nameParam(params: QueryParams, field: string, maxLength = 128): string | undefined {
  const name = params[field];
  if (name === undefined) return undefined;
  ensureLength(name, field, 1, maxLength);
  ensure(
    new RegExp(`^${NAME_PATTERN}$`).test(name),
    field,
    name,
    `satisfy regular expression pattern: ${NAME_PATTERN}`,
  );
  return name;
}

/** A required IAM entity name parameter. */
export const requiredName = (params: QueryParams, field: string, maxLength = 128): string =>
  nameParam(params, field, maxLength) ?? requiredParam(params, field);

/** An IAM `Path` (`/` or `/a/b/`), `/` when absent. */
export function pathParam(params: QueryParams, field = 'Path'): string {
  const path = params[field] ?? '/';
  ensure(/^\/([\x21-\x7e]*\/)?$/.test(path) && path.length <= 512, field, path, PATH_CONSTRAINT);
  return path;
}

/** A list call's `PathPrefix`, `/` when absent. */
export function pathPrefixParam(params: QueryParams): string {
  const prefix = params['PathPrefix'] ?? '/';
  ensure(
    prefix.startsWith('/'),
    'PathPrefix',
    prefix,
    'satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*',
  );
  return prefix;
}

/** A `PolicyArn`: IAM answers InvalidInput for what is not an ARN at all. */
export function policyArnParam(params: QueryParams, field = 'PolicyArn'): string {
  const arn = requiredParam(params, field);
  ensureLength(arn, field, 20, 2048);
  if (!/^arn:aws:iam::(aws|\d{12}):policy\/.+/.test(arn))
    throw new AwsError('InvalidInput', `ARN ${arn} is not valid.`, 400);
  return arn;
}

export function tagsParam(params: QueryParams): Tag[] {
  return queryStructList(params, 'Tags', ['Key', 'Value'] as const).map(({ Key, Value }) => {
    ensure(Key !== undefined, 'Tags.member.Key', Key, 'not be null');
    ensure(Value !== undefined, 'Tags.member.Value', Value, 'not be null');
    return { Key, Value };
  });
}

/** `Marker`/`MaxItems` paging as IAM does it: `IsTruncated` always, `Marker` only when more items follow. */
export function paginate<T>(
  params: QueryParams,
  items: T[],
): { page: T[]; IsTruncated: boolean; Marker?: string } {
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
export function targetUser(ctx: RequestContext, nameRequired = false): UserRecord {
  const name =
    nameParam(ctx.params, 'UserName') ??
    (nameRequired ? requiredParam(ctx.params, 'UserName') : callerName(ctx));
  const user = ctx.account.users.get(name);
  ctx.authorize(`iam:${ctx.action}`, user?.arn ?? `arn:aws:iam::${ctx.account.accountId}:user/${name}`);
  if (!user) throw noSuchEntity(`The user with name ${name} cannot be found.`);
  return user;
}

/** The group a request names in `GroupName`, authorized on its ARN before its existence is revealed. */
export function targetGroup(ctx: RequestContext): GroupRecord {
  const name = requiredName(ctx.params, 'GroupName');
  const group = ctx.account.groups.get(name);
  ctx.authorize(`iam:${ctx.action}`, group?.arn ?? `arn:aws:iam::${ctx.account.accountId}:group/${name}`);
  if (!group) throw noSuchEntity(`The group with name ${name} cannot be found.`);
  return group;
}

/** The role a request names in `RoleName`, authorized on its ARN before its existence is revealed. */
export function targetRole(ctx: RequestContext): RoleRecord {
  const name = requiredName(ctx.params, 'RoleName', 64);
  const role = ctx.account.roles.get(name);
  ctx.authorize(`iam:${ctx.action}`, role?.arn ?? `arn:aws:iam::${ctx.account.accountId}:role/${name}`);
  if (!role) throw noSuchEntity(`The role with name ${name} cannot be found.`);
  return role;
}

/**
 * `Tag<Entity>`, `Untag<Entity>` and `List<Entity>Tags` for an entity that `target` finds (and authorizes):
 * tags are added or replaced by key, removed by key, and listed with IAM's paging.
 */
export function tagActions(
  entity: string,
  target: (ctx: RequestContext) => { tags: Tag[] },
): Record<string, ActionHandler> {
  return {
    [`Tag${entity}`]: (ctx) => {
      const added = tagsParam(ctx.params);
      ensure(added.length > 0, 'Tags', undefined, 'not be null');
      const tags = target(ctx).tags;
      for (const tag of added) {
        const existing = tags.find((t) => t.Key === tag.Key);
        if (existing) existing.Value = tag.Value;
        else tags.push(tag);
      }
      return undefined;
    },
    [`Untag${entity}`]: (ctx) => {
      const keys = queryList(ctx.params, 'TagKeys');
      ensure(keys.length > 0, 'TagKeys', undefined, 'not be null');
      const holder = target(ctx);
      holder.tags = holder.tags.filter((t) => !keys.includes(t.Key));
      return undefined;
    },
    [`List${entity}Tags`]: (ctx) => {
      const { page, ...more } = paginate(ctx.params, target(ctx).tags);
      return { Tags: page, ...more };
    },
  };
}

function callerName(ctx: RequestContext): string {
  const self = [...ctx.account.users.values()].find((u) => u.arn === ctx.principal.arn);
  if (!self) throw validationError('Must specify userName when calling with non-User credentials');
  return self.userName;
}

export const userView = (u: UserRecord, withTags: boolean) => ({
  Path: u.path,
  UserName: u.userName,
  UserId: u.userId,
  Arn: u.arn,
  CreateDate: new Date(u.createDate),
  PasswordLastUsed: u.passwordLastUsed === undefined ? undefined : new Date(u.passwordLastUsed),
  Tags: withTags && u.tags.length ? u.tags : undefined,
});
