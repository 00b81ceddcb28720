import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RawRoute } from './context';
import { layerLink, notFound, repoArn } from './ecr';
import { isAllowed, type AwsState, type EcrTokenRecord } from './state';

// ---- the registry (Docker Registry HTTP API v2), read side ---------------------------------------------------

function sendRegistry(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Docker-Distribution-API-Version': 'registry/2.0',
    ...headers,
  });
  res.end(JSON.stringify(body));
}

/** The token an `Authorization: Basic base64(AWS:<password>)` header names, or why it is refused. */
function tokenFrom(state: AwsState, header: string | undefined): EcrTokenRecord | string {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return 'authentication required';
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const token = decoded.startsWith('AWS:') ? state.ecrTokens.get(decoded.slice(4)) : undefined;
  if (!token) return 'Your authorization token is invalid.';
  if (state.now() >= token.expiresAt)
    return 'Your authorization token has expired. Reauthenticate and try again.';
  return token;
}

const registryError = (code: string, message: string) => ({ errors: [{ code, message, detail: null }] });

/** Repository requests and the IAM action ECR authorizes each as. */
const REPOSITORY_ROUTES: { re: RegExp; action: string; methods: string[] }[] = [
  { re: /^\/v2\/(.+)\/tags\/list$/, action: 'ecr:ListImages', methods: ['GET'] },
  { re: /^\/v2\/(.+)\/manifests\/([^/]+)$/, action: 'ecr:BatchGetImage', methods: ['GET', 'HEAD'] },
  {
    re: /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/,
    action: 'ecr:GetDownloadUrlForLayer',
    methods: ['GET', 'HEAD'],
  },
];

/**
 * `GET /v2/` (version check) and, per repository, `tags/list`, `manifests/<tag|digest>` and `blobs/<digest>` (a
 * 307 to the layer's download link, as ECR redirects to S3), with ECR's Basic authentication. Each repository
 * request is authorized, at the time it is made, with the IAM permissions of the caller the token was issued to
 * (ecr:ListImages, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer on the repository ARN). Pushes go through the
 * ECR API (InitiateLayerUpload ... PutImage), not through this route.
 */
export const ecrRegistry: RawRoute = {
  name: 'ecr-registry',
  matches: (path) => path === '/v2' || path.startsWith('/v2/'),
  handle: (req, res, state, call) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const host = req.headers.host ?? '127.0.0.1';
    const token = tokenFrom(state, req.headers.authorization);
    if (typeof token === 'string')
      return sendRegistry(res, 401, registryError('UNAUTHORIZED', token), {
        'WWW-Authenticate': `Basic realm="https://${host}/",service="ecr.amazonaws.com"`,
      });
    call.caller = token.principalArn;
    if (path === '/v2' || path === '/v2/') return sendRegistry(res, 200, {});
    const method = (req.method ?? 'GET').toUpperCase();
    const route = REPOSITORY_ROUTES.find((r) => r.re.test(path) && r.methods.includes(method));
    const m = route?.re.exec(path);
    if (!route || !m) return sendRegistry(res, 404, registryError('NOT_FOUND', 'Not found'));
    const name = m[1]!;
    const arn = repoArn(token.region, token.accountId, name);
    if (!isAllowed(state.permissionsOf(token.principal), route.action, arn, token.principal))
      return sendRegistry(
        res,
        403,
        registryError(
          'DENIED',
          `User: ${token.principalArn} is not authorized to perform: ${route.action} on resource: ${arn}`,
        ),
      );
    const repo = state.ecrRepositories.get(arn);
    if (!repo)
      return sendRegistry(res, 404, registryError('NAME_UNKNOWN', notFound(name, token.accountId).message));
    if (route.action === 'ecr:ListImages')
      return sendRegistry(res, 200, { name, tags: [...repo.imageTags.keys()].sort() });
    const ref = m[2]!;
    if (route.action === 'ecr:BatchGetImage') {
      const image = repo.images.get(repo.imageTags.get(ref) ?? ref);
      if (!image)
        return sendRegistry(res, 404, registryError('MANIFEST_UNKNOWN', `Requested image not found`));
      res.writeHead(200, {
        'Content-Type': image.mediaType,
        'Docker-Content-Digest': image.digest,
        'Docker-Distribution-API-Version': 'registry/2.0',
        'Content-Length': Buffer.byteLength(image.manifest),
      });
      return res.end(method === 'HEAD' ? undefined : image.manifest);
    }
    if (!repo.layers.has(ref))
      return sendRegistry(res, 404, registryError('BLOB_UNKNOWN', 'blob unknown to registry'));
    res.writeHead(307, {
      Location: layerLink(state, `http://${host}`, repo, ref),
      'Docker-Distribution-API-Version': 'registry/2.0',
    });
    res.end();
  },
  // The registry speaks the Docker distribution API: throttling is 429 TOOMANYREQUESTS, not an AWS error.
  sendFault: (res, { code, message, status }) => {
    if (code === 'Throttling' || code === 'ThrottlingException')
      return sendRegistry(res, status ?? 429, registryError('TOOMANYREQUESTS', message ?? 'Rate exceeded'));
    sendRegistry(res, status ?? 500, registryError(code, message ?? code));
  },
};

function sendPlain(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(message);
}

/**
 * `GET /ecr-layer/<id>`: a layer's bytes through a GetDownloadUrlForLayer link, no credentials needed (a
 * presigned S3 URL in real ECR), until the link expires.
 */
export const ecrLayerDownload: RawRoute = {
  name: 'ecr-layer',
  matches: (path) => path.startsWith('/ecr-layer/'),
  handle: (req: IncomingMessage, res, state) => {
    const id = (req.url ?? '').split('?')[0]!.slice('/ecr-layer/'.length);
    const link = state.ecrLayerLinks.get(id);
    if (!link) return sendPlain(res, 403, 'AccessDenied: the link is not valid');
    if (state.now() >= link.expiresAt) {
      state.ecrLayerLinks.delete(id);
      return sendPlain(res, 403, 'AccessDenied: Request has expired');
    }
    const layer = state.ecrRepositories.get(link.repositoryArn)?.layers.get(link.digest);
    if (!layer) return sendPlain(res, 404, 'NoSuchKey: The specified key does not exist.');
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': layer.data.length });
    res.end(req.method === 'HEAD' ? undefined : layer.data);
  },
  sendFault: (res, { code, message, status }) => sendPlain(res, status ?? 500, `${code}: ${message ?? code}`),
};
