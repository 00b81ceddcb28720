import { GetUserCommand } from '@aws-sdk/client-iam';
import type { Composition } from '../compose';
import type { ConfigIssue } from '../config';
import { userPathIssue } from '../config/stack';
import { describeError } from './errors';

/** `validate-config --check-iam`: one managed user's IAM path against the stack's userPath. Field names are stable. */
export interface IamUserCheck {
  key: string;
  iamUser: string;
  /** The user's account when it is not the rotator's own. */
  accountId: string | null;
  /**
   * `ok`: on the userPath. `off-path` and `no-such-user`: the deployed rotator could not rotate the key.
   * `not-checked`: IAM did not tell (a missing permission, a role that cannot be assumed); never counted as clean.
   */
  status: 'ok' | 'off-path' | 'no-such-user' | 'not-checked';
  path: string | null;
  /** Why, unless ok. */
  detail: string | null;
}

const isNoSuchEntity = (err: unknown) =>
  err instanceof Error && (err.name === 'NoSuchEntityException' || err.name === 'NoSuchEntity');

/**
 * Reads every managed user with iam:GetUser (read-only), through the key's assumeRoleArn for users in other
 * accounts, as the rotator would reach them.
 */
export async function checkUserPaths(composition: Composition, userPath: string): Promise<IamUserCheck[]> {
  return Promise.all(
    composition.config.keys.map(async (key): Promise<IamUserCheck> => {
      const base = { key: key.name, iamUser: key.iamUser, accountId: key.accountId ?? null };
      try {
        const { User } = await composition.iamFor(key).send(new GetUserCommand({ UserName: key.iamUser }));
        const path = User?.Path ?? '/';
        const issue = userPathIssue({ userName: key.iamUser, path, accountId: key.accountId }, userPath);
        return { ...base, status: issue ? 'off-path' : 'ok', path, detail: issue ?? null };
      } catch (err) {
        if (isNoSuchEntity(err))
          return {
            ...base,
            status: 'no-such-user',
            path: null,
            detail: `IAM user ${key.iamUser} does not exist${key.accountId ? ` in account ${key.accountId}` : ''}: check the name (and assumeRoleArn for another account)`,
          };
        return { ...base, status: 'not-checked', path: null, detail: `not checked: ${describeError(err)}` };
      }
    }),
  );
}

/** The checks that are errors, as issues on the key's iamUser. */
export function userPathIssues(
  checks: readonly IamUserCheck[],
  keyIndex: (name: string) => number,
): ConfigIssue[] {
  return checks
    .filter((c) => c.status === 'off-path' || c.status === 'no-such-user')
    .map((c) => ({ path: `keys[${keyIndex(c.key)}].iamUser`, message: c.detail ?? c.status }));
}
