import { createHash } from 'node:crypto';
import { AwsError } from './errors';
import type { Statement } from './state';

/** A policy document exactly as it was given, and the statements the emulator evaluates it as. */
export interface PolicyDocumentRecord {
  document: string;
  statements: Statement[];
}

export interface PolicyVersionRecord extends PolicyDocumentRecord {
  /** `v1`, `v2`, ...: IAM never reuses a number, even after the version is deleted. */
  versionId: string;
  createDate: number;
}

/** A managed policy: a customer managed one of an account, or an AWS managed one (`arn:aws:iam::aws:policy/...`). */
export interface ManagedPolicyRecord {
  policyName: string;
  policyId: string;
  arn: string;
  path: string;
  description?: string;
  /** The owning account, or `aws` for AWS managed policies (present in every account, read-only). */
  owner: string;
  createDate: number;
  updateDate: number;
  defaultVersionId: string;
  versions: Map<string, PolicyVersionRecord>;
  /** The number the next version gets. */
  nextVersion: number;
  tags: { Key: string; Value: string }[];
}

const POLICY_VERSIONS = ['2012-10-17', '2008-10-17'];
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'Resource']);
/** Valid IAM that the emulator would have to evaluate to be faithful; it refuses them rather than ignore them. */
const UNEVALUATED_KEYS = ['NotAction', 'NotResource', 'Condition'];

export const malformed = (message: string): AwsError => new AwsError('MalformedPolicyDocument', message, 400);

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A `string | string[]` policy element as a non-empty list of strings, or undefined when absent or not that. */
export function stringList(v: unknown): string[] | undefined {
  const list = typeof v === 'string' ? [v] : v;
  return Array.isArray(list) && list.length > 0 && list.every((x) => typeof x === 'string')
    ? list
    : undefined;
}

/**
 * The statements of a policy document (identity or trust policy), after IAM's checks of the document itself:
 * JSON (else `invalidJson`), only Version, Id and Statement at the top, a known version, at least one statement.
 */
export function documentStatements(document: string, invalidJson: string): unknown[] {
  let doc: unknown;
  try {
    doc = JSON.parse(document);
  } catch {
    throw malformed(invalidJson);
  }
  if (!isRecord(doc)) throw malformed(invalidJson);
  for (const key of Object.keys(doc))
    if (!['Version', 'Id', 'Statement'].includes(key)) throw malformed('Syntax errors in policy.');
  if (doc['Version'] !== undefined && !POLICY_VERSIONS.includes(doc['Version'] as string))
    throw malformed('The policy must contain a valid version string');
  const raw = doc['Statement'];
  const statements = Array.isArray(raw) ? (raw as unknown[]) : raw === undefined ? [] : [raw];
  if (statements.length === 0) throw malformed('Syntax errors in policy.');
  return statements;
}

/**
 * Parses an identity-based policy document into the emulator's statements, refusing with IAM's
 * MalformedPolicyDocument what IAM refuses and, with a message saying so, what the emulator cannot evaluate.
 */
export function parsePolicyDocument(document: string): Statement[] {
  const statements = documentStatements(document, 'Syntax errors in policy.');
  return statements.map((st) => {
    if (!isRecord(st)) throw malformed('Syntax errors in policy.');
    const unevaluated = UNEVALUATED_KEYS.find((k) => k in st);
    if (unevaluated)
      throw malformed(
        `${unevaluated} is not supported by the localcloud emulator, which does not evaluate it: ` +
          'use only Effect, Action and Resource (with * wildcards).',
      );
    if ('Principal' in st || 'NotPrincipal' in st)
      throw malformed('Policy document should not specify a principal.');
    for (const key of Object.keys(st))
      if (!STATEMENT_KEYS.has(key)) throw malformed('Syntax errors in policy.');
    const effect = st['Effect'];
    if (effect === undefined) throw malformed('Missing required field Effect.');
    if (effect !== 'Allow' && effect !== 'Deny')
      throw malformed(`Invalid effect: ${JSON.stringify(effect)}. The effect must be Allow or Deny.`);
    if (st['Action'] === undefined) throw malformed('Policy statement must contain actions.');
    const actions = stringList(st['Action']);
    if (!actions) throw malformed('Syntax errors in policy.');
    for (const action of actions) {
      if (action !== '*' && !/^[a-z0-9-]+:./i.test(action))
        throw malformed('Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.');
      if (action.includes('?'))
        throw malformed(
          `Action ${action}: the localcloud emulator evaluates * wildcards only, not ?. Use * instead.`,
        );
    }
    if (st['Resource'] === undefined) throw malformed('Policy statement must contain resources.');
    const resources = stringList(st['Resource']);
    if (!resources) throw malformed('Syntax errors in policy.');
    for (const resource of resources)
      if (resource !== '*' && !resource.startsWith('arn:'))
        throw malformed(`Resource ${resource} must be in ARN format or "*".`);
    // `*` among the resources means every resource: the emulator's "resources omitted".
    return resources.includes('*') ? { effect, actions } : { effect, actions, resources };
  });
}

