import type { ManagedKey } from '../config';
import { findSecretInText } from '../domain/secret-text';
import type { Finding } from './types';

/** The user checks, the configuration checks, CloudTrail and key-shaped values in Jenkins' XML (all pure). */

const DAY_MS = 86_400_000;
/** A key this young may not have been used yet: a rotation just made it. */
const NEVER_USED_GRACE_DAYS = 7;

export interface UserFacts {
  key: string;
  user: string;
  accountId: string;
  /** Undefined: not checked (the reader records why). */
  loginProfile?: boolean;
  mfaDevices?: number;
  keys: { accessKeyId: string; status: 'Active' | 'Inactive'; createDate: Date; lastUsedDate?: Date }[];
  /** Keys that secret stages record (AWSCURRENT, and AWSPENDING of a rotation in flight). */
  currentKeyId?: string;
  pendingKeyId?: string;
}

/** A console password on a CI user, MFA, a second active key, keys never used or unused for long. */
export function userFindings(f: UserFacts, now: Date, opts: { unusedDays: number }): Finding[] {
  const out: Finding[] = [];
  const user = { kind: 'iam-user' as const, id: f.user, accountId: f.accountId, key: f.key };
  if (f.loginProfile) {
    out.push({
      check: 'console-password',
      severity: 'high',
      resource: user,
      title: `IAM user ${f.user}, whose key Jenkins uses, can sign in to the AWS console (it has a login profile)`,
      detail: `a CI user needs programmatic access only${f.mfaDevices === 0 ? '; it has no MFA device either' : ''}`,
      fix: `aws iam delete-login-profile --user-name ${f.user}`,
    });
    if (f.mfaDevices === 0)
      out.push({
        check: 'console-without-mfa',
        severity: 'high',
        resource: user,
        title: `IAM user ${f.user} has a console password and no MFA device`,
        fix: `remove the console password (aws iam delete-login-profile --user-name ${f.user}); if a human must sign in as it, enable MFA`,
      });
  }
  const active = f.keys.filter((k) => k.status === 'Active');
  const extra = active.filter((k) => k.accessKeyId !== f.currentKeyId && k.accessKeyId !== f.pendingKeyId);
  for (const k of extra)
    out.push({
      check: 'second-active-key',
      severity: 'medium',
      resource: { kind: 'access-key', id: k.accessKeyId, accountId: f.accountId, key: f.key },
      title: `user ${f.user} has a second active key ${k.accessKeyId} that Secrets Manager does not hold`,
      detail: `${k.lastUsedDate ? `last used ${k.lastUsedDate.toISOString().slice(0, 10)}` : 'never used'}; rotations stop while it is active`,
      fix: `find what uses it, then: aws iam update-access-key --user-name ${f.user} --access-key-id ${k.accessKeyId} --status Inactive`,
    });
  for (const k of active) {
    const age = Math.floor((now.getTime() - k.createDate.getTime()) / DAY_MS);
    const key = { kind: 'access-key' as const, id: k.accessKeyId, accountId: f.accountId, key: f.key };
    if (!k.lastUsedDate && age >= NEVER_USED_GRACE_DAYS)
      out.push({
        check: 'key-never-used',
        severity: 'medium',
        resource: key,
        title: `key ${k.accessKeyId} of ${f.user} has never been used in its ${age} days`,
        detail: 'Jenkins may hold another key than the one rotated, or the pipeline that used it is gone',
        fix: `check which key the Jenkins credentials hold (key-rotator plan); if nothing needs this key, deactivate it`,
      });
    else if (k.lastUsedDate) {
      const idle = Math.floor((now.getTime() - k.lastUsedDate.getTime()) / DAY_MS);
      if (idle > opts.unusedDays)
        out.push({
          check: 'key-unused',
          severity: 'low',
          resource: key,
          title: `key ${k.accessKeyId} of ${f.user} has not been used for ${idle} days`,
          fix: `if no pipeline pushes with it any more, remove the managed key from the configuration and deactivate it`,
        });
    }
  }
  return out;
}

const ENVIRONMENTS: Record<string, string> = {
  dev: 'dev',
  development: 'dev',
  test: 'test',
  testing: 'test',
  qa: 'test',
  staging: 'staging',
  stage: 'staging',
  uat: 'staging',
  preprod: 'staging',
  prod: 'prod',
  production: 'prod',
};

/** The environments a name mentions (`team-a/prod-deploy` → prod), by whole words. */
const environmentsOf = (text: string): string[] =>
  text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .flatMap((w) => (ENVIRONMENTS[w] ? [ENVIRONMENTS[w]] : []));

/**
 * From the configuration: one IAM user behind several environments (its Jenkins credentials live in folders or
 * carry ids that name different environments: a heuristic on whole words dev/test/qa/staging/uat/prod…), and
 * the same key configured in several Jenkins controllers.
 */
export function configFindings(key: ManagedKey, accountId: string): Finding[] {
  const out: Finding[] = [];
  const where = key.jenkins.map((t) => ({
    t,
    envs: environmentsOf(`${t.store.kind === 'folder' ? t.store.path : ''} ${t.credentialId}`),
  }));
  const envs = [...new Set(where.flatMap((w) => w.envs))].sort();
  if (envs.length > 1)
    out.push({
      check: 'user-several-environments',
      severity: 'medium',
      resource: { kind: 'iam-user', id: key.iamUser, accountId, key: key.name },
      title: `IAM user ${key.iamUser} serves several environments (${envs.join(', ')}): one leaked key reaches all of them`,
      detail: where
        .filter((w) => w.envs.length)
        .map((w) => `${w.t.name}: ${w.envs.join(', ')}`)
        .join('; '),
      fix: `give each environment its own IAM user, secret and managed key, with only that environment's repositories`,
    });
  const hosts = [...new Set(key.jenkins.map((t) => new URL(t.url).host))];
  if (hosts.length > 1)
    out.push({
      check: 'key-in-several-controllers',
      severity: 'low',
      resource: { kind: 'iam-user', id: key.iamUser, accountId, key: key.name },
      title: `the key of ${key.iamUser} is configured in ${hosts.length} Jenkins controllers (${hosts.join(', ')})`,
      detail: 'each controller, its backups and its administrators can read it',
      fix: 'give each controller its own IAM user and managed key',
    });
  return out;
}

