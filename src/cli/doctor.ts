import { hostname } from 'node:os';
import type { Composition } from '../compose';
import {
  DoctorInputError,
  formatDoctor,
  reachabilityLine,
  runDoctor,
  type DoctorReport,
  type DoctorTarget,
} from '../doctor';
import type { DoctorArgs } from './args';
import { CliError, EXIT, type ExitCode } from './errors';
import type { CliIo } from './io';
import { nodeSupportNote } from './node-support';

/** Where the CLI's checks run from, for the report. */
const fromHere = (): string => {
  try {
    return `this machine (${hostname()})`;
  } catch {
    return 'this machine';
  }
};

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** `key-rotator doctor [--key NAME] [--json]`: exit 1 when any Jenkins target fails a check. */
export async function doctorCommand(
  args: DoctorArgs,
  compose: () => Promise<{ composition: Composition }>,
  io: CliIo,
): Promise<ExitCode> {
  const { composition } = await compose();
  let report: DoctorReport;
  try {
    report = await runDoctor(composition, {
      where: 'cli',
      fromDetail: fromHere(),
      ...(args.key !== undefined ? { key: args.key } : {}),
    });
  } catch (e) {
    if (e instanceof DoctorInputError) throw new CliError(e.message);
    throw e;
  }
  // This machine's Node.js against the AWS SDK's coming minimum: the one place the CLI mentions it.
  const note = nodeSupportNote();
  io.out(
    args.json
      ? json({ ...report, node: { version: process.version, note: note ?? null } })
      : `${formatDoctor(report)}${note ? `\nnote: ${note}\n` : ''}`,
  );
  if (report.ok) return EXIT.ok;
  io.err(
    `key-rotator: error: ${report.counts.failed} of ${report.counts.targets} Jenkins target(s) failed a check (see above)\n`,
  );
  return EXIT.failed;
}

/** For `plan`: the doctor's reachability checks (secrets, DNS, TCP, TLS, authentication; no probes), one line each. */
export async function planReachability(
  composition: Composition,
): Promise<{ ok: boolean; targets: DoctorTarget[]; text: string }> {
  const r = await runDoctor(composition, { where: 'cli', fromDetail: fromHere(), scope: 'reachability' });
  const text = r.targets.length
    ? `\nJenkins reachability from ${r.fromDetail} (key-rotator doctor shows every check)\n${r.targets.map((t) => `${reachabilityLine(t)}\n`).join('')}`
    : '';
  return { ok: r.ok, targets: r.targets, text };
}
