import { atLeast, formatChecks, writePolicies } from '../checks/format';
import { runChecks } from '../checks/run';
import type { Severity } from '../checks/types';
import type { Composition } from '../compose';
import { EXIT, type ExitCode } from './errors';
import { managedKeyFor } from './managed-key';
import type { CliIo } from './io';

/** `check`: the security checklist, read-only. */
export interface CheckArgs {
  command: 'check';
  json: boolean;
  /** Exit 1 when a finding is at least this severe. */
  failOn?: Severity;
  /** Write each managed key's least-privilege push policy there, as JSON. */
  emitPolicy?: string;
  /** Only this managed key (its name or IAM user). */
  key?: string;
}

export async function checkCommand(
  args: CheckArgs,
  compose: () => Promise<{ composition: Composition }>,
  io: CliIo,
): Promise<ExitCode> {
  const { composition } = await compose();
  const key = args.key ? managedKeyFor(composition.config, args.key) : undefined;
  const report = await runChecks(composition, key ? { keys: [key.name] } : {});
  io.out(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatChecks(report));
  if (args.emitPolicy) {
    const files = await writePolicies(report, args.emitPolicy);
    io.err(`key-rotator: wrote ${files.length} policy file(s): ${files.join(', ')}\n`);
  }
  if (report.notChecked.length)
    io.err(
      `key-rotator: note: ${report.notChecked.length} item(s) could not be checked (listed under NOT CHECKED): they are not known to be clean\n`,
    );
  const failing = args.failOn ? atLeast(report, args.failOn) : 0;
  if (failing) {
    io.err(`key-rotator: error: ${failing} finding(s) at ${args.failOn ?? 'high'} or above\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}
