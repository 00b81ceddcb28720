import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The operator CLI's entry point, run as a user runs it. */
export const BIN = fileURLToPath(new URL('../../bin/key-rotator.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `key-rotator <args>` as a child process with only the environment given (plus PATH, HOME and TMPDIR; not the
 * SDK's version-notice switch: the CLI sets it itself, which the tests thereby check), asynchronously: the emulators answer from this process's event loop. Killed after
 * `timeoutMs`.
 */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    TMPDIR: process.env['TMPDIR'],
    ...opts.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 150_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input);
  });
}

/** The environment of an administrator of the emulated account. */
export const adminEnv = (admin: { accessKeyId: string; secretAccessKey: string }): NodeJS.ProcessEnv => ({
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: admin.accessKeyId,
  AWS_SECRET_ACCESS_KEY: admin.secretAccessKey,
});
