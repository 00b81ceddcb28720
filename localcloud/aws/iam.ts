import type { RequestContext, ServiceModule } from './context';
import { AwsError, noSuchEntity } from './errors';
import {
  ensure,
  nameParam,
  paginate,
  pathParam,
  pathPrefixParam,
  requiredParam,
  tagActions,
  tagsParam,
  targetUser,
  userView,
} from './iam-common';
import { inlinePolicyActions } from './iam-inline';
import { oidcProviderActions } from './iam-oidc';
import { loginActions } from './iam-login';
import { managedPolicyActions } from './iam-policies';
import { roleActions } from './iam-roles';
import type { AccessKeyRecord, AccountState, AwsState, UserRecord } from './state';

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

/** The `AccessKeyId` of the request, which must belong to `user`. */
function keyOf(ctx: RequestContext, user: UserRecord): AccessKeyRecord {
  const id = requiredParam(ctx.params, 'AccessKeyId');
  const key = ctx.state.accessKeys.get(id);
  if (key?.accountId !== user.accountId || key.userName !== user.userName)
    throw noSuchEntity(`The Access Key with id ${id} cannot be found.`);
  return key;
}

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
  // One pass over the account's MFA devices rather than one per user: the report stays linear in its users.
  const withMfa = new Set([...acct.mfaDevices.values()].map((d) => d.userName));
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
      String(u.loginProfile !== undefined),
      // Password columns are N/A without a password; a password never used has no_information.
      !u.loginProfile
        ? 'N/A'
        : u.passwordLastUsed === undefined
          ? 'no_information'
          : time(u.passwordLastUsed),
      u.loginProfile ? time(u.loginProfile.createDate) : 'N/A',
      'N/A',
      String(withMfa.has(u.userName)),
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
    ...inlinePolicyActions,
    ...managedPolicyActions,
    ...loginActions,
    ...roleActions,
    ...oidcProviderActions,
    CreateUser: (ctx) => {
      const name = nameParam(ctx.params, 'UserName', 64) ?? requiredParam(ctx.params, 'UserName');
      const path = pathParam(ctx.params);
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
      // IAM refuses while anything is attached to the user, naming the first thing to remove.
      const conflict = (what: string) =>
        new AwsError('DeleteConflict', `Cannot delete entity, must ${what} first.`, 409);
      if (user.loginProfile) throw conflict('delete login profile');
      if (ctx.state.keysOf(user.accountId, user.userName).length > 0) throw conflict('delete access keys');
      if (ctx.state.mfaDevicesOf(user).length > 0) throw conflict('delete MFA device');
      if (user.inlinePolicies.size > 0) throw conflict('delete policies');
      if (user.attachedPolicies.length > 0) throw conflict('detach all policies');
      if (ctx.state.groupsOf(user).length > 0) throw conflict('remove users from group');
      ctx.account.users.delete(user.userName);
      return undefined;
    },
    ListUsers: (ctx) => {
      const prefix = pathPrefixParam(ctx.params);
      const users = [...ctx.account.users.values()]
        .filter((u) => u.path.startsWith(prefix))
        .sort((a, b) => a.userName.localeCompare(b.userName));
      const { page, ...more } = paginate(ctx.params, users);
      return { Users: page.map((u) => userView(u, false)), ...more };
    },
    ...tagActions('User', (ctx) => targetUser(ctx, true)),
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
