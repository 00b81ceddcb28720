import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RequestContext, ServiceModule } from './context';
import { accessDenied } from './context';
import { AwsError } from './errors';
import type { AwsState, EcrImageRecord, EcrRepositoryRecord, EcrTokenRecord, Tag } from './state';

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921';
export const ECR_TOKEN_TTL_MS = 12 * 3_600_000;
/** How long a GetDownloadUrlForLayer link works (a presigned URL in real ECR). */
export const ECR_LAYER_LINK_TTL_MS = 3_600_000;
/** What InitiateLayerUpload advises as the part size. */
const PART_SIZE = 10_485_760;
const REPO_NAME_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** The registry is the emulator itself: the host the client reached it on (real ECR: ACCT.dkr.ecr.REGION...). */
function proxyEndpoint(ctx: RequestContext): string {
  const host = ctx.headers.host;
  return host ? `http://${host}` : `https://${ctx.account.accountId}.dkr.ecr.${ctx.region}.amazonaws.com`;
}

export const repoArn = (region: string, accountId: string, name: string) =>
  `arn:aws:ecr:${region}:${accountId}:repository/${name}`;

export const notFound = (name: string, registryId: string) =>
  new AwsError(
    'RepositoryNotFoundException',
    `The repository with name '${name}' does not exist in the registry with id '${registryId}'`,
  );

const invalidParameter = (message: string) => new AwsError('InvalidParameterException', message);

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const toRepository = (r: EcrRepositoryRecord) => ({
  repositoryArn: r.repositoryArn,
  registryId: r.registryId,
  repositoryName: r.repositoryName,
  repositoryUri: `${r.registryId}.dkr.ecr.${r.region}.amazonaws.com/${r.repositoryName}`,
  createdAt: new Date(r.createdAt),
  imageTagMutability: 'MUTABLE',
  imageScanningConfiguration: { scanOnPush: false },
  encryptionConfiguration: { encryptionType: 'AES256' },
});

// ---- input -----------------------------------------------------------------------------------------------------

function optString(ctx: RequestContext, key: string): string | undefined {
  const v = ctx.input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AwsError('SerializationException', `${key} must be a string`);
  return v;
}

function reqString(ctx: RequestContext, key: string): string {
  const v = optString(ctx, key);
  if (v === undefined)
    throw invalidParameter(
      `Invalid parameter at '${key}' failed to satisfy constraint: 'Member must not be null'`,
    );
  return v;
}

