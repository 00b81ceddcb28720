import { parseKeySecret, toCredentials, type KeySecret } from '../domain/keys';
import { planCreate } from '../domain/create-plan';
import { messageOf, RotationError, UnsafeStateError, VerificationError } from '../domain/errors';
import type { Clock, JenkinsTargetPort, KeyProbe, KeyStore, Log, SecretStore } from './ports';
import { waitUntilUsable } from './propagation';

/** The part of a managed key's configuration the engine reads. */
export interface EngineKey {
  name: string;
  iamUser: string;
  secretId: string;
  verify: {
    ecr: { region: string; registryId?: string | undefined; registryLogin: boolean };
    canary?: {
      jenkins: string;
      job: string;
      parameters?: Record<string, string> | undefined;
      timeoutSeconds: number;
    };
  };
  policy: { propagationTimeoutSeconds: number; consecutiveSuccesses: number };
}

export interface EngineDeps {
  secrets: SecretStore;
  keyStore(key: EngineKey): Promise<KeyStore>;
  jenkins(key: EngineKey): Promise<JenkinsTargetPort[]>;
  probe: KeyProbe;
  clock: Clock;
  log: Log;
}

export interface StepContext {
  /** ClientRequestToken: the VersionId of the version being rotated in. */
  token: string;
  /** Epoch ms by which the step must have returned (the Lambda's remaining time, less a margin). */
  deadline: number;
  signal?: AbortSignal;
  rotationToken?: string;
  /**
   * In-process rotation (`rotateNow`), not driven by RotateSecret: the token's version need not exist yet, and
   * createSecret then creates it with PutSecretValue(AWSPENDING). An AWSPENDING on another version is then a
   * rotation in flight, which createSecret refuses ({@link RotationInProgressError}) unless `takeOver` is set.
   */
  direct?: boolean;
  /**
   * With `direct` (emergency): abandon a rotation in flight instead of refusing. Its version is handled as a stale
   * AWSPENDING: Jenkins targets holding its key are put back on the current key, then that key is deleted.
   */
  takeOver?: boolean;
  /**
   * Emergency rotation: take the AWSCURRENT key out of service as soon as the new key is stored (and again on a
   * re-run of createSecret, so that a retry converges). A failure to do so is recorded and logged, not thrown:
   * the rotation goes on, and finishSecret deactivates the key anyway.
   */
  revokeCurrentOnCreate?: boolean;
  /** With `revokeCurrentOnCreate`: delete that key right after deactivating it. */
  deleteRevoked?: boolean;
  /** Called while waiting for the new key to propagate (CLI progress). */
  onProgress?: (event: { attempt: number; ok: boolean; streak: number; needed: number }) => void;
}

export type Step = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
export const STEPS: readonly Step[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

export interface StepResult {
  step: Step;
  changed: boolean;
  /** What the step did (or found already done), in order, for reports and logs. Ids only. */
  actions: string[];
  newKeyId?: string;
  oldKeyId?: string;
  /** What went wrong or needs attention without failing the step (emergency paths). Ids only. */
  warnings?: string[];
}

const INTENT_TAG = 'key-rotator:creating';
export const deactivatedTag = (accessKeyId: string): string => `key-rotator:deactivated:${accessKeyId}`;

/** Errors that mean "this key is not (yet) known here": retryable while IAM propagates the new key. */
const PROPAGATION_ERRORS = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'AuthFailure',
]);

/** What {@link RotationEngine.revokeKey} found and left: the status of one key before and after. */
export interface RevokeResult {
  accessKeyId: string;
  before: 'Active' | 'Inactive' | 'absent';
  after: 'Active' | 'Inactive' | 'deleted' | 'absent';
  changed: boolean;
  actions: string[];
}

/** What {@link RotationEngine.retireKey} did, including what it could not do. */
export interface RetireResult extends RevokeResult {
  /** Jenkins targets that held the key and were put back on the current key. */
  jenkinsRestored: string[];
  /** What could not be done (e.g. a Jenkins target still holding the key). */
  failures: string[];
  /** The version of an abandoned rotation whose pending key this was. */
  abandonedVersion?: string;
}

export class WrongIdentityError extends UnsafeStateError {}

/** A direct rotation found another rotation in flight (an AWSPENDING on another version) and did not touch it. */
export class RotationInProgressError extends RotationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, 'RotationInProgress', details);
    this.name = 'RotationInProgressError';
  }
}

