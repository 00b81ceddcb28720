import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, formatPath, toConfigIssues, uniqueIssues } from './errors';
import { jsonSyntaxIssue } from './json';
import { configSchema, crossKeyIssuesOfInvalid, sameSecret } from './schema';
import type { ManagedKey, RotatorConfig } from './schema';

export const CONFIG_PATH_VARIABLE = 'KEY_ROTATOR_CONFIG';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

function parse(value: unknown, source?: string): RotatorConfig {
  // A missing field reads better as "required" than as zod's "expected string, received undefined".
  const result = configSchema.safeParse(value, {
    error: (iss) => (iss.code === 'invalid_type' && iss.input === undefined ? 'required' : undefined),
  });
  if (!result.success) {
    const crossKey = crossKeyIssuesOfInvalid(value).map((i) => ({
      path: formatPath(i.path),
      message: i.message,
    }));
    throw new ConfigError(uniqueIssues([...toConfigIssues(result.error.issues), ...crossKey]), { source });
  }
  return deepFreeze(result.data);
}

/** Validates an already-parsed JSON document; returns a deeply frozen config or throws {@link ConfigError}. */
export function parseConfig(value: unknown): RotatorConfig {
  return parse(value);
}

/** Reads and validates a JSON config file; every failure is a {@link ConfigError} naming the file. */
export async function loadConfigFile(path: string): Promise<RotatorConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(error)})`;
    throw new ConfigError([{ path: '', message }], { source: file, cause: error });
  }
  // A byte order mark (some Windows editors write one) is not JSON, but it is no mistake in the file either.
  const json = text.replace(/^\uFEFF/, '');
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new ConfigError([jsonSyntaxIssue(json, error)], { source: file });
  }
  return parse(value, file);
}

/** Loads the file named by `KEY_ROTATOR_CONFIG` (resolved against the working directory: `/var/task` in Lambda). */
export async function loadConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<RotatorConfig> {
  const path = env[CONFIG_PATH_VARIABLE]?.trim();
  if (!path) {
    const message = `environment variable ${CONFIG_PATH_VARIABLE} is required: set it to the path of the JSON config file`;
    throw new ConfigError([{ path: '', message }]);
  }
  return loadConfigFile(path);
}

export interface KeyQuery {
  readonly name?: string;
  readonly iamUser?: string;
  /** A secret name or ARN; a full ARN (as in a rotation event's SecretId) matches the name it ends with. */
  readonly secretId?: string;
}

/**
 * The key matching every given criterion, or undefined. Throws a {@link ConfigError} when the query is empty
 * or matches several keys (the same IAM user name in two accounts).
 */
export function findKey(config: RotatorConfig, query: KeyQuery): ManagedKey | undefined {
  const { name, iamUser, secretId } = query;
  if (name === undefined && iamUser === undefined && secretId === undefined) {
    throw new ConfigError([{ path: '', message: 'findKey needs a name, iamUser or secretId' }]);
  }
  const matches = config.keys.filter(
    (k) =>
      (name === undefined || k.name === name) &&
      (iamUser === undefined || k.iamUser.toLowerCase() === iamUser.toLowerCase()) &&
      (secretId === undefined || sameSecret(k.secretId, secretId)),
  );
  if (matches.length > 1) {
    const names = matches.map((k) => k.name).join(', ');
    throw new ConfigError([
      { path: '', message: `${JSON.stringify(query)} matches several keys (${names})` },
    ]);
  }
  return matches[0];
}