/** A document and its parsed statements (throws MalformedPolicyDocument). */
export const policyDocument = (document: string): PolicyDocumentRecord => ({
  document,
  statements: parsePolicyDocument(document),
});

/** IAM's quotas on the aggregate size of an entity's inline policies (characters, whitespace not counted). */
const INLINE_POLICIES_MAX_CHARS = { user: 2048, group: 5120, role: 10240 } as const;

/**
 * An inline policy as IAM would store it on a user, group or role that has `inline` already: a valid document (else
 * MalformedPolicyDocument) that keeps the aggregate within the quota (else LimitExceeded). Changes nothing.
 */
export function checkInlinePolicy(
  inline: ReadonlyMap<string, PolicyDocumentRecord>,
  kind: keyof typeof INLINE_POLICIES_MAX_CHARS,
  holderName: string,
  policyName: string,
  document: string,
): PolicyDocumentRecord {
  const record = policyDocument(document);
  const after = new Map(inline).set(policyName, record);
  const size = [...after.values()].reduce((n, d) => n + d.document.replace(/\s/g, '').length, 0);
  const max = INLINE_POLICIES_MAX_CHARS[kind];
  if (size > max)
    throw new AwsError(
      'LimitExceeded',
      `Maximum policy size of ${max} bytes exceeded for ${kind} ${holderName}`,
      409,
    );
  return record;
}

/** A stable, well-formed policy id (`ANPA` + 17 characters) derived from the policy's ARN. */
export function policyIdFor(arn: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const hash = createHash('sha256').update(arn).digest();
  let id = 'ANPA';
  for (let i = 0; i < 17; i++) id += alphabet[hash[i]! % alphabet.length];
  return id;
}

// ---- AWS managed policies ------------------------------------------------------------------------------------

const allow = (actions: string[]) => ({ Effect: 'Allow', Action: actions, Resource: '*' });

/** AmazonEC2ContainerRegistryReadOnly's actions, which AmazonEC2ContainerRegistryPowerUser extends with pushes. */
const ECR_READ_ACTIONS = [
  'ecr:GetAuthorizationToken',
  'ecr:BatchCheckLayerAvailability',
  'ecr:GetDownloadUrlForLayer',
  'ecr:GetRepositoryPolicy',
  'ecr:DescribeRepositories',
  'ecr:ListImages',
  'ecr:DescribeImages',
  'ecr:BatchGetImage',
  'ecr:GetLifecyclePolicy',
  'ecr:GetLifecyclePolicyPreview',
  'ecr:ListTagsForResource',
  'ecr:DescribeImageScanFindings',
];

/**
 * The AWS managed policies every account of the emulator has, with their real names, ARNs, descriptions and
 * default version ids (those of ReadOnlyAccess and AmazonEC2ContainerRegistryFullAccess, and their dates, are
 * representative: AWS moves them on). Each ships only its default version. Policy ids are synthetic (derived from
 * the ARN). Documents are the real ones except where noted, since the emulator evaluates no Condition:
 * - AmazonEC2ContainerRegistryFullAccess: the real `ecr:*` + `cloudtrail:LookupEvents` statement; its second
 *   statement (iam:CreateServiceLinkedRole for replication.ecr.amazonaws.com, under a Condition) is left out.
 * - ReadOnlyAccess: the real policy lists read actions of every AWS service; this keeps a representative subset
 *   for the services the emulator has (IAM, ECR, Secrets Manager, SNS, CloudTrail): no secret values, no writes.
 */
