/**
 * In-memory IAM, Secrets Manager, Jenkins and STS/ECR behind the engine's ports, for the emergency unit tests.
 * Every call is recorded in `world.calls`, every write also in `world.writes`, in order.
 */
import { parseConfig, type ManagedKey, type RotatorConfig } from '../../src/config';
import { RotationEngine } from '../../src/engine/engine';
import type { EmergencyComposition } from '../../src/engine/emergency';
import type { Clock, JenkinsTargetPort, KeyStore, Log, SecretStore } from '../../src/engine/ports';

export const ACCOUNT = '111122223333';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
let serial = 0;
/** A fresh, valid-looking access key id (AKIA + 16). */
export const newKeyId = () => `AKIA${String(++serial).padStart(6, '0')}${'TESTKEYID'.padEnd(10, 'X')}`;
const newSecretKey = () =>
  Array.from({ length: 40 }, (_, i) => (i % 3 ? ALNUM[(serial * 7 + i) % 36] : 'a')).join('');

export interface FakeKey {
  accessKeyId: string;
  secretAccessKey: string;
  userName: string;
  status: 'Active' | 'Inactive';
  createDate: Date;
}

export interface FakeVersion {
  value?: string;
  stages: string[];
}

export const rawConfig = (keys = [{ name: 'prod', iamUser: 'jenkins-prod' }]) => ({
  version: 1,
  keys: keys.map((k) => ({
    name: k.name,
    iamUser: k.iamUser,
    secretId: `jenkins/${k.name}/aws-key`,
    jenkins: [
      {
        name: 'main',
        url: 'https://jenkins.example.com',
        user: 'key-rotator',
        tokenSecretId: 'key-rotator/jenkins-api-token',
        store: 'system',
        credentialId: `aws-${k.name}`,
      },
    ],
    verify: { ecr: { region: 'us-east-1' } },
    policy: { propagationTimeoutSeconds: 30, consecutiveSuccesses: 1 },
  })),
});

export class World {
  readonly calls: string[] = [];
  readonly writes: string[] = [];
  readonly keys = new Map<string, FakeKey>();
  readonly tags = new Map<string, Record<string, string>>();
  /** secretId -> versionId -> version */
  readonly secrets = new Map<string, Map<string, FakeVersion>>();
  /** Jenkins target `<key>/<target>` -> the key id it holds. */
  readonly jenkins = new Map<string, string | undefined>();
  /** `<method> <what>` -> error to throw once (or always, with `sticky`). */
  readonly failures = new Map<string, { error: Error; sticky?: boolean }>();
  readonly logs: { level: string; message: string; extra?: Record<string, unknown> }[] = [];
  readonly config: RotatorConfig;
  t = Date.parse('2026-11-25T10:00:00Z');

  constructor(config: unknown = rawConfig()) {
    this.config = parseConfig(config);
  }

  record(call: string, write = false): void {
    this.calls.push(call);
    if (write) this.writes.push(call);
    for (const [pattern, f] of this.failures)
      if (call.startsWith(pattern)) {
        if (!f.sticky) this.failures.delete(pattern);
        throw f.error;
      }
  }

