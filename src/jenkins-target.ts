import type { ReadSecret } from './aws/secret-reader';
import type { Credentials } from './domain/keys';
import { singleSecretValue } from './domain/secret-value';
import type { JenkinsTargetPort } from './engine/ports';
import { JenkinsClient } from './jenkins/client';
import { CA_FIELD, CaCertificateError, parseCaCertificates } from './jenkins/tls';
import type { CredentialKind, StoreRef } from './jenkins/types';

export interface JenkinsTargetSpec {
  name: string;
  url: string;
  user: string;
  tokenSecretId?: string | undefined;
  tokenEnv?: string | undefined;
  authType: 'apiToken' | 'password';
  store: StoreRef;
  credentialId: string;
  credentialKind: CredentialKind;
  createIfMissing: boolean;
  description?: string | undefined;
  /** Extra CA certificates to trust: inline PEM, and/or a secret holding PEM. */
  caCertificates?: { pem?: string | undefined; secretId?: string | undefined } | undefined;
}

/** One configured Jenkins credential, behind the engine's port. */
export class JenkinsTarget implements JenkinsTargetPort {
  readonly name: string;
  readonly createIfMissing: boolean;

  constructor(
    private readonly spec: JenkinsTargetSpec,
    private readonly client: JenkinsClient,
  ) {
    this.name = spec.name;
    this.createIfMissing = spec.createIfMissing;
  }

  readAccessKeyId() {
    return this.client.readAccessKeyId(this.spec.store, this.spec.credentialId);
  }

  putKey(key: Credentials) {
    return this.client.putKey(this.spec.store, this.spec.credentialId, key);
  }

  create(key: Credentials) {
    return this.client.createCredential(this.spec.store, {
      kind: this.spec.credentialKind,
      id: this.spec.credentialId,
      scope: 'GLOBAL',
      ...(this.spec.description ? { description: this.spec.description } : {}),
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
    });
  }

  runJob(job: string, params: Record<string, string>, opts: { timeoutMs: number; signal?: AbortSignal }) {
    return this.client.runJob(job, params, opts);
  }
}

/** The CA certificates a secret holds (PEM text, one or more certificates), checked like the inline ones. */
export function extractCaCertificates(raw: string | undefined, secretId: string): string[] {
  if (!raw?.trim()) throw new CaCertificateError(`CA certificate secret ${secretId} is empty`);
  return parseCaCertificates(raw, `CA certificate secret ${secretId}`);
}

/**
 * Jenkins clients for configured targets: the token (or password) and the CA certificates of a secret come from
 * `read`, a cached reader of Secrets Manager (`cachedSecretReader`); the inline CA certificates come from the
 * configuration.
 */
export class JenkinsClients {
  constructor(
    private readonly read: ReadSecret,
    private readonly env: NodeJS.ProcessEnv = process.env,
    /** Requests in flight to one controller at most, across every client made here (config fleet). */
    private readonly maxConcurrent?: number,
  ) {}

  /** The target's token: from its secret, or, for a self-rotated key, from the variable `tokenEnv` names. */
  token(spec: Pick<JenkinsTargetSpec, 'name' | 'tokenSecretId' | 'tokenEnv'>): Promise<string> {
    if (spec.tokenEnv === undefined) {
      const secretId = spec.tokenSecretId ?? '';
      return this.read(secretId).then((raw) => extractToken(raw, secretId));
    }
    const value = this.env[spec.tokenEnv]?.trim();
    return value
      ? Promise.resolve(value)
      : Promise.reject(
          new Error(
            `environment variable ${spec.tokenEnv} (the Jenkins token of target ${spec.name}) is not set: bind it in the job (withCredentials)`,
          ),
        );
  }

  /** The target's extra CA certificates (PEM each): inline ones first, then the secret's; [] when none. */
  async caCertificates(spec: Pick<JenkinsTargetSpec, 'caCertificates'>): Promise<string[]> {
    const { pem, secretId } = spec.caCertificates ?? {};
    const inline = pem === undefined ? [] : parseCaCertificates(pem, `${CA_FIELD}.pem`);
    return [
      ...inline,
      ...(secretId === undefined ? [] : extractCaCertificates(await this.read(secretId), secretId)),
    ];
  }

  async client(spec: JenkinsTargetSpec, timeoutSeconds: number): Promise<JenkinsClient> {
    const [token, ca] = await Promise.all([this.token(spec), this.caCertificates(spec)]);
    return jenkinsClientFor(spec, token, timeoutSeconds, ca, this.maxConcurrent);
  }
}

/** A token secret is the bare token, or JSON with `apiToken`, `token` or `password`. */
export function extractToken(raw: string | undefined, secretId: string): string {
  if (!raw?.trim()) throw new Error(`Jenkins token secret ${secretId} is empty`);
  const token = singleSecretValue(raw, ['apiToken', 'token', 'password']);
  if (token) return token;
  throw new Error(
    `Jenkins token secret ${secretId} is JSON without an "apiToken", "token" or "password" string`,
  );
}

export function jenkinsClientFor(
  spec: JenkinsTargetSpec,
  token: string,
  timeoutSeconds: number,
  caCertificates: readonly string[] = [],
  maxConcurrent?: number,
): JenkinsClient {
  return new JenkinsClient({
    ...(caCertificates.length ? { caCertificates } : {}),
    ...(maxConcurrent ? { maxConcurrent } : {}),
    baseUrl: spec.url,
    auth:
      spec.authType === 'password'
        ? { username: spec.user, password: token }
        : { username: spec.user, apiToken: token },
    timeoutMs: timeoutSeconds * 1000,
  });
}
