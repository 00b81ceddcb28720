import { ECRClient } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * Where and as whom the AWS clients talk. In Lambda and the CLI everything comes from the SDK's own chain
 * (AWS_REGION, AWS_ENDPOINT_URL, the credential chain); tests and `npm start` pass the local cloud here.
 */
export interface AwsSetup {
  region: string;
  endpoint?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  maxAttempts?: number;
  /** Per-request timeout in ms (default 30 s): a hung call fails, and the step's retry converges. */
  requestTimeoutMs?: number;
}

/** The SDK sets no request timeout by default: a call that hangs would hold the function until its own timeout. */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

const base = (s: AwsSetup) => ({
  region: s.region,
  ...(s.endpoint ? { endpoint: s.endpoint } : {}),
  ...(s.credentials ? { credentials: s.credentials } : {}),
  ...(s.maxAttempts ? { maxAttempts: s.maxAttempts } : {}),
  requestHandler: {
    connectionTimeout: 5_000,
    requestTimeout: s.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  },
});

export interface AwsClients {
  setup: AwsSetup;
  iam: IAMClient;
  /**
   * IAM without SDK retries, for CreateAccessKey only: a retry after a lost answer would create a second key, and
   * the engine must know whether the one request it sent was refused (4xx) or may have been applied.
   */
  iamOnce: IAMClient;
  secrets: SecretsManagerClient;
  sts: STSClient;
}

/** Built once per cold start and shared (clients at module scope reuse connections). */
export function createAwsClients(setup: AwsSetup): AwsClients {
  return {
    setup,
    iam: new IAMClient(base(setup)),
    iamOnce: new IAMClient(base({ ...setup, maxAttempts: 1 })),
    secrets: new SecretsManagerClient(base(setup)),
    sts: new STSClient(base(setup)),
  };
}

/** Clients signed with a candidate key itself (never retried by the SDK: the engine polls). */
export function clientsForKey(setup: AwsSetup, credentials: AwsCredentialIdentity, region: string) {
  const s: AwsSetup = { ...setup, region, credentials, maxAttempts: 1 };
  return { sts: new STSClient(base(s)), ecr: new ECRClient(base(s)) };
}

/** Client settings for any SDK client of the rotator's setup, signed with `credentials` when given, in `region`. */
export const clientSettings = (setup: AwsSetup, over: Partial<AwsSetup> = {}) => base({ ...setup, ...over });

/**
 * IAM in another account through AssumeRole, credentials cached until five minutes before they expire: the
 * client, one without SDK retries for CreateAccessKey (see {@link AwsClients.iamOnce}), and the credentials
 * provider they share (for other clients in that account).
 */
export function assumeRoleIam(
  clients: AwsClients,
  roleArn: string,
  externalId: string | undefined,
): { iam: IAMClient; iamOnce: IAMClient; credentials: AwsCredentialIdentityProvider } {
  let cached: AwsCredentialIdentity | undefined;
  const provider: AwsCredentialIdentityProvider = async () => {
    if (cached?.expiration && cached.expiration.getTime() - Date.now() > 5 * 60_000) return cached;
    const r = await clients.sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: 'jenkins-key-rotator',
        DurationSeconds: 900,
        ...(externalId ? { ExternalId: externalId } : {}),
      }),
    );
    const c = r.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey)
      throw new Error(`AssumeRole ${roleArn} returned no credentials`);
    cached = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    };
    return cached;
  };
  return {
    iam: new IAMClient(base({ ...clients.setup, credentials: provider })),
    iamOnce: new IAMClient(base({ ...clients.setup, credentials: provider, maxAttempts: 1 })),
    credentials: provider,
  };
}
