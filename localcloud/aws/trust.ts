import { documentStatements, isRecord, malformed, stringList } from './policy';
import { matchesPattern } from './state';

/**
 * Role trust policies (the AssumeRolePolicyDocument of a role): who may assume the role, with which STS action,
 * under which conditions. Parsed once when the document is set, evaluated at every AssumeRole and
 * AssumeRoleWithWebIdentity the way IAM does: an applying Deny wins, else some applying Allow is needed.
 *
 * Conditions: the String* operators (StringEquals, StringNotEquals, StringEqualsIgnoreCase,
 * StringNotEqualsIgnoreCase, StringLike, StringNotLike), Bool and Null, each with the ForAnyValue: / ForAllValues:
 * prefixes and the IfExists suffix. Other operators are refused (MalformedPolicyDocument saying so) rather than
 * ignored, as the identity-policy parser does (policy.ts).
 */

export interface TrustPrincipals {
  /** `"Principal": "*"`: anyone, federated users included. */
  anyone: boolean;
  /** AWS principals: `*`, account ids (normalized to `arn:aws:iam::ACCT:root`), user, role or session ARNs. */
  aws: string[];
  /** Federated principals: OIDC or SAML provider ARNs, or a built-in web identity provider's name. */
  federated: string[];
  service: string[];
}

export interface ConditionClause {
  operator: BaseOperator;
  set?: 'ForAnyValue' | 'ForAllValues';
  ifExists: boolean;
  /** The condition key, lower-cased (IAM condition keys are case-insensitive). */
  key: string;
  values: string[];
}

export interface TrustStatement {
  effect: 'Allow' | 'Deny';
  principals: TrustPrincipals;
  actions: string[];
  conditions: ConditionClause[];
}

type BaseOperator =
  | 'StringEquals'
  | 'StringNotEquals'
  | 'StringEqualsIgnoreCase'
  | 'StringNotEqualsIgnoreCase'
  | 'StringLike'
  | 'StringNotLike'
  | 'Bool'
  | 'Null';

const OPERATORS: readonly BaseOperator[] = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'Bool',
  'Null',
];
const NEGATED = new Set<BaseOperator>(['StringNotEquals', 'StringNotEqualsIgnoreCase', 'StringNotLike']);

/** Web identity providers AWS has built in: usable as a Federated principal without an IAM provider. */
const BUILT_IN_PROVIDERS = [
  'accounts.google.com',
  'cognito-identity.amazonaws.com',
  'www.amazon.com',
  'graph.facebook.com',
];

/** A `string | string[]` element as a non-empty list of strings (MalformedPolicyDocument otherwise). */
function strings(v: unknown, what: string): string[] {
  const list = stringList(v);
  if (!list) throw malformed(`${what} must be a string or a non-empty list of strings.`);
  return list;
}

function awsPrincipal(p: string): string {
  if (p === '*') return p;
  if (/^\d{12}$/.test(p)) return `arn:aws:iam::${p}:root`;
  if (/^arn:aws:(iam|sts)::\d{12}:(root|user\/.+|role\/.+|assumed-role\/.+\/.+|federated-user\/.+)$/.test(p))
    return p;
  throw malformed(`Invalid principal in policy: "AWS":"${p}"`);
}

function federatedPrincipal(p: string): string {
  if (BUILT_IN_PROVIDERS.includes(p) || /^arn:aws:iam::\d{12}:(oidc|saml)-provider\/.+$/.test(p)) return p;
  throw malformed(`Invalid principal in policy: "Federated":"${p}"`);
}

function principalsOf(raw: unknown): TrustPrincipals {
  const out: TrustPrincipals = { anyone: false, aws: [], federated: [], service: [] };
  if (raw === '*') return { ...out, anyone: true };
  if (!isRecord(raw) || Object.keys(raw).length === 0)
    throw malformed('Principal must be "*" or an object naming AWS, Federated or Service principals.');
  for (const [kind, value] of Object.entries(raw)) {
    const list = strings(value, `Principal ${kind}`);
    if (kind === 'AWS') out.aws.push(...list.map(awsPrincipal));
    else if (kind === 'Federated') out.federated.push(...list.map(federatedPrincipal));
    else if (kind === 'Service') {
      for (const s of list)
        if (!/^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/.test(s))
          throw malformed(`Invalid principal in policy: "Service":"${s}"`);
      out.service.push(...list);
    } else throw malformed(`Invalid principal in policy: ${JSON.stringify(kind)} is not a principal type`);
  }
  return out;
}

function conditionsOf(raw: unknown): ConditionClause[] {
  if (raw === undefined) return [];
  if (!isRecord(raw)) throw malformed('Syntax errors in policy.');
  const clauses: ConditionClause[] = [];
  for (const [name, block] of Object.entries(raw)) {
    const m = /^(?:(ForAnyValue|ForAllValues):)?([A-Za-z]+?)(IfExists)?$/.exec(name);
    const operator = OPERATORS.find((o) => o === m?.[2]);
    if (!m || !operator)
      throw malformed(
        `Condition operator ${name} is not evaluated by the localcloud emulator: use String*, Bool or Null ` +
          '(with ForAnyValue:/ForAllValues: and IfExists as needed).',
      );
    if (!isRecord(block) || Object.keys(block).length === 0)
      throw malformed(`Condition ${name} must map condition keys to values.`);
    for (const [key, value] of Object.entries(block)) {
      const list = typeof value === 'number' || typeof value === 'boolean' ? [String(value)] : value;
      clauses.push({
        operator,
        ...(m[1] ? { set: m[1] as 'ForAnyValue' | 'ForAllValues' } : {}),
        ifExists: m[3] !== undefined,
        key: key.toLowerCase(),
        values: strings(list, `The values of condition key ${key}`),
      });
    }
  }
  return clauses;
}

