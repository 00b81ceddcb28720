import type { Mode } from './advice';
import type { CheckStatus, DoctorReport, DoctorTarget } from './doctor';

/** The doctor's report as text: one block per target, one line per check, then the mode that fits. Pure. */

const STATUS: Record<CheckStatus, string> = {
  ok: 'ok',
  fail: 'FAIL',
  warn: 'warn',
  skip: 'skip',
  unproven: '?',
};

const MODE_TEXT: Record<Mode, string> = {
  direct: 'direct (the default Lambda deployment)',
  vpc: 'VPC (the functions in a VPC with a route to Jenkins)',
  'self-rotation': 'self-rotation (key-rotator self-rotate <key>, a scheduled job next to Jenkins)',
};

export const modeText = (t: Pick<DoctorTarget, 'mode' | 'alternative'>): string =>
  `${MODE_TEXT[t.mode]}${t.alternative ? `, else ${t.alternative}` : ''}`;

export function formatTarget(t: DoctorTarget): string {
  const lines = [
    `${t.key} / ${t.target}: ${t.url} (user ${t.user}, ${t.store}, credential ${t.credentialId})`,
    ...t.checks.flatMap((c) => [
      `  ${STATUS[c.status].padEnd(5)} ${c.name.padEnd(11)} ${c.detail}`,
      ...(c.fix && c.status !== 'ok' ? [`  ${''.padEnd(5)} ${''.padEnd(11)} fix: ${c.fix}`] : []),
    ]),
    `  mode  ${modeText(t)}: ${t.modeReason}`,
  ];
  return `${lines.join('\n')}\n`;
}

export function formatDoctor(r: DoctorReport): string {
  const head = [
    `Jenkins reachability, checked from ${r.fromDetail} at ${r.checkedAt.slice(0, 19).replace('T', ' ')} UTC`,
    ...(r.from === 'cli'
      ? [
          'The rotation runs in Lambda: check from there too (aws lambda invoke --function-name <stack>-scan --payload \'{"action":"doctor"}\').',
        ]
      : []),
    'Changes nothing: the permission probes are requests Jenkins refuses after its permission check, before any change.',
  ];
  const blocks = r.targets.map(formatTarget);
  const summary = r.ok
    ? `All ${r.counts.targets} Jenkins target(s) passed.`
    : `${r.counts.failed} of ${r.counts.targets} Jenkins target(s) failed: ${r.targets
        .filter((t) => !t.ok)
        .map((t) => `${t.key}/${t.target} (${t.checks.find((c) => c.status === 'fail')?.name ?? 'failed'})`)
        .join(', ')}`;
  return `${head.join('\n')}\n\n${blocks.join('\n')}\n${summary}\n`;
}

/**
 * One line for `plan`: ok or FAIL, the target, and either what answered (address, TLS, who) or the first failure,
 * then the mode that fits.
 */
export function reachabilityLine(t: DoctorTarget): string {
  const what = t.ok
    ? t.checks
        .filter((c) => c.status === 'ok' && (c.name === 'dns' || c.name === 'auth'))
        .map((c) => c.detail.replace(/; has Overall\/Read$/, ''))
        .join(', ')
    : (t.cause ?? 'failed');
  return `${t.ok ? 'ok  ' : 'FAIL'}  ${t.key}/${t.target}  ${what} → ${t.mode}${t.alternative ? ` (else ${t.alternative})` : ''}`;
}