  /** Records the call, then runs `fn`; an injected failure or a throw becomes a rejection, as over the wire. */
  private run<T>(call: string, write: boolean, fn: () => T): Promise<T> {
    try {
      this.record(call, write);
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  fail(pattern: string, message = `injected failure of ${pattern}`, sticky = false): void {
    this.failures.set(pattern, {
      error: Object.assign(new Error(message), { name: 'ServiceFailure' }),
      sticky,
    });
  }

  addKey(userName: string, status: 'Active' | 'Inactive' = 'Active', ageDays = 100): FakeKey {
    const k: FakeKey = {
      accessKeyId: newKeyId(),
      secretAccessKey: newSecretKey(),
      userName,
      status,
      createDate: new Date(this.t - ageDays * 86_400_000),
    };
    this.keys.set(k.accessKeyId, k);
    return k;
  }

  keysOf(userName: string): FakeKey[] {
    return [...this.keys.values()].filter((k) => k.userName === userName);
  }

  /** Seeds one managed key: an IAM key, its secret (AWSCURRENT), Jenkins holding it. */
  seed(name = 'prod'): FakeKey {
    const mk = this.managed(name);
    const k = this.addKey(mk.iamUser);
    this.secrets.set(
      mk.secretId,
      new Map([['v-initial', { value: this.secretValue(k), stages: ['AWSCURRENT'] }]]),
    );
    for (const t of mk.jenkins) this.jenkins.set(`${mk.name}/${t.name}`, k.accessKeyId);
    return k;
  }

  secretValue(k: FakeKey): string {
    return JSON.stringify({
      userName: k.userName,
      accessKeyId: k.accessKeyId,
      secretAccessKey: k.secretAccessKey,
    });
  }

  managed(name = 'prod'): ManagedKey {
    const k = this.config.keys.find((x) => x.name === name);
    if (!k) throw new Error(`no key ${name}`);
    return k;
  }

  versions(name = 'prod'): Map<string, FakeVersion> {
    return this.secrets.get(this.managed(name).secretId) ?? new Map<string, FakeVersion>();
  }

  holder(stage: string, name = 'prod'): [string, FakeVersion] | undefined {
    return [...this.versions(name)].find(([, v]) => v.stages.includes(stage));
  }

  keyIdIn(stage: string, name = 'prod'): string | undefined {
    const v = this.holder(stage, name)?.[1].value;
    return v ? (JSON.parse(v) as { accessKeyId: string }).accessKeyId : undefined;
  }

  readonly clock: Clock = {
    now: () => new Date(this.t),
    sleep: (ms) => {
      this.t += ms;
      return Promise.resolve();
    },
  };

  readonly log: Log = {
    info: (message, extra) => this.logs.push({ level: 'info', message, ...(extra ? { extra } : {}) }),
    warn: (message, extra) => this.logs.push({ level: 'warn', message, ...(extra ? { extra } : {}) }),
    error: (message, extra) => this.logs.push({ level: 'error', message, ...(extra ? { extra } : {}) }),
  };

  private secret(secretId: string): Map<string, FakeVersion> {
    const versions = this.secrets.get(secretId);
    if (!versions)
      throw Object.assign(new Error(`no secret ${secretId}`), { name: 'ResourceNotFoundException' });
    return versions;
  }

  readonly secretStore: SecretStore = {
    describe: (secretId) =>
      this.run(`sm.describe ${secretId}`, false, () => ({
        arn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${secretId}-AbCdEf`,
        name: secretId,
        versions: Object.fromEntries([...this.secret(secretId)].map(([id, v]) => [id, [...v.stages]])),
      })),
    getValue: (secretId, select) =>
      this.run(`sm.getValue ${secretId}`, false, () => {
        const versions = this.secret(secretId);
        const v = select.versionId
          ? versions.get(select.versionId)
          : [...versions.values()].find((x) => x.stages.includes(select.stage ?? 'AWSCURRENT'));
        if (v && select.stage && !v.stages.includes(select.stage)) return undefined;
        return v?.value;
      }),
    putPending: (secretId, token, value) =>
      this.run(`sm.putPending ${secretId}`, true, () => {
        const versions = this.secret(secretId);
        for (const v of versions.values()) v.stages = v.stages.filter((s) => s !== 'AWSPENDING');
        const stages = versions.get(token)?.stages ?? [];
        versions.set(token, { value, stages: [...stages, 'AWSPENDING'] });
      }),
    moveStage: (secretId, stage, to, from) =>
      this.run(`sm.moveStage ${stage}`, true, () => {
        const versions = this.secret(secretId);
        const detach = (id: string | undefined, label: string) => {
          const v = id === undefined ? undefined : versions.get(id);
          if (v) v.stages = v.stages.filter((s) => s !== label);
        };
        detach(from, stage);
        if (to === undefined) return;
        if (stage === 'AWSCURRENT' && from) {
          // Secrets Manager moves AWSPREVIOUS to the version that loses AWSCURRENT.
          for (const id of versions.keys()) detach(id, 'AWSPREVIOUS');
          versions.get(from)?.stages.push('AWSPREVIOUS');
        }
        for (const id of versions.keys()) detach(id, stage);
        versions.get(to)?.stages.push(stage);
      }),
  };

  readonly keyStore: KeyStore = {
    list: (userName) =>
      this.run(`iam.list ${userName}`, false, () =>
        this.keysOf(userName).map((k) => ({
          accessKeyId: k.accessKeyId,
          status: k.status,
          createDate: k.createDate,
        })),
      ),
    create: (userName) =>
      this.run(`iam.create ${userName}`, true, () => {
        if (this.keysOf(userName).length >= 2) throw new Error('LimitExceeded: 2 keys');
        return this.addKey(userName, 'Active', 0);
      }),
    setStatus: (userName, id, status) =>
      this.run(`iam.setStatus ${id} ${status}`, true, () => {
        const k = this.keys.get(id);
        if (!k || k.userName !== userName) throw new Error(`NoSuchEntity ${id}`);
        k.status = status;
      }),
    delete: (_userName, id) =>
      this.run(`iam.delete ${id}`, true, () => {
        this.keys.delete(id);
      }),
    tags: (userName) => this.run(`iam.tags ${userName}`, false, () => ({ ...this.tags.get(userName) })),
    tag: (userName, key, value) =>
      this.run(`iam.tag ${key}`, true, () => {
        this.tags.set(userName, { ...this.tags.get(userName), [key]: value });
      }),
    untag: (userName, key) =>
      this.run(`iam.untag ${key}`, true, () => {
        const t = { ...this.tags.get(userName) };
        delete t[key];
        this.tags.set(userName, t);
      }),
  };

  target(key: ManagedKey, name: string): JenkinsTargetPort {
    const id = `${key.name}/${name}`;
    return {
      name,
      createIfMissing: false,
      readAccessKeyId: () => this.run(`jenkins.read ${id}`, false, () => this.jenkins.get(id)),
      putKey: (c) =>
        this.run(`jenkins.put ${id} ${c.accessKeyId}`, true, () => {
          this.jenkins.set(id, c.accessKeyId);
        }),
      create: (c) =>
        this.run(`jenkins.create ${id}`, true, () => {
          this.jenkins.set(id, c.accessKeyId);
          return 'created' as const;
        }),
      runJob: () => Promise.resolve({ number: 1, result: 'SUCCESS' }),
    };
  }

  /** A working key authenticates as its user; anything else is refused as IAM would. */
  private authenticate(accessKeyId: string): FakeKey {
    const k = this.keys.get(accessKeyId);
    if (!k || k.status !== 'Active')
      throw Object.assign(new Error('The security token included in the request is invalid'), {
        name: 'InvalidClientTokenId',
      });
    return k;
  }

  readonly engine: RotationEngine = new RotationEngine({
    secrets: this.secretStore,
    keyStore: () => Promise.resolve(this.keyStore),
    jenkins: (key) =>
      this.run(`jenkins.targets ${key.name}`, false, () => {
        const mk = this.managed(key.name);
        return mk.jenkins.map((t) => this.target(mk, t.name));
      }),
    probe: {
      whoAmI: (creds) =>
        this.run(
          `sts.whoAmI ${creds.accessKeyId}`,
          false,
          () => `arn:aws:iam::${ACCOUNT}:user/jenkins/${this.authenticate(creds.accessKeyId).userName}`,
        ),
      ecrLogin: (creds) =>
        this.run(`ecr.login ${creds.accessKeyId}`, false, () => {
          this.authenticate(creds.accessKeyId);
        }),
    },
    clock: this.clock,
    log: this.log,
  });

  /** The composition the emergency needs, over this world. */
  composition(): EmergencyComposition {
    return {
      config: this.config,
      engine: this.engine,
      secrets: this.secretStore,
      keyStoreFor: () => this.keyStore,
      accessKeyOwner: (_key, accessKeyId) =>
        this.run(`iam.owner ${accessKeyId}`, false, () => this.keys.get(accessKeyId)?.userName),
      ownAccountId: () => this.run('sts.ownAccount', false, () => ACCOUNT),
    };
  }
}
