import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface RunningSandbox {
  /** `npm run sandbox`'s first stdout line: the endpoints, credentials and configuration file, as JSON. */
  readonly line: string;
  readonly seeded: { iamUser: string; accessKeyId: string }[];
  readonly configFile: string;
  stop(): void;
}

/** `npm run sandbox` as a user runs it (tsx scripts/sandbox.ts in a child process), up once its line is printed. */
export async function startSandbox(
  env: NodeJS.ProcessEnv = { SANDBOX_SEED: 'demo' },
): Promise<RunningSandbox> {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    ['node_modules/tsx/dist/cli.mjs', 'scripts/sandbox.ts'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
  });
  const parsed = JSON.parse(line) as { seeded: RunningSandbox['seeded']; configFile: string };
  return { line, seeded: parsed.seeded, configFile: parsed.configFile, stop: () => child.kill('SIGTERM') };
}
