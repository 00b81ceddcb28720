import type { AccessKeyMeta, Credentials, KeySecret } from '../domain/keys';

/** Secrets Manager, as the engine sees one secret. */
export interface SecretStore {
  describe(secretId: string): Promise<{ arn: string; name: string; versions: Record<string, string[]> }>;
  /** The SecretString of a version or stage; undefined when there is none (e.g. a fresh AWSPENDING). */
  getValue(secretId: string, select: { versionId?: string; stage?: string }): Promise<string | undefined>;
  putPending(secretId: string, token: string, value: string, rotationToken?: string): Promise<void>;
  /** UpdateSecretVersionStage: attach `stage` to `toVersionId` and/or remove it from `fromVersionId`. */
  moveStage(secretId: string, stage: string, to: string | undefined, from: string | undefined): Promise<void>;
}

/** IAM access keys and tags of the users in one account. */
export interface KeyStore {
  list(userName: string): Promise<AccessKeyMeta[]>;
  create(userName: string): Promise<KeySecret & { createDate: Date }>;
  setStatus(userName: string, accessKeyId: string, status: 'Active' | 'Inactive'): Promise<void>;
  delete(userName: string, accessKeyId: string): Promise<void>;
  tags(userName: string): Promise<Record<string, string>>;
  tag(userName: string, key: string, value: string): Promise<void>;
  untag(userName: string, key: string): Promise<void>;
}

/** Calls made with a candidate key's own credentials. */
export interface KeyProbe {
  /** The ARN the key authenticates as (STS GetCallerIdentity). */
  whoAmI(creds: Credentials): Promise<string>;
  /** ECR GetAuthorizationToken with the key and, when asked, the registry's `/v2/` with the token. */
  ecrLogin(
    creds: Credentials,
    opts: { region: string; registryId?: string; registryLogin: boolean },
  ): Promise<void>;
}

/** One Jenkins credential that must hold the managed key. */
export interface JenkinsTargetPort {
  readonly name: string;
  readonly createIfMissing: boolean;
  readAccessKeyId(): Promise<string | undefined>;
  putKey(key: Credentials): Promise<void>;
  create(key: Credentials): Promise<'created' | 'exists'>;
  runJob(
    job: string,
    params: Record<string, string>,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ number: number; result: string }>;
}

/** Anything that needs to wait, through a seam tests and deadlines can control. */
export interface Clock {
  now(): Date;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason as Error);
      };
      // The listener goes with the timer, so a long-lived signal does not collect one per sleep.
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** Structured logger (Powertools-compatible subset). Callers pass ids, never secrets. */
export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}
