import type { ConfigIssue } from './errors';
import { parseSecretArn, secretNameOf } from './schema';
import type { RotatorConfig } from './schema';

/** The deploy parameters of `serverless.yml` (`params.default`; a test keeps the two lists equal). */
export const STACK_PARAMS = [
  'userPath',
  'secretPrefix',
  'tokenSecretPrefix',
  'crossAccountRoleName',
  'configFile',
  'schedule',
  'notifyTopicArn',
  'notifyEmail',
  'slackWebhookSecretId',
  'vpcSubnetIds',
  'vpcSecurityGroupIds',
  'reportBucket',
  'reportPrefix',
  'rotateReservedConcurrency',
] as const;
export type StackParamName = (typeof STACK_PARAMS)[number];
/** A stage's parameters; a parameter that is absent is unknown (e.g. a serverless variable not resolved). */
export type StackParams = Partial<Record<StackParamName, string>>;

/** The parameters a configuration is checked against (stackIssues, and userPath with IAM). */
export const CHECKED_PARAMS = [
  'userPath',
  'secretPrefix',
  'tokenSecretPrefix',
  'notifyTopicArn',
  'slackWebhookSecretId',
] as const satisfies readonly StackParamName[];

export const isStackParam = (name: string): name is StackParamName =>
  (STACK_PARAMS as readonly string[]).includes(name);

/** A stage's parameters, and those whose value is a serverless variable this reader cannot resolve. */
export interface StageParams {
  readonly params: StackParams;
  readonly unresolved: readonly StackParamName[];
}

/**
 * A stage's parameters as the Serverless Framework resolves them: `--param name=value` first, then
 * `params.<stage>`, then `params.default` (null values skipped). `declared` is serverless.yml's `params:`.
 * Values still holding a `${…}` variable are left out and listed as unresolved.
 */
export function stageParams(
  declared: unknown,
  stage: string,
  overrides: readonly string[] = [],
): StageParams {
  const section = (name: string): Record<string, unknown> => {
    const v = (declared as Record<string, unknown> | null | undefined)?.[name];
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  };
  const merged: Record<string, unknown> = {};
  for (const [name, value] of [...Object.entries(section('default')), ...Object.entries(section(stage))])
    if (value !== null && value !== undefined) merged[name] = value;
  for (const o of overrides) {
    const m = /^([^=]+)=(.+)$/s.exec(o);
    if (!m?.[1] || m[2] === undefined) throw new Error(`invalid parameter "${o}": expected name=value`);
    merged[m[1]] = m[2].trimEnd();
  }
  const params: StackParams = {};
  const unresolved: StackParamName[] = [];
  for (const name of STACK_PARAMS) {
    const value = merged[name];
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text.includes('${')) unresolved.push(name);
    else params[name] = text;
  }
  return { params, unresolved };
}

/** Where the stack is deployed, as far as it is known. */
export interface StackTarget {
  readonly params: StackParams;
  /** The stack's region: its roles grant Secrets Manager access in that region only. */
  readonly region?: string | undefined;
}

const ACCESS_DENIED = 'so every call would fail with AccessDenied';

/**
 * What the deployed roles would refuse, for certain: the stack grants Secrets Manager access to secrets named
 * `secretPrefix*` and `tokenSecretPrefix*` in its own region, SNS publishing on one topic and the webhook
 * secret by name. One issue per offending field; the users' paths need IAM (see `userPathIssue`).
 */
