import type { ManagedKey, RotatorConfig } from '../config';
import { parseAttempts } from '../domain/attempts';
import { keylessSince } from '../keyless/state';
import { messageOf } from '../domain/errors';
import { ageInDays, type AccessKeyMeta } from '../domain/keys';
import { deactivatedTag } from '../engine/engine';
import type { Clock, Log } from '../engine/ports';
import {
  accountOfArn,
  parseCredentialReport,
  pathOfUserArn,
  slotHasKey,
  type ReportKeySlot,
} from './credential-report';
import type { IamReader, IamUserRef } from './iam-reader';
import { mapLimit } from './limit';
import type {
  Inventory,
  InventoryKey,
  InventoryProblem,
  InventorySource,
  InventoryUser,
  ReportedKey,
  SecretState,
} from './types';

export interface InventoryOptions {
  /** `auto` (default): the credential report when it is fresh enough, else ListUsers; or force one of them. */
  source?: 'auto' | InventorySource;
  /** The credential report is used only if IAM generated it less than this long ago. Default 4. */
  reportMaxAgeHours?: number;
  /** How long to wait for IAM to generate a new report before listing instead. Default 60. */
  reportWaitSeconds?: number;
  /** Only users under this IAM path are inventoried (managed users always are). Default `/`: every user. */
  pathPrefix?: string;
  /** IAM calls in flight at once. Default 4. */
  concurrency?: number;
  /**
   * How the keys of unmanaged users are read when the credential report is used. `list` (default): ListAccessKeys
   * for each user the report shows with a key, so every key has its id (audit, the key report). `report`: from the
   * report's own columns (status, creation, last use), without a call: the report carries no key ids, so those keys
   * are in `InventoryUser.reportedKeys`. The scan uses `report`: its cost is then independent of unmanaged users.
   */
  unmanagedKeys?: 'list' | 'report';
  /**
   * GetAccessKeyLastUsed where the credential report does not say: for `all` keys (default), or only where a
   * decision needs it (`needed`: managed keys, for the clean-up and the checks; never unmanaged keys, which are
   * only reported).
   */
  lastUsed?: 'all' | 'needed';
  /**
   * The managed keys' secret states, read first. A managed user whose only key is its secret's AWSCURRENT key,
   * active, with no rotation in flight, then gets no ListUserTags: nothing this tool's tags hold (attempts,
   * deactivations, keyless) can change a decision about it. Undefined: every managed user's tags are read.
   */
  secretStates?: readonly SecretState[];
}

export interface InventoryPorts {
  clock: Clock;
  /** The account the rotator's own credentials belong to. */
  ownAccountId(): Promise<string>;
  /** IAM of the rotator's own account. */
  own: IamReader;
  /** IAM as the managed key's engine sees it: the own account, or through the key's assumeRoleArn. */
  readerFor(key: ManagedKey): IamReader;
  log?: Log;
}

const HOUR = 3_600_000;
const DEACTIVATED_PREFIX = deactivatedTag('');