/**
 * Parses a trust policy, refusing with IAM's MalformedPolicyDocument what IAM refuses (no Principal, a Resource,
 * an action outside STS) and, saying so, what the emulator does not evaluate (NotPrincipal, NotAction, other
 * condition operators). Principals are checked for form, not for existence.
 */
export function parseTrustPolicy(document: string): TrustStatement[] {
  return documentStatements(document, 'This policy contains invalid Json').map((st) => {
    if (!isRecord(st)) throw malformed('Syntax errors in policy.');
    for (const key of ['NotPrincipal', 'NotAction'])
      if (key in st) throw malformed(`${key} is not evaluated by the localcloud emulator in trust policies.`);
    if ('Resource' in st || 'NotResource' in st) throw malformed('Has prohibited field Resource');
    for (const key of Object.keys(st))
      if (!['Sid', 'Effect', 'Principal', 'Action', 'Condition'].includes(key))
        throw malformed('Syntax errors in policy.');
    const effect = st['Effect'];
    if (effect !== 'Allow' && effect !== 'Deny')
      throw malformed(`Invalid effect: ${JSON.stringify(effect)}. The effect must be Allow or Deny.`);
    if (st['Principal'] === undefined) throw malformed('Missing required field Principal');
    if (st['Action'] === undefined) throw malformed('Missing required field Action');
    const actions = strings(st['Action'], 'Action');
    for (const a of actions)
      if (a !== '*' && !/^sts:[A-Za-z*?]+$/i.test(a))
        throw malformed(`Trust policy action ${a} is not an STS action (sts:AssumeRole...).`);
    return {
      effect,
      principals: principalsOf(st['Principal']),
      actions,
      conditions: conditionsOf(st['Condition']),
    };
  });
}

/** A trust policy allowing these AWS principals (undefined: any; none: nobody) to AssumeRole, as a document. */
export function awsTrustDocument(principals: string[] | undefined): string {
  if (principals?.length === 0)
    return JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 'sts:*' }],
    });
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: principals && principals.length === 1 ? principals[0] : (principals ?? '*') },
        Action: 'sts:AssumeRole',
      },
    ],
  });
}

/** Who asks to assume a role, and the request's condition keys. */
export interface TrustRequest {
  action: 'sts:AssumeRole' | 'sts:AssumeRoleWithWebIdentity';
  /** An AWS caller: its ARNs (a session also answers to its role's ARN) and account. */
  aws?: { arns: string[]; accountId: string };
  /** A federated caller: the provider's ARN. */
  federated?: string;
  /** Condition keys (any case) and their values; a multi-valued key (`amr`) has several. */
  context: Record<string, string[]>;
}

function principalMatches(p: TrustPrincipals, req: TrustRequest): boolean {
  if (p.anyone) return true;
  if (req.aws) {
    const { arns, accountId } = req.aws;
    if (p.aws.some((a) => a === '*' || a === `arn:aws:iam::${accountId}:root` || arns.includes(a)))
      return true;
  }
  return req.federated !== undefined && p.federated.includes(req.federated);
}

function valueMatches(op: BaseOperator, policyValue: string, value: string): boolean {
  switch (op) {
    case 'StringEquals':
    case 'StringNotEquals':
      return policyValue === value;
    case 'StringEqualsIgnoreCase':
    case 'StringNotEqualsIgnoreCase':
    case 'Bool':
      return policyValue.toLowerCase() === value.toLowerCase();
    default:
      return matchesPattern(policyValue, value);
  }
}

/** IAM's condition semantics for one key (see the module comment for the operators). */
function clauseHolds(c: ConditionClause, context: Map<string, string[]>): boolean {
  const values = context.get(c.key);
  if (c.operator === 'Null') {
    const absent = values === undefined || values.length === 0;
    return c.values.some((v) => (v.toLowerCase() === 'true') === absent);
  }
  const negated = NEGATED.has(c.operator);
  const matchesAny = (v: string) => c.values.some((p) => valueMatches(c.operator, p, v));
  // A negated operator holds for a value that matches none of the policy's values.
  const holdsFor = (v: string) => matchesAny(v) !== negated;
  if (values === undefined || values.length === 0) {
    if (c.set === 'ForAllValues') return true;
    if (c.set === 'ForAnyValue') return false;
    return c.ifExists || negated;
  }
  if (c.set === 'ForAllValues') return values.every(holdsFor);
  if (c.set === 'ForAnyValue') return values.some(holdsFor);
  // A single-valued operator on a multi-valued key: negated ones hold if no value matches, others if one does.
  return negated ? values.every(holdsFor) : values.some(holdsFor);
}

/**
 * The outcome of a trust policy for a request: `allow`, `deny` (an applying Deny statement) or `none` (no Allow
 * applies). STS answers both refusals alike.
 */
export function evaluateTrust(statements: TrustStatement[], req: TrustRequest): 'allow' | 'deny' | 'none' {
  const context = new Map(Object.entries(req.context).map(([k, v]) => [k.toLowerCase(), v]));
  const applies = (s: TrustStatement) =>
    s.actions.some((a) => matchesPattern(a, req.action, true)) &&
    principalMatches(s.principals, req) &&
    s.conditions.every((c) => clauseHolds(c, context));
  if (statements.some((s) => s.effect === 'Deny' && applies(s))) return 'deny';
  return statements.some((s) => s.effect === 'Allow' && applies(s)) ? 'allow' : 'none';
}
