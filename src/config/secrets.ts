import { describeSecretFinding, findSecretInText } from '../domain/secret-text';

export { isSecretName } from '../domain/secret-text';

export const SECRETS_BELONG =
  'secrets belong in Secrets Manager; store the value there and reference the secret by name or ARN ' +
  '(tokenSecretId, slackWebhookSecretId)';
export const SECRETS_HINT = `looks like a secret: ${SECRETS_BELONG}`;

/** Why a free-text configuration value is refused, or undefined: names the kind of secret, never the value. */
export function secretInConfigText(value: string): string | undefined {
  const found = findSecretInText(value);
  return found && `holds ${describeSecretFinding(found)}: ${SECRETS_BELONG}`;
}
