import { ConfigError, type ConfigIssue, type RotatorConfig } from '../config';
import { CHECKED_PARAMS, type StackParams } from '../config/stack';
import { count } from './format';
import type { IamUserCheck } from './iam-paths';

/** The deploy parameters the configuration was checked against (`--stage`, `--param`). */
export interface StackCheck {
  stage: string | null;
  params: StackParams;
  /** Parameters holding a serverless variable that only the Serverless Framework resolves: not checked. */
  unresolved: string[];
}

/** `validate-config --json`. Field names are stable. */
export interface ValidationResult {
  /** No errors: the schema, the stack's parameters and the IAM check (when asked) found nothing wrong. */
  valid: boolean;
  file: string;
  /** Errors: the Lambdas would refuse the file, or be denied access. */
  issues: ConfigIssue[];
  /** Values left from config/example.json, or plainly placeholders: reported, not errors. */
  warnings: ConfigIssue[];
  stack: StackCheck | null;
  /** With --check-iam: each managed user's IAM path. */
  iam: IamUserCheck[] | null;
  /** A summary of each managed key, when the file parses. */
  keys: {
    name: string;
    iamUser: string;
    accountId: string | null;
    secretId: string;
    jenkins: { name: string; url: string; store: string; credentialId: string; kind: string }[];
    ecrRegion: string;
    canary: string | null;
    maxAgeDays: number;
    deleteAfterDays: number;
  }[];
}

export interface ValidationChecks {
  issues?: readonly ConfigIssue[];
  warnings?: readonly ConfigIssue[];
  stack?: StackCheck;
  iam?: IamUserCheck[];
}

export function validationResult(
  file: string,
  outcome: RotatorConfig | ConfigError,
  checks: ValidationChecks = {},
): ValidationResult {
  const common = { file, stack: checks.stack ?? null, iam: checks.iam ?? null };
  if (outcome instanceof ConfigError)
    return { valid: false, ...common, issues: [...outcome.issues], warnings: [], keys: [] };
  const issues = [...(checks.issues ?? [])];
  return {
    valid: issues.length === 0,
    ...common,
    issues,
    warnings: [...(checks.warnings ?? [])],
    keys: outcome.keys.map((k) => ({
      name: k.name,
      iamUser: k.iamUser,
      accountId: k.accountId ?? null,
      secretId: k.secretId,
      jenkins: k.jenkins.map((t) => ({
        name: t.name,
        url: t.url,
        store: t.store.kind === 'system' ? 'system' : `folder ${t.store.path}`,
        credentialId: t.credentialId,
        kind: t.credentialKind,
      })),
      ecrRegion: k.verify.ecr.region,
      canary: k.verify.canary ? k.verify.canary.job : null,
      maxAgeDays: k.policy.maxAgeDays,
      deleteAfterDays: k.policy.deleteAfterDays,
    })),
  };
}

const issueLines = (issues: readonly ConfigIssue[]) =>
  issues.map((i) => `  ${i.path || '(file)'}: ${i.message}\n`).join('');

export function formatValidation(r: ValidationResult): string {
  let text: string;
  if (!r.valid) text = `INVALID: ${r.file} (${count(r.issues.length, 'issue')})\n${issueLines(r.issues)}`;
  else {
    const targets = r.keys.reduce((n, k) => n + k.jenkins.length, 0);
    text = `OK: ${r.file}: ${count(r.keys.length, 'managed key')}, ${count(targets, 'Jenkins credential')}\n`;
    for (const k of r.keys) {
      text += `  ${k.name}: IAM user ${k.iamUser}${k.accountId ? ` in ${k.accountId}` : ''}, secret ${k.secretId}, rotated at ${
        k.maxAgeDays
      } days, deleted ${k.deleteAfterDays} days after deactivation, ECR in ${k.ecrRegion}${k.canary ? `, canary ${k.canary}` : ''}\n`;
      for (const t of k.jenkins) text += `    ${t.name}: ${t.url} ${t.store} ${t.credentialId} (${t.kind})\n`;
    }
  }
  if (r.stack) {
    const params = CHECKED_PARAMS.filter((name) => r.stack?.params[name] !== undefined).map(
      (name) => `${name}=${r.stack?.params[name] || "''"}`,
    );
    const unresolved = r.stack.unresolved.filter((name) =>
      (CHECKED_PARAMS as readonly string[]).includes(name),
    );
    text += `Checked against ${r.stack.stage ? `stage ${r.stack.stage}` : 'the given parameters'}: ${params.join(', ') || 'no parameter it checks'}${r.iam ? '' : " (users' paths: --check-iam)"}\n`;
    if (unresolved.length)
      text += `  not checked: ${unresolved.join(', ')} (serverless variables, by default the configuration's own values; --param name=value checks them)\n`;
  }
  if (r.iam) {
    text += `IAM users (--check-iam):\n`;
    for (const c of r.iam) {
      const who = `${c.iamUser}${c.accountId ? ` in ${c.accountId}` : ''}`;
      text +=
        c.status === 'ok'
          ? `  ${who}: path ${c.path ?? '?'}, on the stack's userPath\n`
          : `  ${who}: ${c.status === 'not-checked' ? '' : 'ERROR: '}${c.detail ?? c.status}\n`;
    }
  }
  if (r.warnings.length) text += `Warnings (${r.warnings.length}):\n${issueLines(r.warnings)}`;
  return text;
}
