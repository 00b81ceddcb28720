import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { RawRoute, RequestContext, ServiceModule } from './context';
import { AwsError } from './errors';
import type { AwsState, EcrRepositoryRecord, EcrTokenRecord, Tag } from './state';

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921';
export const ECR_TOKEN_TTL_MS = 12 * 3_600_000;
const REPO_NAME_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** The registry is the emulator itself: the host the client reached it on (real ECR: ACCT.dkr.ecr.REGION...). */
function proxyEndpoint(ctx: RequestContext): string {
  const host = ctx.headers.host;
  return host ? `http://${host}` : `https://${ctx.account.accountId}.dkr.ecr.${ctx.region}.amazonaws.com`;
}

const repoArn = (region: string, accountId: string, name: string) =>
  `arn:aws:ecr:${region}:${accountId}:repository/${name}`;

const notFound = (name: string, registryId: string) =>
  new AwsError(
    'RepositoryNotFoundException',
    `The repository with name '${name}' does not exist in the registry with id '${registryId}'`,
  );

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

/** ECR API, JSON 1.1. */
export const ecr: ServiceModule = {
  signingName: 'ecr',
  protocol: 'json',
  targetPrefix: TARGET_PREFIX,
  actions: {
    // ecr:GetAuthorizationToken has no resource-level permissions: server.ts has already checked it on `*`.
    GetAuthorizationToken: (ctx) => {
      const token: EcrTokenRecord = {
        password: randomBytes(96).toString('base64'),
        principalArn: ctx.principal.arn,
        accountId: ctx.principal.accountId,
        region: ctx.region,
        expiresAt: ctx.now + ECR_TOKEN_TTL_MS,
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
        throw new AwsError(
          'InvalidParameterException',
          `Invalid parameter at 'repositoryName' failed to satisfy constraint`,
        );
      const arn = repoArn(ctx.region, ctx.account.accountId, name);
      ctx.authorize('ecr:CreateRepository', arn);
      if (ctx.state.ecrRepositories.has(arn))
        throw new AwsError(
          'RepositoryAlreadyExistsException',
          `The repository with name '${name}' already exists in the registry with id '${ctx.account.accountId}'`,
        );
      const repo: EcrRepositoryRecord = {
        repositoryName: name,
        repositoryArn: arn,
        registryId: ctx.account.accountId,
        region: ctx.region,
        createdAt: ctx.now,
        tags: Array.isArray(ctx.input['tags']) ? (ctx.input['tags'] as Tag[]) : [],
      };
      ctx.state.ecrRepositories.set(arn, repo);
      return { repository: toRepository(repo) };
    },

    DescribeRepositories: (ctx) => {
      const names = ctx.input['repositoryNames'];
      const acct = ctx.account.accountId;
      let repos: EcrRepositoryRecord[];
      if (Array.isArray(names)) {
        repos = names.map((n) => {
          const repo = ctx.state.ecrRepositories.get(repoArn(ctx.region, acct, String(n)));
          if (!repo) throw notFound(String(n), acct);
          return repo;
        });
      } else {
        repos = [...ctx.state.ecrRepositories.values()].filter(
          (r) => r.registryId === acct && r.region === ctx.region,
        );
      }
      for (const r of repos) ctx.authorize('ecr:DescribeRepositories', r.repositoryArn);
      return { repositories: repos.map(toRepository) };
    },
  },
};

// ---- the registry (Docker Registry HTTP API v2) --------------------------------------------------------------

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

/** `GET /v2/` (version check) and `GET /v2/<repo>/tags/list`, with ECR's Basic authentication. */
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
    const tags = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (!tags) return sendRegistry(res, 404, registryError('NOT_FOUND', 'Not found'));
    const name = tags[1]!;
    if (!state.ecrRepositories.has(repoArn(token.region, token.accountId, name)))
      return sendRegistry(res, 404, registryError('NAME_UNKNOWN', notFound(name, token.accountId).message));
    sendRegistry(res, 200, { name, tags: [] });
  },
  // The registry speaks the Docker distribution API: throttling is 429 TOOMANYREQUESTS, not an AWS error.
  sendFault: (res, { code, message, status }) => {
    if (code === 'Throttling' || code === 'ThrottlingException')
      return sendRegistry(res, status ?? 429, registryError('TOOMANYREQUESTS', message ?? 'Rate exceeded'));
    sendRegistry(res, status ?? 500, registryError(code, message ?? code));
  },
};
