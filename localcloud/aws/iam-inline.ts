import type { ActionHandler, RequestContext } from './context';
import { noSuchEntity } from './errors';
import {
  ensureLength,
  paginate,
  requiredName,
  requiredParam,
  targetGroup,
  targetRole,
  targetUser,
} from './iam-common';
import type { PolicyDocumentRecord } from './policy';
import type { PolicyHolder } from './state';

type Entity = 'User' | 'Group' | 'Role';

/** The user, group or role a request names, authorized on its ARN. */
const holder = (ctx: RequestContext, entity: Entity): PolicyHolder =>
  entity === 'User' ? targetUser(ctx, true) : entity === 'Group' ? targetGroup(ctx) : targetRole(ctx);

const holderName = (h: PolicyHolder) =>
  'userName' in h ? h.userName : 'groupName' in h ? h.groupName : h.roleName;

const policyNameOf = (ctx: RequestContext) => requiredName(ctx.params, 'PolicyName');

/** The named inline policy, or IAM's NoSuchEntity. */
function inlinePolicyOf(h: PolicyHolder, entity: Entity, name: string): PolicyDocumentRecord {
  const policy = h.inlinePolicies.get(name);
  if (!policy) throw noSuchEntity(`The ${entity.toLowerCase()} policy with name ${name} cannot be found.`);
  return policy;
}

function actionsFor(entity: Entity): Record<string, ActionHandler> {
  return {
    [`Put${entity}Policy`]: (ctx) => {
      const policyName = policyNameOf(ctx);
      const document = requiredParam(ctx.params, 'PolicyDocument');
      ensureLength(document, 'PolicyDocument', 1, 131072);
      ctx.state.putInlinePolicy(holder(ctx, entity), policyName, document);
      return undefined;
    },
    [`Get${entity}Policy`]: (ctx) => {
      const policyName = policyNameOf(ctx);
      const h = holder(ctx, entity);
      // IAM answers the document URL-encoded (RFC 3986); callers decode it themselves.
      return {
        [`${entity}Name`]: holderName(h),
        PolicyName: policyName,
        PolicyDocument: encodeURIComponent(inlinePolicyOf(h, entity, policyName).document),
      };
    },
    [`List${entity}Policies`]: (ctx) => {
      const names = [...holder(ctx, entity).inlinePolicies.keys()].sort((a, b) => a.localeCompare(b));
      const { page, ...more } = paginate(ctx.params, names);
      return { PolicyNames: page, ...more };
    },
    [`Delete${entity}Policy`]: (ctx) => {
      const policyName = policyNameOf(ctx);
      const h = holder(ctx, entity);
      inlinePolicyOf(h, entity, policyName);
      h.inlinePolicies.delete(policyName);
      return undefined;
    },
  };
}

/** Inline policies of users, groups and roles: Put/Get/List/Delete{User,Group,Role}Policy. */
export const inlinePolicyActions: Record<string, ActionHandler> = {
  ...actionsFor('User'),
  ...actionsFor('Group'),
  ...actionsFor('Role'),
};
