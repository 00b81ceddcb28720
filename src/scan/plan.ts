import type { ManagedKey, RotatorConfig } from '../config';
import { planCreate } from '../domain/create-plan';
import { deactivatedTag } from '../engine/engine';
import { deactivationDatesOf, diagnoseKeys } from './problems';
import type {
  DeleteAction,
  Inventory,
  InventoryKey,
  InventoryUser,
  RepairAction,
  RollbackKey,
  ScanPlan,
  SecretState,
  SkipEntry,
  UntagAction,
} from './types';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface PlanOptions {
  /** An unfinished rotation older than this is stuck: reported in progress and as a failure. Default 2. */
  stuckAfterHours?: number;
  /** Rotations that completed less than this long ago are listed as rotated. Default 24 (a daily scan). */
  rotatedWithinHours?: number;
  /** The function RotateSecret sets on secrets that have none yet (ROTATION_LAMBDA_ARN). */
  rotationLambdaArn?: string;
}

const iso = (d: Date) => d.toISOString();
const day = (d: Date) => d.toISOString().slice(0, 10);

/** A key is due once it is at least `maxAgeDays` whole days old. */
export const isDue = (ageDays: number, maxAgeDays: number): boolean => ageDays >= maxAgeDays;

/** When a key created at `createDate` becomes due. */
export const dueDate = (createDate: Date, maxAgeDays: number): Date =>
  new Date(createDate.getTime() + maxAgeDays * DAY);

/**
 * Decides a scan from what was observed, without side effects:
 * - the rotation problems of managed keys (diagnoseRotation) that the scan may repair by itself are repaired
 *   first (a promoted rotation finished, a rotation in flight older than `abandonStuckAfterHours` abandoned), and
 *   such a key's rotation is left to the next run; the other problems are reported;
 * - a managed key at or past its max age is rotated (RotateSecret), unless a rotation is unfinished (reported in
 *   progress, and stuck past a threshold) or the rotation is certain to stop (reported as failed, with why);
 * - a key is deleted only if this tool deactivated it (its user tag), the grace period has passed, it is still
 *   inactive, it was not used after its deactivation and it is not AWSCURRENT; never any other key;
 * - active keys of unmanaged users at or past the default max age are reported, never touched.
 * Every managed key gets one outcome; every skip and failure says why.
 */
