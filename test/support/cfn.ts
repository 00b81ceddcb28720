import { inflateRawSync } from 'node:zlib';

/**
 * Reading the CloudFormation template `serverless package` writes: intrinsic functions resolved to strings
 * (with fixed pseudo parameters and placeholders for resource references), IAM statements flattened per role,
 * and a least-privilege checker that returns violations instead of throwing, so tests can show it fails.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface CfnResource {
  Type: string;
  Condition?: string;
  Properties?: JsonObject;
  DependsOn?: Json;
}

export interface CfnTemplate {
  /** A hand-written template's parameters: a Ref to one resolves to its Default. */
  Parameters?: Record<string, { Default?: string | number }>;
  Resources: Record<string, CfnResource>;
  Conditions?: Record<string, Json>;
  Outputs?: JsonObject;
}

/** Values the pseudo parameters resolve to. */
export const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::StackName': 'stack',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Placeholders for values only known at deploy time. */
export const refOf = (logicalId: string) => `«Ref:${logicalId}»`;
export const attOf = (logicalId: string, attribute: string) => `«GetAtt:${logicalId}.${attribute}»`;

const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The single key of an intrinsic-function object such as `{ "Fn::Sub": … }`, if it is one. */
function intrinsic(v: Json | undefined): [string, Json] | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  const [k] = keys;
  if (keys.length !== 1 || k === undefined || !(k === 'Ref' || k === 'Condition' || k.startsWith('Fn::')))
    return undefined;
  return [k, v[k] as Json];
}

const product = (parts: string[][], sep: string): string[] =>
  parts
    .reduce<string[]>((acc, options) => acc.flatMap((a) => options.map((o) => a + sep + o)), [''])
    .map((s) => s.slice(sep.length));

/**
 * Resolves template values. In `all` mode `Fn::If` yields both branches, so a check over the result holds
 * whatever the parameters were; in `evaluate` mode conditions are evaluated and one branch is taken.
 */
export class Resolver {
  /** `overrides` forces named conditions, to look at the other branch of a parameter-driven choice. */
  constructor(
    readonly template: CfnTemplate,
    readonly mode: 'all' | 'evaluate' = 'all',
    readonly overrides: Readonly<Record<string, boolean>> = {},
  ) {}

  /** Every string `v` can resolve to (none for `AWS::NoValue`). */
  strings(v: Json | undefined): string[] {
    if (typeof v === 'string') return [v];
    if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
    const fn = intrinsic(v);
    if (!fn) throw new Error(`expected a string or an intrinsic function, got ${JSON.stringify(v)}`);
    const [name, arg] = fn;
    switch (name) {
      case 'Ref': {
        if (typeof arg !== 'string') throw new Error(`bad Ref ${JSON.stringify(arg)}`);
        if (arg === 'AWS::NoValue') return [];
        const pseudo = PSEUDO[arg];
        if (pseudo !== undefined) return [pseudo];
        const param = this.template.Parameters?.[arg];
        if (param) {
          if (param.Default === undefined) throw new Error(`parameter ${arg} has no Default to resolve to`);
          return [String(param.Default)];
        }
        if (!this.template.Resources[arg]) throw new Error(`Ref to unknown resource ${arg}`);
        return [refOf(arg)];
      }
      case 'Fn::GetAtt': {
        const [id, att] = Array.isArray(arg) ? arg : typeof arg === 'string' ? arg.split('.') : [];
        if (typeof id !== 'string' || typeof att !== 'string')
          throw new Error(`bad GetAtt ${JSON.stringify(arg)}`);
        if (!this.template.Resources[id]) throw new Error(`GetAtt of unknown resource ${id}`);
        return [attOf(id, att)];
      }
      case 'Fn::Sub':
        return this.sub(arg);
      case 'Fn::Join': {
        const [sep, list] = Array.isArray(arg) ? arg : [];
        if (typeof sep !== 'string' || !Array.isArray(list))
          throw new Error(`bad Join ${JSON.stringify(arg)}`);
        return product(
          list.map((x) => this.strings(x)),
          sep,
        );
      }
      case 'Fn::If':
        return this.branches(v).flatMap((b) => this.strings(b));
      default:
        throw new Error(`unsupported intrinsic ${name}: extend test/support/cfn.ts`);
    }
  }

  /** The one string `v` resolves to; throws when it has none or several. */
  string(v: Json | undefined): string {
    const all = [...new Set(this.strings(v))];
    if (all.length !== 1 || all[0] === undefined)
      throw new Error(`${JSON.stringify(v)} resolves to ${all.length} values`);
    return all[0];
  }

