/** The exit codes and the usage error: all the CLI's front (front.ts) needs of errors, without their imports. */

/** The exit codes, as `--help` documents them. */
/** The exit codes, as `--help` documents them. */
export const EXIT = {
  /** Done, and every check passed. */
  ok: 0,
  /** A check or rotation failed, the configuration is invalid, or AWS/Jenkins could not be used. */
  failed: 1,
  /** The command line is wrong: unknown command or option, missing or extra argument. */
  usage: 2,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The command line is wrong (exit 2). The message says what and how to get help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
