import { Logger } from '@aws-lambda-powertools/logger';
import { REDACTED, redactSecretsInText } from '../domain/secret-text';
import type { Log } from '../engine/ports';

/** Property names whose values are never logged, whatever a caller passes. */
const SECRET_NAMES = /secret|password|token|authorization|cookie|crumb|credential/i;
/** Ids that are meant to be logged even though their names match SECRET_NAMES. */
const ALLOWED = new Set(['clientRequestToken', 'token', 'secretId', 'tokenSecretId', 'credentialId']);

/**
 * The last line of defence: values of secret-named properties are replaced, and every string (messages, free
 * text fields, error messages) has the secrets found in it replaced: AWS secret access keys, Jenkins tokens,
 * Slack webhook URLs and private keys, and the value in `name=value`, `name: value`, `"name": "value"`,
 * query-string and URL-encoded forms (see `src/domain/secret-text.ts`). Ids stay readable: access key ids,
 * ClientRequestToken UUIDs, secret names and ARNs.
 */
export function redact(value: unknown, name = '', depth = 0): unknown {
  if (depth > 6) return '[depth]';
  if (name && SECRET_NAMES.test(name) && !ALLOWED.has(name))
    return value === undefined ? undefined : REDACTED;
  if (typeof value === 'string') return redactSecretsInText(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, '', depth + 1));
  if (value instanceof Error) return { name: value.name, message: redact(value.message, '', depth + 1) };
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k, depth + 1);
    return out;
  }
  return value;
}

export interface AppLogger extends Log {
  readonly powertools: Logger;
  appendKeys(keys: Record<string, unknown>): void;
}

/** The one structured JSON logger; the message and every extra field pass through `redact` first. */
export function createLogger(serviceName = 'jenkins-key-rotator', logLevel?: string): AppLogger {
  const powertools = new Logger({
    serviceName,
    ...(logLevel ? { logLevel: logLevel as 'INFO' } : {}),
  });
  const emit = (level: 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>) => {
    const text = redactSecretsInText(message);
    if (extra) powertools[level](text, redact(extra) as Record<string, unknown>);
    else powertools[level](text);
  };
  return {
    powertools,
    info: (m, e) => emit('info', m, e),
    warn: (m, e) => emit('warn', m, e),
    error: (m, e) => emit('error', m, e),
    appendKeys: (keys) => powertools.appendKeys(redact(keys) as Record<string, unknown>),
  };
}
