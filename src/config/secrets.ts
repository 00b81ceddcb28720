export const SECRETS_BELONG =
  'secrets belong in Secrets Manager; store the value there and reference the secret by name or ARN ' +
  '(tokenSecretId, slackWebhookSecretId)';
export const SECRETS_HINT = `looks like a secret: ${SECRETS_BELONG}`;

/** Property names that can only mean an inline secret; compared case-insensitively, ignoring `_` and `-`. */
const SECRET_NAMES = new Set([
  'apitoken',
  'token',
  'password',
  'passwd',
  'secret',
  'secretkey',
  'secretaccesskey',
  'awssecretaccesskey',
  'sessiontoken',
  'privatekey',
  'webhookurl',
  'slackwebhookurl',
]);

export const isSecretName = (key: string): boolean =>
  SECRET_NAMES.has(key.toLowerCase().replace(/[-_]/g, ''));

/**
 * Heuristic for a secret pasted into a field. The AWS secret-key pattern also requires both letter cases:
 * a real 40-character key lacks one with probability ~1e-9, while hex digests (git SHAs passed to a canary
 * job) and lowercase slugs are spared.
 */
export function looksLikeSecret(value: string): boolean {
  return (
    (/^[A-Za-z0-9/+=]{40}$/.test(value) && /[a-z]/.test(value) && /[A-Z]/.test(value)) ||
    /^11[0-9a-f]{32}$/.test(value) || // Jenkins API token
    /hooks\.slack\.com\//i.test(value) ||
    value.includes('PRIVATE KEY-----')
  );
}
