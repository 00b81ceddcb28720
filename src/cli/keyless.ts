import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Composition } from '../compose';
import { applyKeyless, KeylessError, type ApplyReport } from '../keyless/apply';
import { planKeyless } from '../keyless/discover';
import { cloudFormationTemplate, jenkinsfileSnippet, type KeylessPlan } from '../keyless/plan';
import { rollbackKeyless } from '../keyless/rollback';
import { CliError, EXIT, type ExitCode } from './errors';
import { managedKeyFor } from './managed-key';
import type { CliIo } from './io';

/** `keyless plan|apply|rollback <key>`: the migration from the long-lived key to Jenkins ID tokens and STS. */
export interface KeylessArgs {
  command: 'keyless';
  action: 'plan' | 'apply' | 'rollback';
  /** A managed key's name or its IAM user. */
  target: string;
  json: boolean;
  /** plan: where to write the template, the Jenkinsfile and the plan. */
  out?: string;
  jobs: string[];
  folders: string[];
  audience?: string;
  canaries: string[];
  retireKey: boolean;
  credential?: 'keep' | 'delete';
  proofTimeoutSeconds?: number;
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export function formatPlan(plan: KeylessPlan & { blockers: string[] }): string {
  const lines = [
    `Keyless plan for ${plan.key} (IAM user ${plan.user}, account ${plan.accountId}, ${plan.region})`,
    '',
  ];
  lines.push('Jenkins:');
  for (const c of plan.credentials)
    lines.push(
      `  ${c.exists ? '=' : '+'} ID-token credential ${c.id} (OpenID Connect id token as file, audience ${c.audience}) in the ${c.store.kind === 'system' ? 'system store' : `folder store ${c.store.path}`} of ${c.target}`,
      `      issuer ${c.issuer}: AWS fetches ${c.issuer}/.well-known/openid-configuration and ${c.issuer}/jwks, so they must be reachable from the internet over HTTPS (or published elsewhere: set the credential's issuer override there)`,
    );
  lines.push('', 'AWS:');
  for (const p of plan.providers)
    lines.push(
      `  ${p.exists ? (p.addAudience ? '~' : '=') : '+'} IAM OIDC provider ${p.arn} (audience ${p.audience})`,
    );
  for (const r of plan.roles)
    lines.push(
      `  ${r.exists ? '~' : '+'} role ${r.arn}`,
      `      admits ${r.sub.operator} sub = ${r.sub.value}  (${r.scopeFrom})`,
      `      may push to ${plan.repositories.join(', ')} (${plan.repositoriesFrom.replace('-', ' ')})`,
    );
  lines.push('', 'The long-lived key:');
  for (const f of plan.keyFate) lines.push(`  - ${f}`);
  lines.push('', 'Must hold first:');
  for (const m of plan.mustPass) lines.push(`  - ${m}`);
  if (plan.warnings.length) {
    lines.push('', 'Warnings:');
    for (const w of plan.warnings) lines.push(`  ! ${w}`);
  }
  if (plan.blockers.length) {
    lines.push('', 'BLOCKED (apply refuses until these are fixed):');
    for (const b of plan.blockers) lines.push(`  ✗ ${b}`);
  }
  lines.push('');
  return lines.join('\n');
}

export function formatApply(r: ApplyReport): string {
  const lines = [`Keyless apply for ${r.key}:`];
  for (const s of r.steps)
    lines.push(
      `  ${s.status === 'failed' ? '✗' : s.status === 'skipped' ? '·' : '✓'} ${s.step}: ${s.detail}`,
    );
  lines.push(
    '',
    r.keyless
      ? `${r.key} is keyless: its long-lived key is retired.`
      : r.proofs.every((p) => p.proven)
        ? `Every role is proven. Retire the long-lived key with: key-rotator keyless apply ${r.key} --retire-key`
        : `Not every role is proven yet: the long-lived key stays.`,
    '',
  );
  return lines.join('\n');
}

/** Writes the plan's files: the template, a Jenkinsfile per role, the ID-token credential, the plan itself. */
export async function writePlan(plan: KeylessPlan, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    [`${plan.key}.keyless.template.json`, json(cloudFormationTemplate(plan))],
    [`${plan.key}.keyless.plan.json`, json(plan)],
  ];
  for (const r of plan.roles) {
    const cred = plan.credentials.find((c) => c.target === r.target);
    files.push([`${r.name}.Jenkinsfile`, jenkinsfileSnippet(plan, r, cred?.id ?? '')]);
  }
  for (const c of plan.credentials)
    files.push([
      `${c.id}.credential.json`,
      json({
        what: `POST ${c.jenkinsUrl}${c.store.kind === 'system' ? '' : `/job/${c.store.path.split('/').join('/job/')}`}/credentials/store/${c.store.kind}/domain/_/createCredentials with the form field json=<this>; keyless apply does it`,
        credentials: {
          $class: c.className,
          scope: 'GLOBAL',
          id: c.id,
          description: `ID token for AWS (key ${plan.key})`,
          audience: c.audience,
        },
      }),
    ]);
  const out: string[] = [];
  for (const [name, text] of files) {
    const file = join(dir, name);
    await writeFile(file, text);
    out.push(file);
  }
  return out;
}

