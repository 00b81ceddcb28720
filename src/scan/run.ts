import type { CheckReport } from '../checks/types';
import type { Composition } from '../compose';
import type { ManagedKey, RotatorConfig } from '../config';
import { InputError, messageOf } from '../domain/errors';
import { systemClock, type Clock, type Log } from '../engine/ports';
import type { IAMClient } from '@aws-sdk/client-iam';
import { clientSettings } from '../aws/clients';
import { iamShareBucket, rateLimit, scanIamClient, type TokenBucket } from './rate';
import { resumeOrder, type CheckpointStore, type ScanCheckpoint } from './checkpoint';
import { scanChecks, type ChecksStateStore, type ScanChecks } from './checks';
import { executePlan, type ActionPorts } from './execute';
import { sdkIamReader, type IamReader } from './iam-reader';
import { takeInventory, type InventoryOptions, type InventoryPorts } from './inventory';
import { mapLimit } from './limit';
import { planScan, type PlanOptions } from './plan';
import { readSecretState, startRotation } from './secret-state';
import { summarize } from './summary';
import type { DeferredEntry, FleetSummary, Inventory, ReportUpload, ScanSummary, SecretState } from './types';

export interface ScanOptions extends InventoryOptions, PlanOptions {
  /** Default: the system clock. Ages, grace periods and thresholds are measured with it. */
  clock?: Clock;
  log?: Log;
  /**
   * The security checks (src/checks), run when due (`checks.everyHours`): on by default; `false` turns them off.
   * `store` keeps when they last ran and which high findings were notified (without one they run every scan and
   * every high finding is new each time).
   */
  checks?: false | { store?: ChecksStateStore };
  /**
   * Writes the key report of what the scan leaves (the scan handler: to S3 when `reportBucket` is set). It gets
   * the inventory and secret states after the scan's actions, and the checks' report when they ran this time (else
   * why not). Whatever it does, the scan's own results stand: a failure is in the summary's `report`.
   */
  report?: (composition: Composition, input: ScanReportInput) => Promise<ReportUpload>;
  /**
   * The rotate function's reserved concurrency (`HOOK_CONCURRENCY`): the scan then keeps to half of
   * `fleet.iamCallsPerSecond` (`iamShare`) and the hook instances share the other half: together never above it.
   * Unset: the scan uses the whole rate.
   */
  hookConcurrency?: number;
  /**
   * Milliseconds left before the function times out (Lambda: `context.getRemainingTimeInMillis`). Once fewer than
   * `fleet.deadlineReserveSeconds` are left the scan begins nothing more: the rest is deferred to the next run,
   * and the checks and the report wait too. Unset: no deadline.
   */
  remainingMs?: () => number;
  /** Where the run keeps where it stopped, and reads where the last one stopped (SSM in Lambda). */
  checkpoint?: CheckpointStore;
  /** Overrides of the configuration's `fleet` values (tests, the bench). */
  fleet?: Partial<RotatorConfig['fleet']>;
}

export interface ScanReportInput {
  inventory: Inventory;
  states: readonly SecretState[];
  checks: CheckReport | { skipped: string };
  clock: Clock;
  log?: Log;
}

/**
 * The IAM clients the scan and the inventory read with, one per account (the own one, and one per role), built
 * once per composition: the SDK's adaptive retry mode (see rate.ts), with the composition's endpoint and
 * credentials.
 */
const readClients = new WeakMap<Composition, Map<string, IAMClient>>();
function readClientFor(composition: Composition, key?: ManagedKey): IAMClient {
  let byRole = readClients.get(composition);
  if (!byRole) readClients.set(composition, (byRole = new Map<string, IAMClient>()));
  const id = key?.assumeRoleArn ? `${key.assumeRoleArn} ${key.externalId ?? ''}` : '';
  let client = byRole.get(id);
  if (!client)
    byRole.set(
      id,
      (client = scanIamClient(
        key?.assumeRoleArn ? composition.settingsFor(key) : clientSettings(composition.clients.setup),
      )),
    );
  return client;
}

