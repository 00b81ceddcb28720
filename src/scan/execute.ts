import { ConcurrentRotationError, messageOf } from '../domain/errors';
import { ageInDays, type AccessKeyMeta } from '../domain/keys';
import type { AbandonResult } from '../engine/engine';
import type { Clock, Log } from '../engine/ports';
import { isDue, rollbackNote } from './plan';
import type { KeyProblem } from './problems';
import type { StartResult } from './secret-state';
import type {
  DeferredEntry,
  DeleteAction,
  DeletedEntry,
  FailEntry,
  InProgressEntry,
  RepairAction,
  RepairedEntry,
  RotateAction,
  ScanPlan,
  SkipEntry,
  StartedEntry,
  UntagAction,
} from './types';

/** What carrying out a plan needs, per managed key (its account, through its role if it has one). */
export interface ActionPorts {
  clock: Clock;
  /** ListAccessKeys, read fresh: the inventory (and the credential report) can be hours old. */
  listKeys(key: string, userName: string): Promise<AccessKeyMeta[]>;
  lastUsed(key: string, accessKeyId: string): Promise<Date | undefined>;
  deleteKey(key: string, userName: string, accessKeyId: string): Promise<void>;
  untag(key: string, userName: string, tagKey: string): Promise<void>;
  startRotation(action: RotateAction): Promise<StartResult>;
  /** The engine's completion of a promoted rotation, Jenkins checked first (RotationEngine.completeFinish). */
  finish(key: string): Promise<{ actions: string[]; warnings?: string[] }>;
  /** The engine's undo of a rotation in flight (RotationEngine.abandon). */
  abandon(key: string, versionId: string): Promise<AbandonResult>;
  log?: Log;
}

export interface ExecutionResult {
  /** Actions not carried out this run (the run's deadline, or its rotation limit), for the next run. */
  deferred: DeferredEntry[];
  repaired: RepairedEntry[];
  /** Problems whose repair failed (each also a failure) or was left to an invocation that runs it right now. */
  unrepaired: KeyProblem[];
  started: StartedEntry[];
  deleted: DeletedEntry[];
  skipped: SkipEntry[];
  failed: FailEntry[];
  inProgress: InProgressEntry[];
}

/**
 * Carries out a plan: repairs first (each through the engine, which reads the state again before acting), then
 * the clean-up and the rotations, every action confirmed against a fresh ListAccessKeys first; one failure never
 * stops the others. Clean-up runs before rotations, so a deleted key frees its slot before createSecret needs one.
 */
export interface ExecuteOptions {
  /**
   * Asked before each action: a reason to stop (the Lambda's deadline is near) or undefined to go on. Once it
   * gives one, that action and every one after it are deferred, none begun: each action is either done or not
   * started.
   */
  stop?: () => string | undefined;
}

export async function executePlan(
  plan: ScanPlan,
  ports: ActionPorts,
  opts: ExecuteOptions = {},
): Promise<ExecutionResult> {
  const out: ExecutionResult = {
    deferred: [],
    repaired: [],
    unrepaired: [],
    started: [],
    deleted: [],
    skipped: [],
    failed: [],
    inProgress: [],
  };
  let stopped: string | undefined;
  const go = (action: DeferredEntry['action'], key: string, accessKeyId?: string): boolean => {
    stopped ??= opts.stop?.();
    if (stopped === undefined) return true;
    out.deferred.push({ key, action, ...(accessKeyId ? { accessKeyId } : {}), reason: stopped });
    return false;
  };
  for (const a of plan.repair)
    if (go(a.repair === 'finish' ? 'finish' : 'abandon', a.key, a.problem.accessKeyId))
      await repair(a, ports, out);
  for (const a of plan.untag) if (go('untag', a.key, a.accessKeyId)) await removeOrphanTag(a, ports, out);
  for (const a of plan.delete)
    if (go('delete', a.key, a.accessKeyId))
      await deleteKey(a, ports, out).catch((err: unknown) =>
        out.failed.push({
          key: a.key,
          accessKeyId: a.accessKeyId,
          reason: `delete failed: ${messageOf(err)}`,
        }),
      );
  for (const a of plan.rotate)
    if (go('rotate', a.key, a.accessKeyId))
      await rotate(a, ports, out).catch((err: unknown) =>
        out.failed.push({
          key: a.key,
          accessKeyId: a.accessKeyId,
          reason: `${a.ageDays} days old and due, but the rotation could not start: ${messageOf(err)}`,
        }),
      );
  return out;
}