export function planScan(
  inventory: Inventory,
  config: RotatorConfig,
  secretStates: readonly SecretState[],
  now: Date,
  opts: PlanOptions = {},
): ScanPlan {
  const problems = diagnoseKeys(inventory, config, secretStates, now);
  const repair = problems.flatMap((p): RepairAction[] =>
    p.repair ? [{ key: p.key, userName: p.user, accountId: p.accountId, repair: p.repair, problem: p }] : [],
  );
  const plan: ScanPlan = {
    now,
    repair,
    problems: problems.filter((p) => !p.repair),
    rotate: [],
    delete: [],
    untag: [],
    skipped: [],
    failed: [],
    inProgress: [],
    unmanagedStale: [],
    rotated: [],
    keyless: [],
  };
  const stuckAfterMs = (opts.stuckAfterHours ?? 2) * HOUR;
  const rotatedWithinMs = (opts.rotatedWithinHours ?? 24) * HOUR;

  for (const p of inventory.problems) {
    if (p.key) continue; // reported with the key below
    if (p.user) plan.skipped.push({ key: `user/${p.user}`, reason: p.reason });
    else plan.failed.push({ key: 'audit', reason: p.reason });
  }

  for (const key of config.keys) {
    const user = inventory.users.find((u) => u.managedKey === key.name);
    const state = secretStates.find((s) => s.key === key.name);
    if (!user) {
      const problem = inventory.problems.find((p) => p.key === key.name);
      plan.failed.push({
        key: key.name,
        reason: problem?.reason ?? `IAM user ${key.iamUser} was not inventoried`,
      });
      continue;
    }
    if (!state || state.error !== undefined) {
      plan.failed.push({ key: key.name, reason: state?.error ?? `secret ${key.secretId} was not read` });
      planCleanup(plan, key, user, undefined, now);
      continue;
    }
    if (user.keylessSince) {
      // Keyless: never rotated; its retired key is deleted after the grace period like any key this tool
      // deactivated (it is AWSCURRENT only on paper); any active key on the user is a key that should not exist.
      const active = user.keys.filter((k) => k.status === 'Active').map((k) => k.accessKeyId);
      plan.keyless.push({
        key: key.name,
        user: user.userName,
        since: iso(user.keylessSince),
        activeKeys: active,
      });
      for (const id of active)
        plan.failed.push({
          key: key.name,
          accessKeyId: id,
          reason: `${key.name} is keyless since ${day(user.keylessSince)}, but user ${user.userName} has an active access key ${id}: find who created it (CloudTrail CreateAccessKey), then deactivate it; key-rotator keyless rollback ${key.name} if the key path is wanted back`,
        });
      if (!active.length)
        plan.skipped.push({
          key: key.name,
          reason: `keyless since ${day(user.keylessSince)}: not rotated (its jobs use Jenkins ID tokens and STS)`,
        });
      planCleanup(plan, key, user, null, now);
      continue;
    }
    if (state.lastRotatedDate && now.getTime() - state.lastRotatedDate.getTime() < rotatedWithinMs)
      plan.rotated.push({
        key: key.name,
        ...(state.currentAccessKeyId ? { accessKeyId: state.currentAccessKeyId } : {}),
        at: iso(state.lastRotatedDate),
      });
    planCleanup(plan, key, user, state.currentAccessKeyId, now);
    const repairing = repair.find((r) => r.key === key.name);
    if (repairing)
      plan.skipped.push({
        key: key.name,
        ...(state.currentAccessKeyId ? { accessKeyId: state.currentAccessKeyId } : {}),
        reason: `rotation left to the next run: this run first ${repairing.repair === 'finish' ? 'finishes the last rotation' : 'abandons the rotation in flight'} (${repairing.problem.kind})`,
      });
    else planRotation(plan, key, user, state, now, stuckAfterMs, opts.rotationLambdaArn);
  }

  const maxAge = config.defaults.maxAgeDays;
  for (const u of inventory.users) {
    if (u.managedKey) continue;
    for (const k of u.keys)
      if (k.status === 'Active' && isDue(k.ageDays, maxAge))
        plan.unmanagedStale.push({
          user: u.userName,
          accountId: u.accountId,
          accessKeyId: k.accessKeyId,
          ageDays: k.ageDays,
          ...(k.lastUsedDate ? { lastUsedDate: iso(k.lastUsedDate) } : {}),
        });
    for (const k of u.reportedKeys ?? [])
      if (k.status === 'Active' && isDue(k.ageDays, maxAge))
        plan.unmanagedStale.push({
          user: u.userName,
          accountId: u.accountId,
          keySlot: k.slot,
          ageDays: k.ageDays,
          ...(k.lastUsedDate ? { lastUsedDate: iso(k.lastUsedDate) } : {}),
        });
  }
  return plan;
}