interface Restore {
  /** Targets put back on the current key. */
  restored: string[];
  /** Targets that could not be read or written. */
  failed: string[];
  /** Why nothing was restored, when the current key is not active (revoked): Jenkins stays where it is. */
  skipped?: string;
}

/**
 * The rotation engine: the four Secrets Manager steps. Each reads the real state first, decides with pure
 * logic, and acts only when needed, so that a repeated or resumed step converges.
 */
export class RotationEngine {
  constructor(private readonly deps: EngineDeps) {}

  async run(step: Step, key: EngineKey, ctx: StepContext): Promise<StepResult> {
    switch (step) {
      case 'createSecret':
        return this.createSecret(key, ctx);
      case 'setSecret':
        return this.setSecret(key, ctx);
      case 'testSecret':
        return this.testSecret(key, ctx);
      case 'finishSecret':
        return this.finishSecret(key, ctx);
    }
  }

  async createSecret(key: EngineKey, ctx: StepContext): Promise<StepResult> {
    const { secrets } = this.deps;
    const result: StepResult = { step: 'createSecret', changed: false, actions: [] };
    const d = await secrets.describe(key.secretId);
    const stages = d.versions[ctx.token];
    if (stages?.includes('AWSCURRENT')) {
      result.actions.push('version is already AWSCURRENT');
      return result;
    }
    if (!stages) {
      if (!ctx.direct)
        throw new UnsafeStateError(`secret ${d.name} has no version ${ctx.token} to rotate into`);
      const inFlight = Object.entries(d.versions)
        .filter(([, st]) => st.includes('AWSPENDING') && !st.includes('AWSCURRENT'))
        .map(([versionId]) => versionId);
      if (inFlight.length && !ctx.takeOver)
        throw new RotationInProgressError(
          `secret ${d.name} has a rotation in progress (AWSPENDING on version ${inFlight.join(', ')}), started by Secrets Manager or by an unfinished rotation; nothing was changed. Let it finish (or fail), or use the emergency rotation, which takes it over`,
          { versionIds: inFlight },
        );
      for (const v of inFlight)
        warn(
          result,
          `took over the rotation in flight (version ${v}): it is abandoned and its new key deleted`,
        );
    } else if (!stages.includes('AWSPENDING'))
      throw new UnsafeStateError(`version ${ctx.token} of secret ${d.name} is not AWSPENDING`);
    const current = await this.currentKey(key);
    result.oldKeyId = current.accessKeyId;
    const pendingRaw = stages
      ? await secrets.getValue(key.secretId, { versionId: ctx.token, stage: 'AWSPENDING' })
      : undefined;
    const pending =
      pendingRaw === undefined ? undefined : parseKeySecret(pendingRaw, `AWSPENDING of ${d.name}`);
    const stalePending: { versionId: string; accessKeyId?: string }[] = [];
    let previousKeyId: string | undefined;
    for (const [versionId, st] of Object.entries(d.versions)) {
      if (versionId === ctx.token || st.includes('AWSCURRENT')) continue;
      if (st.includes('AWSPENDING')) {
        const raw = await secrets.getValue(key.secretId, { versionId });
        stalePending.push({ versionId, ...(raw ? { accessKeyId: this.keyIdOf(raw) } : {}) });
      }
      if (st.includes('AWSPREVIOUS')) {
        const raw = await secrets.getValue(key.secretId, { versionId });
        previousKeyId = raw ? this.keyIdOf(raw) : undefined;
      }
    }
    const iam = await this.deps.keyStore(key);
    const keys = await iam.list(key.iamUser);
    const intent = parseIntent((await iam.tags(key.iamUser))[INTENT_TAG]);
    const plan = planCreate({
      userName: key.iamUser,
      token: ctx.token,
      currentKeyId: current.accessKeyId,
      ...(pending ? { pendingKeyId: pending.accessKeyId } : {}),
      stalePending,
      ...(previousKeyId ? { previousKeyId } : {}),
      keys,
      ...(intent ? { intent } : {}),
      ...(ctx.revokeCurrentOnCreate ? { currentRevoked: true } : {}),
    });
    if (plan.kind === 'noop') {
      result.newKeyId = pending?.accessKeyId;
      result.actions.push(plan.reason);
      // A re-run after a crash between storing the new key and revoking the current one finishes the job.
      if (ctx.revokeCurrentOnCreate) await this.revokeCurrent(key, current, ctx, result);
      return result;
    }
    result.changed = true;
    const stale = plan.delete.filter((x) => x.reason === 'stale-pending').map((x) => x.accessKeyId);
    if (stale.length) {
      // Jenkins may still hold the abandoned key: put it back on AWSCURRENT before that key disappears.
      const r = await this.restoreJenkins(key, current, new Set(stale));
      result.actions.push(...r.restored.map((t) => `restored Jenkins target ${t} to the current key`));
      if (r.skipped) warn(result, r.skipped);
    }
    for (const x of plan.delete) {
      await iam.delete(key.iamUser, x.accessKeyId);
      result.actions.push(`deleted key ${x.accessKeyId} (${x.reason})`);
    }
    for (const versionId of plan.clearPendingFrom) {
      await secrets.moveStage(key.secretId, 'AWSPENDING', undefined, versionId);
      result.actions.push(`removed stale AWSPENDING from version ${versionId}`);
    }
    await iam.tag(key.iamUser, INTENT_TAG, `${this.deps.clock.now().toISOString()} ${ctx.token}`);
    const created = await iam.create(key.iamUser);
    result.newKeyId = created.accessKeyId;
    result.actions.push(`created key ${created.accessKeyId}`);
    const value: KeySecret = {
      userName: key.iamUser,
      accessKeyId: created.accessKeyId,
      secretAccessKey: created.secretAccessKey,
      createdAt: created.createDate.toISOString(),
    };
    try {
      await secrets.putPending(key.secretId, ctx.token, JSON.stringify(value), ctx.rotationToken);
    } catch (err) {
      // The write may have landed even though the call failed: only delete the key if it is not stored.
      const stored = await secrets
        .getValue(key.secretId, { versionId: ctx.token, stage: 'AWSPENDING' })
        .catch(() => undefined);
      if (!stored || this.keyIdOf(stored) !== created.accessKeyId) {
        await iam.delete(key.iamUser, created.accessKeyId);
        this.deps.log.warn('deleted the new key after failing to store it', {
          accessKeyId: created.accessKeyId,
          error: messageOf(err),
        });
        throw err;
      }
    }
    result.actions.push('stored the new key as AWSPENDING');
    // An emergency: the new key is safe in Secrets Manager, so the compromised one goes now, before anything else.
    if (ctx.revokeCurrentOnCreate) await this.revokeCurrent(key, current, ctx, result);
    await iam.untag(key.iamUser, INTENT_TAG).catch((err: unknown) => {
      this.deps.log.warn('could not remove the intent tag; it is harmless and replaced next time', {
        error: messageOf(err),
      });
    });
    return result;
  }

