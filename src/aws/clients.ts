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
}

const base = (s: AwsSetup) => ({
  region: s.region,
  ...(s.endpoint ? { endpoint: s.endpoint } : {}),
  ...(s.credentials ? { credentials: s.credentials } : {}),
  ...(s.maxAttempts ? { maxAttempts: s.maxAttempts } : {}),
});

export interface AwsClients {
  setup: AwsSetup;
  iam: IAMClient;
  secrets: SecretsManagerClient;
  sts: STSClient;
}

/** Built once per cold start and shared (clients at module scope reuse connections). */
export function createAwsClients(setup: AwsSetup): AwsClients {
  return {
    setup,
    iam: new IAMClient(base(setup)),
    secrets: new SecretsManagerClient(base(setup)),
    sts: new STSClient(base(setup)),
  };
}

/** Clients signed with a candidate key itself (never retried by the SDK: the engine polls). */
export function clientsForKey(setup: AwsSetup, credentials: AwsCredentialIdentity, region: string) {
  const s: AwsSetup = { ...setup, region, credentials, maxAttempts: 1 };
  return { sts: new STSClient(base(s)), ecr: new ECRClient(base(s)) };
}

/** IAM in another account through AssumeRole, credentials cached until five minutes before they expire. */
export function assumeRoleIam(
  clients: AwsClients,
  roleArn: string,
  externalId: string | undefined,
): IAMClient {
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
  return new IAMClient(base({ ...clients.setup, credentials: provider }));
}
