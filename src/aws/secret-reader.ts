import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';

/**
 * How long a secret the rotator only reads (a Jenkins token, a CA certificate bundle, the Slack webhook URL) is
 * reused before it is read again: one read per secret for a whole run, yet a warm function picks up a changed
 * token within minutes instead of holding the old one until its next cold start.
 */
export const SECRET_MAX_AGE_SECONDS = 300;

/** Reads a secret's current string value (undefined for a binary secret). */
export type ReadSecret = (secretId: string) => Promise<string | undefined>;

/**
 * A cached reader of secrets' `AWSCURRENT` values through `client` (so through its endpoint and credentials: the
 * local cloud in tests), Powertools Parameters' `SecretsProvider` keeping each value for `maxAgeSeconds`. A failed
 * read is not kept, and it fails with the SDK's own error (ResourceNotFoundException, AccessDeniedException, a
 * throttling error ...), not Powertools' wrapper, so that callers tell them apart as before. Nothing is logged.
 */
export function cachedSecretReader(
  client: SecretsManagerClient,
  maxAgeSeconds = SECRET_MAX_AGE_SECONDS,
): ReadSecret {
  const provider = new SecretsProvider({ awsSdkV3Client: client });
  // Powertools caches values, not reads in flight: two Jenkins targets sharing one token secret would each read it
  // at a cold start. One read per secret at a time; the provider's cache answers once it is done.
  const inFlight = new Map<string, Promise<string | undefined>>();
  const read = async (secretId: string): Promise<string | undefined> => {
    try {
      const value = await provider.get(secretId, { maxAge: maxAgeSeconds });
      return typeof value === 'string' ? value : undefined;
    } catch (err) {
      throw err instanceof GetParameterError && err.cause !== undefined ? err.cause : err;
    }
  };
  return (secretId) => {
    const pending = inFlight.get(secretId);
    if (pending) return pending;
    const p = read(secretId).finally(() => inFlight.delete(secretId));
    inFlight.set(secretId, p);
    return p;
  };
}
