import { accessDenied, type ActionHandler, type RequestContext } from './context';
import { AwsError, noSuchEntity } from './errors';
import {
  boolParam,
  ensure,
  ensureLength,
  ensureOneOf,
  paginate,
  pathParam,
  pathPrefixParam,
  policyArnParam,
  requiredName,
  requiredParam,
  tagsParam,
  targetGroup,
  targetRole,
  targetUser,
  userView,
} from './iam-common';
import { AWS_MANAGED_POLICIES, policyDocument, type ManagedPolicyRecord } from './policy';
import type { AccountState, AwsState, GroupRecord, PolicyHolder, UserRecord } from './state';

/** IAM's default quotas. */
const POLICY_MAX_CHARS = 6144;
const POLICY_VERSIONS_MAX = 5;

const VERSION_ID = /^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$/;

const conflict = (message: string) => new AwsError('DeleteConflict', message, 409);
const notAttachable = (arn: string) => noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);

// ---- managed policies ----------------------------------------------------------------------------------------

/** How many users, groups and roles of the account a policy is attached to. */
function attachmentCount(state: AwsState, account: AccountState, arn: string): number {
  const { users, groups, roles } = state.attachmentsOf(account.accountId, arn);
  return users.length + groups.length + roles.length;
}

function policyView(ctx: RequestContext, p: ManagedPolicyRecord, detail: 'get' | 'create' | 'list') {
  return {
    PolicyName: p.policyName,
    PolicyId: p.policyId,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: p.defaultVersionId,
    AttachmentCount: attachmentCount(ctx.state, ctx.account, p.arn),
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    // Only GetPolicy answers the description; ListPolicies leaves out the tags too.
    Description: detail === 'get' ? p.description : undefined,
    CreateDate: new Date(p.createDate),
    UpdateDate: new Date(p.updateDate),
    Tags: detail !== 'list' && p.tags.length ? p.tags : undefined,
  };
}

/** The `PolicyArn` of the request, authorized for the action, or NoSuchEntity. */
function targetPolicy(ctx: RequestContext): ManagedPolicyRecord {
  const arn = policyArnParam(ctx.params);
  ctx.authorize(`iam:${ctx.action}`, arn);
  const policy = ctx.state.managedPolicy(ctx.account.accountId, arn);
  if (!policy) throw notAttachable(arn);
  return policy;
}

/** A policy the caller may change: AWS managed policies are AWS's own. */
function ownPolicy(ctx: RequestContext): ManagedPolicyRecord {
  const policy = targetPolicy(ctx);
  if (policy.owner === 'aws') throw accessDenied('query', ctx.principal, `iam:${ctx.action}`, policy.arn);
  return policy;
}

function documentParam(ctx: RequestContext): string {
  const document = requiredParam(ctx.params, 'PolicyDocument');
  ensureLength(document, 'PolicyDocument', 1, 131072);
  const record = policyDocument(document);
  if (document.replace(/\s/g, '').length > POLICY_MAX_CHARS)
    throw new AwsError('LimitExceeded', `Cannot exceed quota for PolicySize: ${POLICY_MAX_CHARS}`, 409);
  return record.document;
}

function versionIdParam(ctx: RequestContext): string {
  const id = requiredParam(ctx.params, 'VersionId');
  ensure(
    VERSION_ID.test(id),
    'VersionId',
    id,
    'satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?',
  );
  return id;
}

function versionOf(policy: ManagedPolicyRecord, versionId: string) {
  const version = policy.versions.get(versionId);
  if (!version)
    throw noSuchEntity(`Policy ${policy.arn} version ${versionId} does not exist or is not attachable.`);
  return version;
}

const versionView = (p: ManagedPolicyRecord, v: { versionId: string; createDate: number }) => ({
  VersionId: v.versionId,
  IsDefaultVersion: v.versionId === p.defaultVersionId,
  CreateDate: new Date(v.createDate),
});

// ---- attachments -------------------------------------------------------------------------------------------

/** The user, group or role an attachment call names, authorized on its ARN. */
const attachee = (ctx: RequestContext, kind: 'User' | 'Group' | 'Role'): PolicyHolder =>
  kind === 'User' ? targetUser(ctx, true) : kind === 'Group' ? targetGroup(ctx) : targetRole(ctx);

