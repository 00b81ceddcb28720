import {
  BatchCheckLayerAvailabilityCommand,
  BatchGetImageCommand,
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  GetDownloadUrlForLayerCommand,
  InitiateLayerUploadCommand,
  ListImagesCommand,
  PutImageCommand,
  UploadLayerPartCommand,
} from '@aws-sdk/client-ecr';
import { AttachUserPolicyCommand, CreatePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws } from '../support/aws';
import { digestOf, manifestOf, pushImage } from './images';
import { userWithKey } from './users';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOUR = 3_600_000;
const repoArn = (name: string) => `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${name}`;

let aws: AwsEmulator;
let admin: ECRClient;
let iam: IAMClient;

beforeAll(async () => {
  aws = await startAws();
  admin = new ECRClient(clientConfig(aws.url, aws.admin));
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
  for (const name of ['team/app', 'team/other', 'pull/app', 'errors/app', 'managed/app'])
    await admin.send(new CreateRepositoryCommand({ repositoryName: name }));
});
afterAll(async () => {
  admin.destroy();
  iam.destroy();
  await aws.close();
});

/** A user whose key signs an ECR client; its permissions come from the policies the test attaches. */
function ecrUser(name: string) {
  const { user, creds } = userWithKey(aws, name);
  return { user, ecr: new ECRClient(clientConfig(aws.url, creds)) };
}

const denied = (arn: string, action: string, resource: string) => ({
  name: 'AccessDeniedException',
  message: `User: ${arn} is not authorized to perform: ${action} on resource: ${resource}`,
  $metadata: { httpStatusCode: 400 },
});

async function registry(client: ECRClient, path: string, init: RequestInit = {}) {
  const { authorizationData } = await client.send(new GetAuthorizationTokenCommand({}));
  return fetch(`${aws.url}${path}`, {
    ...init,
    headers: { authorization: `Basic ${authorizationData![0]!.authorizationToken}` },
  });
}

describe('a push policy scoped to one repository', () => {
  it('lets the key push there, and nothing else: other repositories, pulls and listing are denied', async () => {
    const { user, ecr } = ecrUser('jenkins-pusher');
    const document = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Login', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        {
          Sid: 'Push',
          Effect: 'Allow',
          Action: [
            'ecr:BatchCheckLayerAvailability',
            'ecr:InitiateLayerUpload',
            'ecr:UploadLayerPart',
            'ecr:CompleteLayerUpload',
            'ecr:PutImage',
          ],
          Resource: repoArn('team/app'),
        },
      ],
    });
    const { Policy } = await iam.send(
      new CreatePolicyCommand({ PolicyName: 'push-team-app', PolicyDocument: document }),
    );
    await iam.send(new AttachUserPolicyCommand({ UserName: 'jenkins-pusher', PolicyArn: Policy!.Arn }));

    const pushed = await pushImage(ecr, 'team/app', 'v1');
    expect(pushed.digest).toBe(digestOf(pushed.manifest));
    // The image is there for someone allowed to pull it.
    const got = await admin.send(
      new BatchGetImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'v1' }] }),
    );
    expect(got.images?.[0]?.imageManifest).toBe(pushed.manifest);

    await expect(pushImage(ecr, 'team/other', 'v1')).rejects.toMatchObject(
      denied(user.arn, 'ecr:BatchCheckLayerAvailability', repoArn('team/other')),
    );
    await expect(
      ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'team/other' })),
    ).rejects.toMatchObject(denied(user.arn, 'ecr:InitiateLayerUpload', repoArn('team/other')));
    await expect(
      ecr.send(new BatchGetImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'v1' }] })),
    ).rejects.toMatchObject(denied(user.arn, 'ecr:BatchGetImage', repoArn('team/app')));
    await expect(
      ecr.send(
        new GetDownloadUrlForLayerCommand({ repositoryName: 'team/app', layerDigest: pushed.layerDigest }),
      ),
    ).rejects.toMatchObject(denied(user.arn, 'ecr:GetDownloadUrlForLayer', repoArn('team/app')));
    await expect(ecr.send(new DescribeRepositoriesCommand({}))).rejects.toMatchObject(
      denied(user.arn, 'ecr:DescribeRepositories', '*'),
    );
    // A repository that does not exist is not revealed to a caller that may not act on it.
    await expect(
      ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'team/missing' })),
    ).rejects.toMatchObject(denied(user.arn, 'ecr:InitiateLayerUpload', repoArn('team/missing')));
    expect(aws.state.ecrRepositories.get(repoArn('team/other'))?.uploads.size).toBe(0);

    // The registry applies the same policy to the key's token: no pulls.
    const manifest = await registry(ecr, '/v2/team/app/manifests/v1');
    expect(manifest.status).toBe(403);
    expect(await manifest.json()).toEqual({
      errors: [
        {
          code: 'DENIED',
          message: `User: ${user.arn} is not authorized to perform: ecr:BatchGetImage on resource: ${repoArn('team/app')}`,
          detail: null,
        },
      ],
    });
    ecr.destroy();
  });

  it('AWS managed ECR policies: PowerUser pushes, ReadOnly pulls but cannot push', async () => {
    const power = ecrUser('power-user');
    await iam.send(
      new AttachUserPolicyCommand({
        UserName: 'power-user',
        PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser',
      }),
    );
    const pushed = await pushImage(power.ecr, 'managed/app', 'latest');

    const reader = ecrUser('read-only-user');
    await iam.send(
      new AttachUserPolicyCommand({
        UserName: 'read-only-user',
        PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
      }),
    );
    const got = await reader.ecr.send(
      new BatchGetImageCommand({ repositoryName: 'managed/app', imageIds: [{ imageDigest: pushed.digest }] }),
    );
    expect(got.images?.[0]?.imageId).toEqual({ imageDigest: pushed.digest });
    await expect(
      reader.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'managed/app' })),
    ).rejects.toMatchObject(denied(reader.user.arn, 'ecr:InitiateLayerUpload', repoArn('managed/app')));
    power.ecr.destroy();
    reader.ecr.destroy();
  });
});

