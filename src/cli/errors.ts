import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { ConfigError } from '../config';
import { redact } from '../observability/logger';

import { UsageError } from './exit';

export { EXIT, UsageError, type ExitCode } from './exit';

/** A failure the CLI explains itself in one line (exit 1). */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** A file's text; when it cannot be read, a {@link CliError} whose message `explain` builds from the error code. */
export async function readTextFile(file: string, explain: (code: string) => string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(explain((err as NodeJS.ErrnoException).code ?? String(err)));
  }
}

const CREDENTIAL_ERRORS = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidAccessKeyId',
  'AuthFailure',
]);

const firstLine = (s: string): string =>
  (s.split('\n').find((l) => l.trim() !== '') ?? '').replace(/\s+/g, ' ').trim();

/** Secret-shaped values removed, as the logger does; messages are built from ids, this is the last line of defence. */
export const scrub = (s: string): string => redact(s) as string;

/** The first non-empty line of a message, whitespace collapsed, secret-shaped values removed. */
export const oneLine = (s: string): string => scrub(firstLine(s));

/** The one line a human reads for a failure: what went wrong and, where it is clear, what to do. */
export function describeError(err: unknown, ctx: { endpoint?: string } = {}): string {
  if (err instanceof ConfigError) {
    const [first, ...rest] = err.issues;
    const where = err.source ? ` in ${err.source}` : '';
    const issue = first ? `${first.path ? `${first.path}: ` : ''}${first.message}` : 'invalid';
    const more = rest.length ? ` (and ${rest.length} more; run key-rotator validate-config)` : '';
    return scrub(firstLine(`invalid configuration${where}: ${issue}${more}`));
  }
  if (!(err instanceof Error)) return scrub(firstLine(String(err)));
  const message = firstLine(err.message);
  const name = err.name;
  const code = (err as NodeJS.ErrnoException).code;
  let line: string;
  if (err instanceof UsageError || err instanceof CliError) line = message;
  else if (name === 'CredentialsProviderError')
    line = `no AWS credentials found (${message}): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --sandbox`;
  else if (CREDENTIAL_ERRORS.has(name))
    line = `AWS rejected the credentials (${name}: ${message}); check AWS_PROFILE/AWS_ACCESS_KEY_ID${ctx.endpoint ? ` and the endpoint ${ctx.endpoint}` : ''}`;
  else if (/^AccessDenied/.test(name)) line = `AWS denied access (${name}): ${message}`;
  else if (
    ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT'].includes(code ?? '') ||
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(message)
  )
    line = `cannot reach ${ctx.endpoint ?? 'AWS'} (${code ?? message})${ctx.endpoint ? ': is the endpoint (local cloud) running?' : ''}`;
  else if (name === 'Error' || name === 'TypeError' || name === 'InputError' || name === 'RotationError')
    line = message;
  else line = `${name}: ${message}`;
  return scrub(firstLine(line) || name);
}

/** Everything `--verbose` adds: the stack, the cause chain, and the AWS request metadata. Ids only. */
export function errorDetails(err: unknown): string {
  const lines: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof Error) {
      lines.push(depth === 0 ? (e.stack ?? `${e.name}: ${e.message}`) : `caused by: ${e.stack ?? e.message}`);
      const meta = (e as { $metadata?: Record<string, unknown> }).$metadata;
      if (meta) lines.push(`  AWS request: ${JSON.stringify(meta)}`);
      if (e instanceof ConfigError)
        for (const i of e.issues) lines.push(`  ${i.path || '(file)'}: ${i.message}`);
      e = e.cause;
    } else {
      lines.push(`caused by: ${inspect(e, { depth: 2 })}`);
      e = undefined;
    }
  }
  return scrub(lines.join('\n'));
}