function attachmentActions(kind: 'User' | 'Group' | 'Role'): Record<string, ActionHandler> {
  return {
    [`Attach${kind}Policy`]: (ctx) => {
      const arn = policyArnParam(ctx.params);
      const entity = attachee(ctx, kind);
      ctx.state.attachPolicy(entity, arn);
      return undefined;
    },
    [`Detach${kind}Policy`]: (ctx) => {
      const arn = policyArnParam(ctx.params);
      const entity = attachee(ctx, kind);
      const at = entity.attachedPolicies.indexOf(arn);
      if (at < 0) throw noSuchEntity(`Policy ${arn} was not found.`);
      entity.attachedPolicies.splice(at, 1);
      return undefined;
    },
    [`ListAttached${kind}Policies`]: (ctx) => {
      const prefix = pathPrefixParam(ctx.params);
      const entity = attachee(ctx, kind);
      const attached = entity.attachedPolicies
        .map((arn) => ctx.state.managedPolicy(ctx.account.accountId, arn))
        .filter((p): p is ManagedPolicyRecord => p !== undefined && p.path.startsWith(prefix))
        .map((p) => ({ PolicyName: p.policyName, PolicyArn: p.arn }));
      const { page, ...more } = paginate(ctx.params, attached);
      return { AttachedPolicies: page, ...more };
    },
  };
}

// ---- groups --------------------------------------------------------------------------------------------------

const groupView = (g: GroupRecord) => ({
  Path: g.path,
  GroupName: g.groupName,
  GroupId: g.groupId,
  Arn: g.arn,
  CreateDate: new Date(g.createDate),
});

/** The `UserName` of a group membership call: looked up only, the group being what is authorized. */
function memberParam(ctx: RequestContext): UserRecord {
  const name = requiredName(ctx.params, 'UserName');
  const user = ctx.account.users.get(name);
  if (!user) throw noSuchEntity(`The user with name ${name} cannot be found.`);
  return user;
}

