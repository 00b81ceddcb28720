import type { Credentials } from './domain/keys';
import { singleSecretValue } from './domain/secret-value';
import type { JenkinsTargetPort } from './engine/ports';
import { JenkinsClient } from './jenkins/client';
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

/**
 * The Jenkins API token (or password) of a target: from Secrets Manager, read once per cold start; or, for a
 * self-rotated key, from the environment variable a Jenkins job binds it to (`tokenEnv`).
 */
export class JenkinsSecretCache {
  private readonly cache = new Map<string, Promise<string>>();
  constructor(
    private readonly read: (secretId: string) => Promise<string | undefined>,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  get(secretId: string): Promise<string> {
    let p = this.cache.get(secretId);
    if (!p) {
      p = this.read(secretId).then((raw) => extractToken(raw, secretId));
      p.catch(() => this.cache.delete(secretId));
      this.cache.set(secretId, p);
    }
    return p;
  }

  tokenFor(t: {
    name: string;
    tokenSecretId?: string | undefined;
    tokenEnv?: string | undefined;
  }): Promise<string> {
    if (t.tokenEnv === undefined) return this.get(t.tokenSecretId ?? '');
    const value = this.env[t.tokenEnv]?.trim();
    return value
      ? Promise.resolve(value)
      : Promise.reject(
          new Error(
            `environment variable ${t.tokenEnv} (the Jenkins token of target ${t.name}) is not set: bind it in the job (withCredentials)`,
          ),
        );
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
): JenkinsClient {
  return new JenkinsClient({
    baseUrl: spec.url,
    auth:
      spec.authType === 'password'
        ? { username: spec.user, password: token }
        : { username: spec.user, apiToken: token },
    timeoutMs: timeoutSeconds * 1000,
  });
}
