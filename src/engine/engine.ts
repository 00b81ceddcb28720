import { KEYLESS_TAG } from '../keyless/state';
import {
  attemptTagValue,
  isLive,
  newAttempt,
  parseAttempts,
  tokenForTag,
  type Attempt,
} from '../domain/attempts';
import { planCreate, type CreatePlan } from '../domain/create-plan';
import type { RotationObservation } from '../domain/diagnose';
import {
  awsErrorName,
  ConcurrentRotationError,
  ConfirmationRequiredError,
  InputError,
  messageOf,
  RotationError,
  UnsafeStateError,
  VerificationError,
} from '../domain/errors';
import { parseKeySecret, toCredentials, type AccessKeyMeta, type KeySecret } from '../domain/keys';
import type { Clock, JenkinsTargetPort, KeyProbe, KeyStore, Log, SecretStore } from './ports';
import { reportsFailedProbe, waitUntilUsable, type ProbePacing } from './propagation';

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
  policy: { propagationTimeoutSeconds: number; consecutiveSuccesses: number; deleteAfterDays?: number };
}

export interface EngineDeps {
  secrets: SecretStore;
  keyStore(key: EngineKey): Promise<KeyStore>;
  jenkins(key: EngineKey): Promise<JenkinsTargetPort[]>;
  probe: KeyProbe;
  clock: Clock;
  log: Log;
  /**
   * How far the clocks of the invocations, IAM and the operator may disagree, when judging whether an attempt is
   * still alive and whether it could have made a key (default 60 s). Tests on one clock set it lower.
   */
  clockSkewMs?: number;
  /** How setSecret spaces its probes of the new key (default steady probing, see propagation.ts). */
  probePacing?: ProbePacing;
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
   * The attempt record of a direct rotation lives until the rotation ends (see {@link RotationEngine.endAttempt}).
   */
  direct?: boolean;
  /**
   * With `direct` (emergency): abandon a rotation in flight instead of refusing, once no live invocation runs it.
   * Its version is handled as a stale AWSPENDING: Jenkins targets holding its key are put back on the current
   * key, then that key is deleted.
   */
  takeOver?: boolean;
  /**
   * Emergency rotation: take the AWSCURRENT key out of service as soon as the new key is stored (and again on a
   * re-run of createSecret, so that a retry converges), or at once when another invocation is rotating the user.
   * A failure to do so is recorded and logged, not thrown: the rotation goes on, and finishSecret deactivates the
   * key anyway.
   */
  revokeCurrentOnCreate?: boolean;
  /** With `revokeCurrentOnCreate`: delete that key right after deactivating it. */
  deleteRevoked?: boolean;
  /**
   * The key this rotation exists to replace (an emergency's compromised key). When AWSCURRENT no longer holds it,
   * another rotation has replaced it already: createSecret stops with {@link SupersededError}.
   */
  replaceKeyId?: string;
  /**
   * An inactive key still inside its grace period (the last rotation's rollback key) must be deleted to make
   * room: `allow` does it and says so (warning and log); `refuse` stops before any change with a
   * {@link ConfirmationRequiredError} (the CLI, unless the operator confirmed). Default `allow`.
   */
  rollbackKeyDeletion?: 'allow' | 'refuse';
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
  /** What went wrong or needs attention without failing the step. Ids only. */
  warnings?: string[];
  /** createSecret of a direct rotation: its attempt record, removed by {@link RotationEngine.endAttempt}. */
  attemptId?: string;
}

export const deactivatedTag = (accessKeyId: string): string => `key-rotator:deactivated:${accessKeyId}`;
const DEACTIVATED_PREFIX = 'key-rotator:deactivated:';

/** Errors that mean "this key is not (yet) known here": retryable while IAM propagates the new key. */
const PROPAGATION_ERRORS = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'AuthFailure',
]);

/** How long createSecret's attempt record protects the create-and-store window of a rotation hook call. */
const CREATE_LEASE_MS = 60_000;
/** How often a waiting createSecret looks again at a concurrent attempt (plus up to half as much jitter). */
const WAIT_POLL_MS = 500;
/** createSecret creates a key at most this many times in one call (each failed try is cleaned up first). */
const MAX_CREATE_TRIES = 4;

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

/** What {@link RotationEngine.abandon} did. `done` means nothing of the rotation is left in the way. */
export interface AbandonResult {
  done: boolean;
  actions: string[];
  /** The version abandoned (or looked at). */
  versionId?: string;
  /** The pending key deleted, if there was one. */
  deletedKeyId?: string;
}