/** IAM managed policies, their attachment to users and groups, and groups. */
export const managedPolicyActions: Record<string, ActionHandler> = {
  CreatePolicy: (ctx) => {
    const name = requiredName(ctx.params, 'PolicyName');
    const path = pathParam(ctx.params);
    const description = ctx.params['Description'];
    if (description !== undefined)
      ensure(
        description.length <= 1000,
        'Description',
        description,
        'have length less than or equal to 1000',
      );
    const tags = tagsParam(ctx.params);
    const arn = `arn:aws:iam::${ctx.account.accountId}:policy${path}${name}`;
    ctx.authorize('iam:CreatePolicy', arn);
    const document = documentParam(ctx);
    if ([...ctx.account.policies.values()].some((p) => p.policyName.toLowerCase() === name.toLowerCase()))
      throw new AwsError(
        'EntityAlreadyExists',
        `A policy called ${name} already exists. Duplicate names are not allowed.`,
        409,
      );
    const policy = ctx.state.createManagedPolicy(ctx.account.accountId, name, document, {
      path,
      ...(description === undefined ? {} : { description }),
      tags,
    });
    return { Policy: policyView(ctx, policy, 'create') };
  },
  GetPolicy: (ctx) => ({ Policy: policyView(ctx, targetPolicy(ctx), 'get') }),
  ListPolicies: (ctx) => {
    const scope = ctx.params['Scope'] ?? 'All';
    ensureOneOf(scope, 'Scope', ['All', 'AWS', 'Local']);
    const usage = ctx.params['PolicyUsageFilter'];
    if (usage !== undefined)
      ensureOneOf(usage, 'PolicyUsageFilter', ['PermissionsPolicy', 'PermissionsBoundary']);
    const onlyAttached = boolParam(ctx.params, 'OnlyAttached') ?? false;
    const prefix = pathPrefixParam(ctx.params);
    const candidates = [
      ...(scope === 'Local' ? [] : AWS_MANAGED_POLICIES.values()),
      ...(scope === 'AWS' ? [] : ctx.account.policies.values()),
    ];
    const policies = candidates
      // No policy is used as a permissions boundary in the emulator.
      .filter((p) => usage !== 'PermissionsBoundary' && p.path.startsWith(prefix))
      .filter((p) => !onlyAttached || attachmentCount(ctx.state, ctx.account, p.arn) > 0)
      .sort((a, b) => a.policyName.localeCompare(b.policyName));
    const { page, ...more } = paginate(ctx.params, policies);
    return { Policies: page.map((p) => policyView(ctx, p, 'list')), ...more };
  },
  DeletePolicy: (ctx) => {
    const policy = ownPolicy(ctx);
    if (attachmentCount(ctx.state, ctx.account, policy.arn) > 0)
      throw conflict('Cannot delete a policy attached to entities.');
    if (policy.versions.size > 1)
      throw conflict(
        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
      );
    ctx.account.policies.delete(policy.arn);
    return undefined;
  },
  GetPolicyVersion: (ctx) => {
    const versionId = versionIdParam(ctx);
    const policy = targetPolicy(ctx);
    const version = versionOf(policy, versionId);
    // As IAM does: the document URL-encoded (RFC 3986).
    return {
      PolicyVersion: { Document: encodeURIComponent(version.document), ...versionView(policy, version) },
    };
  },
  ListPolicyVersions: (ctx) => {
    const policy = targetPolicy(ctx);
    // Newest first.
    const versions = [...policy.versions.values()].sort(
      (a, b) => Number(b.versionId.slice(1)) - Number(a.versionId.slice(1)),
    );
    const { page, ...more } = paginate(ctx.params, versions);
    return { Versions: page.map((v) => versionView(policy, v)), ...more };
  },
  CreatePolicyVersion: (ctx) => {
    const policy = ownPolicy(ctx);
    const document = documentParam(ctx);
    const setAsDefault = boolParam(ctx.params, 'SetAsDefault') ?? false;
    if (policy.versions.size >= POLICY_VERSIONS_MAX)
      throw new AwsError(
        'LimitExceeded',
        `A managed policy can have up to ${POLICY_VERSIONS_MAX} versions. Before you create a new version, you must delete an existing version.`,
        409,
      );
    const versionId = `v${policy.nextVersion++}`;
    const version = { versionId, createDate: ctx.now, ...policyDocument(document) };
    policy.versions.set(versionId, version);
    if (setAsDefault) policy.defaultVersionId = versionId;
    policy.updateDate = ctx.now;
    return { PolicyVersion: versionView(policy, version) };
  },
  SetDefaultPolicyVersion: (ctx) => {
    const versionId = versionIdParam(ctx);
    const policy = ownPolicy(ctx);
    versionOf(policy, versionId);
    policy.defaultVersionId = versionId;
    policy.updateDate = ctx.now;
    return undefined;
  },
  DeletePolicyVersion: (ctx) => {
    const versionId = versionIdParam(ctx);
    const policy = ownPolicy(ctx);
    versionOf(policy, versionId);
    if (versionId === policy.defaultVersionId)
      throw conflict('Cannot delete the default version of a policy.');
    policy.versions.delete(versionId);
    return undefined;
  },
  ...attachmentActions('User'),
  ...attachmentActions('Group'),
  ...attachmentActions('Role'),

  CreateGroup: (ctx) => {
    const name = requiredName(ctx.params, 'GroupName');
    const path = pathParam(ctx.params);
    ctx.authorize('iam:CreateGroup', `arn:aws:iam::${ctx.account.accountId}:group${path}${name}`);
    if ([...ctx.account.groups.keys()].some((n) => n.toLowerCase() === name.toLowerCase()))
      throw new AwsError('EntityAlreadyExists', `Group with name ${name} already exists.`, 409);
    return { Group: groupView(ctx.state.createGroup(ctx.account.accountId, name, { path })) };
  },
  GetGroup: (ctx) => {
    const group = targetGroup(ctx);
    const users = [...group.members]
      .map((n) => ctx.account.users.get(n))
      .filter((u): u is UserRecord => u !== undefined)
      .sort((a, b) => a.userName.localeCompare(b.userName));
    const { page, ...more } = paginate(ctx.params, users);
    return { Group: groupView(group), Users: page.map((u) => userView(u, false)), ...more };
  },
  ListGroups: (ctx) => {
    const prefix = pathPrefixParam(ctx.params);
    const groups = [...ctx.account.groups.values()]
      .filter((g) => g.path.startsWith(prefix))
      .sort((a, b) => a.groupName.localeCompare(b.groupName));
    const { page, ...more } = paginate(ctx.params, groups);
    return { Groups: page.map(groupView), ...more };
  },
  DeleteGroup: (ctx) => {
    const group = targetGroup(ctx);
    if (group.members.size > 0) throw conflict('Cannot delete entity, must remove users from group first.');
    if (group.inlinePolicies.size > 0) throw conflict('Cannot delete entity, must delete policies first.');
    if (group.attachedPolicies.length > 0)
      throw conflict('Cannot delete entity, must detach all policies first.');
    ctx.account.groups.delete(group.groupName);
    return undefined;
  },
  AddUserToGroup: (ctx) => {
    const group = targetGroup(ctx);
    ctx.state.addUserToGroup(group, memberParam(ctx));
    return undefined;
  },
  RemoveUserFromGroup: (ctx) => {
    const group = targetGroup(ctx);
    const user = memberParam(ctx);
    if (!group.members.delete(user.userName))
      throw noSuchEntity(`The user with name ${user.userName} cannot be found in group ${group.groupName}.`);
    return undefined;
  },
  ListGroupsForUser: (ctx) => {
    const user = targetUser(ctx, true);
    const { page, ...more } = paginate(ctx.params, ctx.state.groupsOf(user));
    return { Groups: page.map(groupView), ...more };
  },
};
