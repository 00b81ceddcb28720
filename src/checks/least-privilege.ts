import type { EmittedPolicy, Finding, Severity } from './types';

/**
 * Least privilege of a managed IAM user (pure): what its policies allow, against what pushing images to ECR
 * needs; and the policy it should have instead.
 */

/** What `docker push` (and pull of the layers it checks) needs on a repository, besides the login. */
export const ECR_PUSH_ACTIONS = [
  'ecr:BatchCheckLayerAvailability',
  'ecr:InitiateLayerUpload',
  'ecr:UploadLayerPart',
  'ecr:CompleteLayerUpload',
  'ecr:PutImage',
  'ecr:BatchGetImage',
  'ecr:GetDownloadUrlForLayer',
] as const;
/** The login: no resource-level permission, so `*` (aws-facts.md §1.5). */
export const ECR_LOGIN_ACTION = 'ecr:GetAuthorizationToken';
/** Actions that need no permission or concern only the caller itself, never a finding. */
const ALWAYS_FINE = new Set(['sts:getcalleridentity']);

const BROAD_ECR_POLICIES: Record<string, string> = {
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess': 'AmazonEC2ContainerRegistryFullAccess',
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser': 'AmazonEC2ContainerRegistryPowerUser',
};
/** Services whose permissions on a CI user are a privilege-escalation or secret-reading path. */
const SENSITIVE_SERVICES = new Set(['iam', 'sts', 'organizations', 'kms', 'secretsmanager', 'ssm', 'lambda']);

/** One statement, as IAM documents spell it (Action/Resource may be a string or a list). */
export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: unknown;
}

/** Where a user's permissions come from. */
export interface PolicySource {
  kind: 'managed' | 'inline' | 'group-managed' | 'group-inline';
  /** The policy's name (inline) or ARN (managed). */
  name: string;
  /** The group it comes through, for group policies. */
  group?: string;
  statements: PolicyStatement[];
}

/** The statements a self-rotated key needs on itself (self-rotate --print-policy): expected, not findings. */
export interface SelfRotationAllowance {
  /** The user's own ARN and the `${aws:username}` form on its path. */
  userArns: string[];
  /** The key's secret, as a name or ARN prefix. */
  secretName: string;
}

const SELF_IAM = new Set([
  'iam:listaccesskeys',
  'iam:createaccesskey',
  'iam:updateaccesskey',
  'iam:deleteaccesskey',
  'iam:listusertags',
  'iam:taguser',
  'iam:untaguser',
]);
const SELF_SECRETS = new Set([
  'secretsmanager:describesecret',
  'secretsmanager:getsecretvalue',
  'secretsmanager:putsecretvalue',
  'secretsmanager:updatesecretversionstage',
]);

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];
const PUSH = new Set(ECR_PUSH_ACTIONS.map((a) => a.toLowerCase()));
const where = (s: PolicySource, i: number, st: PolicyStatement) =>
  `${s.kind === 'managed' || s.kind === 'group-managed' ? 'managed policy' : 'inline policy'} ${s.name}${s.group ? ` (through group ${s.group})` : ''}, statement ${st.Sid ? `"${st.Sid}"` : i + 1}`;

/** Is this statement one of the self-rotation policy's, on this very user or secret? */
function selfRotationStatement(st: PolicyStatement, self: SelfRotationAllowance | undefined): boolean {
  if (!self) return false;
  const actions = list(st.Action).map((a) => a.toLowerCase());
  const resources = list(st.Resource);
  if (!actions.length || !resources.length) return false;
  if (actions.every((a) => SELF_IAM.has(a)))
    return resources.every((r) => self.userArns.includes(r) || /:user\/(.*\/)?\$\{aws:username\}$/.test(r));
  if (actions.every((a) => SELF_SECRETS.has(a)))
    return resources.every((r) => r.includes(`:secret:${self.secretName}`));
  return false;
}

/**
 * The findings about what a user's policies allow. Only Allow statements count (a Deny takes away). One finding
 * per kind and statement, naming the policy and statement; the fix is always the emitted least-privilege policy.
 */
/** The name the emitted push policy is put under (an inline policy of the user). */
export const PUSH_POLICY_NAME = 'key-rotator-ecr-push';