export class WrongIdentityError extends UnsafeStateError {}

/** A direct rotation found another rotation in flight (an AWSPENDING on another version) and did not touch it. */
export class RotationInProgressError extends RotationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, 'RotationInProgress', details);
    this.name = 'RotationInProgressError';
  }
}

/**
 * The key this rotation was meant to replace is no longer AWSCURRENT: a concurrent rotation (another emergency
 * invocation, typically) replaced it. Nothing was changed by this rotation; its goal is reached.
 */
export class SupersededError extends RotationError {
  constructor(message: string, details: { currentKeyId: string; replacedKeyId: string }) {
    super(message, 'Superseded', details);
    this.name = 'SupersededError';
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

/** Where the token stands in the secret: the only two states a step may act on. */
type TokenState = { kind: 'pending'; versions: Record<string, string[]> } | { kind: 'current' };

/** What createSecret saw in one round: the plan, and what acting on it needs. */
interface CreateRound {
  plan: CreatePlan;
  current: KeySecret;
  pending?: KeySecret;
  keys: AccessKeyMeta[];
  attempts: Attempt[];
}

/**
 * The rotation engine: the four Secrets Manager steps. Each reads the real state first, decides with pure
 * logic, and acts only when needed, so that a repeated, resumed or concurrent step converges.
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
    const result: StepResult = { step: 'createSecret', changed: false, actions: [] };
    let revokedWhileWaiting = false;
    let waits = 0;
    for (let tries = 0; ;) {
      const state = await this.tokenState(key, ctx.token, { direct: ctx.direct === true });
      if (state.kind === 'current') return this.completeFinish(key, result, { checkJenkins: true });
      const round = await this.observeCreate(key, ctx, state.versions, result);
      const { plan, current } = round;
      result.oldKeyId = current.accessKeyId;
      if (plan.kind === 'noop') {
        result.newKeyId = round.pending?.accessKeyId;
        result.actions.push(plan.reason);
        // A re-run after a crash between storing the new key and revoking the current one finishes the job.
        if (ctx.revokeCurrentOnCreate) await this.revokeCurrent(key, current, ctx, result);
        return result;
      }
      if (plan.kind === 'finish-previous') {
        await this.completeFinish(key, result, { checkJenkins: true });
        continue;
      }
      if (plan.kind === 'wait') {
        // An emergency does not wait with the compromised key alive: the other invocation replaces it anyway.
        if (ctx.revokeCurrentOnCreate && !revokedWhileWaiting) {
          revokedWhileWaiting = true;
          await this.revokeCurrent(key, current, ctx, result);
        }
        const pause = WAIT_POLL_MS + Math.round(Math.random() * WAIT_POLL_MS * 0.5);
        if (this.deps.clock.now().getTime() + pause > ctx.deadline)
          throw new ConcurrentRotationError(
            `${plan.reason}; it did not finish before this call's deadline. Nothing was changed by this call: call it again`,
            { attempts: plan.attempts, secretId: key.secretId, user: key.iamUser },
          );
        if (waits++ === 0) this.deps.log.info('waiting for a concurrent attempt', { reason: plan.reason });
        await this.deps.clock.sleep(pause, ctx.signal);
        continue;
      }
      if (tries++ >= MAX_CREATE_TRIES)
        throw new ConcurrentRotationError(
          `could not create a key for user ${key.iamUser} after ${MAX_CREATE_TRIES} tries (each was cleaned up); call again`,
          { user: key.iamUser },
        );
      const done = await this.createAndStore(key, ctx, round, plan, result);
      if (done) return result;
    }
  }

  /** One round of createSecret's observation: the secret, the user's keys and tags, and the pure plan. */
  private async observeCreate(
    key: EngineKey,
    ctx: StepContext,
    versions: Record<string, string[]>,
    result: StepResult,
  ): Promise<CreateRound> {
    const { secrets, clock } = this.deps;
    const stages = versions[ctx.token];
    const current = await this.currentKey(key);
    if (ctx.replaceKeyId && current.accessKeyId !== ctx.replaceKeyId)
      throw new SupersededError(
        `key ${ctx.replaceKeyId} of ${key.iamUser} is no longer AWSCURRENT: another rotation replaced it with ${current.accessKeyId}`,
        { currentKeyId: current.accessKeyId, replacedKeyId: ctx.replaceKeyId },
      );
    const pendingRaw = stages
      ? await secrets.getValue(key.secretId, { versionId: ctx.token, stage: 'AWSPENDING' })
      : undefined;
    const pending =
      pendingRaw === undefined ? undefined : parseKeySecret(pendingRaw, `AWSPENDING of ${key.secretId}`);
    const stalePending: { versionId: string; accessKeyId?: string }[] = [];
    let previousKeyId: string | undefined;
    for (const [versionId, st] of Object.entries(versions)) {
      if (versionId === ctx.token || st.includes('AWSCURRENT')) continue;
      if (st.includes('AWSPENDING')) {
        const raw = await secrets.getValue(key.secretId, { versionId });
        stalePending.push({ versionId, ...(raw ? { accessKeyId: keyIdOf(raw) } : {}) });
      }
      if (st.includes('AWSPREVIOUS')) {
        const raw = await secrets.getValue(key.secretId, { versionId });
        previousKeyId = raw ? keyIdOf(raw) : undefined;
      }
    }
    const iam = await this.deps.keyStore(key);
    // Keys before tags: an attempt tags the user before it creates, so a key seen here has its attempt seen next.
    const keys = await iam.list(key.iamUser);
    const tags = await iam.tags(key.iamUser);
    if (tags[KEYLESS_TAG] !== undefined)
      throw new InputError(
        `${key.name} is keyless since ${tags[KEYLESS_TAG]} (its jobs use Jenkins ID tokens and STS): no access key is created for user ${key.iamUser}. To go back to a long-lived key: key-rotator keyless rollback ${key.name}`,
        { keylessSince: tags[KEYLESS_TAG] },
      );
    const attempts = parseAttempts(tags);
    const now = clock.now();
    if (ctx.direct && !stages && stalePending.length && !ctx.takeOver) {
      const running = stalePending.filter((s) =>
        attempts.some((a) => a.token === tokenForTag(s.versionId) && isLive(a, now, this.deps.clockSkewMs)),
      );
      const ids = stalePending.map((s) => s.versionId).join(', ');
      throw new RotationInProgressError(
        running.length
          ? `secret ${key.secretId} is being rotated right now by another invocation (version ${ids}); nothing was changed. Wait for it to finish`
          : `secret ${key.secretId} has an unfinished rotation (AWSPENDING on version ${ids}); nothing was changed. Continue it with key-rotator rotate ${key.iamUser} --resume, or undo it with --abandon (the emergency rotation takes it over)`,
        { versionIds: stalePending.map((s) => s.versionId), running: running.length > 0 },
      );
    }
    const plan = planCreate({
      userName: key.iamUser,
      token: ctx.token,
      now,
      currentKeyId: current.accessKeyId,
      ...(pending ? { pendingKeyId: pending.accessKeyId } : {}),
      stalePending,
      ...(previousKeyId ? { previousKeyId } : {}),
      keys,
      attempts,
      ...(this.deps.clockSkewMs !== undefined ? { clockSkewMs: this.deps.clockSkewMs } : {}),
      deactivatedAt: deactivationDates(tags),
      ...(key.policy.deleteAfterDays !== undefined ? { deleteAfterDays: key.policy.deleteAfterDays } : {}),
      ...(ctx.revokeCurrentOnCreate ? { currentRevoked: true } : {}),
    });
    if (plan.kind === 'create' && ctx.direct && !stages)
      for (const s of stalePending)
        warn(
          result,
          `took over the rotation in flight (version ${s.versionId}): it is abandoned and its new key deleted`,
        );
    return { plan, current, ...(pending ? { pending } : {}), keys, attempts };
  }

  /**
   * Acts on a `create` plan: clean-up, the attempt record, CreateAccessKey, PutSecretValue(AWSPENDING). Returns
   * true when the new key is stored (or another attempt's key for this token was found stored), false when
   * createSecret must look again (another attempt won the 2-key slot, or a try failed and was cleaned up).
   */
  private async createAndStore(
    key: EngineKey,
    ctx: StepContext,
    round: CreateRound,
    plan: Extract<CreatePlan, { kind: 'create' }>,
    result: StepResult,
  ): Promise<boolean> {
    const { secrets, clock, log } = this.deps;
    const { current } = round;
    const rollback = plan.delete.filter((x) => x.insideGrace);
    if (rollback.length && ctx.rollbackKeyDeletion === 'refuse')
      throw new ConfirmationRequiredError(
        `rotating ${key.name} now deletes ${rollback.map((x) => `key ${x.accessKeyId} (deactivated ${x.insideGrace?.deactivatedAt.toISOString()}, inside its grace period until ${x.insideGrace?.graceEndsAt.toISOString()})`).join(', ')}: the key a rollback of the last rotation would need. Nothing was changed. Confirm to go ahead`,
        { accessKeyIds: rollback.map((x) => x.accessKeyId) },
      );
    const iam = await this.deps.keyStore(key);
    const stale = plan.delete.filter((x) => x.reason === 'stale-pending').map((x) => x.accessKeyId);
    if (stale.length) {
      // Jenkins may still hold the abandoned key: put it back on AWSCURRENT before that key disappears.
      const r = await this.restoreJenkins(key, current, new Set(stale));
      result.actions.push(...r.restored.map((t) => `restored Jenkins target ${t} to the current key`));
      if (r.skipped) warn(result, r.skipped);
    }
    for (const x of plan.delete) {
      await iam.delete(key.iamUser, x.accessKeyId);
      result.changed = true;
      result.actions.push(`deleted key ${x.accessKeyId} (${x.reason})`);
      if (x.insideGrace) {
        const message = `deleted key ${x.accessKeyId} to make room although it is inside its grace period (deactivated ${x.insideGrace.deactivatedAt.toISOString()}, until ${x.insideGrace.graceEndsAt.toISOString()}): the last rotation can no longer be rolled back to it`;
        warn(result, message);
        log.warn('deleted the rollback key of the last rotation to make room', {
          key: key.name,
          accessKeyId: x.accessKeyId,
          deactivatedAt: x.insideGrace.deactivatedAt.toISOString(),
        });
      }
    }
    for (const versionId of plan.clearPendingFrom) {
      await secrets.moveStage(key.secretId, 'AWSPENDING', undefined, versionId);
      result.changed = true;
      result.actions.push(`removed stale AWSPENDING from version ${versionId}`);
    }
    for (const tagKey of plan.removeAttempts) await this.untag(key, iam, tagKey);

    const now = clock.now();
    // A hook call protects only its create-and-store window; a direct rotation, the whole rotation.
    const lease = ctx.direct ? ctx.deadline : Math.min(ctx.deadline, now.getTime() + CREATE_LEASE_MS);
    const attempt = newAttempt(ctx.token, now, new Date(lease), ctx.direct ? 'direct' : 'hook');
    await iam.tag(key.iamUser, attempt.tagKey, attemptTagValue(attempt));
    let created: Awaited<ReturnType<KeyStore['create']>>;
    try {
      created = await iam.create(key.iamUser);
    } catch (err) {
      const outcome = createOutcome(err);
      if (outcome === 'unknown') {
        // The request may have been applied with its answer lost: the key it may have made is an orphan. Mark this
        // attempt dead so that the next round (or any other invocation) deletes that orphan, then try again.
        await this.markDead(key, iam, attempt);
        log.warn('CreateAccessKey failed with an unknown outcome; cleaning up and trying again', {
          key: key.name,
          error: messageOf(err),
        });
        return false;
      }
      await this.untag(key, iam, attempt.tagKey);
      // LimitExceeded: another attempt took the free slot first; look again (and wait for it).
      if (outcome === 'limit') return false;
      if (outcome === 'throttled') {
        await clock.sleep(WAIT_POLL_MS, ctx.signal);
        return false;
      }
      throw err;
    }
    result.changed = true;
    result.newKeyId = created.accessKeyId;
    result.actions.push(`created key ${created.accessKeyId}`);
    // Past the lease a concurrent invocation may take this key for an orphan: give it up rather than race.
    if (clock.now().getTime() > lease) {
      await iam.delete(key.iamUser, created.accessKeyId).catch(() => undefined);
      await this.markDead(key, iam, attempt);
      throw new ConcurrentRotationError(
        `creating the key for ${key.iamUser} took longer than the attempt's lease; the key was deleted again. Call again`,
      );
    }
    const value: KeySecret = {
      userName: key.iamUser,
      accessKeyId: created.accessKeyId,
      secretAccessKey: created.secretAccessKey,
      createdAt: created.createDate.toISOString(),
    };
    try {
      await secrets.putPending(key.secretId, ctx.token, JSON.stringify(value), ctx.rotationToken);
    } catch (err) {
      // The write may have landed although the call failed; or another attempt of this token stored first.
      const stored = await secrets
        .getValue(key.secretId, { versionId: ctx.token, stage: 'AWSPENDING' })
        .then((raw) => ({ keyId: raw ? keyIdOf(raw) : undefined }))
        .catch(() => undefined);
      if (!stored) {
        // Unknown either way: leave the key to whoever looks next (stored: it is AWSPENDING's; not: an orphan).
        await this.markDead(key, iam, attempt);
        throw err;
      }
      if (stored.keyId !== created.accessKeyId) {
        try {
          await iam.delete(key.iamUser, created.accessKeyId);
        } catch {
          // Left as the orphan of a dead attempt: the next createSecret (or abandon) deletes it.
          await this.markDead(key, iam, attempt);
          throw err;
        }
        await this.untag(key, iam, attempt.tagKey);
        log.warn('deleted the new key after failing to store it', {
          accessKeyId: created.accessKeyId,
          error: messageOf(err),
        });
        result.actions.push(`deleted key ${created.accessKeyId} again: it could not be stored`);
        delete result.newKeyId;
        if (stored.keyId === undefined) throw err;
        // Another invocation of this token stored its key: look again, which converges on it.
        return false;
      }
    }
    result.actions.push('stored the new key as AWSPENDING');
    // An emergency: the new key is safe in Secrets Manager, so the compromised one goes now, before anything else.
    if (ctx.revokeCurrentOnCreate) await this.revokeCurrent(key, current, ctx, result);
    if (ctx.direct) result.attemptId = attempt.tagKey;
    else await this.untag(key, iam, attempt.tagKey);
    return true;
  }

  async setSecret(key: EngineKey, ctx: StepContext): Promise<StepResult> {
    const result: StepResult = { step: 'setSecret', changed: false, actions: [] };
    if ((await this.tokenState(key, ctx.token)).kind === 'current')
      return this.completeFinish(key, result, { checkJenkins: true });
    const pending = await this.pendingKey(key, ctx.token);
    const current = await this.currentKey(key);
    result.newKeyId = pending.accessKeyId;
    result.oldKeyId = current.accessKeyId;
    if ((await this.keyStatus(key, pending.accessKeyId)) === 'absent')
      throw new UnsafeStateError(
        `AWSPENDING of ${key.secretId} holds key ${pending.accessKeyId}, which no longer exists on user ${key.iamUser}: this rotation cannot complete. Abandon it (key-rotator rotate ${key.iamUser} --abandon), then rotate again`,
        { pendingKeyId: pending.accessKeyId, fix: `key-rotator rotate ${key.iamUser} --abandon` },
      );
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
    // Before any side effect (the canary job is one): the token must be this secret's rotation in progress.
    if ((await this.tokenState(key, ctx.token)).kind === 'current')
      return this.completeFinish(key, result, { checkJenkins: true });
    const current = await this.currentKey(key);
    const pendingRaw = await this.deps.secrets.getValue(key.secretId, {
      versionId: ctx.token,
      stage: 'AWSPENDING',
    });
    // RotateImmediately=false runs testSecret alone, on a pending version that holds the current value.
    if (pendingRaw === undefined)
      throw new UnsafeStateError(
        `AWSPENDING of ${key.secretId} (version ${ctx.token}) has no value yet: createSecret has not run; nothing was tested`,
      );
    const candidate = parseKeySecret(pendingRaw, 'AWSPENDING');
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
    const state = await this.tokenState(key, ctx.token);
    if (state.kind === 'current') return this.completeFinish(key, result, { checkJenkins: true });
    const pending = await this.pendingKey(key, ctx.token);
    // Never promote a key that is gone or disabled: AWSCURRENT must always hold a working key.
    const status = await this.keyStatus(key, pending.accessKeyId);
    if (status !== 'Active')
      throw new UnsafeStateError(
        `AWSPENDING of ${key.secretId} holds key ${pending.accessKeyId}, which is ${status === 'absent' ? 'gone' : 'inactive'}: not promoted. Abandon this rotation (key-rotator rotate ${key.iamUser} --abandon) and rotate again`,
        { pendingKeyId: pending.accessKeyId },
      );
    const currentVersion = Object.entries(state.versions).find(([, st]) => st.includes('AWSCURRENT'))?.[0];
    try {
      await secrets.moveStage(key.secretId, 'AWSCURRENT', ctx.token, currentVersion);
    } catch (err) {
      // A lost answer, or a concurrent finishSecret of this token: fine if the move did happen.
      if ((await this.tokenState(key, ctx.token)).kind !== 'current') throw err;
    }
    result.changed = true;
    result.actions.push(`moved AWSCURRENT to version ${ctx.token}`);
    return this.completeFinish(key, result, { checkJenkins: false });
  }

  /**
   * What finishSecret does once AWSCURRENT is on the new version, and what any later call with that token
   * completes if finishSecret died half-way: AWSPENDING off the current version, the previous key deactivated
   * (read back to be sure) and tagged with the time, for the clean-up after the grace period. A previous key that
   * this tool deactivated and someone reactivated since is left as it is (something uses it), with a warning.
   * With `checkJenkins`, the previous key is deactivated only when every Jenkins target holds the current key
   * (a completion long after the rotation's own checks, or of a rotation that was not ours).
   */
  async completeFinish(
    key: EngineKey,
    result: StepResult,
    opts: { checkJenkins: boolean },
  ): Promise<StepResult> {
    const { secrets } = this.deps;
    const d = await secrets.describe(key.secretId);
    const currentVersion = Object.entries(d.versions).find(([, st]) => st.includes('AWSCURRENT'))?.[0];
    if (currentVersion && d.versions[currentVersion]?.includes('AWSPENDING')) {
      await secrets.moveStage(key.secretId, 'AWSPENDING', undefined, currentVersion);
      result.changed = true;
      result.actions.push('removed AWSPENDING from the new current version');
    }
    const now = await this.currentKey(key);
    result.newKeyId = now.accessKeyId;
    const previousVersion = Object.entries(d.versions).find(([, st]) => st.includes('AWSPREVIOUS'))?.[0];
    const previousRaw = previousVersion
      ? await secrets.getValue(key.secretId, { versionId: previousVersion })
      : undefined;
    const previousId = previousRaw ? keyIdOf(previousRaw) : undefined;
    if (!previousId || previousId === now.accessKeyId) {
      if (!result.actions.length) result.actions.push('version is AWSCURRENT; nothing left to finish');
      return result;
    }
    result.oldKeyId = previousId;
    const iam = await this.deps.keyStore(key);
    const old = (await iam.list(key.iamUser)).find((k) => k.accessKeyId === previousId);
    if (!old) {
      result.actions.push(`previous key ${previousId} is gone`);
      return result;
    }
    const tags = await iam.tags(key.iamUser);
    const tagged = tags[deactivatedTag(previousId)];
    if (old.status === 'Active') {
      if (tagged !== undefined) {
        warn(
          result,
          `the previous key ${previousId} was deactivated by this tool on ${tagged} and reactivated since: left active (something uses it)`,
        );
        return result;
      }
      if (opts.checkJenkins) await this.requireJenkinsOn(key, now, previousId);
      await iam.setStatus(key.iamUser, previousId, 'Inactive');
      const after = (await iam.list(key.iamUser)).find((k) => k.accessKeyId === previousId)?.status;
      if (after === 'Active')
        throw new RotationError(
          `the previous key ${previousId} still reads as Active after UpdateAccessKey; call again`,
          'NotDeactivated',
          { accessKeyId: previousId },
          { retryable: true },
        );
      result.changed = true;
      result.actions.push(`deactivated the previous key ${previousId}`);
    } else {
      result.actions.push(`previous key ${previousId} is already inactive`);
    }
    if (tagged === undefined) {
      await iam.tag(key.iamUser, deactivatedTag(previousId), this.now());
      result.changed = true;
      result.actions.push(`recorded the deactivation of ${previousId} for the clean-up`);
    }
    return result;
  }

  /** Refuses (before any change) unless every Jenkins target holds `current`: deactivating would break it. */
  private async requireJenkinsOn(key: EngineKey, current: KeySecret, previousId: string): Promise<void> {
    for (const t of await this.deps.jenkins(key)) {
      const held = await t.readAccessKeyId();
      if (held !== current.accessKeyId)
        throw new UnsafeStateError(
          `Jenkins target ${t.name} holds ${held ?? 'no credential'}, not the current key ${current.accessKeyId}: the previous key ${previousId} stays active. Put the current key there (a new rotation does: key-rotator rotate ${key.iamUser}), then finish`,
          { target: t.name, previousKeyId: previousId },
        );
    }
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
      if (!raw || keyIdOf(raw) !== accessKeyId) continue;
      await secrets.moveStage(key.secretId, 'AWSPENDING', undefined, versionId);
      result.abandonedVersion = versionId;
      result.changed = true;
      result.actions.push(`abandoned the rotation in flight that created it (version ${versionId})`);
    }
    return result;
  }