function planRotation(
  plan: ScanPlan,
  key: ManagedKey,
  user: InventoryUser,
  state: SecretState,
  now: Date,
  stuckAfterMs: number,
  rotationLambdaArn: string | undefined,
): void {
  const fail = (reason: string) => plan.failed.push({ key: key.name, reason });
  if (state.currentUserName !== key.iamUser) {
    fail(
      `secret ${key.secretId} holds a key of user ${state.currentUserName ?? '(none)'}, but the configuration manages ${key.iamUser}`,
    );
    return;
  }
  if (state.pending) {
    const created = state.pending.createdDate;
    const stuck = created !== undefined && now.getTime() - created.getTime() >= stuckAfterMs;
    plan.inProgress.push({
      key: key.name,
      secretId: key.secretId,
      versionId: state.pending.versionId,
      ...(created ? { since: iso(created) } : {}),
      stuck,
    });
    if (stuck) {
      const hours = key.policy.abandonStuckAfterHours;
      fail(
        `rotation of secret ${key.secretId} (version ${state.pending.versionId}) has not finished since ${iso(created)}; it blocks every later rotation: look at the rotation function's logs, then continue it (key-rotator rotate ${key.iamUser} --resume) or undo it (key-rotator rotate ${key.iamUser} --abandon)${hours > 0 ? `; the scan abandons it once it is ${hours} hours old` : ''}`,
      );
    }
    return;
  }
  const current = user.keys.find((k) => k.accessKeyId === state.currentAccessKeyId);
  if (!current) {
    fail(
      `AWSCURRENT of secret ${key.secretId} holds key ${state.currentAccessKeyId ?? '(none)'}, which is not a key of user ${user.userName}; fix the secret before rotating`,
    );
    return;
  }
  const maxAgeDays = key.policy.maxAgeDays;
  if (!isDue(current.ageDays, maxAgeDays)) {
    plan.skipped.push({
      key: key.name,
      accessKeyId: current.accessKeyId,
      reason: `not due: ${current.ageDays} days old, rotated at ${maxAgeDays} days (${day(dueDate(current.createDate, maxAgeDays))})`,
    });
    return;
  }
  if (key.rotatedBy === 'self') {
    const overdueAt = maxAgeDays + key.policy.selfRotationOverdueDays;
    if (current.ageDays >= overdueAt)
      fail(
        `self-rotation overdue: key ${current.accessKeyId} is ${current.ageDays} days old (due at ${maxAgeDays}, overdue from ${overdueAt}): the job that rotates it next to Jenkins (key-rotator self-rotate ${key.name}) has stopped running or keeps failing; look at that job`,
      );
    else
      plan.skipped.push({
        key: key.name,
        accessKeyId: current.accessKeyId,
        reason: `due (${current.ageDays} days old, max ${maxAgeDays}); self-rotated: its job next to Jenkins rotates it (reported overdue from ${overdueAt} days)`,
      });
    return;
  }
  const due = `due (${current.ageDays} days old, max ${maxAgeDays})`;
  // The engine stops rather than touch an active key it does not know (create-plan.ts): say so now.
  const blocker = user.keys.find((k) => k.accessKeyId !== current.accessKeyId && k.status === 'Active');
  if (blocker) {
    fail(
      `${due}, but user ${user.userName} has a second active key ${blocker.accessKeyId}; the rotation would stop until it is deactivated or deleted`,
    );
    return;
  }
  if (!state.rotationConfigured && !rotationLambdaArn) {
    fail(`${due}, but secret ${key.secretId} has no rotation function and ROTATION_LAMBDA_ARN is not set`);
    return;
  }
  const rollbackKey = rollbackKeyOf(key, user, state, current, now);
  plan.rotate.push({
    key: key.name,
    secretId: key.secretId,
    userName: user.userName,
    accountId: user.accountId,
    accessKeyId: current.accessKeyId,
    createDate: current.createDate,
    ageDays: current.ageDays,
    maxAgeDays,
    ...(!state.rotationConfigured && rotationLambdaArn ? { rotationLambdaArn } : {}),
    ...(rollbackKey ? { rollbackKey } : {}),
  });
}

/** What a rotation that deletes the rollback key of the last one says about it (plan, scan summary). */
export const rollbackNote = (r: RollbackKey): string =>
  `to make room it deletes key ${r.accessKeyId}, the rollback key of the last rotation (deactivated ${iso(r.deactivatedAt)}, inside its grace period until ${iso(r.graceEndsAt)})`;

/**
 * The key a rotation of `key` would delete to make room although it is still inside its grace period (the last
 * rotation's rollback key), decided by the engine's own createSecret plan over what the inventory saw.
 */
