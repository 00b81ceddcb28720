import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { IAMClient } from '@aws-sdk/client-iam';
import { assumeRoleIam, clientSettings, createAwsClients, type AwsSetup } from './aws/clients';
import { accessKeyOwner, callerAccountId } from './aws/identity';
import { IamKeyStore } from './aws/key-store';
import { AwsKeyProbe } from './aws/probe';
import { cachedSecretReader, type ReadSecret } from './aws/secret-reader';
import { SecretsManagerStore } from './aws/secret-store';
import type { ManagedKey, RotatorConfig } from './config';
import { InputError } from './domain/errors';
import { RotationEngine, type EngineKey } from './engine/engine';
import { systemClock, type Clock, type KeyStore, type Log } from './engine/ports';
import type { ProbePacing } from './engine/propagation';
import type { JenkinsClient } from './jenkins/client';
import { JenkinsClients, JenkinsTarget } from './jenkins-target';
import { rateLimit, type RateLimiter } from './scan/rate';

export interface Composition {
  config: RotatorConfig;
  engine: RotationEngine;
  secrets: SecretsManagerStore;
  clients: ReturnType<typeof createAwsClients>;
  /** The managed key a Secrets Manager SecretId (name or ARN) belongs to. */
  keyForSecret(secretId: string): Promise<ManagedKey>;
  keyStoreFor(key: ManagedKey): KeyStore;
  /** IAM for a managed key's account: the rotator's own, or through the key's role. */
  iamFor(key: ManagedKey): IAMClient;
  /** The IAM user owning `accessKeyId` in `key`'s account (GetAccessKeyLastUsed), or undefined if not known there. */
  accessKeyOwner(key: ManagedKey, accessKeyId: string): Promise<string | undefined>;
  /** The account of the rotator's own credentials, looked up once. */
  ownAccountId(): Promise<string>;
  /**
   * Settings for any other AWS client in a managed key's account (through its role when it has one), in `region`
   * (default: the rotator's): the checks' CloudTrail clients.
   */
  settingsFor(key: ManagedKey, region?: string): ReturnType<typeof clientSettings>;
  /**
   * A client for one of a key's Jenkins targets, signed in with its token and trusting its CA certificates (both
   * read from Secrets Manager through `readSecret`'s cache).
   */
  jenkinsClient(key: ManagedKey, target: ManagedKey['jenkins'][number]): Promise<JenkinsClient>;
  /** The same secrets, for checks that need them apart (doctor). */
  jenkinsClients: JenkinsClients;
  /** Secrets the rotator only reads (Jenkins tokens, CA certificates, the webhook URL), cached for a few minutes. */
  readSecret: ReadSecret;
}