  /**
   * Undoes a rotation that has not promoted its version (a failed direct rotation, or a stuck one an operator or
   * the scan abandons): Jenkins back on the current key, the pending key deleted, AWSPENDING removed, the
   * attempt records of that rotation and the orphans of dead attempts gone, so that a plain rotation works next.
   * When a Jenkins target may still hold the pending key, or the current key is not active, it leaves the
   * rotation as it is and says so (`done: false`). A rotation a live invocation still runs is refused unless
   * `force` (the operator says that invocation is gone).
   */
  async abandon(key: EngineKey, token: string, opts: { force?: boolean } = {}): Promise<AbandonResult> {
    const { secrets, clock } = this.deps;
    const actions: string[] = [];
    const stages = (await secrets.describe(key.secretId)).versions[token];
    if (stages?.includes('AWSCURRENT'))
      return {
        done: false,
        versionId: token,
        actions: [
          `version ${token} is AWSCURRENT already: the rotation was promoted and cannot be abandoned; finish it instead (key-rotator rotate ${key.iamUser} --resume)`,
        ],
      };
    const iam = await this.deps.keyStore(key);
    const tags = await iam.tags(key.iamUser);
    const mine = parseAttempts(tags).filter((a) => a.token === tokenForTag(token));
    const running = mine.filter((a) => isLive(a, clock.now(), this.deps.clockSkewMs) && a.mode === 'direct');
    if (running.length && !opts.force)
      throw new ConcurrentRotationError(
        `the rotation of version ${token} is running right now in another invocation (attempt ${running.map((a) => a.id).join(', ')}, lease until ${running.map((a) => a.leaseUntil.toISOString()).join(', ')}); nothing was changed. If that invocation is gone, abandon with force`,
        { attempts: running.map((a) => a.id) },
      );
    const result: AbandonResult = { done: true, actions, versionId: token };
    if (stages?.includes('AWSPENDING')) {
      const raw = await secrets.getValue(key.secretId, { versionId: token, stage: 'AWSPENDING' });
      const newKeyId = raw ? keyIdOf(raw) : undefined;
      const current = await this.currentKey(key);
      if (newKeyId && newKeyId !== current.accessKeyId) {
        const r = await this.restoreJenkins(key, current, new Set([newKeyId]));
        actions.push(...r.restored.map((t) => `restored Jenkins target ${t} to the current key`));
        if (r.failed.length || r.skipped) {
          actions.push(
            `left version ${token} pending: ${r.skipped ?? `Jenkins target(s) ${r.failed.join(', ')} may still hold the new key ${newKeyId}`}`,
          );
          return { ...result, done: false };
        }
        const existed = (await iam.list(key.iamUser)).some((k) => k.accessKeyId === newKeyId);
        await iam.delete(key.iamUser, newKeyId);
        actions.push(
          existed ? `deleted the new key ${newKeyId}` : `the new key ${newKeyId} was already gone`,
        );
        if (existed) result.deletedKeyId = newKeyId;
      }
      await secrets.moveStage(key.secretId, 'AWSPENDING', undefined, token);
      actions.push(`removed AWSPENDING from version ${token}`);
    }
    for (const a of mine) await this.untag(key, iam, a.tagKey);
    return result;
  }

