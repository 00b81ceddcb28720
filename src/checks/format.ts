import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SEVERITIES, type CheckReport, type Finding, type Severity } from './types';

const RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2 };

/** Most severe first, then by check and resource, the order every report lists findings in. */
export const bySeverity = (a: Finding, b: Finding): number =>
  RANK[a.severity] - RANK[b.severity] ||
  a.check.localeCompare(b.check) ||
  a.resource.id.localeCompare(b.resource.id);

/** How many findings are at `level` or worse (`--fail-on LEVEL` fails when there is one). */
export const atLeast = (r: CheckReport, level: Severity): number =>
  r.findings.filter((f) => RANK[f.severity] <= RANK[level]).length;

/** Where a finding (or an item not checked) is: account, region, Jenkins, resource and location. */
export const where = (f: Pick<Finding, 'resource'>): string =>
  [
    f.resource.accountId && `account ${f.resource.accountId}`,
    f.resource.region,
    f.resource.jenkins,
    f.resource.kind !== 'account' && `${f.resource.kind} ${f.resource.id}`,
    f.resource.location,
  ]
    .filter(Boolean)
    .join(', ');

/** The human report: findings grouped by severity, each with where, what and the fix; then what was not checked. */
export function formatChecks(r: CheckReport): string {
  let text = `Security checks at ${r.at.slice(0, 16).replace('T', ' ')} UTC (read-only: nothing was changed)\n`;
  for (const sev of SEVERITIES) {
    const list = r.findings.filter((f) => f.severity === sev);
    if (!list.length) continue;
    text += `\n${sev.toUpperCase()} (${list.length})\n`;
    for (const f of list) {
      text += `  [${f.check}] ${f.title}\n`;
      text += `      where: ${where(f)}\n`;
      if (f.detail) text += `      why:   ${f.detail}\n`;
      text += `      fix:   ${f.fix}\n`;
    }
  }
  if (!r.findings.length) text += '\nNo findings.\n';
  if (r.notChecked.length) {
    text += `\nNOT CHECKED (${r.notChecked.length}): not clean, just unknown\n`;
    for (const n of r.notChecked) text += `  [${n.group}] ${n.resource.kind} ${n.resource.id}: ${n.reason}\n`;
  }
  if (r.policies.length) {
    text += `\nLeast-privilege push policies (--emit-policy DIR writes them):\n`;
    for (const p of r.policies)
      text += `  ${p.key} (IAM user ${p.user}): ${p.repositories.length} repositor${p.repositories.length === 1 ? 'y' : 'ies'} from ${p.repositoriesFrom === 'unknown' ? 'nowhere: the whole registry; name them in keys[].ecrRepositories' : `the ${p.repositoriesFrom.replace('-', ' ')}`}\n`;
  }
  const c = r.counts;
  text += `\n${c.high} high, ${c.medium} medium, ${c.low} low; ${c.notChecked} not checked\n`;
  return text;
}

/** `--emit-policy DIR`: one JSON file per managed key, `<key>.policy.json`, ready for put-user-policy. */
export async function writePolicies(r: CheckReport, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const p of r.policies) {
    const file = join(dir, `${p.key}.policy.json`);
    await writeFile(file, `${JSON.stringify(p.document, null, 2)}\n`);
    files.push(file);
  }
  return files;
}
