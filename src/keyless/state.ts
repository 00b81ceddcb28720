/**
 * What the keyless migration records, where it belongs: on the IAM user, `key-rotator:keyless` (when the key was
 * retired: the scan stops rotating it); on each role, when its trust policy was last set and when it was proven.
 */

/** User tag: the managed key is keyless since this ISO date. */
export const KEYLESS_TAG = 'key-rotator:keyless';
/** Role tag: `<ISO> <sub>`, when a web-identity session of the role from that job logged in to ECR. */
export const PROVEN_TAG = 'key-rotator:proven';
/** Role tag: when the migration last set the role's trust policy (a proof must be newer). */
export const TRUST_SET_TAG = 'key-rotator:trust-set';

/** The date a `key-rotator:keyless` tag holds, if it is one. */
export function keylessSince(tags: Record<string, string>): Date | undefined {
  const v = tags[KEYLESS_TAG];
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
}

export function parseProven(value: string | undefined): { at: Date; sub: string } | undefined {
  if (!value) return undefined;
  const [at, sub = ''] = value.split(' ');
  const d = new Date(at ?? '');
  return Number.isNaN(d.getTime()) ? undefined : { at: d, sub };
}