  /**
   * The rotation state of one managed key, read only (Secrets Manager stages and the keys and tags of the user),
   * for {@link diagnoseRotation}: what is in flight, what a resume or an abandon would act on.
   */
  async observeRotation(key: EngineKey): Promise<RotationObservation> {
    const { secrets, clock } = this.deps;
    const d = await secrets.describe(key.secretId);
    const entries = Object.entries(d.versions);
    const currentVersionId = entries.find(([, st]) => st.includes('AWSCURRENT'))?.[0];
    const idOf = async (versionId: string | undefined) => {
      if (!versionId) return undefined;
      const raw = await secrets.getValue(key.secretId, { versionId });
      return raw ? keyIdOf(raw) : undefined;
    };
    const pendingVersionId = entries.find(
      ([, st]) => st.includes('AWSPENDING') && !st.includes('AWSCURRENT'),
    )?.[0];
    const previousVersionId = entries.find(
      ([, st]) => st.includes('AWSPREVIOUS') && !st.includes('AWSCURRENT'),
    )?.[0];
    const [currentKeyId, previousKeyId, pendingKeyId] = [
      await idOf(currentVersionId),
      await idOf(previousVersionId),
      await idOf(pendingVersionId),
    ];
    const iam = await this.deps.keyStore(key);
    const keys = await iam.list(key.iamUser);
    const tags = await iam.tags(key.iamUser);
    return {
      now: clock.now(),
      userName: key.iamUser,
      ...(currentVersionId ? { currentVersionId } : {}),
      ...(currentKeyId ? { currentKeyId } : {}),
      ...(previousKeyId ? { previousKeyId } : {}),
      ...(pendingVersionId
        ? { pending: { versionId: pendingVersionId, ...(pendingKeyId ? { accessKeyId: pendingKeyId } : {}) } }
        : {}),
      keys,
      deactivatedAt: deactivationDates(tags),
      attempts: parseAttempts(tags),
      ...(this.deps.clockSkewMs !== undefined ? { clockSkewMs: this.deps.clockSkewMs } : {}),
    };
  }

