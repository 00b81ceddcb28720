/**
 * The security checklist as checks (`key-rotator check`, and the scheduled scan once a day): findings about the
 * managed IAM users, the accounts' CloudTrail, and Jenkins. Read-only; ids only, never a secret value.
 */

export type Severity = 'high' | 'medium' | 'low';

/** The kinds of finding, stable names for scripts (`check --json`) and for "notified once". */
export type CheckId =
  | 'ecr-broad-managed-policy'
  | 'wildcard-action'
  | 'wildcard-resource'
  | 'ecr-beyond-push'
  | 'non-ecr-permission'
  | 'console-password'
  | 'console-without-mfa'
  | 'second-active-key'
  | 'key-never-used'
  | 'key-unused'
  | 'user-several-environments'
  | 'key-in-several-controllers'
  | 'no-cloudtrail'
  | 'cloudtrail-not-logging'
  | 'key-outside-credentials-store'
  | 'credential-defined-by-jcasc'
  | 'jenkins-not-on-current-key';

/** The groups of checks, for what could not be checked. */
export type CheckGroup = 'least-privilege' | 'user' | 'cloudtrail' | 'jenkins-config' | 'jcasc';

/** What a finding or a gap is about: ids and locations only. */
export interface Resource {
  kind:
    | 'iam-user'
    | 'iam-policy'
    | 'access-key'
    | 'account'
    | 'jenkins-item'
    | 'jenkins-global'
    | 'jenkins-node'
    | 'jenkins-credential'
    | 'jenkins';
  /** A user name, policy ARN, access key id, account id, job path, credential id… */
  id: string;
  accountId?: string;
  region?: string;
  /** The managed key it concerns, if any (its name). */
  key?: string;
  /** The Jenkins controller (base URL). */
  jenkins?: string;
  /** Where in it: an XML element path, a policy statement, a YAML path. */
  location?: string;
}

export interface Finding {
  check: CheckId;
  severity: Severity;
  resource: Resource;
  /** What is wrong, in one sentence. */
  title: string;
  /** Why it matters or what was seen (ids only). */
  detail?: string;
  /** The exact fix. */
  fix: string;
}

/** Something the checks could not read: never reported as clean. */
export interface NotChecked {
  group: CheckGroup;
  resource: Resource;
  reason: string;
  /** The permission that was missing, when that is why. */
  missingPermission?: string;
}

/** A least-privilege ECR push policy for one managed user, ready to attach (`check --emit-policy DIR`). */
export interface EmittedPolicy {
  key: string;
  user: string;
  accountId: string;
  /** Where the repositories came from: the configuration, the current policy, or nowhere (a placeholder). */
  repositoriesFrom: 'configuration' | 'current-policy' | 'unknown';
  repositories: string[];
  document: { Version: '2012-10-17'; Statement: Record<string, unknown>[] };
}

export interface CheckReport {
  at: string;
  findings: Finding[];
  notChecked: NotChecked[];
  policies: EmittedPolicy[];
  counts: Record<Severity, number> & { notChecked: number };
}

export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low'];

/** A stable identity of a finding across runs (the scan notifies a new high finding once). */
export const fingerprint = (f: Finding): string =>
  [f.check, f.resource.kind, f.resource.accountId ?? '', f.resource.id, f.resource.location ?? ''].join('|');