function inventoryPorts(composition: Composition, clock: Clock, log?: Log): InventoryPorts {
  const own = sdkIamReader(readClientFor(composition));
  return {
    clock,
    own,
    ownAccountId: () => composition.ownAccountId(),
    readerFor: (key) => (key.assumeRoleArn ? sdkIamReader(readClientFor(composition, key)) : own),
    ...(log ? { log } : {}),
  };
}

/**
 * The keys of the account and of every managed user, for the scan and the CLI's `audit`: see `takeInventory`.
 * Read-only.
 */
export function collectInventory(composition: Composition, opts: ScanOptions = {}): Promise<Inventory> {
  return takeInventory(
    composition.config,
    inventoryPorts(composition, opts.clock ?? systemClock, opts.log),
    opts,
  );
}

/** The rotation state of each managed key's secret (all keys by default). Read-only. */
export function readSecretStates(
  composition: Composition,
  keys: readonly ManagedKey[] = composition.config.keys,
  concurrency = 4,
): Promise<SecretState[]> {
  return mapLimit(keys, concurrency, (k) => readSecretState(composition.clients.secrets, k));
}

function actionPorts(composition: Composition, clock: Clock, log?: Log): ActionPorts {
  const byName = new Map(composition.config.keys.map((k) => [k.name, k]));
  const key = (name: string) => {
    const k = byName.get(name);
    if (!k) throw new InputError(`no managed key named ${name}`);
    return k;
  };
  const readers = new Map<string, IamReader>();
  const reader = (name: string) => {
    let r = readers.get(name);
    if (!r) readers.set(name, (r = sdkIamReader(readClientFor(composition, key(name)))));
    return r;
  };
  return {
    clock,
    listKeys: (name, userName) => reader(name).listAccessKeys(userName),
    lastUsed: async (name, accessKeyId) => (await reader(name).lastUsed(accessKeyId)).date,
    deleteKey: (name, userName, accessKeyId) =>
      composition.keyStoreFor(key(name)).delete(userName, accessKeyId),
    untag: (name, userName, tagKey) => composition.keyStoreFor(key(name)).untag(userName, tagKey),
    startRotation: (a) => startRotation(composition.clients.secrets, a.secretId, a.rotationLambdaArn),
    finish: (name) =>
      composition.engine.completeFinish(
        key(name),
        { step: 'finishSecret', changed: false, actions: [] },
        { checkJenkins: true },
      ),
    abandon: (name, versionId) => composition.engine.abandon(key(name), versionId),
    ...(log ? { log } : {}),
  };
}

/**
 * Every IAM client the scan's calls go through, the engine's included (its repairs), limited by one bucket for the
 * run: its reads, the composition's own-account and role clients. Returns the undo (clients outlive the run).
 */
function limitScanIam(composition: Composition, bucket: TokenBucket): () => void {
  const clients = new Set<IAMClient>([
    readClientFor(composition),
    composition.clients.iam,
    composition.clients.iamOnce,
  ]);
  for (const k of composition.config.keys)
    if (k.assumeRoleArn) {
      clients.add(readClientFor(composition, k));
      clients.add(composition.iamFor(k));
    }
  const undo = [...clients].map((c) => rateLimit(c, bucket));
  return () => undo.forEach((u) => u());
}

/**
 * The scheduled scan: inventory, the secrets' rotation states, the pure plan, then the confirmed actions
 * (repairs of stuck or half-finished rotations, clean-up, then RotateSecret for each due key). Every target is
 * processed; failures and the problems left are in the summary, which the caller reports (and fails on).
 *
 * Over a fleet (docs/fleet.md) every IAM call waits for the run's token bucket (`fleet.iamCallsPerSecond`), at
 * most `fleet.maxRotationsPerRun` rotations start, and near the function's deadline the scan begins nothing more:
 * each action is done or not begun, what is left is deferred, and the checkpoint puts it first next run.
 */
