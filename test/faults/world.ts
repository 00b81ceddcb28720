import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import type { KeyEvent } from '../../localcloud/aws/state';
import type { CallLog } from '../../localcloud/calls';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { parseConfig, type RotatorConfig } from '../../src/config';
import { selfRotationPolicy } from '../../src/engine/self-rotate';
import { authenticates } from '../support/aws';
import { hookInvoker, selfRun, type ChildSpec, type StepOutcome } from './hook';

export type { ChildSpec, StepOutcome };

/**
 * One isolated local cloud for one fault case: the scheduled path's setup (a 120-day key in the system store, as
 * an AWS credential reached with an API token, and in a folder store, as a username/password credential reached
 * with a password and crumbs; a canary job; ECR with its registry), the rotation hook wired in-process, and a
 * monitor that checks the safety rules at the instant each key changes.
 */

export const MATRIX_KEYS: ScenarioKey[] = [
  {
    name: 'prod-ecr-push',
    iamUser: 'jenkins-prod',
    ageDays: 120,
    secretName: 'jenkins/prod/aws-key',
    credentials: [
      { store: 'system', credentialId: 'aws-prod', kind: 'aws' },
      {
        store: { folder: 'team-a/deploy' },
        credentialId: 'aws-prod-userpass',
        kind: 'usernamePassword',
        auth: 'password',
      },
    ],
    canary: true,
  },
];
const SECRET = 'jenkins/prod/aws-key';
const USER = 'jenkins-prod';
/** RotateSecret's function: does nothing, so the harness drives the steps itself, as Secrets Manager would. */
export const IDLE_LAMBDA_ARN = 'arn:aws:lambda:us-east-1:111122223333:function:fault-matrix-idle';
/** The engine may assume one clock here (emulators and rotator share the host's): attempts expire fast. */
export const MATRIX_CLOCK_SKEW_MS = 2_000;
/** Each step invocation's Lambda time: its deadline is this less the 15 s safety margin. */
export const STEP_REMAINING_MS = 25_000;
/** Where a self-rotation reads the rotator's Jenkins token (the job binds it from Jenkins' store). */
const SELF_TOKEN_ENV = 'FAULT_MATRIX_JENKINS_TOKEN';

/**
 * `hook`: the scheduled path, Secrets Manager driving the rotation hook. `self`: `key-rotator self-rotate` next to
 * Jenkins, signing in with the key it rotates under nothing but the self-only policy (and ECR push).
 */
export type Mode = 'hook' | 'self';

/**
 * The seeded configuration, made a self-rotation: the key has rotatedBy "self", the rotator's Jenkins token comes
 * from an environment variable, and the IAM user may do exactly what `self-rotate --print-policy` prints, plus push
 * to ECR (inline policies replace the seeded permissions in the emulator).
 */
async function asSelfRotation(cloud: LocalCloud, seeded: unknown, secretArn: string): Promise<unknown> {
  const raw = structuredClone(seeded) as { keys: Record<string, unknown>[] };
  for (const k of raw.keys) {
    k['rotatedBy'] = 'self';
    for (const t of k['jenkins'] as Record<string, unknown>[]) {
      delete t['tokenSecretId'];
      t['tokenEnv'] = SELF_TOKEN_ENV;
    }
  }
  const iam = new IAMClient(cloud.aws.adminClientConfig());
  const policy = selfRotationPolicy({
    accountId: cloud.aws.state.defaultAccountId,
    userPath: '/jenkins/',
    secretArn: `${secretArn.slice(0, -7)}-??????`,
  });
  const put = (PolicyName: string, document: unknown) =>
    iam.send(
      new PutUserPolicyCommand({ UserName: USER, PolicyName, PolicyDocument: JSON.stringify(document) }),
    );
  await put('self-rotation', policy);
  await put('ecr-push', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:PutImage'], Resource: '*' }],
  });
  iam.destroy();
  return raw;
}

interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
}

export class World {
  /** Safety rules broken at the instant of a key change. */
  readonly violations: string[] = [];
  private constructor(
    /** Versions (tokens) whose testSecret passed. */
    readonly testPassed: Set<string>,
    readonly mode: Mode,
    readonly cloud: LocalCloud,
    readonly rawConfig: unknown,
    readonly config: RotatorConfig,
    readonly seededKey: Credential,
    private readonly marker: Server,
    readonly markerUrl: string,
    private readonly sm: SecretsManagerClient,
  ) {}