  /** `v` itself, or for `Fn::If` the branch(es) it may take; `AWS::NoValue` branches are dropped. */
  branches(v: Json | undefined): Json[] {
    const fn = intrinsic(v);
    if (!fn || fn[0] !== 'Fn::If') return v === undefined ? [] : [v];
    const [cond, yes, no] = Array.isArray(fn[1]) ? fn[1] : [];
    if (typeof cond !== 'string' || yes === undefined || no === undefined)
      throw new Error(`bad Fn::If ${JSON.stringify(fn[1])}`);
    // Both branches in `all` mode, except an empty string: an unset parameter's branch grants nothing (and an
    // empty ARN would fail the deployment, not widen a permission).
    const picked =
      this.mode === 'all' ? [yes, no].filter((b) => b !== '') : [this.condition(cond) ? yes : no];
    return picked.flatMap((b) => (isNoValue(b) ? [] : this.branches(b)));
  }

  /** Elements of a list, with `Fn::If` elements expanded into their branch(es). */
  list(v: Json | undefined): Json[] {
    if (v === undefined) return [];
    const items = Array.isArray(v) ? v : [v];
    return items.flatMap((x) => this.branches(x));
  }

  /** Evaluates a named condition of the template (parameters are already substituted by the framework). */
  condition(name: string): boolean {
    const forced = this.overrides[name];
    if (forced !== undefined) return forced;
    const def = this.template.Conditions?.[name];
    if (def === undefined) throw new Error(`unknown condition ${name}`);
    return this.evaluate(def);
  }

  /** Whether a resource exists for these parameters (its `Condition`, if any, holds). */
  exists(logicalId: string): boolean {
    const r = this.template.Resources[logicalId];
    return r !== undefined && (r.Condition === undefined || this.condition(r.Condition));
  }

  private evaluate(v: Json): boolean {
    const fn = intrinsic(v);
    if (!fn) throw new Error(`bad condition ${JSON.stringify(v)}`);
    const [name, arg] = fn;
    const args = Array.isArray(arg) ? arg : [arg];
    const exact = new Resolver(this.template, 'evaluate', this.overrides);
    switch (name) {
      case 'Condition':
        return typeof arg === 'string' && this.condition(arg);
      case 'Fn::Equals':
        return exact.string(args[0]) === exact.string(args[1]);
      case 'Fn::Not':
        return !this.evaluate(args[0] ?? null);
      case 'Fn::And':
        return args.every((a) => this.evaluate(a));
      case 'Fn::Or':
        return args.some((a) => this.evaluate(a));
      default:
        throw new Error(`unsupported condition function ${name}`);
    }
  }

  private sub(arg: Json): string[] {
    const [text, vars]: (Json | undefined)[] =
      typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) ? arg : [];
    if (typeof text !== 'string' || !isObject(vars)) throw new Error(`bad Fn::Sub ${JSON.stringify(arg)}`);
    // Split into literal text and ${name} references ("${!x}" is a literal "${x}").
    const parts: string[][] = [];
    let last = 0;
    for (const m of text.matchAll(/\$\{([^}]*)\}/g)) {
      parts.push([text.slice(last, m.index)]);
      const name = m[1] ?? '';
      if (name.startsWith('!')) parts.push([`\${${name.slice(1)}}`]);
      else if (name in vars) parts.push(this.strings(vars[name]));
      else if (PSEUDO[name] !== undefined) parts.push([PSEUDO[name]]);
      else if (name.includes('.')) {
        const [id = '', att = ''] = name.split('.');
        parts.push(this.strings({ 'Fn::GetAtt': [id, att] }));
      } else parts.push(this.strings({ Ref: name }));
      last = m.index + m[0].length;
    }
    parts.push([text.slice(last)]);
    return product(parts, '');
  }
}

const isNoValue = (v: Json): boolean => isObject(v) && v['Ref'] === 'AWS::NoValue';

export const resourcesOfType = (t: CfnTemplate, type: string): [string, CfnResource][] =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);

/** One IAM statement of a role's policy, with actions and resources resolved (all branches). */
export interface RoleStatement {
  role: string;
  policy: string;
  sid?: string;
  effect: string;
  actions: string[];
  resources: string[];
  /** Set when the statement uses NotAction/NotResource, which this checker refuses. */
  negated: boolean;
}