export async function keylessCommand(
  args: KeylessArgs,
  compose: () => Promise<{ composition: Composition }>,
  io: CliIo,
): Promise<ExitCode> {
  const { composition } = await compose();
  const key = managedKeyFor(composition.config, args.target);
  const scopeOpts = {
    ...(args.jobs.length ? { jobs: args.jobs } : {}),
    ...(args.folders.length ? { folders: args.folders } : {}),
    ...(args.audience ? { audience: args.audience } : {}),
  };
  if (args.action === 'plan') {
    const plan = await planKeyless(composition, key, scopeOpts);
    io.out(args.json ? json(plan) : formatPlan(plan));
    if (args.out) {
      const files = await writePlan(plan, args.out);
      io.err(`key-rotator: wrote ${files.join(', ')}\n`);
    }
    if (plan.blockers.length) {
      io.err(
        `key-rotator: error: the migration is blocked: ${plan.blockers.length} problem(s) listed under BLOCKED\n`,
      );
      return EXIT.failed;
    }
    return EXIT.ok;
  }
  if (args.action === 'rollback') {
    io.err(`key-rotator: rolling ${key.name} back to a long-lived key (a new key through the rotation)\n`);
    const r = await rollbackKeyless(composition, key);
    if (args.json) io.out(json(r));
    else
      io.out(
        `${r.rotation.outcome === 'rotated' ? '✓' : '✗'} ${key.name}: ${r.rotation.outcome === 'rotated' ? `new key ${r.rotation.newKeyId ?? '?'} in Secrets Manager and Jenkins` : `the rotation failed at ${r.rotation.failedStep ?? '?'}: ${r.rotation.error?.message ?? ''}`}\n${r.notes.map((n) => `  - ${n}`).join('\n')}\n`,
      );
    return r.rotation.outcome === 'rotated' ? EXIT.ok : EXIT.failed;
  }
  io.err(`key-rotator: keyless apply ${key.name}${args.retireKey ? ' --retire-key' : ''}\n`);
  try {
    const r = await applyKeyless(composition, key, {
      ...scopeOpts,
      ...(args.canaries.length ? { canaries: args.canaries } : {}),
      retireKey: args.retireKey,
      ...(args.credential ? { credential: args.credential } : {}),
      ...(args.proofTimeoutSeconds !== undefined ? { proofTimeoutMs: args.proofTimeoutSeconds * 1000 } : {}),
      progress: (line) => io.err(`${line}\n`),
    });
    io.out(args.json ? json(r) : formatApply(r));
    return EXIT.ok;
  } catch (err) {
    if (err instanceof KeylessError) throw new CliError(err.message);
    throw err;
  }
}
