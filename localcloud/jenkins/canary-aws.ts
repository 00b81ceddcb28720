/**
 * What the canary checks do against AWS (`state.awsEndpoint`), with the real SDK clients: the ECR login (token, then
 * the registry's `/v2/`), and the origin mark that tells the AWS emulator's call record a build's calls apart.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { JENKINS_BUILD_ORIGIN, ORIGIN_HEADER } from '../calls';
import type { BuildResult, JenkinsState } from './state';

const CHECK_TIMEOUT_MS = 30_000;

/** A check's AWS calls end with the emulator, or after 30 s. */
export const checkSignal = (state: JenkinsState): AbortSignal =>
  AbortSignal.any([state.lifetime.signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]);

/** Where and as whom a check calls AWS; no credentials for unsigned calls (AssumeRoleWithWebIdentity). */
export interface AwsTarget {
  endpoint: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** SDK client configuration: one attempt, the build's console says what failed. */
export const clientConfig = (t: AwsTarget) => ({
  region: t.region,
  endpoint: t.endpoint,
  maxAttempts: 1,
  ...(t.credentials ? { credentials: t.credentials } : {}),
});

/** Marks an SDK client's requests as the build's own, so the AWS emulator's call record can tell them apart. */
export function markBuildOrigin(client: {
  middlewareStack: { add: (mw: never, options: { step: 'build'; name: string }) => void };
}): void {
  const mark =
    <A extends { request: unknown }, R>(next: (args: A) => R) =>
    (args: A): R => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[ORIGIN_HEADER] = JENKINS_BUILD_ORIGIN;
      return next(args);
    };
  client.middlewareStack.add(mark as never, { step: 'build', name: 'localcloudOriginHeader' });
}

/** Logs which step of a check failed and why (the error's name and message; secrets are masked by the log). */
export function failStep(log: (line: string) => void, step: string, err: unknown): BuildResult {
  log(`ERROR: step ${step} failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  return 'FAILURE';
}

/**
 * `aws ecr get-login-password | docker login`: ecr:GetAuthorizationToken, then `GET /v2/` of the registry with the
 * token. The token and its password are masked from the console.
 */
export async function ecrLogin(
  t: AwsTarget,
  log: (line: string) => void,
  masks: string[],
  abortSignal: AbortSignal,
): Promise<BuildResult> {
  const ecr = new ECRClient(clientConfig(t));
  markBuildOrigin(ecr);
  try {
    let out;
    try {
      out = await ecr.send(new GetAuthorizationTokenCommand({}), { abortSignal });
    } catch (err) {
      return failStep(log, 'ecr:GetAuthorizationToken', err);
    }
    const data = out.authorizationData?.[0];
    const token = data?.authorizationToken;
    const proxyEndpoint = data?.proxyEndpoint;
    if (!token || !proxyEndpoint) {
      log('ERROR: ecr:GetAuthorizationToken returned no authorization data');
      return 'FAILURE';
    }
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    masks.push(token, decoded.slice(decoded.indexOf(':') + 1));
    log(
      `[localcloud] ecr:GetAuthorizationToken → token for ${proxyEndpoint}, expires ${data.expiresAt?.toISOString() ?? '?'}`,
    );
    let ping;
    try {
      ping = await registryPing(proxyEndpoint, token, t.endpoint, abortSignal);
    } catch (err) {
      return failStep(log, `GET ${proxyEndpoint}/v2/`, err);
    }
    const { status, via } = ping;
    log(`[localcloud] GET ${proxyEndpoint}/v2/${via ? ` (through ${via})` : ''} → ${status}`);
    if (status !== 200) {
      log('ERROR: the registry did not accept the authorization token');
      return 'FAILURE';
    }
    log('Login Succeeded');
    return 'SUCCESS';
  } finally {
    ecr.destroy();
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * `GET {proxyEndpoint}/v2/` with the token as Basic auth. A registry host that is not local (a real-looking
 * `*.dkr.ecr.*.amazonaws.com`) is reached through the AWS emulator with that Host header: nothing leaves the machine.
 */
function registryPing(
  proxyEndpoint: string,
  token: string,
  awsEndpoint: string,
  signal: AbortSignal,
): Promise<{ status: number; via?: string }> {
  const target = new URL('/v2/', proxyEndpoint);
  const local = LOOPBACK.has(target.hostname);
  const url = local ? target : new URL('/v2/', awsEndpoint);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'GET',
        headers: {
          authorization: `Basic ${token}`,
          host: target.host,
          [ORIGIN_HEADER]: JENKINS_BUILD_ORIGIN,
        },
        signal,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(local ? {} : { via: awsEndpoint }) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
