import type { LocalCloud } from '../../localcloud/index';

export interface Capture {
  text(): string;
  stop(): void;
}

/** Records everything written to stdout and stderr (still passing it through) until stopped. */
export function captureOutput(): Capture {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tap =
    (orig: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (orig as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = tap(out);
  process.stderr.write = tap(err);
  return {
    text: () => chunks.join(''),
    stop: () => {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}

/**
 * Adds every secret the local cloud holds right now (every access key's secret, the emulators' admin
 * credentials) to `seen`, so a suite can prove that none of them reached its output.
 */
export function rememberSecrets(cloud: LocalCloud, seen: Set<string>): void {
  for (const k of cloud.aws.state.accessKeys.values()) seen.add(k.secretAccessKey);
  seen.add(cloud.aws.admin.secretAccessKey);
  seen.add(cloud.jenkins.admin.apiToken);
}

/** The forms a secret can take in output: as is, URL-encoded (once or twice) and JSON-escaped. */
export function writtenForms(secret: string): string[] {
  const url = encodeURIComponent(secret);
  return [...new Set([secret, url, encodeURIComponent(url), secret.replace(/\//g, '\\/')])];
}

/** How many of `secrets` appear in `text`, in any written form; never which (a failing test must not print one). */
export function leakedSecrets(text: string, secrets: Iterable<string>): number {
  return [...secrets].filter((s) => writtenForms(s).some((f) => text.includes(f))).length;
}