  /** Ends a direct rotation's attempt record (createSecret's `attemptId`); best effort, never throws. */
  async endAttempt(key: EngineKey, attemptId: string): Promise<void> {
    const iam = await this.deps.keyStore(key);
    await this.untag(key, iam, attemptId);
  }

  /**
   * The step guard of AWS's rotation templates, before any side effect: the token must be a version of this
   * secret that is AWSPENDING (the rotation in progress) or AWSCURRENT (a rotation whose finishSecret ran, which
   * the step then completes). createSecret of a direct rotation may also name a version that does not exist yet.
   */
  private async tokenState(
    key: EngineKey,
    token: string,
    opts: { direct?: boolean } = {},
  ): Promise<TokenState> {
    const d = await this.deps.secrets.describe(key.secretId);
    const stages = d.versions[token];
    if (stages?.includes('AWSCURRENT')) return { kind: 'current' };
    if (stages?.includes('AWSPENDING') || (!stages && opts.direct))
      return { kind: 'pending', versions: d.versions };
    throw new InputError(
      stages
        ? `ClientRequestToken ${token} is version ${stages.length ? `with stages ${stages.join(', ')}` : 'without a stage'} of secret ${d.name}, not AWSPENDING: it is not a rotation in progress; nothing was done`
        : `ClientRequestToken ${token} is not a version of secret ${d.name}; nothing was done`,
      { fields: ['ClientRequestToken'], secretId: d.name },
    );
  }

