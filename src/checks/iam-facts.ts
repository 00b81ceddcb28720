import {
  GetGroupPolicyCommand,
  GetLoginProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetUserPolicyCommand,
  type IAMClient,
  paginateListAttachedGroupPolicies,
  paginateListAttachedUserPolicies,
  paginateListGroupPolicies,
  paginateListGroupsForUser,
  paginateListMFADevices,
  paginateListUserPolicies,
} from '@aws-sdk/client-iam';
import { awsErrorName, messageOf } from '../domain/errors';
import type { PolicySource, PolicyStatement } from './least-privilege';
import type { NotChecked, Resource } from './types';

/**
 * What IAM says about one managed user, read only: every policy that applies to it (attached managed policies at
 * their default version, inline policies, and both through its groups), its login profile and MFA devices. A read
 * that is refused is recorded as not checked, naming the permission: never taken for "clean".
 */
export interface IamUserFacts {
  /** Undefined when the policies could not all be read (see notChecked). */
  policies?: PolicySource[];
  loginProfile?: boolean;
  mfaDevices?: number;
  notChecked: NotChecked[];
}

const denied = (err: unknown) => /AccessDenied|UnauthorizedOperation/.test(awsErrorName(err) ?? '');

/** A policy document as IAM returns it: URL-encoded JSON. */
export function parsePolicyDocument(raw: string | undefined): PolicyStatement[] {
  if (!raw) return [];
  let text = raw;
  try {
    text = decodeURIComponent(raw);
  } catch {
    // already plain JSON
  }
  const doc = JSON.parse(text) as { Statement?: PolicyStatement | PolicyStatement[] };
  const st = doc.Statement;
  return st === undefined ? [] : Array.isArray(st) ? st : [st];
}

async function all<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const p of pages) out.push(p);
  return out;
}

export async function readIamUserFacts(
  iam: IAMClient,
  userName: string,
  resource: Resource,
): Promise<IamUserFacts> {
  const facts: IamUserFacts = { notChecked: [] };
  /** Runs one read; a denial becomes "not checked: missing permission X". */
  const read = async <T>(
    permission: string,
    group: NotChecked['group'],
    fn: () => Promise<T>,
  ): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      facts.notChecked.push({
        group,
        resource,
        reason: denied(err)
          ? `not checked: missing permission ${permission}`
          : `not checked: ${permission} failed (${messageOf(err)})`,
        ...(denied(err) ? { missingPermission: permission } : {}),
      });
      return undefined;
    }
  };
  const policyDoc = new Map<string, Promise<PolicyStatement[]>>();
  const managed = (arn: string) => {
    let p = policyDoc.get(arn);
    if (!p) {
      p = (async () => {
        const pol = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
        const v = await iam.send(
          new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: pol.Policy?.DefaultVersionId ?? 'v1' }),
        );
        return parsePolicyDocument(v.PolicyVersion?.Document);
      })();
      policyDoc.set(arn, p);
    }
    return p;
  };
  const sources = await read(
    'iam:ListAttachedUserPolicies, iam:ListUserPolicies, iam:ListGroupsForUser, iam:GetPolicy, iam:GetPolicyVersion, iam:GetUserPolicy, iam:ListGroupPolicies, iam:GetGroupPolicy, iam:ListAttachedGroupPolicies',
    'least-privilege',
    async () => {
      const out: PolicySource[] = [];
      for (const page of await all(paginateListAttachedUserPolicies({ client: iam }, { UserName: userName })))
        for (const p of page.AttachedPolicies ?? [])
          if (p.PolicyArn)
            out.push({ kind: 'managed', name: p.PolicyArn, statements: await managed(p.PolicyArn) });
      for (const page of await all(paginateListUserPolicies({ client: iam }, { UserName: userName })))
        for (const name of page.PolicyNames ?? []) {
          const r = await iam.send(new GetUserPolicyCommand({ UserName: userName, PolicyName: name }));
          out.push({ kind: 'inline', name, statements: parsePolicyDocument(r.PolicyDocument) });
        }
      for (const page of await all(paginateListGroupsForUser({ client: iam }, { UserName: userName })))
        for (const g of page.Groups ?? []) {
          const group = g.GroupName ?? '';
          for (const gp of await all(
            paginateListAttachedGroupPolicies({ client: iam }, { GroupName: group }),
          ))
            for (const p of gp.AttachedPolicies ?? [])
              if (p.PolicyArn)
                out.push({
                  kind: 'group-managed',
                  group,
                  name: p.PolicyArn,
                  statements: await managed(p.PolicyArn),
                });
          for (const gp of await all(paginateListGroupPolicies({ client: iam }, { GroupName: group })))
            for (const name of gp.PolicyNames ?? []) {
              const r = await iam.send(new GetGroupPolicyCommand({ GroupName: group, PolicyName: name }));
              out.push({
                kind: 'group-inline',
                group,
                name,
                statements: parsePolicyDocument(r.PolicyDocument),
              });
            }
        }
      return out;
    },
  );
  if (sources) facts.policies = sources;
  const login = await read('iam:GetLoginProfile', 'user', async () => {
    try {
      await iam.send(new GetLoginProfileCommand({ UserName: userName }));
      return true;
    } catch (err) {
      if (awsErrorName(err) === 'NoSuchEntityException') return false;
      throw err;
    }
  });
  if (login !== undefined) facts.loginProfile = login;
  const mfa = await read('iam:ListMFADevices', 'user', async () => {
    let n = 0;
    for (const page of await all(paginateListMFADevices({ client: iam }, { UserName: userName })))
      n += page.MFADevices?.length ?? 0;
    return n;
  });
  if (mfa !== undefined) facts.mfaDevices = mfa;
  return facts;
}