export function leastPrivilegeFindings(
  subject: { key: string; user: string; accountId: string },
  sources: readonly PolicySource[],
  opts: { self?: SelfRotationAllowance; emittedPolicyName: string } = { emittedPolicyName: subject.key },
): Finding[] {
  const out: Finding[] = [];
  const resource = {
    kind: 'iam-user' as const,
    id: subject.user,
    accountId: subject.accountId,
    key: subject.key,
  };
  const attach = `key-rotator check --key ${subject.key} --emit-policy policies && aws iam put-user-policy --user-name ${subject.user} --policy-name ${PUSH_POLICY_NAME} --policy-document file://policies/${opts.emittedPolicyName}.policy.json`;
  const replace = `${attach}, then detach or delete the broader one`;
  const add = (check: Finding['check'], severity: Severity, title: string, location: string, fix = replace) =>
    out.push({ check, severity, resource: { ...resource, location }, title, fix });
  for (const s of sources) {
    const broad = BROAD_ECR_POLICIES[s.name];
    if (broad) {
      add(
        'ecr-broad-managed-policy',
        'high',
        `user ${subject.user} has the AWS managed policy ${broad}${s.group ? ` through group ${s.group}` : ''}: it can delete repositories and images, change repository policies and more, far beyond pushing`,
        `managed policy ${s.name}`,
        `${attach}, then: aws iam ${s.group ? `detach-group-policy --group-name ${s.group}` : `detach-user-policy --user-name ${subject.user}`} --policy-arn ${s.name}`,
      );
      continue; // its statements are the same problem, said once
    }
    s.statements.forEach((st, i) => {
      if ((st.Effect ?? 'Allow') !== 'Allow') return;
      if (selfRotationStatement(st, opts.self)) return;
      const at = where(s, i, st);
      if (st.NotAction !== undefined || st.NotResource !== undefined)
        add(
          'wildcard-action',
          'high',
          `${st.NotAction !== undefined ? 'NotAction' : 'NotResource'} allows everything it does not name`,
          at,
        );
      const actions = list(st.Action);
      const lower = actions.map((a) => a.toLowerCase());
      const wild = actions.filter((a) => a.includes('*'));
      if (wild.length)
        add(
          'wildcard-action',
          wild.some((a) => a === '*' || /^[^:]+:\*$/.test(a)) ? 'high' : 'medium',
          `it allows ${wild.map((a) => `"${a}"`).join(', ')}: every action that matches, present and future`,
          at,
        );
      const services = [
        ...new Set(lower.map((a) => a.split(':')[0] ?? a).filter((sv) => sv !== 'ecr' && sv !== '*')),
      ];
      const foreign = lower.filter((a) => !a.startsWith('ecr:') && a !== '*' && !ALWAYS_FINE.has(a));
      if (foreign.length)
        add(
          'non-ecr-permission',
          services.some((sv) => SENSITIVE_SERVICES.has(sv)) ? 'high' : 'medium',
          `it allows ${foreign.length} action(s) outside ECR (${services.join(', ')}): a key that only pushes images needs none`,
          at,
        );
      const beyond = lower.filter(
        (a) =>
          a.startsWith('ecr:') && !a.includes('*') && !PUSH.has(a) && a !== ECR_LOGIN_ACTION.toLowerCase(),
      );
      if (beyond.length)
        add(
          'ecr-beyond-push',
          'medium',
          `it allows ECR actions pushing does not need: ${beyond.map((a) => actions[lower.indexOf(a)]).join(', ')}`,
          at,
        );
      const resources = list(st.Resource);
      const repoActions = lower.filter((a) => PUSH.has(a) || (a.startsWith('ecr:') && a.includes('*')));
      if (repoActions.length && resources.includes('*'))
        add(
          'wildcard-resource',
          'medium',
          `it allows pushing to every repository of every account it can reach (Resource "*")`,
          at,
          `name the repositories the key pushes to (keys[].ecrRepositories in the configuration) and ${replace}`,
        );
    });
  }
  return out;
}

/** The repositories a user's current policies allow pushing to by ARN (not `*`), for the emitted policy. */
export function repositoriesAllowed(sources: readonly PolicySource[]): string[] {
  const out = new Set<string>();
  for (const s of sources)
    for (const st of s.statements) {
      if ((st.Effect ?? 'Allow') !== 'Allow') continue;
      if (!list(st.Action).some((a) => PUSH.has(a.toLowerCase()) || /^ecr:\*$/i.test(a))) continue;
      for (const r of list(st.Resource)) if (/^arn:aws[\w-]*:ecr:/.test(r)) out.add(r);
    }
  return [...out].sort();
}

/** `repo` or `path/repo` as an ARN in the key's registry; ARNs as they are. */
export const repositoryArn = (repo: string, region: string, accountId: string): string =>
  repo.startsWith('arn:') ? repo : `arn:aws:ecr:${region}:${accountId}:repository/${repo}`;

/**
 * The least-privilege policy for pushing with the key: the login on `*`, the push actions on exactly the
 * repositories the configuration names; else those the current policy allows by ARN; else every repository of the
 * key's registry (said so: name them in the configuration).
 */
export function emitPushPolicy(
  subject: { key: string; user: string; accountId: string; region: string },
  configured: readonly string[] | undefined,
  sources: readonly PolicySource[],
): EmittedPolicy {
  let repositoriesFrom: EmittedPolicy['repositoriesFrom'];
  let repositories: string[];
  if (configured?.length) {
    repositoriesFrom = 'configuration';
    repositories = configured.map((r) => repositoryArn(r, subject.region, subject.accountId));
  } else {
    const allowed = repositoriesAllowed(sources);
    repositoriesFrom = allowed.length ? 'current-policy' : 'unknown';
    repositories = allowed.length
      ? allowed
      : [`arn:aws:ecr:${subject.region}:${subject.accountId}:repository/*`];
  }
  return {
    key: subject.key,
    user: subject.user,
    accountId: subject.accountId,
    repositoriesFrom,
    repositories,
    document: {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'EcrLogin', Effect: 'Allow', Action: ECR_LOGIN_ACTION, Resource: '*' },
        { Sid: 'EcrPush', Effect: 'Allow', Action: [...ECR_PUSH_ACTIONS], Resource: repositories },
      ],
    },
  };
}
