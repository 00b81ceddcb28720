import { createHash } from 'node:crypto';
import { ECR_LOGIN_ACTION, ECR_PUSH_ACTIONS } from '../checks/least-privilege';
import { InputError } from '../domain/errors';
import { itemPath } from '../jenkins/paths';
import type { StoreRef } from '../jenkins/types';

/**
 * The keyless migration's plan (pure): Jenkins' OpenID Connect Provider plugin (oidc-provider) gives each build an
 * ID token; AWS trusts the Jenkins issuer through an IAM OIDC identity provider and one role per Jenkins scope that
 * used the key, whose trust policy admits exactly those jobs; the build exchanges its token with
 * sts:AssumeRoleWithWebIdentity for credentials that expire within the hour.
 *
 * Facts of the plugin this follows (jenkinsci/oidc-provider-plugin): the issuer of credentials in the system store
 * is `<root URL>oidc`, of credentials in a folder's store `<root URL>oidc/job/<folder>/job/<sub>` (Issuer.url,
 * FolderIssuer.uri); its discovery document is `<issuer>/.well-known/openid-configuration` and its keys
 * `<issuer>/jwks`; a build's token has `sub` = `${JOB_URL}` (the job's absolute URL, trailing slash) and
 * `build_number` by default (IdTokenConfiguration), `kid` = the credential id, and `aud` = the credential's
 * audience, absent when unset (IdTokenCredentials.token): so the credential must set the audience AWS checks.
 */

/** The audience AWS documents for web identity federation, set on the ID-token credential. */
export const DEFAULT_AUDIENCE = 'sts.amazonaws.com';
/** The plugin's credential class whose token a build gets as a file: what AWS_WEB_IDENTITY_TOKEN_FILE reads. */
export const ID_TOKEN_FILE_CLASS = 'io.jenkins.plugins.oidc_provider.IdTokenFileCredentials';

/** Where a key was used in Jenkins, and so what a role admits: one job, or every job inside a folder. */
export interface KeylessScope {
  kind: 'job' | 'folder';
  /** The item's full name, `team-a/deploy`. */
  path: string;
}

export interface SubCondition {
  operator: 'StringEquals' | 'StringLike';
  value: string;
}

/** `https://jenkins.example.com/` → the same, with exactly one trailing slash. */
export function rootUrl(url: string): string {
  return `${url.replace(/\/+$/, '')}/`;
}

/** The absolute URL of a job or folder, as Jenkins' `${JOB_URL}` spells it (trailing slash). */
export function itemUrl(root: string, fullName: string): string {
  return `${rootUrl(root)}${itemPath('item', fullName).slice(1)}/`;
}

/** The plugin's issuer for credentials in `store`. */
export function issuerUrl(root: string, store: StoreRef): string {
  return `${rootUrl(root)}oidc${store.kind === 'folder' ? itemPath('folder', store.path) : ''}`;
}

/** What IAM names a provider by, and prefixes its condition keys with: the issuer without its scheme. */
export function providerId(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

export const providerArn = (accountId: string, issuer: string, partition = 'aws'): string =>
  `arn:${partition}:iam::${accountId}:oidc-provider/${providerId(issuer)}`;

/**
 * The issuer must be HTTPS: AWS fetches its discovery document and keys, and trusts a token only from an https
 * issuer. http is accepted for 127.0.0.1 and localhost only, for the local cloud.
 */
export function checkIssuer(issuer: string): void {
  let u: URL;
  try {
    u = new URL(issuer);
  } catch {
    throw new InputError(`the issuer ${JSON.stringify(issuer)} is not a URL`);
  }
  const local = u.hostname === '127.0.0.1' || u.hostname === 'localhost';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && local))
    throw new InputError(
      `the issuer ${issuer} is not HTTPS: AWS accepts only https issuers (set Jenkins' root URL to its https address, or publish the discovery document and JWKS at an https issuer and set it on the credential)`,
    );
  if (u.search || u.hash) throw new InputError(`the issuer ${issuer} must have no query or fragment`);
  if (u.pathname.endsWith('/') && u.pathname !== '/')
    throw new InputError(`the issuer ${issuer} must not end with a slash`);
}

/** The `sub` condition that admits a scope: the job's URL exactly, or every job below the folder. */
export function subCondition(root: string, scope: KeylessScope): SubCondition {
  const url = itemUrl(root, scope.path);
  return scope.kind === 'job'
    ? { operator: 'StringEquals', value: url }
    : { operator: 'StringLike', value: `${url}job/*` };
}

