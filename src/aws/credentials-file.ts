import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Credentials } from '../domain/keys';

/**
 * The AWS shared credentials file (`~/.aws/credentials`, or AWS_SHARED_CREDENTIALS_FILE) of a self-rotation run
 * outside Jenkins (cron, a container): the run signs in with a profile's key, and must leave the new key there,
 * or the next run would start with a key it has just deactivated.
 */
export interface CredentialsFile {
  path: string;
  profile: string;
}

/** Where the SDK's default chain reads a profile's key from, given the environment. */
export function credentialsFileOf(env: NodeJS.ProcessEnv): CredentialsFile {
  return {
    path: env['AWS_SHARED_CREDENTIALS_FILE']?.trim() || join(homedir(), '.aws', 'credentials'),
    profile: env['AWS_PROFILE']?.trim() || 'default',
  };
}

const SECTION = /^\s*\[\s*([^\]]+?)\s*\]\s*$/;

/** The profile's key in the file, or undefined when the file or the profile has none. */
export async function readProfileKey(file: CredentialsFile): Promise<Credentials | undefined> {
  const text = await readFile(file.path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let inProfile = false;
  const found: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const section = SECTION.exec(line);
    if (section) {
      inProfile = section[1] === file.profile;
      continue;
    }
    const m = /^\s*([\w]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (inProfile && m?.[1] && m[2] !== undefined) found[m[1].toLowerCase()] = m[2];
  }
  const id = found['aws_access_key_id'];
  const secret = found['aws_secret_access_key'];
  return id && secret ? { accessKeyId: id, secretAccessKey: secret } : undefined;
}

/**
 * Replaces the profile's key in the file, keeping every other line (other profiles, comments, settings): written
 * to a temporary file beside it with mode 0600, then renamed over it, so the file is never half written.
 */
export async function writeProfileKey(file: CredentialsFile, key: Credentials): Promise<void> {
  const text = await readFile(file.path, 'utf8');
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  let inProfile = false;
  let seen = false;
  const keyLines = [
    `aws_access_key_id = ${key.accessKeyId}`,
    `aws_secret_access_key = ${key.secretAccessKey}`,
  ];
  for (const line of lines) {
    const section = SECTION.exec(line);
    if (section) {
      inProfile = section[1] === file.profile;
      out.push(line);
      if (inProfile) {
        seen = true;
        out.push(...keyLines);
      }
      continue;
    }
    if (inProfile && /^\s*(aws_access_key_id|aws_secret_access_key|aws_session_token)\s*=/i.test(line))
      continue;
    out.push(line);
  }
  if (!seen) {
    if (out.length && out.at(-1) !== '') out.push('');
    out.push(`[${file.profile}]`, ...keyLines, '');
  }
  const tmp = join(dirname(file.path), `.credentials-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(tmp, out.join('\n'), { mode: 0o600 });
    await rename(tmp, file.path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
