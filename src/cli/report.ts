import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Composition } from '../compose';
import { messageOf } from '../domain/errors';
import { collectKeyReport, renderReportHtml, type KeyReport } from '../report';
import { CliError, EXIT, type ExitCode } from './errors';
import { count } from './format';
import type { CliIo } from './io';

/** `report`: the key report, as one self-contained HTML file and/or its data as JSON. Read-only. */
export interface ReportArgs {
  command: 'report';
  /** Print the report's data model on stdout. */
  json: boolean;
  /** Write the HTML page there. */
  html?: string;
  /** Run the security checks (`--no-checks`: not). */
  checks: boolean;
  credentialReport: boolean;
}

/** One line saying what the report holds. */
export function reportLine(r: KeyReport): string {
  const c = r.counts;
  return [
    count(c.keys, 'key'),
    `${c.stale} past the rotation line`,
    `${c.dueSoon} due within ${r.defaults.dueSoonDays} days`,
    count(c.problems, 'rotation problem'),
    r.checks.ran
      ? `${count(r.checks.findings.length, 'security finding')} (${r.checks.counts.high} high)`
      : 'security checks not run',
  ].join(', ');
}

/** Writes `text` to `file` through a temporary file and a rename: a reader never sees half a report. */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const kib = (bytes: number) => `${Math.max(1, Math.round(bytes / 1024))} KB`;

export async function reportCommand(
  args: ReportArgs,
  compose: (opts: { optionalConfig: boolean }) => Promise<{ composition: Composition; configFile?: string }>,
  io: CliIo,
  generator: string,
): Promise<ExitCode> {
  const { composition, configFile } = await compose({ optionalConfig: true });
  const report = await collectKeyReport(composition, {
    checks: args.checks,
    credentialReport: args.credentialReport,
    ...(configFile ? { configFile } : {}),
  });
  if (args.html !== undefined) {
    const file = resolve(io.cwd, args.html);
    const html = renderReportHtml(report, { generator });
    try {
      await writeFileAtomically(file, html);
    } catch (err) {
      throw new CliError(`cannot write the report to ${file}: ${messageOf(err)}`);
    }
    // With --json, stdout is the JSON document: the file's line goes to stderr.
    const line = `wrote ${file} (${kib(Buffer.byteLength(html))}): ${reportLine(report)}\n`;
    if (args.json) io.err(line);
    else io.out(line);
  }
  if (args.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  const unreadableKeys = new Set(report.problems.filter((p) => p.kind === 'unreadable').map((p) => p.key));
  const unreadable =
    report.problems.filter((p) => p.kind === 'unreadable').length +
    report.histories.filter((h) => h.error !== null && !unreadableKeys.has(h.key)).length;
  if (unreadable)
    io.err(
      `key-rotator: note: ${count(unreadable, 'part')} could not be read (the report says which): it is incomplete\n`,
    );
  return EXIT.ok;
}
