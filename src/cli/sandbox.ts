import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { CliError, readTextFile } from './errors';
import type { CliIo } from './io';

/** What the CLI takes from `npm run sandbox`'s JSON line. */
export interface SandboxTarget {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The rotator configuration for the sandbox's seeded setup, when the sandbox wrote one (`configFile`). */
  configFile?: string;
  /** The emulated rotation function the seeded sandbox deployed (`aws.rotationLambdaArn`): plan's default. */
  rotationLambdaArn?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The sandbox's `aws` part (and `configFile`) from one line, or undefined when the line is not the sandbox's JSON. */
export function parseSandboxLine(line: string): SandboxTarget | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(json)) return undefined;
  const aws = json['aws'];
  if (!isRecord(aws)) return undefined;
  const endpoint = str(aws['endpoint']);
  const accessKeyId = str(aws['accessKeyId']);
  const secretAccessKey = str(aws['secretAccessKey']);
  if (!endpoint || !accessKeyId || !secretAccessKey) return undefined;
  const configFile = str(json['configFile']);
  const rotationLambdaArn = str(aws['rotationLambdaArn']);
  return {
    endpoint,
    region: str(aws['region']) ?? 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    ...(configFile ? { configFile } : {}),
    ...(rotationLambdaArn ? { rotationLambdaArn } : {}),
  };
}

/** The first sandbox line of a text: npm's own header lines and anything else before it are skipped. */
export function parseSandboxText(text: string): SandboxTarget | undefined {
  for (const line of text.split('\n')) {
    const t = parseSandboxLine(line);
    if (t) return t;
  }
  return undefined;
}

const HINT = 'expected the JSON line `npm run sandbox` prints ({"aws":{"endpoint",…}})';

/**
 * Reads the sandbox's line from a file, or from stdin (`-`). On stdin it stops at the first matching line, so
 * `npm run sandbox | key-rotator --sandbox - …` works while the sandbox keeps running.
 */
export async function readSandbox(source: string, io: CliIo, timeoutMs = 60_000): Promise<SandboxTarget> {
  if (source !== '-') {
    const file = resolve(io.cwd, source);
    const text = await readTextFile(
      file,
      (code) => `--sandbox ${source}: ${code === 'ENOENT' ? 'file not found' : `cannot read it (${code})`}`,
    );
    const t = parseSandboxText(text);
    if (!t) throw new CliError(`--sandbox ${source}: no sandbox line in the file; ${HINT}`);
    return t;
  }
  if (io.stdin.isTTY)
    throw new CliError(
      `--sandbox -: stdin is a terminal; pipe the sandbox into it: npm run sandbox | key-rotator --sandbox - …`,
    );
  const rl = createInterface({ input: io.stdin, crlfDelay: Infinity });
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await Promise.race([
      (async () => {
        for await (const line of rl) {
          const t = parseSandboxLine(line);
          if (t) return t;
        }
        return undefined;
      })(),
      new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), timeoutMs);
      }),
    ]);
    if (found === 'timeout')
      throw new CliError(
        `--sandbox -: no sandbox line on stdin within ${Math.round(timeoutMs / 1000)} s; ${HINT}`,
      );
    if (!found) throw new CliError(`--sandbox -: stdin ended without a sandbox line; ${HINT}`);
    return found;
  } finally {
    clearTimeout(timer);
    rl.close();
    // The sandbox keeps running (and its pipe open): stop reading so this process can exit.
    (io.stdin as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  }
}