  async setSecret(key: EngineKey, ctx: StepContext): Promise<StepResult> {
    const result: StepResult = { step: 'setSecret', changed: false, actions: [] };
    const pending = await this.pendingKey(key, ctx.token);
    const current = await this.currentKey(key);
    result.newKeyId = pending.accessKeyId;
    result.oldKeyId = current.accessKeyId;
    const attempts = await this.waitForKey(key, pending, ctx);
    result.actions.push(`new key authenticates as ${key.iamUser} (${attempts} probes)`);
    const targets = await this.deps.jenkins(key);
    const touched: JenkinsTargetPort[] = [];
    try {
      for (const t of targets) {
        const held = await t.readAccessKeyId();
        if (held === pending.accessKeyId) {
          result.actions.push(`Jenkins target ${t.name} already holds the new key`);
          continue;
        }
        touched.push(t);
        if (held === undefined) {
          if (!t.createIfMissing)
            throw new RotationError(
              `Jenkins target ${t.name}: the credential does not exist and createIfMissing is false`,
              'JenkinsCredentialMissing',
            );
          await t.create(toCredentials(pending));
          result.actions.push(`created the credential on Jenkins target ${t.name}`);
        } else {
          await t.putKey(toCredentials(pending));
          result.actions.push(`updated Jenkins target ${t.name}`);
        }
        result.changed = true;
      }
    } catch (err) {
      const r = await this.restoreJenkins(key, current, undefined, touched);
      this.deps.log.error(
        r.skipped
          ? 'setSecret failed; the current key is not active, so Jenkins targets stay on the new key'
          : 'setSecret failed; Jenkins targets put back on the current key',
        { restored: r.restored, failed: r.failed, error: messageOf(err) },
      );
      throw err;
    }
    return result;
  }

