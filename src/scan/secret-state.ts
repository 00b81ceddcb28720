import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretsManagerStore } from '../aws/secret-store';
import type { ManagedKey } from '../config';
import { messageOf } from '../domain/errors';
import { parseKeySecret } from '../domain/keys';
import type { SecretState } from './types';

/**
 * Reads one managed key's rotation state: DescribeSecret for the stages and the rotation function, the AWSPENDING
 * version's creation time when a rotation is unfinished, and the access key ids of AWSCURRENT, AWSPREVIOUS and
 * AWSPENDING (the last two only when they are on another version). Secret access keys are parsed and dropped at
 * once: the state holds ids only.
 */
export async function readSecretState(client: SecretsManagerClient, key: ManagedKey): Promise<SecretState> {
  const base = { key: key.name, secretId: key.secretId };
  try {
    const d = await client.send(new DescribeSecretCommand({ SecretId: key.secretId }));
    const stages = Object.entries(d.VersionIdsToStages ?? {});
    const currentVersionId = stages.find(([, s]) => s.includes('AWSCURRENT'))?.[0];
    const pendingVersionId = stages.find(
      ([, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'),
    )?.[0];
    const previousVersionId = stages.find(
      ([, s]) => s.includes('AWSPREVIOUS') && !s.includes('AWSCURRENT'),
    )?.[0];
    const state: SecretState = {
      ...base,
      ...(d.ARN ? { arn: d.ARN } : {}),
      rotationConfigured: Boolean(d.RotationLambdaARN),
      ...(currentVersionId ? { currentVersionId } : {}),
      ...(d.LastRotatedDate ? { lastRotatedDate: d.LastRotatedDate } : {}),
    };
    if (pendingVersionId) {
      const createdDate = await pendingCreated(client, key.secretId, pendingVersionId);
      const accessKeyId = await keyIdOfVersion(client, key.secretId, pendingVersionId);
      state.pending = {
        versionId: pendingVersionId,
        ...(createdDate ? { createdDate } : {}),
        ...(accessKeyId ? { accessKeyId } : {}),
      };
    }
    if (previousVersionId) {
      const previous = await keyIdOfVersion(client, key.secretId, previousVersionId);
      if (previous) state.previousAccessKeyId = previous;
    }
    const current = await client.send(
      new GetSecretValueCommand({ SecretId: key.secretId, VersionStage: 'AWSCURRENT' }),
    );
    const value = parseKeySecret(current.SecretString, `AWSCURRENT of ${key.secretId}`);
    state.currentAccessKeyId = value.accessKeyId;
    state.currentUserName = value.userName;
    return state;
  } catch (err) {
    return {
      ...base,
      rotationConfigured: false,
      error: `cannot read secret ${key.secretId}: ${messageOf(err)}`,
    };
  }
}

/**
 * The access key id a version holds; undefined when it holds no value (RotateSecret's AWSPENDING before
 * createSecret stored one) or no readable key secret (an old version: it does not make the state unreadable).
 */
export async function keyIdOfVersion(
  client: SecretsManagerClient,
  secretId: string,
  versionId: string,
): Promise<string | undefined> {
  const raw = await new SecretsManagerStore(client).getValue(secretId, { versionId });
  if (raw === undefined) return undefined;
  try {
    return parseKeySecret(raw, `version ${versionId} of ${secretId}`).accessKeyId;
  } catch {
    return undefined;
  }
}

async function pendingCreated(client: SecretsManagerClient, secretId: string, versionId: string) {
  let token: string | undefined;
  do {
    const r = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: secretId, ...(token ? { NextToken: token } : {}) }),
    );
    const v = r.Versions?.find((x) => x.VersionId === versionId);
    if (v) return v.CreatedDate;
    token = r.NextToken;
  } while (token);
  return undefined;
}

export type StartResult = { kind: 'started'; versionId?: string } | { kind: 'in-progress'; reason: string };

/**
 * Starts a rotation: RotateSecret, so that Secrets Manager runs the rotation hook's four steps. The function ARN
 * is passed only to a secret without one. A rotation that has not finished is reported, not fought.
 */
export async function startRotation(
  client: SecretsManagerClient,
  secretId: string,
  rotationLambdaArn: string | undefined,
): Promise<StartResult> {
  try {
    const r = await client.send(
      new RotateSecretCommand({
        SecretId: secretId,
        ...(rotationLambdaArn ? { RotationLambdaARN: rotationLambdaArn } : {}),
      }),
    );
    return { kind: 'started', ...(r.VersionId ? { versionId: r.VersionId } : {}) };
  } catch (err) {
    if (isRotationInProgress(err)) return { kind: 'in-progress', reason: messageOf(err) };
    throw err;
  }
}

/** `InvalidRequestException: A previous rotation isn't complete. That rotation will be reattempted.` */
export const isRotationInProgress = (err: unknown): boolean =>
  err instanceof Error &&
  err.name === 'InvalidRequestException' &&
  /previous rotation isn.t complete/i.test(err.message);