/** The composition root: config + AWS setup -> adapters -> engine. Built once per cold start. */
export function compose(
  config: RotatorConfig,
  aws: AwsSetup,
  log: Log,
  clock: Clock = systemClock,
  tuning: {
    clockSkewMs?: number;
    env?: NodeJS.ProcessEnv;
    probePacing?: ProbePacing;
    /** Every IAM call of this composition (own account and roles, retries included) waits for it first. */
    iamLimiter?: RateLimiter;
  } = {},
): Composition {
  const clients = createAwsClients(aws);
  const limitIam = (pair: { iam: IAMClient; iamOnce: IAMClient }) => {
    if (tuning.iamLimiter) for (const c of [pair.iam, pair.iamOnce]) rateLimit(c, tuning.iamLimiter);
  };
  limitIam(clients);
  const secrets = new SecretsManagerStore(clients.secrets);
  const readSecret = cachedSecretReader(clients.secrets);
  const jenkinsClients = new JenkinsClients(
    readSecret,
    // A self-rotated key's Jenkins token may come from the environment (tokenEnv).
    tuning.env,
    // One gate per controller URL, shared by every key's client: a fleet's rotations queue rather than pile up.
    config.fleet.jenkinsConcurrency,
  );
  const jenkinsClient = (key: ManagedKey, target: ManagedKey['jenkins'][number]): Promise<JenkinsClient> =>
    jenkinsClients.client(target, key.policy.jenkinsTimeoutSeconds);
  // One IAM client pair per role (and external id): keys behind the same role share its cached credentials.
  type RoleClients = { iam: IAMClient; iamOnce: IAMClient; credentials?: AwsCredentialIdentityProvider };
  const roleIam = new Map<string, RoleClients>();
  const iamPairFor = (key: ManagedKey): RoleClients => {
    if (!key.assumeRoleArn) return clients;
    const id = `${key.assumeRoleArn} ${key.externalId ?? ''}`;
    let pair = roleIam.get(id);
    if (!pair) {
      roleIam.set(id, (pair = assumeRoleIam(clients, key.assumeRoleArn, key.externalId)));
      limitIam(pair);
    }
    return pair;
  };
  const iamFor = (key: ManagedKey): IAMClient => iamPairFor(key).iam;
  const keyStores = new Map<string, KeyStore>();
  const keyStoreFor = (key: ManagedKey): KeyStore => {
    let ks = keyStores.get(key.name);
    if (!ks) {
      const { iam, iamOnce } = iamPairFor(key);
      ks = new IamKeyStore(iam, iamOnce);
      keyStores.set(key.name, ks);
    }
    return ks;
  };
  let ownAccount: Promise<string> | undefined;
  const byName = new Map(config.keys.map((k) => [k.name, k]));
  const managed = (key: EngineKey): ManagedKey => {
    const k = byName.get(key.name);
    if (!k) throw new InputError(`no managed key named ${key.name}`);
    // A caller may pass the configured key adjusted for one run (keyless rollback re-creates deleted Jenkins
    // credentials): its Jenkins targets are then the ones used.
    const own = (key as Partial<ManagedKey>).jenkins;
    return own ? { ...k, jenkins: own } : k;
  };
  const engine = new RotationEngine({
    secrets,
    keyStore: (key) => Promise.resolve(keyStoreFor(managed(key))),
    jenkins: async (key) => {
      const k = managed(key);
      return Promise.all(k.jenkins.map(async (t) => new JenkinsTarget(t, await jenkinsClient(k, t))));
    },
    probe: new AwsKeyProbe(aws),
    clock,
    log,
    ...(tuning.clockSkewMs !== undefined ? { clockSkewMs: tuning.clockSkewMs } : {}),
    ...(tuning.probePacing ? { probePacing: tuning.probePacing } : {}),
  });
  const arnCache = new Map<string, ManagedKey>();
  return {
    config,
    engine,
    secrets,
    clients,
    keyStoreFor,
    iamFor,
    settingsFor: (key, region) => {
      const credentials = iamPairFor(key).credentials;
      return clientSettings(aws, { ...(credentials ? { credentials } : {}), ...(region ? { region } : {}) });
    },
    jenkinsClient,
    jenkinsClients,
    readSecret,
    accessKeyOwner: (key, accessKeyId) => accessKeyOwner(iamFor(key), accessKeyId),
    ownAccountId() {
      if (!ownAccount) {
        ownAccount = callerAccountId(clients.sts);
        ownAccount.catch(() => (ownAccount = undefined));
      }
      return ownAccount;
    },
    async keyForSecret(secretId) {
      const direct = config.keys.find((k) => k.secretId === secretId);
      if (direct) return direct;
      const cached = arnCache.get(secretId);
      if (cached) return cached;
      // A SecretId this rotator does not manage: unknown, or outside what its role may read. Either way, refused.
      const d = await secrets.describe(secretId).catch((err: unknown) => {
        if (err instanceof InputError || (err instanceof Error && /AccessDenied/.test(err.name)))
          throw new InputError(
            `SecretId: ${secretId} is not a managed key's secret (it does not exist, or this rotator may not read it)`,
            { fields: ['SecretId'] },
          );
        throw err;
      });
      const k = config.keys.find((x) => x.secretId === d.name || x.secretId === d.arn);
      if (!k)
        throw new InputError(`SecretId: secret ${d.name} is not a managed key in the configuration`, {
          fields: ['SecretId'],
        });
      arnCache.set(secretId, k);
      return k;
    },
  };
}