/** Every statement granted to each `AWS::IAM::Role`: inline policies plus `AWS::IAM::(Managed)Policy`. */
export function roleStatements(t: CfnTemplate, r = new Resolver(t, 'all')): RoleStatement[] {
  const out: RoleStatement[] = [];
  const add = (role: string, policy: string, doc: Json | undefined) => {
    if (!isObject(doc)) throw new Error(`${role}/${policy}: no PolicyDocument`);
    for (const s of r.list(doc['Statement'])) {
      if (!isObject(s)) throw new Error(`${role}/${policy}: bad statement ${JSON.stringify(s)}`);
      out.push({
        role,
        policy,
        ...(typeof s['Sid'] === 'string' ? { sid: s['Sid'] } : {}),
        effect: r.string(s['Effect']),
        actions: r.list(s['Action'] ?? s['NotAction']).flatMap((a) => r.strings(a)),
        resources: r.list(s['Resource'] ?? s['NotResource']).flatMap((x) => r.strings(x)),
        negated: 'NotAction' in s || 'NotResource' in s,
      });
    }
  };
  for (const [id, res] of resourcesOfType(t, 'AWS::IAM::Role')) {
    for (const p of r.list(res.Properties?.['Policies'])) {
      if (!isObject(p)) throw new Error(`${id}: bad policy ${JSON.stringify(p)}`);
      add(id, r.string(p['PolicyName']), p['PolicyDocument']);
    }
  }
  for (const [id, res] of [
    ...resourcesOfType(t, 'AWS::IAM::Policy'),
    ...resourcesOfType(t, 'AWS::IAM::ManagedPolicy'),
  ]) {
    for (const role of r.list(res.Properties?.['Roles'])) {
      const ref = isObject(role) ? role['Ref'] : undefined;
      if (typeof ref !== 'string') throw new Error(`${id}: role ${JSON.stringify(role)} is not a Ref`);
      add(ref, id, res.Properties?.['PolicyDocument']);
    }
  }
  return out;
}

/** Actions AWS offers no resource-level permission for: the only ones allowed on `Resource: "*"`. */
export const STAR_ONLY_ACTIONS: ReadonlySet<string> = new Set([
  'iam:GenerateCredentialReport',
  'iam:GetCredentialReport',
  'iam:ListUsers',
  'secretsmanager:ListSecrets',
  'cloudtrail:DescribeTrails',
  // What Lambda needs in a VPC; EC2's Describe actions offer no resource-level permission.
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
]);

/**
 * The EC2 actions a function's role may hold: what Lambda needs to manage the network interfaces of a function in
 * a VPC (the Describe ones are in {@link STAR_ONLY_ACTIONS}). CreateNetworkInterface only on new interfaces and
 * on named subnets and security groups; the others only on the interfaces of the stack's account and Region.
 */
export const NETWORK_INTERFACE_ACTIONS: ReadonlySet<string> = new Set([
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
]);

/** Secrets Manager actions that only read; every other one may only touch managed-key secrets. */
/** The read-only actions of the security checks that may name groups, policies or trails (any path). */
export const CHECK_READ_ACTIONS: ReadonlySet<string> = new Set([
  'iam:ListGroupPolicies',
  'iam:GetGroupPolicy',
  'iam:ListAttachedGroupPolicies',
  'iam:GetPolicy',
  'iam:GetPolicyVersion',
  'cloudtrail:GetTrailStatus',
  'cloudtrail:GetEventSelectors',
]);

export const SECRETS_READ_ACTIONS: ReadonlySet<string> = new Set([
  'secretsmanager:GetSecretValue',
  'secretsmanager:DescribeSecret',
  'secretsmanager:ListSecretVersionIds',
]);

export interface PolicyRules {
  userPath: string;
  secretPrefix: string;
  tokenSecretPrefix: string;
  crossAccountRoleName: string;
}

/** Functions (logical id and name) by the role they run as. */
export function functionsByRole(t: CfnTemplate): Map<string, { id: string; name: string }[]> {
  const r = new Resolver(t, 'evaluate');
  const byRole = new Map<string, { id: string; name: string }[]>();
  for (const [id, fn] of resourcesOfType(t, 'AWS::Lambda::Function')) {
    const role = fn.Properties?.['Role'];
    const att = isObject(role) ? role['Fn::GetAtt'] : undefined;
    const roleId =
      Array.isArray(att) && typeof att[0] === 'string'
        ? att[0]
        : `(not a role of this stack: ${JSON.stringify(role)})`;
    byRole.set(roleId, [
      ...(byRole.get(roleId) ?? []),
      { id, name: r.string(fn.Properties?.['FunctionName']) },
    ]);
  }
  return byRole;
}

