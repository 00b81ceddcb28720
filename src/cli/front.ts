import { readFileSync } from 'node:fs';
import { parseCommandLine, type ParsedArgs } from './args';
import { colorsFor, paintMessages } from './colors';
import { EXIT, UsageError, type ExitCode } from './exit';
import { commandHelp, mainHelp } from './help';
import type { CliIo } from './io';

/**
 * The CLI's front: what it answers from the command line alone (help, version, usage errors). It imports nothing of
 * the AWS SDK, the engine or the configuration loader, so `key-rotator --help` starts in a few tens of milliseconds;
 * main.ts loads the rest (run.ts) only for a command to run.
 */

/** The package's version: package.json two folders up, from src/cli/ (tsx) as from dist/cli/ (the build). */
export function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export type CommandLine = Extract<ParsedArgs, { kind: 'run' }>;

/**
 * Answers help, version and usage errors (one line on stderr, exit 2) and returns the exit code; otherwise returns
 * the parsed command line, for `runCommand` (run.ts).
 */
export function answerFront(argv: readonly string[], io: CliIo): { code: ExitCode } | { line: CommandLine } {
  let parsed: ParsedArgs;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(paintMessages(`key-rotator: error: ${err.message}\n`, colorsFor(io.errIsTTY, io.env)));
    return { code: EXIT.usage };
  }
  if (parsed.kind === 'help') {
    io.out(`${parsed.command ? commandHelp(parsed.command) : mainHelp(cliVersion())}\n`);
    return { code: EXIT.ok };
  }
  if (parsed.kind === 'version') {
    io.out(`${cliVersion()}\n`);
    return { code: EXIT.ok };
  }
  return { line: parsed };
}