describe('pushing', () => {
  it('checks layers, parts, digests and manifests the way ECR does', async () => {
    const repositoryName = 'errors/app';
    const data = Buffer.from('0123456789');
    const digest = digestOf(data);
    const check = await admin.send(
      new BatchCheckLayerAvailabilityCommand({ repositoryName, layerDigests: [digest, 'sha256:not-hex'] }),
    );
    expect(check.layers).toEqual([]);
    expect(check.failures).toEqual([
      { layerDigest: digest, failureCode: 'MissingLayerDigest', failureReason: 'Could not find layer' },
      {
        layerDigest: 'sha256:not-hex',
        failureCode: 'InvalidLayerDigest',
        failureReason: 'Invalid layer digest',
      },
    ]);

    const { uploadId, partSize } = await admin.send(new InitiateLayerUploadCommand({ repositoryName }));
    expect(partSize).toBe(10_485_760);
    await expect(
      admin.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [digest] })),
    ).rejects.toMatchObject({ name: 'EmptyUploadException' });
    // Two parts, the second continuing where the first ended.
    const part = (first: number, bytes: Buffer) =>
      admin.send(
        new UploadLayerPartCommand({
          repositoryName,
          uploadId,
          partFirstByte: first,
          partLastByte: first + bytes.length - 1,
          layerPartBlob: bytes,
        }),
      );
    expect((await part(0, data.subarray(0, 4))).lastByteReceived).toBe(3);
    await expect(part(6, data.subarray(6))).rejects.toMatchObject({ name: 'InvalidLayerPartException' });
    expect((await part(4, data.subarray(4))).lastByteReceived).toBe(9);
    await expect(
      admin.send(
        new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [digestOf('other')] }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidLayerException' });
    const done = await admin.send(
      new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [digest] }),
    );
    expect(done).toMatchObject({ layerDigest: digest, registryId: ACCOUNT, repositoryName });
    await expect(
      admin.send(
        new UploadLayerPartCommand({
          repositoryName,
          uploadId,
          partFirstByte: 10,
          partLastByte: 10,
          layerPartBlob: Buffer.from('x'),
        }),
      ),
    ).rejects.toMatchObject({ name: 'UploadNotFoundException' });
    const again = await admin.send(
      new BatchCheckLayerAvailabilityCommand({ repositoryName, layerDigests: [digest] }),
    );
    expect(again.layers).toEqual([{ layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: 10 }]);
    expect(again.failures).toEqual([]);

    const second = await admin.send(new InitiateLayerUploadCommand({ repositoryName }));
    await admin.send(
      new UploadLayerPartCommand({
        repositoryName,
        uploadId: second.uploadId,
        partFirstByte: 0,
        partLastByte: 9,
        layerPartBlob: data,
      }),
    );
    await expect(
      admin.send(
        new CompleteLayerUploadCommand({ repositoryName, uploadId: second.uploadId, layerDigests: [digest] }),
      ),
    ).rejects.toMatchObject({ name: 'LayerAlreadyExistsException' });

    const missing = digestOf('never uploaded');
    await expect(
      admin.send(
        new PutImageCommand({
          repositoryName,
          imageTag: 'v1',
          imageManifest: manifestOf({ digest, size: 10 }, { digest: missing, size: 14 }),
        }),
      ),
    ).rejects.toMatchObject({
      name: 'LayersNotFoundException',
      message: expect.stringContaining(missing) as unknown,
    });
    await expect(
      admin.send(new PutImageCommand({ repositoryName, imageTag: 'v1', imageManifest: '{not json' })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      admin.send(new PutImageCommand({ repositoryName: 'errors/none', imageTag: 'v1', imageManifest: '{}' })),
    ).rejects.toMatchObject({
      name: 'RepositoryNotFoundException',
      message: `The repository with name 'errors/none' does not exist in the registry with id '${ACCOUNT}'`,
    });
    expect(aws.state.ecrRepositories.get(repoArn(repositoryName))?.images.size).toBe(0);
  });

  it('a tag moves to the image last pushed with it; the same image and tag again is refused', async () => {
    const first = await pushImage(admin, 'pull/app', 'latest', 'one');
    await expect(
      admin.send(
        new PutImageCommand({
          repositoryName: 'pull/app',
          imageTag: 'latest',
          imageManifest: first.manifest,
        }),
      ),
    ).rejects.toMatchObject({
      name: 'ImageAlreadyExistsException',
      message: `Image with digest '${first.digest}' and tag 'latest' already exists in the repository with name 'pull/app' in the registry with id '${ACCOUNT}'`,
    });
    // The same manifest under a second tag is one image with two tags.
    await admin.send(
      new PutImageCommand({ repositoryName: 'pull/app', imageTag: 'v1', imageManifest: first.manifest }),
    );
    const second = await pushImage(admin, 'pull/app', 'latest', 'two');
    const { imageIds } = await admin.send(new ListImagesCommand({ repositoryName: 'pull/app' }));
    expect(imageIds).toEqual(
      expect.arrayContaining([
        { imageDigest: first.digest, imageTag: 'v1' },
        { imageDigest: second.digest, imageTag: 'latest' },
      ]),
    );
    expect(imageIds).toHaveLength(2);
  });
});