  /** Rewrites an attempt record with its lease over, so that others may take what it may have left. */
  private async markDead(key: EngineKey, iam: KeyStore, attempt: Attempt): Promise<void> {
    const dead = { ...attempt, leaseUntil: new Date(0) };
    await iam.tag(key.iamUser, attempt.tagKey, attemptTagValue(dead)).catch((err: unknown) =>
      this.deps.log.warn('could not end the attempt record; it expires with its lease', {
        key: key.name,
        error: messageOf(err),
      }),
    );
  }

  private async untag(key: EngineKey, iam: KeyStore, tagKey: string): Promise<void> {
    await iam.untag(key.iamUser, tagKey).catch((err: unknown) => {
      this.deps.log.warn('could not remove an attempt record; it is harmless and expires with its lease', {
        key: key.name,
        error: messageOf(err),
      });
    });
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
        ...(this.deps.probePacing ? { pacing: this.deps.probePacing } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onAttempt: (a) => {
          ctx.onProgress?.({
            attempt: a.n,
            ok: a.ok,
            streak: a.streak,
            needed: key.policy.consecutiveSuccesses,
          });
          if (!a.ok && reportsFailedProbe(a.n))
            this.deps.log.info('new key not usable yet', { attempt: a.n, error: a.error });
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
}

function warn(result: StepResult, message: string): void {
  const warnings = (result.warnings ??= []);
  if (!warnings.includes(message)) warnings.push(message);
}

function keyIdOf(raw: string): string | undefined {
  try {
    const v = JSON.parse(raw) as { accessKeyId?: unknown };
    return typeof v.accessKeyId === 'string' ? v.accessKeyId : undefined;
  } catch {
    return undefined;
  }
}

/** When this tool deactivated each key: its `key-rotator:deactivated:<id>` tags that hold a date. */
export function deactivationDates(tags: Record<string, string>): Record<string, Date> {
  const out: Record<string, Date> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (!k.startsWith(DEACTIVATED_PREFIX)) continue;
    const at = new Date(v);
    if (!Number.isNaN(at.getTime())) out[k.slice(DEACTIVATED_PREFIX.length)] = at;
  }
  return out;
}

/**
 * What a failed CreateAccessKey tells: `limit` (the 2-key limit: another attempt took the slot), `throttled` or
 * `refused` (a 4xx: certainly not applied), or `unknown` (a 5xx, a timeout, a lost connection: it may have been).
 * CreateAccessKey is sent without SDK retries, so a 4xx really is the answer to the only request sent.
 */
function createOutcome(err: unknown): 'limit' | 'throttled' | 'refused' | 'unknown' {
  const name = awsErrorName(err);
  if (name && /^LimitExceeded/.test(name)) return 'limit';
  if (name && /Throttl/i.test(name)) return 'throttled';
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
  return status >= 400 && status < 500 ? 'refused' : 'unknown';
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