/**
 * Least-privilege violations of every role in the template, one line each (empty: none). The rules: one role
 * per function and no managed policies; no NotAction/NotResource; no action with a `*`; `Resource: "*"` only
 * for {@link STAR_ONLY_ACTIONS}; IAM actions only on users of `userPath`; Secrets Manager writes only on
 * `secretPrefix` secrets and reads only on `secretPrefix` or `tokenSecretPrefix` secrets; sts:AssumeRole only
 * on the cross-account role name; logs only on the role's own function's log group; EC2 only the
 * {@link NETWORK_INTERFACE_ACTIONS}, on the network interfaces of the stack's account and Region, and
 * CreateNetworkInterface also on named subnets and security groups; S3 only s3:PutObject (the key report), on the
 * objects under a prefix of one named bucket; anything else only on a resource of this stack or a named ARN without
 * wildcards.
 */
export function policyViolations(t: CfnTemplate, rules: PolicyRules): string[] {
  const {
    Partition: p,
    Region: region,
    AccountId: acct,
  } = {
    Partition: PSEUDO['AWS::Partition'],
    Region: PSEUDO['AWS::Region'],
    AccountId: PSEUDO['AWS::AccountId'],
  };
  const v: string[] = [];
  const fns = functionsByRole(t);
  for (const [id, res] of resourcesOfType(t, 'AWS::IAM::Role')) {
    if (res.Properties?.['ManagedPolicyArns'] !== undefined)
      v.push(`${id}: managed policies cannot be checked`);
    const users = fns.get(id) ?? [];
    if (users.length !== 1) v.push(`${id}: used by ${users.length} functions, expected exactly one`);
  }
  const secretArn = (prefixes: string[]) => (res: string) =>
    prefixes.some(
      (pre) => pre !== '' && res.startsWith(`arn:${p}:secretsmanager:${region}:${acct}:secret:${pre}`),
    );
  for (const s of roleStatements(t)) {
    const where = `${s.role}/${s.policy}${s.sid ? `/${s.sid}` : ''}`;
    if (s.negated) v.push(`${where}: NotAction/NotResource`);
    for (const action of s.actions) if (action.includes('*')) v.push(`${where}: wildcard action ${action}`);
    if (s.effect !== 'Allow') continue;
    const fn = fns.get(s.role)?.[0]?.name;
    for (const action of s.actions) {
      const service = action.split(':')[0] ?? '';
      for (const res of s.resources) {
        const bad = (why: string) => v.push(`${where}: ${action} on ${res}: ${why}`);
        if (res === '*') {
          if (!STAR_ONLY_ACTIONS.has(action))
            bad('only actions without resource-level permissions may use "*"');
          continue;
        }
        switch (service) {
          case 'iam':
            if (res.startsWith(`arn:${p}:iam::${acct}:user${rules.userPath}`)) break;
            // The security checks read the groups and policies of those users: read-only actions only.
            if (
              CHECK_READ_ACTIONS.has(action) &&
              [
                `arn:${p}:iam::${acct}:group/`,
                `arn:${p}:iam::${acct}:policy/`,
                `arn:${p}:iam::aws:policy/`,
              ].some((pre) => res.startsWith(pre))
            )
              break;
            bad(
              `not a user on ${rules.userPath}${CHECK_READ_ACTIONS.has(action) ? ', a group or a policy' : ''}`,
            );
            break;
          case 'cloudtrail':
            if (
              !CHECK_READ_ACTIONS.has(action) ||
              !new RegExp(`^arn:${p}:cloudtrail:[^:]+:[^:]+:trail/`).test(res)
            )
              bad('only the read-only trail actions of the security checks, on trails');
            break;
          case 'secretsmanager': {
            const allowed = SECRETS_READ_ACTIONS.has(action)
              ? [rules.secretPrefix, rules.tokenSecretPrefix]
              : [rules.secretPrefix];
            if (!secretArn(allowed)(res)) bad(`not a secret named ${allowed.join(' or ')}*`);
            break;
          }
          case 'sts':
            if (
              action !== 'sts:AssumeRole' ||
              !new RegExp(`^arn:${p}:iam::(\\d{12}|\\*):role/${escape(rules.crossAccountRoleName)}$`).test(
                res,
              )
            )
              bad(`only sts:AssumeRole on role/${rules.crossAccountRoleName}`);
            break;
          case 'logs':
            if (fn === undefined || res !== `arn:${p}:logs:${region}:${acct}:log-group:/aws/lambda/${fn}:*`)
              bad(`not the log group of ${fn ?? 'its function'}`);
            break;
          case 'ec2': {
            const ec2 = `arn:${p}:ec2:${region}:${acct}:`;
            const named =
              res.startsWith(ec2) &&
              /^(subnet\/subnet|security-group\/sg)-[a-z0-9]+$/.test(res.slice(ec2.length));
            if (!NETWORK_INTERFACE_ACTIONS.has(action))
              bad('not an action Lambda needs for the network interfaces of a function in a VPC');
            else if (action === 'ec2:CreateNetworkInterface') {
              if (res !== `${ec2}network-interface/*` && !named)
                bad(
                  'not a new network interface of this account and Region, nor a named subnet or security group',
                );
            } else if (res !== `${ec2}network-interface/*`)
              bad('not the network interfaces of this account and Region');
            break;
          }
          case 's3':
            if (
              action !== 's3:PutObject' ||
              !new RegExp(`^arn:${p}:s3:::[a-z0-9.-]{3,63}/[^*]*\\*$`).test(res)
            )
              bad('only s3:PutObject (the key report), on the objects under a prefix of one named bucket');
            break;
          default:
            // A resource of this stack («Ref:…»/«GetAtt:…») or a literal ARN without wildcards.
            if (res.includes('*') || !(res.startsWith('«') || res.startsWith(`arn:${p}:`)))
              bad('wildcard or not an ARN');
        }
      }
    }
  }
  return v;
}