export async function runScan(composition: Composition, opts: ScanOptions = {}): Promise<ScanSummary> {
  const clock = opts.clock ?? systemClock;
  const startedAt = clock.now();
  const fleet = { ...composition.config.fleet, ...opts.fleet };
  const bucket = iamShareBucket(fleet.iamCallsPerSecond, opts.hookConcurrency, 'scan');
  const unlimit = limitScanIam(composition, bucket);
  try {
    const reserveMs = fleet.deadlineReserveSeconds * 1000;
    let stoppedAt: FleetSummary['stoppedAt'];
    const deadline = (): string | undefined => {
      if (stoppedAt) return stoppedAt.reason;
      const left = opts.remainingMs?.();
      if (left === undefined || left >= reserveMs) return undefined;
      const reason = `stopped before the function's timeout (${Math.round(left / 1000)} s left, ${fleet.deadlineReserveSeconds} s kept in reserve): left for the next run`;
      stoppedAt = { reason, remainingSeconds: Math.round(left / 1000) };
      return reason;
    };
    const checkpoint = await loadCheckpoint(opts.checkpoint, opts.log);

    // The secret states first: with them the inventory skips the tags of managed users at rest, and audits
    // unmanaged users from the credential report's own columns (1 IAM call + 1 per managed user, report fresh).
    const states = await readSecretStates(composition, composition.config.keys, opts.concurrency);
    const lean: InventoryOptions = { unmanagedKeys: 'report', lastUsed: 'needed', secretStates: states };
    const inventory = await collectInventory(composition, { ...lean, ...opts, clock });
    const plan = planScan(inventory, composition.config, states, clock.now(), opts);
    const ordered = resumeOrder(plan.rotate, checkpoint.value);
    const overLimit = ordered.slice(fleet.maxRotationsPerRun);
    const done = await executePlan(
      { ...plan, rotate: ordered.slice(0, fleet.maxRotationsPerRun) },
      actionPorts(composition, clock, opts.log),
      { stop: deadline },
    );
    for (const a of overLimit)
      done.deferred.push({
        key: a.key,
        action: 'rotate',
        accessKeyId: a.accessKeyId,
        reason: `this run started its limit of ${fleet.maxRotationsPerRun} rotations (fleet.maxRotationsPerRun); due (${a.ageDays} days old)`,
      });
    const saved = await saveCheckpoint(opts.checkpoint, done.deferred, stoppedAt, clock, opts.log);

    // The checks and the report look at what the scan leaves: read again (once) when it changed something (a
    // repair deactivates a second key, a deletion removes one), so that a flaw the scan just fixed is not notified.
    const changed = done.started.length + done.repaired.length + done.deleted.length > 0;
    let after: Promise<{ inventory: Inventory; states: SecretState[] }> | undefined;
    const leaves = () =>
      (after ??= changed
        ? readSecretStates(composition, composition.config.keys, opts.concurrency).then(async (s) => ({
            inventory: await collectInventory(composition, { ...lean, ...opts, secretStates: s, clock }),
            states: s,
          }))
        : Promise.resolve({ inventory, states }));
    let checkReport: CheckReport | undefined;
    // Near the deadline the checks and the report wait for a run with time for them.
    const checks =
      opts.checks === false || deadline()
        ? undefined
        : await scanChecks(composition, leaves, {
            clock,
            ...(opts.checks?.store ? { store: opts.checks.store } : {}),
            ...(opts.log ? { log: opts.log } : {}),
            onReport: (r) => (checkReport = r),
          });
    const report =
      opts.report && !deadline()
        ? await scanReport(composition, opts.report, leaves, {
            checks: checkReport ?? { skipped: checksNotRun(checks) },
            clock,
            ...(opts.log ? { log: opts.log } : {}),
          })
        : undefined;
    const fleetSummary: FleetSummary = {
      iamCallsPerSecond: fleet.iamCallsPerSecond,
      iamCalls: bucket.taken,
      iamWaitSeconds: Math.round(bucket.waitedMs / 100) / 10,
      maxRotationsPerRun: fleet.maxRotationsPerRun,
      ...(stoppedAt ? { stoppedAt } : {}),
      ...(checkpoint.value
        ? { resumed: { savedAt: checkpoint.value.savedAt, deferred: checkpoint.value.deferredCount } }
        : {}),
      ...(opts.checkpoint ? { checkpoint: checkpointOutcome(checkpoint.error, saved) } : {}),
    };
    return summarize(inventory, plan, done, startedAt, clock.now(), checks, report, fleetSummary);
  } finally {
    unlimit();
  }
}

