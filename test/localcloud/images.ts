import { createHash } from 'node:crypto';
import {
  BatchCheckLayerAvailabilityCommand,
  CompleteLayerUploadCommand,
  InitiateLayerUploadCommand,
  PutImageCommand,
  UploadLayerPartCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';

export const digestOf = (data: Buffer | string) =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Uploads a blob through the layer API (the way the ECR proxy pushes) and returns its digest. */
export async function uploadBlob(ecr: ECRClient, repositoryName: string, data: Buffer): Promise<string> {
  const digest = digestOf(data);
  const check = await ecr.send(
    new BatchCheckLayerAvailabilityCommand({ repositoryName, layerDigests: [digest] }),
  );
  if (check.layers?.[0]?.layerAvailability === 'AVAILABLE') return digest;
  const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
  await ecr.send(
    new UploadLayerPartCommand({
      repositoryName,
      uploadId,
      partFirstByte: 0,
      partLastByte: data.length - 1,
      layerPartBlob: data,
    }),
  );
  await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [digest] }));
  return digest;
}

/** A Docker image manifest (schema 2) over a config blob and one layer. */
export function manifestOf(
  config: { digest: string; size: number },
  layer: { digest: string; size: number },
) {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...layer }],
  });
}

/** Pushes a small image (config + one layer + manifest) and returns its manifest and digest. */
export async function pushImage(
  ecr: ECRClient,
  repositoryName: string,
  imageTag: string,
  content = imageTag,
) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', content }));
  const layer = Buffer.from(`layer bytes of ${content}`);
  const manifest = manifestOf(
    { digest: await uploadBlob(ecr, repositoryName, config), size: config.length },
    { digest: await uploadBlob(ecr, repositoryName, layer), size: layer.length },
  );
  const { image } = await ecr.send(
    new PutImageCommand({ repositoryName, imageManifest: manifest, imageTag }),
  );
  return { manifest, digest: image!.imageId!.imageDigest!, layerDigest: digestOf(layer), layer };
}
