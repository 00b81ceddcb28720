import type { CheckReport } from '../checks/types';
import type { Composition } from '../compose';
import type { ManagedKey } from '../config';
import { InputError, messageOf } from '../domain/errors';
import { systemClock, type Clock, type Log } from '../engine/ports';
import type { IAMClient } from '@aws-sdk/client-iam';
import { clientSettings } from '../aws/clients';
import { scanIamClient } from './rate';
import { scanChecks, type ChecksStateStore, type ScanChecks } from './checks';
import { executePlan, type ActionPorts } from './execute';
import { sdkIamReader, type IamReader } from './iam-reader';
import { takeInventory, type InventoryOptions, type InventoryPorts } from './inventory';
import { mapLimit } from './limit';
import { planScan, type PlanOptions } from './plan';
import { readSecretState, startRotation } from './secret-state';
import { summarize } from './summary';
import type { Inventory, ReportUpload, ScanSummary, SecretState } from './types';

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
 * The scheduled scan: inventory, the secrets' rotation states, the pure plan, then the confirmed actions
 * (repairs of stuck or half-finished rotations, clean-up, then RotateSecret for each due key). Every target is
 * processed; failures and the problems left are in the summary, which the caller reports (and fails on).
 */
export async function runScan(composition: Composition, opts: ScanOptions = {}): Promise<ScanSummary> {
  const clock = opts.clock ?? systemClock;
  const startedAt = clock.now();
  // The secret states first: with them the inventory skips the tags of managed users at rest, and audits unmanaged
  // users from the credential report's own columns (1 IAM call + 1 per managed user with a fresh report).
  const states = await readSecretStates(composition, composition.config.keys, opts.concurrency);
  const lean: InventoryOptions = { unmanagedKeys: 'report', lastUsed: 'needed', secretStates: states };
  const inventory = await collectInventory(composition, { ...lean, ...opts, clock });
  const plan = planScan(inventory, composition.config, states, clock.now(), opts);
  const done = await executePlan(plan, actionPorts(composition, clock, opts.log));
  // The checks and the report look at what the scan leaves: read again (once) when it changed something (a repair
  // deactivates a second key, a deletion removes one), so that a flaw the scan just fixed is not notified.
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
  const checks =
    opts.checks === false
      ? undefined
      : await scanChecks(composition, leaves, {
          clock,
          ...(opts.checks?.store ? { store: opts.checks.store } : {}),
          ...(opts.log ? { log: opts.log } : {}),
          onReport: (r) => (checkReport = r),
        });
  const report = opts.report
    ? await scanReport(composition, opts.report, leaves, {
        checks: checkReport ?? { skipped: checksNotRun(checks) },
        clock,
        ...(opts.log ? { log: opts.log } : {}),
      })
    : undefined;
  return summarize(inventory, plan, done, startedAt, clock.now(), checks, report);
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
