import { ECRClient } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { AwsState } from '../../localcloud/aws/state';
import { clientConfig, type Creds } from '../support/aws';

type UserOptions = Parameters<AwsState['createUser']>[2];

/** A user of the emulator's default account with an established (usable at once) key: its record and creds. */
export function userWithKey(aws: AwsEmulator, name: string, opts: UserOptions = {}) {
  const user = aws.state.createUser(aws.state.defaultAccountId, name, opts);
  const key = aws.state.createAccessKey(user, { established: true });
  const creds: Creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  return { user, key, creds };
}

/** Such a user, with IAM, ECR and STS clients signed with its key. */
export function userClients(aws: AwsEmulator, name: string, opts: UserOptions = {}) {
  const { user, creds } = userWithKey(aws, name, opts);
  return {
    user,
    creds,
    iam: new IAMClient(clientConfig(aws.url, creds)),
    ecr: new ECRClient(clientConfig(aws.url, creds)),
    sts: new STSClient(clientConfig(aws.url, creds)),
  };
}

/** An identity-based policy document of these statements. */
export const policyDoc = (...statements: Record<string, unknown>[]) =>
  JSON.stringify({ Version: '2012-10-17', Statement: statements });

export const ALLOW_ECR_LOGIN = policyDoc({
  Effect: 'Allow',
  Action: 'ecr:GetAuthorizationToken',
  Resource: '*',
});
export const DENY_ECR = policyDoc({ Effect: 'Deny', Action: 'ecr:*', Resource: '*' });