  static async start(mode: Mode = 'hook'): Promise<World> {
    const cloud = await startLocalCloud({ aws: { propagationDelayMs: 0 } });
    const { config: seededConfig, seeded } = await seedScenario(cloud, MATRIX_KEYS);
    const raw =
      mode === 'self' ? await asSelfRotation(cloud, seededConfig, seeded[0]?.secretArn ?? '') : seededConfig;
    const config = parseConfig(raw);
    cloud.aws.state.rotationFunctions.set(IDLE_LAMBDA_ARN, () => Promise.resolve(undefined));
    const seededId = seeded[0]?.accessKeyId ?? '';
    const seededKey = {
      accessKeyId: seededId,
      secretAccessKey: cloud.aws.state.accessKeys.get(seededId)?.secretAccessKey ?? '',
    };
    // testSecret passes reported by a child process, before it goes on to finishSecret.
    const testPassed = new Set<string>();
    const marker = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { token } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { token?: string };
        if (token) testPassed.add(token);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => marker.listen(0, '127.0.0.1', () => r()));
    const markerUrl = `http://127.0.0.1:${(marker.address() as AddressInfo).port}/`;
    const world = new World(
      testPassed,
      mode,
      cloud,
      raw,
      config,
      seededKey,
      marker,
      markerUrl,
      new SecretsManagerClient(cloud.aws.adminClientConfig()),
    );
    cloud.aws.state.onKeyEvent = (e) => {
      try {
        world.checkKeyEvent(e);
      } catch (err) {
        world.violations.push(`the monitor failed on event ${e.seq}: ${String(err)}`);
      }
    };
    return world;
  }

  get calls(): CallLog {
    return this.cloud.aws.state.calls;
  }

  /** RotateSecret (as the scan does): the token of a new, empty AWSPENDING version. */
  async startRotation(): Promise<string> {
    const r = await this.sm.send(
      new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: IDLE_LAMBDA_ARN }),
    );
    await waitForRotations(this.cloud.aws.state, 10_000);
    return r.VersionId ?? '';
  }

  childSpec(token: string): ChildSpec {
    const aws = this.cloud.aws.adminClientConfig();
    return {
      awsUrl: aws.endpoint,
      region: aws.region,
      credentials: aws.credentials,
      config: this.rawConfig,
      secretId: SECRET,
      token,
      markerUrl: this.markerUrl,
      remainingMs: STEP_REMAINING_MS,
      clockSkewMs: MATRIX_CLOCK_SKEW_MS,
      mode: this.mode,
      ...(this.mode === 'self'
        ? {
            initial: this.buildKey(),
            tokenEnv: {
              name: SELF_TOKEN_ENV,
              value: this.cloud.jenkins.state.users.get('key-rotator')?.apiTokens[0] ?? '',
            },
          }
        : {}),
    };
  }

  /** What a new Jenkins build gets to sign in with: the key the system credential holds. */
  buildKey(): Credential {
    const key = this.jenkinsHolds()[0]?.key;
    if (!key) throw new Error('the system credential holds no key');
    return key;
  }

  /** One self-rotation run in this process, signing in with what a new build would get. */
  selfRunNow(opts: { takeOverRunning?: boolean } = {}): Promise<StepOutcome[]> {
    const spec = { ...this.childSpec(''), ...(opts.takeOverRunning ? { takeOverRunning: true } : {}) };
    return selfRun(spec, (t) => {
      this.testPassed.add(t);
      return Promise.resolve();
    });
  }

  /** The rotation hook as Secrets Manager invokes it: the steps in order, stopping at the first failure. */
  async runSteps(token: string): Promise<StepOutcome[]> {
    const invoke = hookInvoker(this.childSpec(token), (t) => {
      this.testPassed.add(t);
      return Promise.resolve();
    });
    return invoke();
  }

  // ---- the state, read straight from the emulators ------------------------------------------------------------

  private secretRecord() {
    const s = this.cloud.aws.state.account(this.cloud.aws.state.defaultAccountId).secrets.get(SECRET);
    if (!s) throw new Error('no secret');
    return s;
  }

  private versionKey(stage: string): { versionId: string; key?: Credential } | undefined {
    const v = [...this.secretRecord().versions.values()].find((x) => x.stages.includes(stage));
    if (!v) return undefined;
    const parsed = v.secretString ? (JSON.parse(v.secretString) as Credential) : undefined;
    return { versionId: v.versionId, ...(parsed ? { key: parsed } : {}) };
  }

  /** The access key id and secret each Jenkins target holds. */
  jenkinsHolds(): { target: string; key?: Credential }[] {
    const j = this.cloud.jenkins.state;
    const sys = j.credentialView('system', 'aws-prod')?.fields;
    const folder = j.credentialView({ folder: 'team-a/deploy' }, 'aws-prod-userpass')?.fields;
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    return [
      {
        target: 'system aws-prod',
        ...(sys
          ? { key: { accessKeyId: str(sys['accessKey']), secretAccessKey: str(sys['secretKey']) } }
          : {}),
      },
      {
        target: 'folder aws-prod-userpass',
        ...(folder
          ? { key: { accessKeyId: str(folder['username']), secretAccessKey: str(folder['password']) } }
          : {}),
      },
    ];
  }

  userKeys() {
    return this.cloud.aws.state.keysOf(this.cloud.aws.state.defaultAccountId, USER);
  }

  userTags(): Record<string, string> {
    const u = this.cloud.aws.state.account(this.cloud.aws.state.defaultAccountId).users.get(USER);
    return Object.fromEntries((u?.tags ?? []).map((t) => [t.Key, t.Value]));
  }

  /**
   * At the instant a key changes: nothing in use (AWSCURRENT's key, or a key a Jenkins target holds) is deleted
   * while active, and a key is deactivated only once AWSCURRENT holds another key whose version passed testSecret
   * and every Jenkins target holds that key.
   */
  private checkKeyEvent(e: Readonly<KeyEvent>): void {
    if (e.userName !== USER) return;
    const current = this.versionKey('AWSCURRENT');
    const currentId = current?.key?.accessKeyId;
    const held = this.jenkinsHolds();
    const at = `event ${e.seq} (${e.kind} ${e.accessKeyId})`;
    if (e.kind === 'delete') {
      if (e.accessKeyId === currentId) this.violations.push(`${at}: deleted AWSCURRENT's key`);
      else if (e.statusBefore === 'Active' && held.some((h) => h.key?.accessKeyId === e.accessKeyId))
        this.violations.push(`${at}: deleted an active key that a Jenkins target holds`);
    }
    if (e.kind === 'update' && e.statusBefore === 'Active' && e.statusAfter === 'Inactive') {
      if (e.accessKeyId === currentId) this.violations.push(`${at}: deactivated AWSCURRENT's key`);
      else if (!current || !this.testPassed.has(current.versionId))
        this.violations.push(`${at}: deactivated before testSecret passed for AWSCURRENT's version`);
      const off = held.filter((h) => h.key?.accessKeyId !== currentId);
      if (off.length)
        this.violations.push(
          `${at}: deactivated while ${off.map((h) => h.target).join(', ')} is not on AWSCURRENT`,
        );
    }
  }

  /**
   * Where every case must end: one AWSCURRENT key, active and accepted by AWS, held (with its secret) by every
   * Jenkins target; the user's keys exactly that one and the old one, inactive, its deactivation recorded; no
   * AWSPENDING left; no key that no stage records; no safety rule broken on the way. Returns what is wrong.
   */
  async problems(): Promise<string[]> {
    const out = [...this.violations];
    const current = this.versionKey('AWSCURRENT');
    const cur = current?.key;
    if (!cur) return [...out, 'AWSCURRENT holds no key'];
    if (cur.accessKeyId === this.seededKey.accessKeyId) out.push('AWSCURRENT still holds the old key');
    const pending = [...this.secretRecord().versions.values()].filter(
      (v) => v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT'),
    );
    if (pending.length) out.push(`AWSPENDING left on ${pending.map((v) => v.versionId).join(', ')}`);
    const keys = this.userKeys();
    const status = (id: string) => keys.find((k) => k.accessKeyId === id)?.status ?? 'absent';
    if (status(cur.accessKeyId) !== 'Active') out.push(`the current key is ${status(cur.accessKeyId)}`);
    if (status(this.seededKey.accessKeyId) !== 'Inactive')
      out.push(`the old key is ${status(this.seededKey.accessKeyId)}, not Inactive`);
    const recorded = new Set([cur.accessKeyId, this.versionKey('AWSPREVIOUS')?.key?.accessKeyId]);
    for (const k of keys)
      if (!recorded.has(k.accessKeyId)) out.push(`key ${k.accessKeyId} (${k.status}) is in no secret stage`);
    if (keys.length > 2) out.push(`${keys.length} keys`);
    for (const h of this.jenkinsHolds())
      if (h.key?.accessKeyId !== cur.accessKeyId || h.key.secretAccessKey !== cur.secretAccessKey)
        out.push(`${h.target} holds ${h.key?.accessKeyId ?? 'nothing'}, not the current key`);
    if (!this.userTags()[`key-rotator:deactivated:${this.seededKey.accessKeyId}`])
      out.push('the deactivation of the old key is not recorded');
    if (!(await authenticates(this.cloud.aws.url, cur))) out.push('AWS refuses the current key');
    if (await authenticates(this.cloud.aws.url, this.seededKey)) out.push('AWS still accepts the old key');
    return out;
  }

  async close(): Promise<void> {
    this.sm.destroy();
    await new Promise<void>((r) => this.marker.close(() => r()));
    await this.cloud.close();
  }
}
