import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../engine/ports';

/** Property names whose values are never logged, whatever a caller passes. */
const SECRET_NAMES = /secret|password|token|authorization|cookie|crumb|credential/i;
/** Values shaped like AWS secret access keys or Jenkins API tokens (defence in depth). */
const SECRET_VALUES = [/(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])/g, /\b11[0-9a-f]{32}\b/g];
/** Ids that are meant to be logged even though their names match SECRET_NAMES. */
const ALLOWED = new Set(['clientRequestToken', 'token', 'secretId', 'tokenSecretId', 'credentialId']);

export function redact(value: unknown, name = '', depth = 0): unknown {
  if (depth > 6) return '[depth]';
  if (name && SECRET_NAMES.test(name) && !ALLOWED.has(name))
    return value === undefined ? undefined : '[redacted]';
  if (typeof value === 'string') return SECRET_VALUES.reduce((s, re) => s.replace(re, '[redacted]'), value);
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

/** The one structured JSON logger; every extra field passes through `redact` first. */
export function createLogger(serviceName = 'jenkins-key-rotator', logLevel?: string): AppLogger {
  const powertools = new Logger({
    serviceName,
    ...(logLevel ? { logLevel: logLevel as 'INFO' } : {}),
  });
  const emit = (level: 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>) =>
    extra ? powertools[level](message, redact(extra) as Record<string, unknown>) : powertools[level](message);
  return {
    powertools,
    info: (m, e) => emit('info', m, e),
    warn: (m, e) => emit('warn', m, e),
    error: (m, e) => emit('error', m, e),
    appendKeys: (keys) => powertools.appendKeys(redact(keys) as Record<string, unknown>),
  };
}
