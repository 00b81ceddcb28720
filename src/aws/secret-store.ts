import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { InputError } from '../domain/errors';
import type { SecretStore } from '../engine/ports';

export class SecretsManagerStore implements SecretStore {
  constructor(private readonly client: SecretsManagerClient) {}

  async describe(secretId: string) {
    try {
      const d = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
      return { arn: d.ARN ?? secretId, name: d.Name ?? secretId, versions: d.VersionIdsToStages ?? {} };
    } catch (err) {
      if (err instanceof ResourceNotFoundException)
        throw new InputError(`SecretId: secret ${secretId} does not exist (or is scheduled for deletion)`, {
          fields: ['SecretId'],
          secretId,
        });
      throw err;
    }
  }

  async getValue(secretId: string, select: { versionId?: string; stage?: string }) {
    try {
      const r = await this.client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          ...(select.versionId ? { VersionId: select.versionId } : {}),
          ...(select.stage ? { VersionStage: select.stage } : {}),
        }),
      );
      return r.SecretString;
    } catch (err) {
      if (err instanceof ResourceNotFoundException && (select.versionId || select.stage !== 'AWSCURRENT'))
        return undefined;
      throw err;
    }
  }

  async putPending(secretId: string, token: string, value: string, rotationToken?: string) {
    await this.client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        ClientRequestToken: token,
        SecretString: value,
        VersionStages: ['AWSPENDING'],
        ...(rotationToken ? { RotationToken: rotationToken } : {}),
      }),
    );
  }

  async moveStage(secretId: string, stage: string, to: string | undefined, from: string | undefined) {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: stage,
        ...(to ? { MoveToVersionId: to } : {}),
        ...(from ? { RemoveFromVersionId: from } : {}),
      }),
    );
  }
}