export function rollbackKeyOf(
  key: ManagedKey,
  user: InventoryUser,
  state: SecretState,
  current: InventoryKey,
  now: Date,
): RollbackKey | undefined {
  try {
    const plan = planCreate({
      userName: user.userName,
      token: '(planned)',
      now,
      currentKeyId: current.accessKeyId,
      stalePending: [],
      ...(state.previousAccessKeyId ? { previousKeyId: state.previousAccessKeyId } : {}),
      keys: user.keys,
      attempts: [],
      deactivatedAt: deactivationDatesOf(user),
      deleteAfterDays: key.policy.deleteAfterDays,
    });
    const hit = plan.kind === 'create' ? plan.delete.find((d) => d.insideGrace) : undefined;
    return hit?.insideGrace ? { accessKeyId: hit.accessKeyId, ...hit.insideGrace } : undefined;
  } catch {
    return undefined; // a rotation that would stop: reported by the checks above, not here
  }
}

/** The clean-up guards, in order; the first that holds keeps the key. */
function planCleanup(
  plan: ScanPlan,
  key: ManagedKey,
  user: InventoryUser,
  /** AWSCURRENT's key; undefined: the secret could not be read; null: keyless, no key is in use. */
  currentAccessKeyId: string | undefined | null,
  now: Date,
): void {
  const tags = user.deactivationTags ?? {};
  const skip = (accessKeyId: string, reason: string) =>
    plan.skipped.push({ key: key.name, accessKeyId, reason } satisfies SkipEntry);
  for (const accessKeyId of Object.keys(tags))
    if (!user.keys.some((k) => k.accessKeyId === accessKeyId))
      plan.untag.push({
        key: key.name,
        userName: user.userName,
        accountId: user.accountId,
        accessKeyId,
        tagKey: deactivatedTag(accessKeyId),
      } satisfies UntagAction);
  for (const k of user.keys) {
    const tagged = tags[k.accessKeyId] !== undefined;
    if (!tagged) {
      if (k.status === 'Inactive')
        skip(k.accessKeyId, 'inactive, but not deactivated by this tool: left alone');
      continue;
    }
    if (currentAccessKeyId === undefined) {
      skip(k.accessKeyId, 'clean-up skipped: the secret could not be read, so AWSCURRENT is unknown');
      continue;
    }
    if (currentAccessKeyId !== null && k.accessKeyId === currentAccessKeyId) {
      skip(k.accessKeyId, 'marked as deactivated by this tool, but it is AWSCURRENT: left alone');
      continue;
    }
    if (k.status !== 'Inactive') {
      skip(k.accessKeyId, `reactivated after this tool deactivated it (${tags[k.accessKeyId]}): left alone`);
      continue;
    }
    const at = k.deactivatedAt;
    if (!at) {
      skip(k.accessKeyId, 'its deactivation tag does not hold a date: left alone');
      continue;
    }
    const deleteFrom = new Date(at.getTime() + key.policy.deleteAfterDays * DAY);
    if (now < deleteFrom) {
      skip(k.accessKeyId, `deactivated ${iso(at)}; deleted after the grace period, from ${iso(deleteFrom)}`);
      continue;
    }
    if (k.lastUsedDate && k.lastUsedDate > at) {
      skip(k.accessKeyId, `used ${iso(k.lastUsedDate)}, after its deactivation ${iso(at)}: left alone`);
      continue;
    }
    plan.delete.push({
      key: key.name,
      userName: user.userName,
      accountId: user.accountId,
      accessKeyId: k.accessKeyId,
      deactivatedAt: at,
      // Keyless: no key is in use; the retired key is AWSCURRENT only on paper.
      currentAccessKeyId: currentAccessKeyId ?? '',
      tagKey: deactivatedTag(k.accessKeyId),
    } satisfies DeleteAction);
  }
}
