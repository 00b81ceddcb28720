import { messageOf } from '../domain/errors';
import { ageInDays, type AccessKeyMeta } from '../domain/keys';
import type { Clock, Log } from '../engine/ports';
import { isDue } from './plan';
import type { StartResult } from './secret-state';
import type {
  DeleteAction,
  DeletedEntry,
  FailEntry,
  InProgressEntry,
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
  log?: Log;
}

export interface ExecutionResult {
  started: StartedEntry[];
  deleted: DeletedEntry[];
  skipped: SkipEntry[];
  failed: FailEntry[];
  inProgress: InProgressEntry[];
}

/**
 * Carries out a plan: every action is confirmed against a fresh ListAccessKeys first, and one failure never
 * stops the others. Clean-up runs before rotations, so a deleted key frees its slot before createSecret needs one.
 */
export async function executePlan(plan: ScanPlan, ports: ActionPorts): Promise<ExecutionResult> {
  const out: ExecutionResult = { started: [], deleted: [], skipped: [], failed: [], inProgress: [] };
  for (const a of plan.untag) await removeOrphanTag(a, ports, out);
  for (const a of plan.delete)
    await deleteKey(a, ports, out).catch((err: unknown) =>
      out.failed.push({ key: a.key, accessKeyId: a.accessKeyId, reason: `delete failed: ${messageOf(err)}` }),
    );
  for (const a of plan.rotate)
    await rotate(a, ports, out).catch((err: unknown) =>
      out.failed.push({
        key: a.key,
        accessKeyId: a.accessKeyId,
        reason: `${a.ageDays} days old and due, but the rotation could not start: ${messageOf(err)}`,
      }),
    );
  return out;
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
  });
}