/** Users found in the rotator's account, with their credential-report slots when the report was used. */
interface Discovery {
  source: InventorySource;
  reportGeneratedAt?: Date;
  reportSkippedReason?: string;
  users: { ref: IamUserRef; slots?: ReportKeySlot[] }[];
  problem?: string;
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Parses an ISO 8601 tag value; undefined for anything else. */
export function parseIsoDate(value: string | undefined): Date | undefined {
  if (!value || !/^\d{4}-\d{2}-\d{2}T/.test(value)) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * The keys of the rotator's account and of every managed user (aws-facts.md §2.2): the account's users come from
 * the IAM credential report when it is fresh enough, else from ListUsers. Managed users are read directly
 * (ListAccessKeys, which is authoritative; last use from the report or GetAccessKeyLastUsed; this tool's tags when
 * they can matter, see `secretStates`), wherever they live. Unmanaged users' keys come from ListAccessKeys, or from
 * the report's own columns (`unmanagedKeys: 'report'`). With a fresh report, the scan's options and managed users
 * at rest, that is 1 IAM call + 1 per managed user, whatever the number of unmanaged users. What cannot be read
 * is listed in `problems` rather than failing the whole inventory.
 */
export async function takeInventory(
  config: RotatorConfig,
  ports: InventoryPorts,
  opts: InventoryOptions = {},
): Promise<Inventory> {
  const now = ports.clock.now();
  const concurrency = opts.concurrency ?? 4;
  const accountId = await ports.ownAccountId();
  const problems: InventoryProblem[] = [];
  const homeOf = (k: ManagedKey) => k.accountId ?? accountId;
  const readable = config.keys.filter((k) => {
    if (homeOf(k) === accountId || k.assumeRoleArn) return true;
    problems.push({
      key: k.name,
      user: k.iamUser,
      accountId: homeOf(k),
      reason: `the key's user is in account ${homeOf(k)}, but the rotator runs in ${accountId} and the key has no assumeRoleArn`,
    });
    return false;
  });
  const managedHere = (userName: string) =>
    readable.find((k) => homeOf(k) === accountId && sameName(k.iamUser, userName));

  const found = await discover(ports, opts, now);
  if (found.problem) problems.push({ accountId, reason: found.problem });
  const toKey = (k: AccessKeyMeta, used: { date?: Date; service?: string }): InventoryKey => ({
    accessKeyId: k.accessKeyId,
    status: k.status,
    createDate: k.createDate,
    ageDays: ageInDays(k.createDate, now),
    ...(used.date ? { lastUsedDate: used.date } : {}),
    ...(used.service ? { lastUsedService: used.service } : {}),
  });

  // Keys with their last use: from the report's slot matched by creation time, else GetAccessKeyLastUsed (or
  // nothing, when `lookUp` says no decision needs it).
  const withLastUse = (
    reader: IamReader,
    keys: AccessKeyMeta[],
    slots: ReportKeySlot[] | undefined,
    lookUp: boolean,
  ) => {
    const fromReport = slots ? matchSlots(keys, slots) : new Map<string, ReportKeySlot>();
    return mapLimit(keys, 1, async (k) => {
      const slot = fromReport.get(k.accessKeyId);
      if (slot) return toKey(k, slotUse(slot));
      return toKey(k, lookUp ? await reader.lastUsed(k.accessKeyId) : {});
    });
  };

  const unmanaged = found.users.filter((u) => !managedHere(u.ref.userName));
  const others = await mapLimit(unmanaged, concurrency, async ({ ref, slots }) => {
    // The report says this user has no key: nothing to list (the report can be hours old; see README).
    if (slots && !slots.some(slotHasKey)) return userOf(ref, accountId, []);
    if (slots && opts.unmanagedKeys === 'report')
      return { ...userOf(ref, accountId, []), reportedKeys: reportedKeysOf(slots, now) };
    try {
      const keys = await ports.own.listAccessKeys(ref.userName);
      return userOf(ref, accountId, await withLastUse(ports.own, keys, slots, opts.lastUsed !== 'needed'));
    } catch (err) {
      problems.push({
        user: ref.userName,
        accountId,
        reason: `could not read its access keys: ${messageOf(err)}`,
      });
      return undefined;
    }
  });

  const managed = await mapLimit(readable, concurrency, async (k) => {
    const reader = ports.readerFor(k);
    const home = homeOf(k);
    try {
      const discovered =
        home === accountId ? found.users.find((u) => sameName(u.ref.userName, k.iamUser)) : undefined;
      const ref = discovered?.ref ?? (await reader.getUser(k.iamUser));
      if (!ref) {
        problems.push({
          key: k.name,
          user: k.iamUser,
          accountId: home,
          reason: `IAM user ${k.iamUser} not found in account ${home}`,
        });
        return undefined;
      }
      // Keys before tags, as the engine reads them: an attempt tags the user before it creates a key, so a key
      // seen here has its attempt record seen next (and is not mistaken for a second active key).
      const keys = await reader.listAccessKeys(ref.userName);
      const readTags =
        !opts.secretStates ||
        tagsMatter(
          keys,
          opts.secretStates.find((s) => s.key === k.name),
        );
      const tags = readTags ? await reader.userTags(ref.userName) : {};
      const deactivationTags: Record<string, string> = {};
      for (const [tag, value] of Object.entries(tags))
        if (tag.startsWith(DEACTIVATED_PREFIX))
          deactivationTags[tag.slice(DEACTIVATED_PREFIX.length)] = value;
      const withUse = (await withLastUse(reader, keys, discovered?.slots, true)).map((key) => {
        const deactivatedAt = parseIsoDate(deactivationTags[key.accessKeyId]);
        return { ...key, ...(deactivatedAt ? { deactivatedAt } : {}) };
      });
      return {
        ...userOf(ref, home, withUse),
        managedKey: k.name,
        deactivationTags,
        attempts: parseAttempts(tags),
        ...(keylessSince(tags) ? { keylessSince: keylessSince(tags) } : {}),
        ...(readTags ? {} : { tagsNotRead: true as const }),
      };
    } catch (err) {
      problems.push({
        key: k.name,
        user: k.iamUser,
        accountId: home,
        reason: `could not read IAM user ${k.iamUser}: ${messageOf(err)}`,
      });
      return undefined;
    }
  });

  const users = [...others, ...managed]
    .filter((u): u is InventoryUser => u !== undefined)
    .sort((a, b) => a.accountId.localeCompare(b.accountId) || a.userName.localeCompare(b.userName));
  return {
    takenAt: now,
    accountId,
    source: found.source,
    ...(found.reportGeneratedAt ? { reportGeneratedAt: found.reportGeneratedAt } : {}),
    ...(found.reportSkippedReason ? { reportSkippedReason: found.reportSkippedReason } : {}),
    users,
    problems,
  };
}

function userOf(ref: IamUserRef, accountId: string, keys: InventoryKey[]): InventoryUser {
  return { userName: ref.userName, path: ref.path, arn: ref.arn, accountId, keys };
}

const slotUse = (slot: ReportKeySlot): { date?: Date; service?: string } => ({
  ...(slot.lastUsedDate ? { date: slot.lastUsedDate } : {}),
  ...(slot.lastUsedService ? { service: slot.lastUsedService } : {}),
});

/** An unmanaged user's keys as the credential report describes them (no ids: the report has none). */
function reportedKeysOf(slots: readonly ReportKeySlot[], now: Date): ReportedKey[] {
  return slots.flatMap((s, i): ReportedKey[] =>
    s.lastRotated
      ? [
          {
            slot: i + 1,
            status: s.active ? 'Active' : 'Inactive',
            createDate: s.lastRotated,
            ageDays: ageInDays(s.lastRotated, now),
            ...(s.lastUsedDate ? { lastUsedDate: s.lastUsedDate } : {}),
            ...(s.lastUsedService ? { lastUsedService: s.lastUsedService } : {}),
          },
        ]
      : [],
  );
}

/**
 * Whether a managed user's tags can change a decision: always, unless its only key is its secret's AWSCURRENT key,
 * active, with no rotation in flight (then there is no attempt to account for, no deactivated key to clean up, and
 * a keyless user's retired key would be inactive or gone). Read with the secret's state, which is read first.
 */
export function tagsMatter(keys: readonly AccessKeyMeta[], state: SecretState | undefined): boolean {
  if (!state || state.error !== undefined || state.pending) return true;
  const [only, ...more] = keys;
  return (
    !only || more.length > 0 || only.accessKeyId !== state.currentAccessKeyId || only.status !== 'Active'
  );
}

/**
 * Pairs report slots with listed keys by creation time (to the second, as the report writes it). A key without
 * a match (created or changed since the report) gets its last use from GetAccessKeyLastUsed instead.
 */
function matchSlots(keys: AccessKeyMeta[], slots: ReportKeySlot[]): Map<string, ReportKeySlot> {
  const out = new Map<string, ReportKeySlot>();
  const free = slots.filter(slotHasKey);
  const second = (d: Date) => Math.floor(d.getTime() / 1000);
  for (const k of keys) {
    const i = free.findIndex((s) => s.lastRotated && second(s.lastRotated) === second(k.createDate));
    if (i >= 0) out.set(k.accessKeyId, free.splice(i, 1)[0]!);
  }
  return out;
}

async function discover(ports: InventoryPorts, opts: InventoryOptions, now: Date): Promise<Discovery> {
  const prefix = opts.pathPrefix ?? '/';
  let reportSkippedReason: string | undefined;
  if ((opts.source ?? 'auto') !== 'list') {
    const report = await freshReport(ports, opts, now);
    if ('csv' in report) {
      try {
        const rows = parseCredentialReport(report.csv);
        return {
          source: 'credential-report',
          reportGeneratedAt: report.generatedAt,
          users: rows
            .filter((r) => pathOfUserArn(r.arn).startsWith(prefix) && accountOfArn(r.arn) !== undefined)
            .map((r) => ({
              ref: { userName: r.user, path: pathOfUserArn(r.arn), arn: r.arn },
              slots: r.keys,
            })),
        };
      } catch (err) {
        reportSkippedReason = `the credential report could not be read: ${messageOf(err)}`;
      }
    } else reportSkippedReason = report.reason;
    ports.log?.info('listing IAM users instead of using the credential report', {
      reason: reportSkippedReason,
    });
  }
  const skipped = reportSkippedReason ? { reportSkippedReason } : {};
  try {
    const refs = await ports.own.listUsers(prefix);
    return { source: 'list', ...skipped, users: refs.map((ref) => ({ ref })) };
  } catch (err) {
    return {
      source: 'list',
      ...skipped,
      users: [],
      problem: `could not list IAM users, so unmanaged keys were not audited: ${messageOf(err)}`,
    };
  }
}

/**
 * The credential report if IAM generated it less than `reportMaxAgeHours` ago: the current one, or a new one
 * (IAM generates at most one every four hours and otherwise hands back the current one).
 */
async function freshReport(
  ports: InventoryPorts,
  opts: InventoryOptions,
  now: Date,
): Promise<{ generatedAt: Date; csv: string } | { reason: string }> {
  const { own, clock } = ports;
  const maxAgeHours = opts.reportMaxAgeHours ?? 4;
  const isFresh = (at: Date) => now.getTime() - at.getTime() < maxAgeHours * HOUR;
  const staleReason = (at: Date) =>
    `the credential report is ${((now.getTime() - at.getTime()) / HOUR).toFixed(1)} hours old (limit ${maxAgeHours}) and IAM generates at most one every 4 hours`;
  try {
    const current = await own.getCredentialReport();
    if ('csv' in current && isFresh(current.generatedAt)) return current;
    const state = await own.generateCredentialReport();
    const deadline = clock.now().getTime() + (opts.reportWaitSeconds ?? 60) * 1000;
    let delay = 1_000;
    for (;;) {
      const r = await own.getCredentialReport();
      if ('csv' in r) {
        if (isFresh(r.generatedAt)) return r;
        if (state === 'COMPLETE') return { reason: staleReason(r.generatedAt) };
      }
      if (clock.now().getTime() + delay > deadline)
        return {
          reason: `IAM did not generate a credential report within ${opts.reportWaitSeconds ?? 60} s`,
        };
      await clock.sleep(delay);
      delay = Math.min(delay * 2, 10_000);
    }
  } catch (err) {
    return { reason: `the credential report is not available: ${messageOf(err)}` };
  }
}