/** The summary's word on the checkpoint: saved or not, and what went wrong reading or saving it. */
function checkpointOutcome(
  loadError: string | undefined,
  saved: { saved: boolean; error?: string },
): { saved: boolean; error?: string } {
  const error = [loadError, saved.error].filter(Boolean).join('; ');
  return { saved: saved.saved, ...(error ? { error } : {}) };
}

/** The last run's checkpoint; one that cannot be read is reported and the run goes on in plan order. */
async function loadCheckpoint(
  store: CheckpointStore | undefined,
  log: Log | undefined,
): Promise<{ value?: ScanCheckpoint; error?: string }> {
  if (!store) return {};
  try {
    const value = await store.load();
    return value ? { value } : {};
  } catch (err) {
    log?.warn('the scan checkpoint could not be read; this run starts in plan order', {
      error: messageOf(err),
    });
    return { error: `could not be read: ${messageOf(err)}` };
  }
}

/** Saves what this run deferred (an empty list clears the last one); a failure is reported, never thrown. */
async function saveCheckpoint(
  store: CheckpointStore | undefined,
  deferred: readonly DeferredEntry[],
  stoppedAt: FleetSummary['stoppedAt'],
  clock: Clock,
  log: Log | undefined,
): Promise<{ saved: boolean; error?: string }> {
  if (!store) return { saved: false };
  const rotations = deferred.filter((d) => d.action === 'rotate').map((d) => d.key);
  try {
    await store.save({
      version: 1,
      savedAt: clock.now().toISOString(),
      ...(stoppedAt ? { stoppedBy: stoppedAt.reason } : {}),
      deferred: rotations,
      deferredCount: rotations.length,
    });
    return { saved: true };
  } catch (err) {
    log?.warn('the scan checkpoint could not be saved; the next run starts in plan order', {
      error: messageOf(err),
    });
    return { saved: false, error: `could not be saved: ${messageOf(err)}` };
  }
}

/** Why the scan's report has no findings: the checks did not run this time. */
function checksNotRun(c: ScanChecks | undefined): string {
  if (!c) return 'not run: the scan runs without them';
  if (c.ran) return 'not run';
  const last = c.lastRunAt ? ` (last ${c.lastRunAt.slice(0, 16).replace('T', ' ')} UTC)` : '';
  return `not run by this scan: ${c.reason}${last}; key-rotator check runs them now`;
}

/** The report stage, which never throws: its failure is the summary's `report`. */
async function scanReport(
  composition: Composition,
  write: NonNullable<ScanOptions['report']>,
  leaves: () => Promise<{ inventory: Inventory; states: SecretState[] }>,
  rest: Omit<ScanReportInput, 'inventory' | 'states'>,
): Promise<ReportUpload> {
  try {
    return await write(composition, { ...(await leaves()), ...rest });
  } catch (err) {
    rest.log?.warn('the key report could not be written', { error: err });
    return { ok: false, location: '(unknown)', error: messageOf(err) };
  }
}