/**
 * Refuses a `sub` condition that would admit every job of the controller (or of another controller): the part
 * before the first wildcard must name at least one top-level item of this Jenkins.
 */
export function checkSubCondition(root: string, cond: SubCondition): void {
  const r = rootUrl(root);
  const wild = cond.operator === 'StringLike' ? cond.value.search(/[*?]/) : -1;
  const fixed = wild === -1 ? cond.value : cond.value.slice(0, wild);
  const named = new RegExp(`^${escapeRegExp(r)}job/[^/*?]+/`).test(fixed);
  if (!named)
    throw new InputError(
      `the trust policy's sub condition ${cond.operator} ${JSON.stringify(cond.value)} would admit ${fixed.startsWith(r) || r.startsWith(fixed) ? 'every job of this Jenkins' : 'tokens of jobs outside this Jenkins'}: name a folder or a job`,
    );
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A role name for a scope: `jenkins-<key>-<last path segment>`, cut to IAM's 64 characters with a short hash of the
 * full path when needed, so that two scopes never share a role.
 */
export function roleNameFor(key: string, scope: KeylessScope): string {
  const slug = (s: string) => s.replace(/[^\w+=,.@-]+/g, '-');
  const last = scope.path.split('/').at(-1) ?? scope.path;
  const name = slug(`jenkins-${key}-${last}`);
  const hash = createHash('sha256').update(`${scope.kind}:${scope.path}`).digest('hex').slice(0, 8);
  const full = slug(`jenkins-${key}-${scope.path.replace(/\//g, '.')}`);
  if (full.length <= 64) return full;
  return `${name.slice(0, 64 - 9)}-${hash}`;
}

/** The role's trust policy: the provider may assume it for tokens with this audience and this `sub`. */
export function trustPolicy(opts: {
  providerArn: string;
  issuer: string;
  audience: string;
  sub: SubCondition;
}) {
  const p = providerId(opts.issuer);
  const aud = { [`${p}:aud`]: opts.audience };
  const sub = { [`${p}:sub`]: opts.sub.value };
  return {
    Version: '2012-10-17' as const,
    Statement: [
      {
        Sid: 'JenkinsBuildsOfThisScope',
        Effect: 'Allow' as const,
        Principal: { Federated: opts.providerArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition:
          opts.sub.operator === 'StringEquals'
            ? { StringEquals: { ...aud, ...sub } }
            : { StringEquals: aud, StringLike: sub },
      },
    ],
  };
}

/** The least-privilege push policy on `repositories` (ARNs), the same the security checks emit for the key. */
export function pushPolicy(repositories: readonly string[]) {
  return {
    Version: '2012-10-17' as const,
    Statement: [
      { Sid: 'EcrLogin', Effect: 'Allow' as const, Action: ECR_LOGIN_ACTION, Resource: '*' },
      {
        Sid: 'EcrPush',
        Effect: 'Allow' as const,
        Action: [...ECR_PUSH_ACTIONS],
        Resource: [...repositories],
      },
    ],
  };
}

/** One ID-token credential to create, next to the key's credential in the same store (so the same jobs see it). */
export interface PlannedCredential {
  /** The Jenkins target (config name) and its controller. */
  target: string;
  jenkinsUrl: string;
  store: StoreRef;
  id: string;
  className: typeof ID_TOKEN_FILE_CLASS;
  audience: string;
  issuer: string;
  exists: boolean;
}

export interface PlannedProvider {
  issuer: string;
  arn: string;
  audience: string;
  /** Already in IAM; `addAudience` when it lacks our audience among its client ids. */
  exists: boolean;
  addAudience: boolean;
}

export interface PlannedRole {
  name: string;
  arn: string;
  /** The path roles of the migration live under, so they are easy to list and to grant. */
  path: string;
  scope: KeylessScope;
  /** Where the scope was found: the credential's folder store, a job that names the credential, `--job`/`--folder`. */
  scopeFrom: string;
  target: string;
  issuer: string;
  providerArn: string;
  sub: SubCondition;
  trustPolicy: ReturnType<typeof trustPolicy>;
  pushPolicy: ReturnType<typeof pushPolicy>;
  exists: boolean;
}

export interface KeylessPlan {
  key: string;
  user: string;
  accountId: string;
  region: string;
  registry: string;
  audience: string;
  repositories: string[];
  repositoriesFrom: 'configuration' | 'current-policy' | 'unknown';
  providers: PlannedProvider[];
  roles: PlannedRole[];
  credentials: PlannedCredential[];
  /** What happens to the long-lived key, in order. */
  keyFate: string[];
  /** What must hold before the key is retired. */
  mustPass: string[];
  warnings: string[];
}

export const ROLE_PATH = '/jenkins-key-rotator/';
/** The inline policy name of a migration role (the same as the security checks' emitted policy). */
export const ROLE_POLICY_NAME = 'key-rotator-ecr-push';

/** The ID-token credential's id next to `credentialId`. */
export const tokenCredentialId = (credentialId: string): string => `${credentialId}-id-token`;

/**
 * The CloudFormation template of the AWS side: the OIDC provider of each issuer (or the existing one's ARN) and the
 * roles, with their trust policies and push policy. For teams that deploy IAM through CloudFormation; `keyless
 * apply` creates the same through the IAM API and adopts what the template made.
 */
export function cloudFormationTemplate(plan: KeylessPlan) {
  const resources: Record<string, unknown> = {};
  const outputs: Record<string, unknown> = {};
  const providerRef = new Map<string, unknown>();
  plan.providers.forEach((p, i) => {
    if (p.exists) {
      providerRef.set(p.arn, p.arn);
      return;
    }
    const id = `JenkinsIssuer${i + 1}`;
    resources[id] = {
      Type: 'AWS::IAM::OIDCProvider',
      Properties: {
        Url: p.issuer,
        ClientIdList: [p.audience],
        Tags: [{ Key: 'managed-by', Value: 'jenkins-key-rotator' }],
      },
    };
    providerRef.set(p.arn, { Ref: id });
  });
  plan.roles.forEach((r, i) => {
    const id = `KeylessRole${i + 1}`;
    const trust = structuredClone(r.trustPolicy) as { Statement: { Principal: { Federated: unknown } }[] };
    for (const st of trust.Statement)
      st.Principal.Federated = providerRef.get(r.providerArn) ?? r.providerArn;
    resources[id] = {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: r.name,
        Path: r.path,
        Description: `Jenkins builds of ${r.scope.kind} ${r.scope.path} push to ECR without a stored key (jenkins-key-rotator keyless, key ${plan.key})`,
        MaxSessionDuration: 3600,
        AssumeRolePolicyDocument: trust,
        Policies: [{ PolicyName: ROLE_POLICY_NAME, PolicyDocument: r.pushPolicy }],
        Tags: [
          { Key: 'managed-by', Value: 'jenkins-key-rotator' },
          { Key: 'key-rotator:keyless-for', Value: plan.key },
        ],
      },
    };
    outputs[`${id}Arn`] = {
      Description: `${r.scope.kind} ${r.scope.path}`,
      Value: { 'Fn::GetAtt': [id, 'Arn'] },
    };
  });
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `jenkins-key-rotator keyless migration of ${plan.key} (IAM user ${plan.user}): Jenkins ID tokens to STS`,
    Resources: resources,
    Outputs: outputs,
  };
}