const AWS_MANAGED: {
  name: string;
  description: string;
  versionId: string;
  created: string;
  updated: string;
  statements: object[];
}[] = [
  {
    name: 'AdministratorAccess',
    description: 'Provides full access to AWS services and resources.',
    versionId: 'v1',
    created: '2015-02-06T18:39:46Z',
    updated: '2015-02-06T18:39:46Z',
    statements: [allow(['*'])],
  },
  {
    name: 'ReadOnlyAccess',
    description: 'Provides read-only access to AWS services and resources.',
    versionId: 'v120',
    created: '2015-02-06T18:39:48Z',
    updated: '2024-06-27T21:18:10Z',
    statements: [
      allow([
        'cloudtrail:Describe*',
        'cloudtrail:Get*',
        'cloudtrail:List*',
        'cloudtrail:LookupEvents',
        'ecr:BatchCheck*',
        'ecr:BatchGet*',
        'ecr:Describe*',
        'ecr:Get*',
        'ecr:List*',
        'iam:Generate*',
        'iam:Get*',
        'iam:List*',
        'iam:Simulate*',
        'secretsmanager:Describe*',
        'secretsmanager:GetResourcePolicy',
        'secretsmanager:List*',
        'sns:Check*',
        'sns:Get*',
        'sns:List*',
      ]),
    ],
  },
  {
    name: 'AmazonEC2ContainerRegistryFullAccess',
    description: 'Provides administrative access to Amazon ECR resources',
    versionId: 'v2',
    created: '2015-12-21T17:06:48Z',
    updated: '2021-04-22T21:33:32Z',
    statements: [allow(['ecr:*', 'cloudtrail:LookupEvents'])],
  },
  {
    name: 'AmazonEC2ContainerRegistryPowerUser',
    description:
      'Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository deletion or policy changes.',
    versionId: 'v3',
    created: '2015-12-21T17:05:33Z',
    updated: '2019-12-10T20:48:20Z',
    statements: [
      allow([
        ...ECR_READ_ACTIONS,
        'ecr:InitiateLayerUpload',
        'ecr:UploadLayerPart',
        'ecr:CompleteLayerUpload',
        'ecr:PutImage',
      ]),
    ],
  },
  {
    name: 'AmazonEC2ContainerRegistryReadOnly',
    description: 'Provides read-only access to Amazon EC2 Container Registry repositories.',
    versionId: 'v3',
    created: '2015-12-21T17:04:15Z',
    updated: '2019-12-10T20:56:58Z',
    statements: [allow(ECR_READ_ACTIONS)],
  },
];

/** The AWS managed policies by ARN. Shared by every emulator and account: nothing may change them. */
export const AWS_MANAGED_POLICIES: ReadonlyMap<string, ManagedPolicyRecord> = new Map(
  AWS_MANAGED.map((p) => {
    const arn = `arn:aws:iam::aws:policy/${p.name}`;
    const document = JSON.stringify({ Version: '2012-10-17', Statement: p.statements }, null, 2);
    const updated = Date.parse(p.updated);
    const record: ManagedPolicyRecord = {
      policyName: p.name,
      policyId: policyIdFor(arn),
      arn,
      path: '/',
      description: p.description,
      owner: 'aws',
      createDate: Date.parse(p.created),
      updateDate: updated,
      defaultVersionId: p.versionId,
      versions: new Map([
        [p.versionId, { versionId: p.versionId, createDate: updated, ...policyDocument(document) }],
      ]),
      nextVersion: Number(p.versionId.slice(1)) + 1,
      tags: [],
    };
    return [arn, record];
  }),
);

/** The statements of a managed policy's default version. */
export function defaultStatements(policy: ManagedPolicyRecord): Statement[] {
  return policy.versions.get(policy.defaultVersionId)?.statements ?? [];
}
