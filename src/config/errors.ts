import type * as z from 'zod';
import { SECRETS_HINT, isSecretName } from './secrets';

export interface ConfigIssue {
  /** Where the problem is, e.g. `keys[0].jenkins[1].url`; empty for the file or the document as a whole. */
  readonly path: string;
  readonly message: string;
  /** For a JSON syntax error: where in the file (1-based). */
  readonly line?: number;
  readonly column?: number;
}

/** The configuration is unusable. Never retryable: the file has to be fixed and redeployed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  /** The file (or other origin) the configuration came from, when known. */
  readonly source: string | undefined;

  constructor(issues: readonly ConfigIssue[], options: { source?: string; cause?: unknown } = {}) {
    const where = options.source === undefined ? '' : ` in ${options.source}`;
    const lines = issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`);
    super(`Invalid key-rotator configuration${where}:\n${lines.join('\n')}`, { cause: options.cause });
    this.issues = issues;
    this.source = options.source;
  }
}

/** `['keys', 0, 'jenkins', 1, 'url']` → `keys[0].jenkins[1].url`; odd record keys are quoted: `parameters["A B"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => {
      if (typeof p === 'number') return `[${p}]`;
      const key = String(p);
      if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `[${JSON.stringify(key)}]`;
      return i === 0 ? key : `.${key}`;
    })
    .join('');
}

/** One issue per offending field: an unknown-keys issue becomes one line per key, so each typo is named. */
export function toConfigIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const message = isSecretName(key) ? SECRETS_HINT : 'unknown field (check the spelling)';
        out.push({ path: formatPath([...issue.path, key]), message });
      }
    } else if (issue.code === 'invalid_key') {
      for (const inner of issue.issues) out.push({ path: formatPath(issue.path), message: inner.message });
    } else {
      out.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return uniqueIssues(out);
}

/** The issues without repeats (same path and message), in their order. */
export const uniqueIssues = (issues: readonly ConfigIssue[]): ConfigIssue[] =>
  issues.filter((a, i) => issues.findIndex((b) => b.path === a.path && b.message === a.message) === i);
