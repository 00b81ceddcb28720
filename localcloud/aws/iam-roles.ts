import type { ActionHandler, RequestContext } from './context';
import { AwsError } from './errors';
import {
  ensure,
  ensureLength,
  intParam,
  paginate,
  pathParam,
  pathPrefixParam,
  requiredName,
  requiredParam,
  tagActions,
  tagsParam,
  targetRole,
} from './iam-common';
import type { RoleRecord } from './state';
import { parseTrustPolicy, type TrustStatement } from './trust';

/** IAM's default quota on a role's trust policy (ACLSizePerRole), whitespace not counted. */
const TRUST_POLICY_MAX_CHARS = 2048;
const DESCRIPTION_PATTERN = '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*';

const conflict = (message: string) => new AwsError('DeleteConflict', message, 409);

/** A trust policy parameter: a document IAM accepts (MalformedPolicyDocument, LimitExceeded otherwise). */
function trustParam(ctx: RequestContext, field: string): { document: string; trust: TrustStatement[] } {
  const document = requiredParam(ctx.params, field);
  ensureLength(document, field, 1, 131072);
  const trust = parseTrustPolicy(document);
  if (document.replace(/\s/g, '').length > TRUST_POLICY_MAX_CHARS)
    throw new AwsError(
      'LimitExceeded',
      `Cannot exceed quota for ACLSizePerRole: ${TRUST_POLICY_MAX_CHARS}`,
      409,
    );
  return { document, trust };
}

function descriptionParam(ctx: RequestContext): string | undefined {
  const description = ctx.params['Description'];
  if (description === undefined) return undefined;
  ensure(description.length <= 1000, 'Description', description, 'have length less than or equal to 1000');
  ensure(
    new RegExp(`^${DESCRIPTION_PATTERN}$`).test(description),
    'Description',
    description,
    `satisfy regular expression pattern: ${DESCRIPTION_PATTERN}`,
  );
  return description;
}

const maxSessionParam = (ctx: RequestContext) => intParam(ctx.params, 'MaxSessionDuration', 3600, 43200);

/** A role as IAM answers it: GetRole adds RoleLastUsed (empty when never used), ListRoles leaves out the tags. */
function roleView(role: RoleRecord, detail: 'get' | 'create' | 'list') {
  return {
    Path: role.path,
    RoleName: role.roleName,
    RoleId: role.roleId,
    Arn: role.arn,
    CreateDate: new Date(role.createDate),
    // As IAM does: the document URL-encoded (RFC 3986).
    AssumeRolePolicyDocument: encodeURIComponent(role.assumeRolePolicyDocument),
    Description: role.description,
    MaxSessionDuration: role.maxSessionDuration,
    Tags: detail !== 'list' && role.tags.length ? role.tags : undefined,
    RoleLastUsed:
      detail === 'get'
        ? role.lastUsed
          ? { LastUsedDate: new Date(role.lastUsed.date), Region: role.lastUsed.region }
          : {}
        : undefined,
  };
}

/**
 * IAM roles over the API: CreateRole, GetRole, ListRoles, UpdateRole, UpdateAssumeRolePolicy, DeleteRole and the
 * role tags (inline and attached role policies are served with those of users and groups). A role created here
 * has no permissions until a policy is put or attached, as in IAM.
 */
export const roleActions: Record<string, ActionHandler> = {
  CreateRole: (ctx) => {
    const name = requiredName(ctx.params, 'RoleName', 64);
    const path = pathParam(ctx.params);
    const description = descriptionParam(ctx);
    const maxSessionDuration = maxSessionParam(ctx);
    const tags = tagsParam(ctx.params);
    if (ctx.params['PermissionsBoundary'] !== undefined)
      throw new AwsError(
        'InvalidInput',
        'PermissionsBoundary is not evaluated by the localcloud emulator: create the role without one.',
      );
    const arn = `arn:aws:iam::${ctx.account.accountId}:role${path}${name}`;
    ctx.authorize('iam:CreateRole', arn);
    if (tags.length) ctx.authorize('iam:TagRole', arn);
    const { document } = trustParam(ctx, 'AssumeRolePolicyDocument');
    // IAM names are unique regardless of case.
    if ([...ctx.account.roles.keys()].some((n) => n.toLowerCase() === name.toLowerCase()))
      throw new AwsError('EntityAlreadyExists', `Role with name ${name} already exists.`, 409);
    const role = ctx.state.createRole(ctx.account.accountId, name, {
      path,
      trustPolicy: document,
      permissions: [],
      tags,
      ...(description === undefined ? {} : { description }),
      ...(maxSessionDuration === undefined ? {} : { maxSessionDuration }),
    });
    return { Role: roleView(role, 'create') };
  },
  GetRole: (ctx) => ({ Role: roleView(targetRole(ctx), 'get') }),
  ListRoles: (ctx) => {
    const prefix = pathPrefixParam(ctx.params);
    const roles = [...ctx.account.roles.values()]
      .filter((r) => r.path.startsWith(prefix))
      .sort((a, b) => a.roleName.localeCompare(b.roleName));
    const { page, ...more } = paginate(ctx.params, roles);
    return { Roles: page.map((r) => roleView(r, 'list')), ...more };
  },
  UpdateRole: (ctx) => {
    const description = descriptionParam(ctx);
    const maxSessionDuration = maxSessionParam(ctx);
    const role = targetRole(ctx);
    if (description !== undefined) role.description = description;
    if (maxSessionDuration !== undefined) role.maxSessionDuration = maxSessionDuration;
    return {};
  },
  UpdateAssumeRolePolicy: (ctx) => {
    const role = targetRole(ctx);
    const { document, trust } = trustParam(ctx, 'PolicyDocument');
    role.assumeRolePolicyDocument = document;
    role.trust = trust;
    return undefined;
  },
  DeleteRole: (ctx) => {
    const role = targetRole(ctx);
    if (role.inlinePolicies.size > 0) throw conflict('Cannot delete entity, must delete policies first.');
    if (role.attachedPolicies.length > 0)
      throw conflict('Cannot delete entity, must detach all policies first.');
    ctx.account.roles.delete(role.roleName);
    return undefined;
  },
  ...tagActions('Role', targetRole),
};