/**
 * Violations in resource-based policies (bucket, queue and topic policies, Lambda permissions): an Allow with a
 * `*` action or a `*` principal. Deny statements may use wildcards (the deployment bucket denies `s3:*` over
 * plain HTTP).
 */
export function resourcePolicyViolations(t: CfnTemplate): string[] {
  const r = new Resolver(t, 'all');
  const v: string[] = [];
  for (const [id, res] of Object.entries(t.Resources)) {
    const props = res.Properties ?? {};
    if (res.Type === 'AWS::Lambda::Permission') {
      const action = r.string(props['Action']);
      const principal = r.string(props['Principal']);
      if (action.includes('*')) v.push(`${id}: wildcard action ${action}`);
      if (principal.includes('*')) v.push(`${id}: wildcard principal ${principal}`);
      continue;
    }
    if (!/^AWS::(S3::BucketPolicy|SQS::QueuePolicy|SNS::TopicPolicy)$/.test(res.Type)) continue;
    const doc = props['PolicyDocument'];
    for (const s of r.list(isObject(doc) ? doc['Statement'] : undefined)) {
      if (!isObject(s) || s['Effect'] !== 'Allow') continue;
      for (const a of r.list(s['Action'] ?? s['NotAction']).flatMap((x) => r.strings(x)))
        if (a.includes('*') || 'NotAction' in s) v.push(`${id}: allows ${a}`);
      if (JSON.stringify(s['Principal'] ?? '*').includes('"*"')) v.push(`${id}: allows any principal`);
    }
  }
  return v;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every action each role is granted (Allow statements), sorted. */
export function actionsByRole(t: CfnTemplate): Map<string, string[]> {
  const m = new Map<string, Set<string>>();
  for (const s of roleStatements(t)) {
    if (s.effect !== 'Allow') continue;
    const set = m.get(s.role) ?? new Set<string>();
    s.actions.forEach((a) => set.add(a));
    m.set(s.role, set);
  }
  return new Map([...m].map(([k, set]) => [k, [...set].sort()]));
}

/** The entries of a zip archive (stored or deflated; no ZIP64), by name. */
export function readZip(buf: Buffer): Map<string, Buffer> {
  const EOCD = 0x06054b50;
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive: no end-of-central-directory record');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry at ${at}`);
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    if (size === 0xffffffff || local === 0xffffffff) throw new Error(`${name}: ZIP64 is not supported`);
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`${name}: bad local header`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    if (method === 0) entries.set(name, Buffer.from(data));
    else if (method === 8) entries.set(name, inflateRawSync(data));
    else throw new Error(`${name}: unsupported compression method ${method}`);
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