/** The Jenkinsfile a job of `role`'s scope uses instead of the stored key: the AWS CLI assumes the role itself. */
export function jenkinsfileSnippet(plan: KeylessPlan, role: PlannedRole, credentialId: string): string {
  return `// ECR push with Jenkins' ID token instead of a stored AWS key (jenkins-key-rotator keyless plan ${plan.key}).
// The AWS CLI and SDKs read AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE and assume the role themselves; the
// credentials they get expire within the hour. The token's sub is this job's URL; the role admits ${role.sub.operator === 'StringEquals' ? 'this job only' : `the jobs under ${role.scope.path}`}.
pipeline {
  agent any
  parameters {
    string(name: 'AWS_ROLE_ARN', defaultValue: '${role.arn}', description: 'the role this job assumes')
  }
  environment {
    AWS_REGION = '${plan.region}'
    AWS_ROLE_SESSION_NAME = "\${env.BUILD_TAG}"
  }
  stages {
    stage('Push') {
      steps {
        withCredentials([file(credentialsId: '${credentialId}', variable: 'AWS_WEB_IDENTITY_TOKEN_FILE')]) {
          withEnv(["AWS_ROLE_ARN=\${params.AWS_ROLE_ARN}"]) {
            sh 'aws sts get-caller-identity'
            sh 'aws ecr get-login-password | docker login --username AWS --password-stdin ${plan.registry}'
            // docker build / docker push ${plan.registry}/<repository>:<tag>
          }
        }
      }
    }
  }
}
`;
}