  async testSecret(key: EngineKey, ctx: StepContext): Promise<StepResult> {
    const result: StepResult = { step: 'testSecret', changed: false, actions: [] };
    const current = await this.currentKey(key);
    const pendingRaw = await this.deps.secrets.getValue(key.secretId, {
      versionId: ctx.token,
      stage: 'AWSPENDING',
    });
    // RotateImmediately=false runs testSecret alone, on a pending version without a new key: test the current one.
    const candidate = pendingRaw ? parseKeySecret(pendingRaw, 'AWSPENDING') : current;
    result.newKeyId = candidate.accessKeyId;
    result.oldKeyId = current.accessKeyId;
    const failures: string[] = [];
    const check = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
        result.actions.push(`${what}: ok`);
      } catch (err) {
        failures.push(`${what}: ${messageOf(err)}`);
      }
    };
    const creds = toCredentials(candidate);
    await check('STS identity', async () => {
      const arn = await this.deps.probe.whoAmI(creds);
      if (!arnIsUser(arn, key.iamUser))
        throw new Error(`authenticates as ${arn}, not as user ${key.iamUser}`);
    });
    const ecr = key.verify.ecr;
    await check(`ECR login in ${ecr.region}${ecr.registryLogin ? ' (with registry /v2/)' : ''}`, () =>
      this.deps.probe.ecrLogin(creds, {
        region: ecr.region,
        registryLogin: ecr.registryLogin,
        ...(ecr.registryId ? { registryId: ecr.registryId } : {}),
      }),
    );
    const targets = await this.deps.jenkins(key);
    for (const t of targets)
      await check(`Jenkins target ${t.name} holds the new key`, async () => {
        const held = await t.readAccessKeyId();
        if (held !== candidate.accessKeyId) throw new Error(`holds ${held ?? 'no credential'}`);
      });
    const canary = key.verify.canary;
    if (canary) {
      const target = targets.find((t) => t.name === canary.jenkins);
      await check(`canary job ${canary.job}`, async () => {
        if (!target) throw new Error(`no Jenkins target named ${canary.jenkins}`);
        const timeoutMs = Math.min(
          canary.timeoutSeconds * 1000,
          ctx.deadline - this.deps.clock.now().getTime(),
        );
        const build = await target.runJob(canary.job, canary.parameters ?? {}, {
          timeoutMs,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
        if (build.result !== 'SUCCESS') throw new Error(`build #${build.number} ended ${build.result}`);
      });
    }
    if (failures.length) {
      let skipped: string | undefined;
      if (candidate.accessKeyId !== current.accessKeyId) {
        const r = await this.restoreJenkins(key, current);
        result.actions.push(...r.restored.map((t) => `restored Jenkins target ${t} to the current key`));
        skipped = r.skipped;
      }
      const state = skipped
        ? `the old key ${current.accessKeyId} is not active (revoked), so Jenkins stays on the new key ${candidate.accessKeyId}`
        : `the old key ${current.accessKeyId} stays active and Jenkins is back on it`;
      throw new VerificationError(
        `testSecret failed for ${key.name}; ${state}: ${failures.join('; ')}`,
        failures,
        {
          newKeyId: candidate.accessKeyId,
          oldKeyId: current.accessKeyId,
        },
      );
    }
    return result;
  }

  async finishSecret(key: EngineKey, ctx: StepContext): Promise<StepResult> {
    const { secrets } = this.deps;
    const result: StepResult = { step: 'finishSecret', changed: false, actions: [] };
    let d = await secrets.describe(key.secretId);
    const currentVersion = Object.entries(d.versions).find(([, st]) => st.includes('AWSCURRENT'))?.[0];
    if (currentVersion !== ctx.token) {
      await this.pendingKey(key, ctx.token);
      await secrets.moveStage(key.secretId, 'AWSCURRENT', ctx.token, currentVersion);
      result.changed = true;
      result.actions.push(`moved AWSCURRENT to version ${ctx.token}`);
      d = await secrets.describe(key.secretId);
    } else {
      result.actions.push('version is already AWSCURRENT');
    }
    if (d.versions[ctx.token]?.includes('AWSPENDING')) {
      await secrets.moveStage(key.secretId, 'AWSPENDING', undefined, ctx.token);
      result.actions.push('removed AWSPENDING from the new current version');
    }
    const now = await this.currentKey(key);
    result.newKeyId = now.accessKeyId;
    const previousVersion = Object.entries(d.versions).find(([, st]) => st.includes('AWSPREVIOUS'))?.[0];
    const previousRaw = previousVersion
      ? await secrets.getValue(key.secretId, { versionId: previousVersion })
      : undefined;
    const previousId = previousRaw ? this.keyIdOf(previousRaw) : undefined;
    if (previousId && previousId !== now.accessKeyId) {
      result.oldKeyId = previousId;
      const iam = await this.deps.keyStore(key);
      const old = (await iam.list(key.iamUser)).find((k) => k.accessKeyId === previousId);
      if (old?.status === 'Active') {
        await iam.setStatus(key.iamUser, previousId, 'Inactive');
        result.changed = true;
        result.actions.push(`deactivated the previous key ${previousId}`);
      } else {
        result.actions.push(
          old ? `previous key ${previousId} is already inactive` : `previous key ${previousId} is gone`,
        );
      }
      if (old) {
        const tags = await iam.tags(key.iamUser);
        if (!tags[deactivatedTag(previousId)])
          await iam.tag(key.iamUser, deactivatedTag(previousId), this.deps.clock.now().toISOString());
      }
    }
    return result;
  }

  /** The IAM status of one key of the managed user; 'absent' when the user has no such key. */
  async keyStatus(key: EngineKey, accessKeyId: string): Promise<'Active' | 'Inactive' | 'absent'> {
    const iam = await this.deps.keyStore(key);
    return (await iam.list(key.iamUser)).find((k) => k.accessKeyId === accessKeyId)?.status ?? 'absent';
  }

  /**
   * Takes one key of the managed user out of service now: deactivates it (tagged with the time, as finishSecret
   * does) and, when asked, deletes it. Idempotent; never touches another key, nor Secrets Manager or Jenkins.
   */
  async revokeKey(
    key: EngineKey,
    accessKeyId: string,
    opts: { delete?: boolean } = {},
  ): Promise<RevokeResult> {
    const iam = await this.deps.keyStore(key);
    const found = (await iam.list(key.iamUser)).find((k) => k.accessKeyId === accessKeyId);
    const before = found?.status ?? 'absent';
    const result: RevokeResult = { accessKeyId, before, after: before, changed: false, actions: [] };
    if (!found) {
      result.actions.push(`key ${accessKeyId} no longer exists`);
      return result;
    }
    if (found.status === 'Active') {
      await iam.setStatus(key.iamUser, accessKeyId, 'Inactive');
      result.after = 'Inactive';
      result.changed = true;
      result.actions.push(`deactivated key ${accessKeyId}`);
    } else {
      result.actions.push(`key ${accessKeyId} is already inactive`);
    }
    // The tag lets the scan's clean-up delete the key after the grace period; bookkeeping, so never fatal.
    const tag = deactivatedTag(accessKeyId);
    const tagged = await iam
      .tags(key.iamUser)
      .then((t) => t[tag] !== undefined)
      .catch(() => false);
    const bookkeeping = (what: string, fn: () => Promise<void>) =>
      fn().catch((err: unknown) =>
        this.deps.log.warn(`could not ${what}; harmless`, { accessKeyId, error: messageOf(err) }),
      );
    if (!tagged) await bookkeeping('tag the deactivated key', () => iam.tag(key.iamUser, tag, this.now()));
    if (!opts.delete) return result;
    await iam.delete(key.iamUser, accessKeyId);
    result.after = 'deleted';
    result.changed = true;
    result.actions.push(`deleted key ${accessKeyId}`);
    await bookkeeping('remove the tag of the deleted key', () => iam.untag(key.iamUser, tag));
    return result;
  }

  /**
   * Emergency, for a leaked key of the managed user that is not AWSCURRENT's (an old key, or the pending key of
   * a rotation): revokes it, puts any Jenkins target holding it back on the current key, and when it is the
   * pending key of a rotation in flight, abandons that rotation (removes its AWSPENDING). Creates no key.
   */
  async retireKey(
    key: EngineKey,
    accessKeyId: string,
    opts: { delete?: boolean } = {},
  ): Promise<RetireResult> {
    const { secrets } = this.deps;
    const current = await this.currentKey(key);
    if (current.accessKeyId === accessKeyId)
      throw new UnsafeStateError(`key ${accessKeyId} is the current key of ${key.name}: rotate it instead`);
    // Containment first: nothing below may delay the deactivation.
    const revoked = await this.revokeKey(key, accessKeyId, opts);
    const result: RetireResult = { ...revoked, jenkinsRestored: [], failures: [] };
    try {
      const r = await this.restoreJenkins(key, current, new Set([accessKeyId]));
      result.jenkinsRestored = r.restored;
      result.actions.push(...r.restored.map((t) => `put Jenkins target ${t} back on the current key`));
      result.failures.push(
        ...r.failed.map((t) => `Jenkins target ${t} could not be checked or put back on the current key`),
      );
      if (r.skipped) result.failures.push(r.skipped);
    } catch (err) {
      result.failures.push(`could not check the Jenkins targets: ${messageOf(err)}`);
    }
    const d = await secrets.describe(key.secretId);
    for (const [versionId, st] of Object.entries(d.versions)) {
      if (!st.includes('AWSPENDING') || st.includes('AWSCURRENT')) continue;
      const raw = await secrets.getValue(key.secretId, { versionId }).catch(() => undefined);
      if (!raw || this.keyIdOf(raw) !== accessKeyId) continue;
      await secrets.moveStage(key.secretId, 'AWSPENDING', undefined, versionId);
      result.abandonedVersion = versionId;
      result.changed = true;
      result.actions.push(`abandoned the rotation in flight that created it (version ${versionId})`);
    }
    return result;
  }

  /**
   * Undoes a direct rotation that failed before promoting its version: Jenkins back on the current key, the new
   * key deleted, AWSPENDING removed, so that nothing blocks the next rotation. When a Jenkins target may still
   * hold the new key, or the current key is not active, it leaves everything as it is and says so.
   */
  async abandon(key: EngineKey, token: string): Promise<{ done: boolean; actions: string[] }> {
    const { secrets } = this.deps;
    const actions: string[] = [];
    const stages = (await secrets.describe(key.secretId)).versions[token];
    if (!stages?.includes('AWSPENDING') || stages.includes('AWSCURRENT')) return { done: true, actions };
    const raw = await secrets.getValue(key.secretId, { versionId: token, stage: 'AWSPENDING' });
    const newKeyId = raw ? this.keyIdOf(raw) : undefined;
    const current = await this.currentKey(key);
    if (newKeyId && newKeyId !== current.accessKeyId) {
      const r = await this.restoreJenkins(key, current, new Set([newKeyId]));
      actions.push(...r.restored.map((t) => `restored Jenkins target ${t} to the current key`));
      if (r.failed.length || r.skipped) {
        actions.push(
          `left version ${token} pending: ${r.skipped ?? `Jenkins target(s) ${r.failed.join(', ')} may still hold the new key ${newKeyId}`}`,
        );
        return { done: false, actions };
      }
      await (await this.deps.keyStore(key)).delete(key.iamUser, newKeyId);
      actions.push(`deleted the new key ${newKeyId}`);
    }
    await secrets.moveStage(key.secretId, 'AWSPENDING', undefined, token);
    actions.push(`removed AWSPENDING from version ${token}`);
    return { done: true, actions };
  }

  /** Waits until the pending key authenticates as the managed user, with consecutive successes. */
  private async waitForKey(key: EngineKey, pending: KeySecret, ctx: StepContext): Promise<number> {
    const { clock, probe } = this.deps;
    const deadline = Math.min(
      ctx.deadline,
      clock.now().getTime() + key.policy.propagationTimeoutSeconds * 1000,
    );
    const creds = toCredentials(pending);
    return waitUntilUsable(
      async () => {
        const arn = await probe.whoAmI(creds);
        if (!arnIsUser(arn, key.iamUser))
          throw new WrongIdentityError(`the new key authenticates as ${arn}, not as user ${key.iamUser}`);
      },
      clock,
      {
        deadline,
        consecutiveSuccesses: key.policy.consecutiveSuccesses,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onAttempt: (a) => {
          ctx.onProgress?.({
            attempt: a.n,
            ok: a.ok,
            streak: a.streak,
            needed: key.policy.consecutiveSuccesses,
          });
          if (!a.ok) this.deps.log.info('new key not usable yet', { attempt: a.n, error: a.error });
        },
      },
      (err) =>
        err instanceof WrongIdentityError ||
        !(err instanceof Error && (PROPAGATION_ERRORS.has(err.name) || isTransient(err))),
    );
  }

  /**
   * Puts Jenkins targets back on the current key: all, those holding one of `holding`, or `only` these. Not when
   * the current key is inactive or gone (an emergency revoked it): a dead key is no better than whatever
   * Jenkins holds now.
   */
  private async restoreJenkins(
    key: EngineKey,
    current: KeySecret,
    holding?: Set<string>,
    only?: JenkinsTargetPort[],
  ): Promise<Restore> {
    const out: Restore = { restored: [], failed: [] };
    const status = await this.keyStatus(key, current.accessKeyId).catch(() => 'Active' as const);
    if (status !== 'Active') {
      out.skipped = `left Jenkins as it is: the current key ${current.accessKeyId} is ${status === 'absent' ? 'deleted' : 'inactive'}`;
      return out;
    }
    const targets = only ?? (await this.deps.jenkins(key));
    for (const t of targets) {
      try {
        const held = await t.readAccessKeyId();
        if (held === current.accessKeyId) continue;
        if (holding && (held === undefined || !holding.has(held))) continue;
        if (held === undefined) continue;
        await t.putKey(toCredentials(current));
        out.restored.push(t.name);
      } catch (err) {
        out.failed.push(t.name);
        this.deps.log.error('could not put a Jenkins target back on the current key', {
          target: t.name,
          error: messageOf(err),
        });
      }
    }
    return out;
  }

  /** Emergency: revokes AWSCURRENT's key right after the new key is stored. Records a failure, never throws. */
  private async revokeCurrent(
    key: EngineKey,
    current: KeySecret,
    ctx: StepContext,
    result: StepResult,
  ): Promise<void> {
    try {
      const r = await this.revokeKey(key, current.accessKeyId, { delete: ctx.deleteRevoked === true });
      if (r.changed) result.changed = true;
      result.actions.push(...r.actions.map((a) => `revoked the current key at once: ${a}`));
    } catch (err) {
      warn(
        result,
        `could not revoke the current key ${current.accessKeyId} at once (finishSecret deactivates it): ${messageOf(err)}`,
      );
      this.deps.log.error('could not revoke the current key at once', {
        accessKeyId: current.accessKeyId,
        error: messageOf(err),
      });
    }
  }

  private async currentKey(key: EngineKey): Promise<KeySecret> {
    const raw = await this.deps.secrets.getValue(key.secretId, { stage: 'AWSCURRENT' });
    const current = parseKeySecret(raw, `AWSCURRENT of ${key.secretId}`);
    if (current.userName !== key.iamUser)
      throw new UnsafeStateError(
        `secret ${key.secretId} holds a key of user ${current.userName}, but the configuration manages ${key.iamUser}`,
      );
    return current;
  }

  private async pendingKey(key: EngineKey, token: string): Promise<KeySecret> {
    const raw = await this.deps.secrets.getValue(key.secretId, { versionId: token, stage: 'AWSPENDING' });
    if (raw === undefined)
      throw new UnsafeStateError(
        `secret ${key.secretId} has no AWSPENDING value for version ${token}; run createSecret first`,
      );
    return parseKeySecret(raw, `AWSPENDING of ${key.secretId}`);
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  private keyIdOf(raw: string): string | undefined {
    try {
      const v = JSON.parse(raw) as { accessKeyId?: unknown };
      return typeof v.accessKeyId === 'string' ? v.accessKeyId : undefined;
    } catch {
      return undefined;
    }
  }
}

function warn(result: StepResult, message: string): void {
  (result.warnings ??= []).push(message);
}

function parseIntent(value: string | undefined): { token: string; at: Date } | undefined {
  const m = /^(\S+) (\S+)$/.exec(value ?? '');
  if (!m) return undefined;
  const at = new Date(m[1]!);
  return Number.isNaN(at.getTime()) ? undefined : { token: m[2]!, at };
}

/** `arn:aws:iam::123:user/path/name` names user `name`. */
export const arnIsUser = (arn: string, userName: string): boolean =>
  /^arn:aws[\w-]*:iam::\d{12}:user\//.test(arn) && arn.endsWith(`/${userName}`);

function isTransient(err: Error): boolean {
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return (
    err.name === 'TimeoutError' ||
    /ECONNRESET|ECONNREFUSED|ETIMEDOUT|socket hang up/i.test(err.message) ||
    (meta?.httpStatusCode ?? 0) >= 500 ||
    /Throttl/i.test(err.name)
  );
}
