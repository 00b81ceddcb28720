import { GetAccessKeyLastUsedCommand, type IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';

/**
 * The IAM user owning an access key in the client's account (GetAccessKeyLastUsed returns its UserName), or
 * undefined when IAM does not know the key there. IAM answers AccessDenied, not NoSuchEntity, for a key of
 * another account or one that does not exist; a missing iam:GetAccessKeyLastUsed permission looks the same,
 * which is why the caller falls back to ListAccessKeys on the users it manages.
 */
export async function accessKeyOwner(iam: IAMClient, accessKeyId: string): Promise<string | undefined> {
  try {
    const r = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }));
    return r.UserName || undefined;
  } catch (err) {
    if (err instanceof Error && /^(AccessDenied|NoSuchEntity)/.test(err.name)) return undefined;
    throw err;
  }
}

/** The account of the caller's own credentials (STS GetCallerIdentity). */
export async function callerAccountId(sts: STSClient): Promise<string> {
  const r = await sts.send(new GetCallerIdentityCommand({}));
  if (!r.Account) throw new Error('GetCallerIdentity returned no account');
  return r.Account;
}