async function repair(a: RepairAction, ports: ActionPorts, out: ExecutionResult): Promise<void> {
  const p = a.problem;
  const ids = {
    ...(p.accessKeyId ? { accessKeyId: p.accessKeyId } : {}),
    ...(p.versionId ? { versionId: p.versionId } : {}),
  };
  const what = a.repair === 'finish' ? 'finish the last rotation' : 'abandon the rotation in flight';
  const unrepaired = (reason: string) => {
    out.failed.push({ key: a.key, ...(p.accessKeyId ? { accessKeyId: p.accessKeyId } : {}), reason });
    out.unrepaired.push(p);
  };
  try {
    if (a.repair === 'finish') {
      const r = await ports.finish(a.key);
      const detail = [...r.actions, ...(r.warnings ?? []).map((w) => `warning: ${w}`)].join('; ');
      out.repaired.push({ key: a.key, kind: p.kind, action: 'finish', detail, ...ids });
    } else {
      if (!p.versionId) return unrepaired(`could not ${what}: the problem names no version`);
      const r = await ports.abandon(a.key, p.versionId);
      if (!r.done) return unrepaired(`could not ${what} (${p.message}): ${r.actions.join('; ')}`);
      out.repaired.push({
        key: a.key,
        kind: p.kind,
        action: 'abandon',
        detail: r.actions.join('; '),
        ...ids,
      });
    }
    ports.log?.info(`repaired: ${what}`, { key: a.key, kind: p.kind, ...ids });
  } catch (err) {
    // Started since the inventory by someone else (an operator's --resume): theirs to finish, not a failure.
    if (err instanceof ConcurrentRotationError)
      return void out.skipped.push({ key: a.key, reason: `did not ${what}: ${messageOf(err)}` });
    unrepaired(`could not ${what} (${p.message}): ${messageOf(err)}`);
  }
}

async function removeOrphanTag(a: UntagAction, ports: ActionPorts, out: ExecutionResult): Promise<void> {
  try {
    const keys = await ports.listKeys(a.key, a.userName);
    if (keys.some((k) => k.accessKeyId === a.accessKeyId)) return; // the key is back: not an orphan after all
    await ports.untag(a.key, a.userName, a.tagKey);
    ports.log?.info('removed the deactivation tag of a key that no longer exists', {
      key: a.key,
      userName: a.userName,
      accessKeyId: a.accessKeyId,
    });
  } catch (err) {
    out.skipped.push({
      key: a.key,
      accessKeyId: a.accessKeyId,
      reason: `the tag of this deleted key could not be removed (retried next scan): ${messageOf(err)}`,
    });
  }
}

async function deleteKey(a: DeleteAction, ports: ActionPorts, out: ExecutionResult): Promise<void> {
  const skip = (reason: string) => out.skipped.push({ key: a.key, accessKeyId: a.accessKeyId, reason });
  const key = (await ports.listKeys(a.key, a.userName)).find((k) => k.accessKeyId === a.accessKeyId);
  if (!key) {
    await ports.untag(a.key, a.userName, a.tagKey).catch(() => undefined);
    return;
  }
  if (key.status !== 'Inactive') return void skip('reactivated since the inventory: left alone');
  if (key.accessKeyId === a.currentAccessKeyId) return void skip('is AWSCURRENT: left alone');
  const used = await ports.lastUsed(a.key, a.accessKeyId);
  if (used && used > a.deactivatedAt)
    return void skip(
      `used ${used.toISOString()}, after its deactivation ${a.deactivatedAt.toISOString()}: left alone`,
    );
  await ports.deleteKey(a.key, a.userName, a.accessKeyId);
  out.deleted.push({ key: a.key, user: a.userName, accountId: a.accountId, accessKeyId: a.accessKeyId });
  await ports.untag(a.key, a.userName, a.tagKey).catch((err: unknown) =>
    ports.log?.warn('deleted the key but could not remove its tag; the next scan removes it', {
      key: a.key,
      accessKeyId: a.accessKeyId,
      error: messageOf(err),
    }),
  );
}

async function rotate(a: RotateAction, ports: ActionPorts, out: ExecutionResult): Promise<void> {
  const fail = (reason: string) => out.failed.push({ key: a.key, accessKeyId: a.accessKeyId, reason });
  const keys = await ports.listKeys(a.key, a.userName);
  const current = keys.find((k) => k.accessKeyId === a.accessKeyId);
  if (!current || current.status !== 'Active')
    return void out.skipped.push({
      key: a.key,
      accessKeyId: a.accessKeyId,
      reason: `changed since the inventory: key ${a.accessKeyId} is ${current ? 'inactive' : 'gone'}; the next scan decides again`,
    });
  const age = ageInDays(current.createDate, ports.clock.now());
  if (!isDue(age, a.maxAgeDays))
    return void out.skipped.push({
      key: a.key,
      accessKeyId: a.accessKeyId,
      reason: `changed since the inventory: key is ${age} days old`,
    });
  const blocker = keys.find((k) => k.accessKeyId !== a.accessKeyId && k.status === 'Active');
  if (blocker)
    return void fail(
      `due (${age} days old, max ${a.maxAgeDays}), but user ${a.userName} has a second active key ${blocker.accessKeyId}; the rotation would stop until it is deactivated or deleted`,
    );
  const r = await ports.startRotation(a);
  if (r.kind === 'in-progress') {
    out.inProgress.push({ key: a.key, secretId: a.secretId, stuck: false });
    return;
  }
  out.started.push({
    key: a.key,
    secretId: a.secretId,
    accessKeyId: a.accessKeyId,
    ageDays: age,
    ...(r.versionId ? { versionId: r.versionId } : {}),
    ...(a.rollbackKey ? { warning: rollbackNote(a.rollbackKey) } : {}),
  });
}