function reqNumber(ctx: RequestContext, key: string): number {
  const v = ctx.input[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw invalidParameter(
      `Invalid parameter at '${key}' failed to satisfy constraint: 'Member must be a non-negative integer'`,
    );
  return v;
}

function list<T>(ctx: RequestContext, key: string, min: number, max: number): T[] {
  const v = ctx.input[key];
  if (!Array.isArray(v) || v.length < min || v.length > max)
    throw invalidParameter(
      `Invalid parameter at '${key}' failed to satisfy constraint: 'Member must have length between ${min} and ${max}'`,
    );
  return v as T[];
}

/**
 * The repository a request names (`repositoryName`, optional `registryId`), after authorizing the action on its
 * ARN: a missing repository and a forbidden one are told apart only for a caller allowed on it, as in ECR. Another
 * account's registry needs a repository policy, which the emulator does not have: always AccessDenied.
 */
function repositoryFor(ctx: RequestContext): EcrRepositoryRecord {
  const name = reqString(ctx, 'repositoryName');
  const registryId = optString(ctx, 'registryId') ?? ctx.account.accountId;
  if (!/^\d{12}$/.test(registryId))
    throw invalidParameter(
      `Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression pattern: [0-9]{12}'`,
    );
  const arn = repoArn(ctx.region, registryId, name);
  ctx.authorize(`ecr:${ctx.action}`, arn);
  if (registryId !== ctx.account.accountId)
    throw accessDenied('json', ctx.principal, `ecr:${ctx.action}`, arn);
  const repo = ctx.state.ecrRepositories.get(arn);
  if (!repo) throw notFound(name, registryId);
  return repo;
}

/** A short-lived link to a layer's bytes (real ECR: a presigned S3 URL), served by the `ecr-layer` route. */
export function layerLink(
  state: AwsState,
  endpoint: string,
  repo: EcrRepositoryRecord,
  digest: string,
): string {
  const id = randomBytes(24).toString('base64url');
  state.ecrLayerLinks.set(id, {
    repositoryArn: repo.repositoryArn,
    digest,
    expiresAt: state.now() + ECR_LAYER_LINK_TTL_MS,
  });
  return `${endpoint}/ecr-layer/${id}`;
}

/** The digests a manifest needs in the repository: its config and layers, or the images of an index. */
function referencesOf(manifest: Record<string, unknown>): {
  blobs: { digest: string; mediaType?: string }[];
  images: string[];
} {
  const digests = (v: unknown) =>
    Array.isArray(v)
      ? v
          .filter(
            (x): x is { digest: string; mediaType?: unknown } =>
              typeof (x as { digest?: unknown })?.digest === 'string',
          )
          .map((x) => ({
            digest: x.digest,
            ...(typeof x.mediaType === 'string' ? { mediaType: x.mediaType } : {}),
          }))
      : [];
  const config = manifest['config'];
  return {
    blobs: [...digests(config === undefined ? [] : [config]), ...digests(manifest['layers'])],
    images: digests(manifest['manifests']).map((m) => m.digest),
  };
}

const imageView = (repo: EcrRepositoryRecord, image: EcrImageRecord, tag?: string) => ({
  registryId: repo.registryId,
  repositoryName: repo.repositoryName,
  imageId: { imageDigest: image.digest, ...(tag === undefined ? {} : { imageTag: tag }) },
  imageManifest: image.manifest,
  imageManifestMediaType: image.mediaType,
});

const inRepository = (repo: EcrRepositoryRecord) =>
  `in the repository with name '${repo.repositoryName}' in the registry with id '${repo.registryId}'`;

/** ECR API, JSON 1.1. */
export const ecr: ServiceModule = {
  signingName: 'ecr',
  protocol: 'json',
  targetPrefix: TARGET_PREFIX,
  trailed: { GetAuthorizationToken: { readOnly: true }, PutImage: { readOnly: false } },
  authorizesOnResource: new Set([
    'BatchCheckLayerAvailability',
    'InitiateLayerUpload',
    'UploadLayerPart',
    'CompleteLayerUpload',
    'PutImage',
    'BatchGetImage',
    'GetDownloadUrlForLayer',
    'ListImages',
  ]),
  actions: {
    // ecr:GetAuthorizationToken has no resource-level permissions: server.ts has already checked it on `*`.
    // A token got with a role session's credentials expires with the session if that comes first.
    GetAuthorizationToken: (ctx) => {
      const { kind, arn, userId, accountId, accessKeyId } = ctx.principal;
      const registryIds = ctx.input['registryIds'];
      if (Array.isArray(registryIds)) ctx.trail.requestParameters = { registryIds };
      const sessionEnd = ctx.state.sessions.get(accessKeyId)?.expiration ?? Infinity;
      const token: EcrTokenRecord = {
        password: randomBytes(96).toString('base64'),
        principalArn: arn,
        principal: { kind, arn, userId, accountId },
        accountId,
        region: ctx.region,
        expiresAt: Math.min(ctx.now + ECR_TOKEN_TTL_MS, sessionEnd),
      };
      ctx.state.ecrTokens.set(token.password, token);
      return {
        authorizationData: [
          {
            authorizationToken: Buffer.from(`AWS:${token.password}`).toString('base64'),
            expiresAt: new Date(token.expiresAt),
            proxyEndpoint: proxyEndpoint(ctx),
          },
        ],
      };
    },

    CreateRepository: (ctx) => {
      const name = ctx.input['repositoryName'];
      if (typeof name !== 'string' || name.length < 2 || name.length > 256 || !REPO_NAME_RE.test(name))
        throw invalidParameter(`Invalid parameter at 'repositoryName' failed to satisfy constraint`);
      const arn = repoArn(ctx.region, ctx.account.accountId, name);
      ctx.authorize('ecr:CreateRepository', arn);
      if (ctx.state.ecrRepositories.has(arn))
        throw new AwsError(
          'RepositoryAlreadyExistsException',
          `The repository with name '${name}' already exists in the registry with id '${ctx.account.accountId}'`,
        );
      const repo = ctx.state.createEcrRepository(ctx.account.accountId, ctx.region, name, {
        tags: Array.isArray(ctx.input['tags']) ? (ctx.input['tags'] as Tag[]) : [],
      });
      return { repository: toRepository(repo) };
    },

    DescribeRepositories: (ctx) => {
      const names = ctx.input['repositoryNames'];
      const acct = ctx.account.accountId;
      let repos: EcrRepositoryRecord[];
      if (Array.isArray(names)) {
        repos = names.map((n) => {
          const arn = repoArn(ctx.region, acct, String(n));
          ctx.authorize('ecr:DescribeRepositories', arn);
          const repo = ctx.state.ecrRepositories.get(arn);
          if (!repo) throw notFound(String(n), acct);
          return repo;
        });
      } else {
        repos = [...ctx.state.ecrRepositories.values()].filter(
          (r) => r.registryId === acct && r.region === ctx.region,
        );
        for (const r of repos) ctx.authorize('ecr:DescribeRepositories', r.repositoryArn);
      }
      return { repositories: repos.map(toRepository) };
    },

    BatchCheckLayerAvailability: (ctx) => {
      const repo = repositoryFor(ctx);
      const layers = [];
      const failures = [];
      for (const digest of list<unknown>(ctx, 'layerDigests', 1, 100)) {
        const layer = typeof digest === 'string' ? repo.layers.get(digest) : undefined;
        if (layer)
          layers.push({
            layerDigest: layer.digest,
            layerAvailability: 'AVAILABLE',
            layerSize: layer.data.length,
            ...(layer.mediaType ? { mediaType: layer.mediaType } : {}),
          });
        else if (typeof digest !== 'string' || !DIGEST_RE.test(digest))
          failures.push({
            layerDigest: String(digest),
            failureCode: 'InvalidLayerDigest',
            failureReason: 'Invalid layer digest',
          });
        else
          failures.push({
            layerDigest: digest,
            failureCode: 'MissingLayerDigest',
            failureReason: 'Could not find layer',
          });
      }
      return { layers, failures };
    },

    InitiateLayerUpload: (ctx) => {
      const repo = repositoryFor(ctx);
      const uploadId = randomUUID();
      repo.uploads.set(uploadId, { parts: [], size: 0 });
      return { uploadId, partSize: PART_SIZE };
    },

    UploadLayerPart: (ctx) => {
      const repo = repositoryFor(ctx);
      const uploadId = reqString(ctx, 'uploadId');
      const first = reqNumber(ctx, 'partFirstByte');
      const last = reqNumber(ctx, 'partLastByte');
      const blob = Buffer.from(reqString(ctx, 'layerPartBlob'), 'base64');
      const upload = repo.uploads.get(uploadId);
      if (!upload)
        throw new AwsError(
          'UploadNotFoundException',
          `Upload with id '${uploadId}' does not exist ${inRepository(repo)}`,
        );
      if (first !== upload.size || last - first + 1 !== blob.length)
        throw new AwsError(
          'InvalidLayerPartException',
          `The part of ${blob.length} bytes from byte ${first} to ${last} does not follow the ${upload.size} bytes received`,
        );
      upload.parts.push(blob);
      upload.size += blob.length;
      return {
        registryId: repo.registryId,
        repositoryName: repo.repositoryName,
        uploadId,
        lastByteReceived: last,
      };
    },

    CompleteLayerUpload: (ctx) => {
      const repo = repositoryFor(ctx);
      const uploadId = reqString(ctx, 'uploadId');
      const digests = list<unknown>(ctx, 'layerDigests', 1, 100);
      const upload = repo.uploads.get(uploadId);
      if (!upload)
        throw new AwsError(
          'UploadNotFoundException',
          `Upload with id '${uploadId}' does not exist ${inRepository(repo)}`,
        );
      if (upload.size === 0)
        throw new AwsError(
          'EmptyUploadException',
          `The upload with id '${uploadId}' contains no layer parts`,
        );
      const data = Buffer.concat(upload.parts);
      const digest = sha256(data);
      if (!digests.includes(digest))
        throw new AwsError(
          'InvalidLayerException',
          `The layer digest does not match the uploaded content (${digest})`,
        );
      if (repo.layers.has(digest))
        throw new AwsError(
          'LayerAlreadyExistsException',
          `The layer '${digest}' already exists ${inRepository(repo)}`,
        );
      repo.uploads.delete(uploadId);
      repo.layers.set(digest, { digest, data });
      return {
        registryId: repo.registryId,
        repositoryName: repo.repositoryName,
        uploadId,
        layerDigest: digest,
      };
    },

    PutImage: (ctx) => {
      ctx.trail.requestParameters = Object.fromEntries(
        ['registryId', 'repositoryName', 'imageTag', 'imageDigest', 'imageManifestMediaType']
          .filter((k) => typeof ctx.input[k] === 'string')
          .map((k) => [k, ctx.input[k]]),
      );
      const repo = repositoryFor(ctx);
      ctx.trail.resources = [{ type: 'AWS::ECR::Repository', name: repo.repositoryArn }];
      const manifestText = reqString(ctx, 'imageManifest');
      const tag = optString(ctx, 'imageTag');
      if (tag !== undefined && !TAG_RE.test(tag))
        throw invalidParameter(
          `Invalid parameter at 'imageTag' failed to satisfy constraint: 'Invalid image tag'`,
        );
      let manifest: Record<string, unknown>;
      try {
        manifest = JSON.parse(manifestText) as Record<string, unknown>;
        if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new Error();
      } catch {
        throw invalidParameter(
          `Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'`,
        );
      }
      const digest = sha256(manifestText);
      const given = optString(ctx, 'imageDigest');
      if (given !== undefined && given !== digest)
        throw new AwsError(
          'ImageDigestDoesNotMatchException',
          `Provided image digest '${given}' does not match the calculated image digest '${digest}'`,
        );
      const mediaType =
        optString(ctx, 'imageManifestMediaType') ??
        (typeof manifest['mediaType'] === 'string'
          ? manifest['mediaType']
          : 'application/vnd.oci.image.manifest.v1+json');
      const refs = referencesOf(manifest);
      const missingBlobs = refs.blobs.filter((b) => !repo.layers.has(b.digest)).map((b) => b.digest);
      if (missingBlobs.length > 0)
        throw new AwsError(
          'LayersNotFoundException',
          `Layers with digests '[${missingBlobs.join(', ')}]' required for pushing image into repository with name '${repo.repositoryName}' in the registry with id '${repo.registryId}' do not exist`,
        );
      const missingImages = refs.images.filter((d) => !repo.images.has(d));
      if (missingImages.length > 0)
        throw new AwsError(
          'ReferencedImagesNotFoundException',
          `Images with digests '[${missingImages.join(', ')}]' referenced by the manifest list do not exist ${inRepository(repo)}`,
        );
      const existing = repo.images.get(digest);
      if (existing && (tag === undefined || repo.imageTags.get(tag) === digest))
        throw new AwsError(
          'ImageAlreadyExistsException',
          `Image with digest '${digest}'${tag === undefined ? '' : ` and tag '${tag}'`} already exists ${inRepository(repo)}`,
        );
      const image = existing ?? { digest, manifest: manifestText, mediaType, pushedAt: ctx.now };
      repo.images.set(digest, image);
      for (const b of refs.blobs) {
        const layer = repo.layers.get(b.digest);
        if (layer && b.mediaType) layer.mediaType = b.mediaType;
      }
      // Tags are mutable: a tag moves to the new image.
      if (tag !== undefined) repo.imageTags.set(tag, digest);
      ctx.trail.responseElements = {
        image: {
          registryId: repo.registryId,
          repositoryName: repo.repositoryName,
          imageId: { imageDigest: digest, ...(tag === undefined ? {} : { imageTag: tag }) },
          imageManifestMediaType: mediaType,
        },
      };
      return { image: imageView(repo, image, tag) };
    },

    BatchGetImage: (ctx) => {
      const repo = repositoryFor(ctx);
      const images = [];
      const failures: { imageId: object; failureCode: string; failureReason: string }[] = [];
      for (const id of list<{ imageDigest?: unknown; imageTag?: unknown }>(ctx, 'imageIds', 1, 100)) {
        const digest = typeof id?.imageDigest === 'string' ? id.imageDigest : undefined;
        const tag = typeof id?.imageTag === 'string' ? id.imageTag : undefined;
        const imageId = { ...(digest ? { imageDigest: digest } : {}), ...(tag ? { imageTag: tag } : {}) };
        const fail = (failureCode: string, failureReason: string) =>
          failures.push({ imageId, failureCode, failureReason });
        if (!digest && !tag) {
          fail('MissingDigestAndTag', 'Invalid request: no image digest or tag specified');
          continue;
        }
        if (digest && !DIGEST_RE.test(digest)) {
          fail('InvalidImageDigest', 'Invalid image digest');
          continue;
        }
        const tagged = tag === undefined ? undefined : repo.imageTags.get(tag);
        if (tag !== undefined && digest && tagged !== undefined && tagged !== digest) {
          fail('ImageTagDoesNotMatchDigest', 'Invalid image digest/tag combination');
          continue;
        }
        const image = repo.images.get(digest ?? tagged ?? '');
        if (!image || (tag !== undefined && tagged === undefined)) {
          fail('ImageNotFound', 'Requested image not found');
          continue;
        }
        images.push(imageView(repo, image, tag));
      }
      return { images, failures };
    },

    GetDownloadUrlForLayer: (ctx) => {
      const repo = repositoryFor(ctx);
      const digest = reqString(ctx, 'layerDigest');
      if (!DIGEST_RE.test(digest))
        throw invalidParameter(
          `Invalid parameter at 'layerDigest' failed to satisfy constraint: 'Invalid layer digest'`,
        );
      if (!repo.layers.has(digest))
        throw new AwsError(
          'LayersNotFoundException',
          `The layer with digest '${digest}' does not exist ${inRepository(repo)}`,
        );
      return { downloadUrl: layerLink(ctx.state, proxyEndpoint(ctx), repo, digest), layerDigest: digest };
    },

    ListImages: (ctx) => {
      const repo = repositoryFor(ctx);
      const filter = ctx.input['filter'] as { tagStatus?: unknown } | undefined;
      const status = filter?.tagStatus ?? 'ANY';
      const tagsOf = (digest: string) => [...repo.imageTags].filter(([, d]) => d === digest).map(([t]) => t);
      const ids = [...repo.images.values()]
        .sort((a, b) => a.pushedAt - b.pushedAt)
        .flatMap((image) => {
          const tags = tagsOf(image.digest);
          if (tags.length === 0) return status === 'TAGGED' ? [] : [{ imageDigest: image.digest }];
          return status === 'UNTAGGED'
            ? []
            : tags.map((imageTag) => ({ imageDigest: image.digest, imageTag }));
        });
      const max = typeof ctx.input['maxResults'] === 'number' ? ctx.input['maxResults'] : 1000;
      const start = Number(optString(ctx, 'nextToken') ?? 0);
      const page = ids.slice(start, start + max);
      return { imageIds: page, ...(start + max < ids.length ? { nextToken: String(start + max) } : {}) };
    },
  },
};
