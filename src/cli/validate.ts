import { ConfigError, type ConfigIssue, type RotatorConfig } from '../config';
import { count } from './format';

/** `validate-config --json`. Field names are stable. */
export interface ValidationResult {
  valid: boolean;
  file: string;
  issues: ConfigIssue[];
  /** A summary of each managed key, when valid. */
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

export function validationResult(file: string, outcome: RotatorConfig | ConfigError): ValidationResult {
  if (outcome instanceof ConfigError) return { valid: false, file, issues: [...outcome.issues], keys: [] };
  return {
    valid: true,
    file,
    issues: [],
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

export function formatValidation(r: ValidationResult): string {
  if (!r.valid)
    return `INVALID: ${r.file} (${count(r.issues.length, 'issue')})\n${r.issues
      .map((i) => `  ${i.path || '(file)'}: ${i.message}\n`)
      .join('')}`;
  const targets = r.keys.reduce((n, k) => n + k.jenkins.length, 0);
  let text = `OK: ${r.file}: ${count(r.keys.length, 'managed key')}, ${count(targets, 'Jenkins credential')}\n`;
  for (const k of r.keys) {
    text += `  ${k.name}: IAM user ${k.iamUser}${k.accountId ? ` in ${k.accountId}` : ''}, secret ${k.secretId}, rotated at ${
      k.maxAgeDays
    } days, deleted ${k.deleteAfterDays} days after deactivation, ECR in ${k.ecrRegion}${k.canary ? `, canary ${k.canary}` : ''}\n`;
    for (const t of k.jenkins) text += `    ${t.name}: ${t.url} ${t.store} ${t.credentialId} (${t.kind})\n`;
  }
  return text;
}