export interface Trail {
  name: string;
  homeRegion?: string;
  multiRegion: boolean;
  logging?: boolean;
  /** Management events recorded (event selectors); undefined when not read. */
  managementEvents?: boolean;
}

/** CloudTrail in one account and region: at least one trail that logs management events and is logging. */
export function cloudTrailFindings(
  accountId: string,
  region: string,
  keys: string[],
  trails: Trail[],
): Finding[] {
  const resource = {
    kind: 'account' as const,
    id: accountId,
    accountId,
    region,
    ...(keys[0] ? { key: keys.join(', ') } : {}),
  };
  const fix = `aws cloudtrail create-trail --name management-events --s3-bucket-name <bucket> --is-multi-region-trail --region ${region} && aws cloudtrail start-logging --name management-events --region ${region}`;
  const relevant = trails.filter(
    (t) => t.multiRegion || t.homeRegion === region || t.homeRegion === undefined,
  );
  if (!relevant.length)
    return [
      {
        check: 'no-cloudtrail',
        severity: 'high',
        resource,
        title: `no CloudTrail trail covers account ${accountId} in ${region}: no record of what the keys of ${keys.join(', ')} did`,
        fix,
      },
    ];
  if (relevant.some((t) => t.logging !== false && t.managementEvents !== false)) return [];
  const off = relevant.map(
    (t) => `${t.name} (${t.logging === false ? 'not logging' : 'no management events'})`,
  );
  return [
    {
      check: 'cloudtrail-not-logging',
      severity: 'high',
      resource,
      title: `no CloudTrail trail records management events in account ${accountId} in ${region}: ${off.join(', ')}`,
      fix: `aws cloudtrail start-logging --name <trail> --region ${region}, and make its event selectors include management events (IncludeManagementEvents true, ReadWriteType All)`,
    },
  ];
}

/** An access key id (user or session), on word boundaries. */
const KEY_ID = /(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g;
const TAG = /<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>/g;

export interface KeyInText {
  accessKeyId: string;
  /** Where: the XML element path, and the variable name when the value sits in `NAME=value` text. */
  field: string;
  /** A secret access key sits next to it (same element or a neighbouring one). */
  secretNearby: boolean;
}

/** Every access-key-shaped value in an XML document (a job's or Jenkins' config.xml), with where it is. */
export function keysInXml(xml: string): KeyInText[] {
  const out: KeyInText[] = [];
  for (const m of xml.matchAll(KEY_ID)) {
    const at = m.index;
    const path: string[] = [];
    TAG.lastIndex = 0;
    for (let t = TAG.exec(xml); t && t.index < at; t = TAG.exec(xml)) {
      if (t[1]) path.pop();
      else if (!t[3] && t[2]) path.push(t[2]);
    }
    const lineStart = xml.lastIndexOf('\n', at) + 1;
    const before = xml.slice(Math.max(lineStart, xml.lastIndexOf('>', at) + 1), at);
    const name = /([A-Za-z_][\w.]*)\s*[=:]\s*["']?$/.exec(before)?.[1];
    const window = xml.slice(Math.max(0, at - 600), at + 600).replace(m[0], '');
    out.push({
      accessKeyId: m[0],
      field: `${path.join('/')}${name ? ` (${name})` : ''}`,
      secretNearby:
        findSecretInText(window)?.kind === 'aws-secret-access-key' ||
        /secret/i.test(findSecretInText(window)?.name ?? ''),
    });
  }
  return out;
}

/** A key found outside the credentials store, as a finding naming where (never the value of a secret). */
export function keyOutsideStoreFinding(
  found: KeyInText,
  where: { kind: 'jenkins-item' | 'jenkins-global' | 'jenkins-node'; id: string; jenkins: string },
  managed: { key: string; role: 'current' | 'pending' | 'previous' | 'other' } | undefined,
): Finding {
  const matched = managed
    ? `: it is the ${managed.role === 'other' ? '' : `${managed.role} `}key of managed key ${managed.key}`
    : ': it matches no managed key';
  return {
    check: 'key-outside-credentials-store',
    severity: found.secretNearby || managed?.role === 'current' ? 'high' : 'medium',
    resource: { ...where, location: found.field, ...(managed ? { key: managed.key } : {}) },
    title: `access key ${found.accessKeyId} is written in ${where.kind === 'jenkins-item' ? `the configuration of ${where.id}` : where.kind === 'jenkins-node' ? `the configuration of node ${where.id}` : "Jenkins' global configuration"} (${found.field})${found.secretNearby ? ', with a secret key next to it' : ''}${matched}`,
    detail:
      'keys belong in the credentials store, bound into builds with withCredentials; a key in a job or in global environment variables is readable by everyone who can configure it, and rotations never update it',
    fix: `remove it from there and use the Jenkins credential instead (withCredentials / the AWS credentials binding)${managed ? '' : '; if the key is live, rotate it'}`,
  };
}