export function stackIssues(config: RotatorConfig, target: StackTarget): ConfigIssue[] {
  const { params, region } = target;
  const out: ConfigIssue[] = [];
  const issue = (path: string, message: string) => out.push({ path, message });
  for (const name of ['userPath', 'secretPrefix', 'tokenSecretPrefix'] as const) {
    const value = params[name];
    if (value === undefined) continue;
    const bad =
      name === 'userPath'
        ? !/^\/([\x21-\x7e]*\/)?$/.test(value) &&
          'must be an IAM path: "/" or "/name/…/" with a slash at each end'
        : !/^[A-Za-z0-9/_+=.@-]+$/.test(value) && 'must be the start of a secret name (A-Z a-z 0-9 /_+=.@-)';
    if (bad) issue(`(parameter ${name})`, `"${value}" ${bad}`);
  }
  const secret = (path: string, id: string, param: 'secretPrefix' | 'tokenSecretPrefix', what: string) => {
    const arn = parseSecretArn(id);
    if (arn && region !== undefined && arn.region !== region)
      issue(
        path,
        `${id} is in region ${arn.region}, but the stack (region ${region}) may only read ${what} in its own region, ${ACCESS_DENIED}`,
      );
    const prefix = params[param];
    const name = secretNameOf(id);
    if (prefix !== undefined && !name.startsWith(prefix))
      issue(
        path,
        `secret "${name}" is not under the stack's ${param} "${prefix}": the roles may only use ${what} named ${prefix}*, ${ACCESS_DENIED}; rename the secret or deploy with --param="${param}=…"`,
      );
  };
  config.keys.forEach((k, i) => {
    secret(`keys[${i}].secretId`, k.secretId, 'secretPrefix', 'managed key secrets');
    k.jenkins.forEach((t, j) => {
      if (t.tokenSecretId !== undefined)
        secret(
          `keys[${i}].jenkins[${j}].tokenSecretId`,
          t.tokenSecretId,
          'tokenSecretPrefix',
          'Jenkins token secrets',
        );
      // The CA secret is read with the token's grant: it lives under the same prefix.
      const ca = t.caCertificates?.secretId;
      if (ca !== undefined)
        secret(
          `keys[${i}].jenkins[${j}].caCertificates.secretId`,
          ca,
          'tokenSecretPrefix',
          'Jenkins token and CA secrets',
        );
    });
  });

  const { snsTopicArn, slackWebhookSecretId } = config.notifications;
  const topic = params.notifyTopicArn;
  if (snsTopicArn !== undefined && topic !== undefined && topic !== snsTopicArn)
    issue(
      'notifications.snsTopicArn',
      `the scan publishes to ${snsTopicArn}, but the stack lets it publish only to ${topic === '' ? 'a topic it creates (parameter notifyTopicArn is empty)' : `${topic} (parameter notifyTopicArn)`}, ${ACCESS_DENIED}; deploy with --param="notifyTopicArn=${snsTopicArn}"`,
    );
  const webhook = params.slackWebhookSecretId;
  if (slackWebhookSecretId !== undefined && webhook !== undefined) {
    const name = secretNameOf(slackWebhookSecretId);
    const arn = parseSecretArn(slackWebhookSecretId);
    if (arn && region !== undefined && arn.region !== region)
      issue(
        'notifications.slackWebhookSecretId',
        `${slackWebhookSecretId} is in region ${arn.region}, but the stack (region ${region}) may only read the webhook secret in its own region, ${ACCESS_DENIED}`,
      );
    if (webhook !== name)
      issue(
        'notifications.slackWebhookSecretId',
        `the scan reads secret "${name}", but the stack grants it ${webhook === '' ? 'no webhook secret (parameter slackWebhookSecretId is empty)' : `"${webhook}" (parameter slackWebhookSecretId, a secret name)`}, ${ACCESS_DENIED}; deploy with --param="slackWebhookSecretId=${name}"`,
      );
  }
  return out;
}

/** The managed user's IAM path against the stack's `userPath`: a message when the roles may not touch it. */
export function userPathIssue(
  user: { userName: string; path: string; accountId?: string | undefined },
  userPath: string,
): string | undefined {
  const { userName, path, accountId } = user;
  if (path.startsWith(userPath)) return undefined;
  const roles =
    accountId === undefined
      ? "the stack's roles"
      : `the role in account ${accountId} (set up on the same userPath, as README's "Keys in other accounts" says)`;
  return `IAM user ${userName} is on path ${path}, outside the stack's userPath "${userPath}": ${roles} may only manage keys of users on ${userPath}*, ${ACCESS_DENIED}; move the user (aws iam update-user --user-name ${userName} --new-path ${userPath}) or deploy with --param="userPath=${path}"`;
}
