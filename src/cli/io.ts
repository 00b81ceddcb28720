import type { Log } from '../engine/ports';
import { redact } from '../observability/logger';

/** Everything the CLI touches outside itself, so that tests can run it in-process. */
export interface CliIo {
  /** Results: stdout. */
  out(text: string): void;
  /** Progress, warnings and errors: stderr. */
  err(text: string): void;
  /** Whether stderr is a terminal (progress then rewrites one line; errors and warnings may be coloured). */
  errIsTTY: boolean;
  /** Whether stdout is a terminal (reports may then be coloured; see colors.ts). Absent: not a terminal. */
  outIsTTY?: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /**
   * While a rotation runs: the first Ctrl-C calls `onFirst` (stop at the next wait and undo), a second one quits.
   * Returns the function that removes the trap. Absent in tests.
   */
  trapInterrupt?(onFirst: () => void): () => void;
}

/**
 * The engine's log for the CLI, on stderr so that stdout stays the command's result: warnings and errors as one
 * line each; with --verbose every line, as JSON with its (redacted) fields.
 */
export function cliLog(io: CliIo, verbose: boolean): Log {
  const emit = (level: 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>) => {
    if (verbose) {
      const fields = extra ? (redact(extra) as Record<string, unknown>) : {};
      io.err(
        `${JSON.stringify({ level: level.toUpperCase(), timestamp: new Date().toISOString(), message: redact(message), ...fields })}\n`,
      );
    } else if (level !== 'info') {
      io.err(
        `key-rotator: ${level === 'warn' ? 'warning' : 'error'}: ${String(redact(message)).split('\n')[0]}\n`,
      );
    }
  };
  return {
    info: (m, e) => emit('info', m, e),
    warn: (m, e) => emit('warn', m, e),
    error: (m, e) => emit('error', m, e),
  };
}
