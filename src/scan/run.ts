import type { Composition } from '../compose';
import type { ManagedKey } from '../config';
import { InputError } from '../domain/errors';
import { systemClock, type Clock, type Log } from '../engine/ports';
import { scanChecks, type ChecksStateStore } from './checks';
import { executePlan, type ActionPorts } from './execute';
import { sdkIamReader, type IamReader } from './iam-reader';
import { takeInventory, type InventoryOptions, type InventoryPorts } from './inventory';
import { mapLimit } from './limit';
import { planScan, type PlanOptions } from './plan';
import { readSecretState, startRotation } from './secret-state';
import { summarize } from './summary';
import type { Inventory, ScanSummary, SecretState } from './types';

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
}

function inventoryPorts(composition: Composition, clock: Clock, log?: Log): InventoryPorts {
  const own = sdkIamReader(composition.clients.iam, clock);
  const readers = new Map<string, IamReader>();
  return {
    clock,
    own,
    ownAccountId: () => composition.ownAccountId(),
    readerFor: (key) => {
      if (!key.assumeRoleArn) return own;
      let r = readers.get(key.name);
      if (!r) readers.set(key.name, (r = sdkIamReader(composition.iamFor(key), clock)));
      return r;
    },
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
    if (!r) readers.set(name, (r = sdkIamReader(composition.iamFor(key(name)), clock)));
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
 * The scheduled scan: inventory, the secrets' rotation states, the pure plan, then the confirmed actions
 * (repairs of stuck or half-finished rotations, clean-up, then RotateSecret for each due key). Every target is
 * processed; failures and the problems left are in the summary, which the caller reports (and fails on).
 */
export async function runScan(composition: Composition, opts: ScanOptions = {}): Promise<ScanSummary> {
  const clock = opts.clock ?? systemClock;
  const startedAt = clock.now();
  const [inventory, states] = await Promise.all([
    collectInventory(composition, { ...opts, clock }),
    readSecretStates(composition, composition.config.keys, opts.concurrency),
  ]);
  const plan = planScan(inventory, composition.config, states, clock.now(), opts);
  const done = await executePlan(plan, actionPorts(composition, clock, opts.log));
  // The checks look at what the scan leaves: read again when it changed something (a repair deactivates a
  // second key, a deletion removes one), so that a flaw the scan just fixed is not notified.
  const changed = done.started.length + done.repaired.length + done.deleted.length > 0;
  const checks =
    opts.checks === false
      ? undefined
      : await scanChecks(
          composition,
          changed
            ? async () => {
                const [i, s] = await Promise.all([
                  collectInventory(composition, { ...opts, clock }),
                  readSecretStates(composition, composition.config.keys, opts.concurrency),
                ]);
                return { inventory: i, states: s };
              }
            : () => Promise.resolve({ inventory, states }),
          {
            clock,
            ...(opts.checks?.store ? { store: opts.checks.store } : {}),
            ...(opts.log ? { log: opts.log } : {}),
          },
        );
  return summarize(inventory, plan, done, startedAt, clock.now(), checks);
}