describe('pulling', () => {
  it('BatchGetImage by tag or digest, with ECR failures for what is not there', async () => {
    const pushed = await pushImage(admin, 'pull/app', 'pull-me');
    const { images, failures } = await admin.send(
      new BatchGetImageCommand({
        repositoryName: 'pull/app',
        imageIds: [
          { imageTag: 'pull-me' },
          { imageDigest: pushed.digest },
          { imageTag: 'nope' },
          { imageTag: 'pull-me', imageDigest: digestOf('other') },
        ],
      }),
    );
    expect(images).toEqual([
      {
        registryId: ACCOUNT,
        repositoryName: 'pull/app',
        imageId: { imageDigest: pushed.digest, imageTag: 'pull-me' },
        imageManifest: pushed.manifest,
        imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      },
      expect.objectContaining({ imageId: { imageDigest: pushed.digest } }),
    ]);
    expect(failures).toEqual([
      {
        imageId: { imageTag: 'nope' },
        failureCode: 'ImageNotFound',
        failureReason: 'Requested image not found',
      },
      expect.objectContaining({ failureCode: 'ImageTagDoesNotMatchDigest' }),
    ]);
  });

  it('GetDownloadUrlForLayer gives a link that serves the layer without credentials, for an hour', async () => {
    const pushed = await pushImage(admin, 'pull/app', 'download');
    const { downloadUrl, layerDigest } = await admin.send(
      new GetDownloadUrlForLayerCommand({ repositoryName: 'pull/app', layerDigest: pushed.layerDigest }),
    );
    expect(layerDigest).toBe(pushed.layerDigest);
    const res = await fetch(downloadUrl!);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(pushed.layer);
    aws.state.clockOffsetMs += HOUR + 1000;
    try {
      expect((await fetch(downloadUrl!)).status).toBe(403);
    } finally {
      aws.state.clockOffsetMs = 0;
    }
    await expect(
      admin.send(
        new GetDownloadUrlForLayerCommand({ repositoryName: 'pull/app', layerDigest: digestOf('none') }),
      ),
    ).rejects.toMatchObject({ name: 'LayersNotFoundException' });
  });

  it('the registry serves tags, manifests and blobs to a token whose caller may pull', async () => {
    const pushed = await pushImage(admin, 'pull/app', 'registry');
    const tags = await registry(admin, '/v2/pull/app/tags/list');
    expect(((await tags.json()) as { tags: string[] }).tags).toContain('registry');
    const manifest = await registry(admin, '/v2/pull/app/manifests/registry');
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(manifest.headers.get('docker-content-digest')).toBe(pushed.digest);
    expect(await manifest.text()).toBe(pushed.manifest);
    expect((await registry(admin, `/v2/pull/app/manifests/${pushed.digest}`)).status).toBe(200);
    expect((await registry(admin, '/v2/pull/app/manifests/unknown-tag')).status).toBe(404);
    const blob = await registry(admin, `/v2/pull/app/blobs/${pushed.layerDigest}`, { redirect: 'manual' });
    expect(blob.status).toBe(307);
    const layer = await fetch(blob.headers.get('location')!);
    expect(Buffer.from(await layer.arrayBuffer())).toEqual(pushed.layer);

    // A token keeps its caller's identity: permissions are read at each request, not when it was issued.
    const { user, ecr } = ecrUser('pull-then-not');
    await iam.send(
      new AttachUserPolicyCommand({
        UserName: 'pull-then-not',
        PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
      }),
    );
    const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
    const get = (path: string) =>
      fetch(`${aws.url}${path}`, {
        headers: { authorization: `Basic ${authorizationData![0]!.authorizationToken}` },
      });
    expect((await get('/v2/pull/app/tags/list')).status).toBe(200);
    user.attachedPolicies.length = 0;
    user.permissions = [{ effect: 'Allow', actions: ['ecr:GetAuthorizationToken'] }];
    const refused = await get('/v2/pull/app/tags/list');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DENIED');
    ecr.destroy();
  });
});
