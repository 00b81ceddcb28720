import { ListSecretVersionIdsCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { runChecks } from '../checks/run';
import type { CheckReport } from '../checks/types';
import type { Composition } from '../compose';
import type { ManagedKey } from '../config';
import { messageOf } from '../domain/errors';
import { systemClock, type Clock, type Log } from '../engine/ports';
import { collectInventory, readSecretStates, type Inventory, type SecretState } from '../scan';
import { mapLimit } from '../scan/limit';
import { keyIdOfVersion } from '../scan/secret-state';
import {
  buildKeyReport,
  HISTORY_VERSIONS,
  type KeyReport,
  type SecretHistory,
  type SecretVersionInfo,
} from './model';

/**
 * The versions of a managed key's secret, newest first: ListSecretVersionIds with IncludeDeprecated (their stages
 * and creation dates), then, for the newest `limit`, the access key id each holds (GetSecretValue by VersionId,
 * parsed and dropped at once as secret-state.ts does: the secret access key is never kept). Never throws: what
 * cannot be read is the history's `error`.
 */
export async function readSecretHistory(
  client: SecretsManagerClient,
  key: ManagedKey,
  limit = HISTORY_VERSIONS,
): Promise<SecretHistory> {
  try {
    const listed: SecretVersionInfo[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(
        new ListSecretVersionIdsCommand({
          SecretId: key.secretId,
          IncludeDeprecated: true,
          MaxResults: 100,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      for (const v of r.Versions ?? [])
        if (v.VersionId)
          listed.push({
            versionId: v.VersionId,
            stages: v.VersionStages ?? [],
            ...(v.CreatedDate ? { createdDate: v.CreatedDate } : {}),
          });
      token = r.NextToken;
    } while (token);
    listed.sort((a, b) => (b.createdDate?.getTime() ?? 0) - (a.createdDate?.getTime() ?? 0));
    const versions = await mapLimit(listed.slice(0, limit), 1, async (v) => {
      // A deprecated version Secrets Manager has purged, or one with no key yet, holds no id: it stays listed.
      const accessKeyId = await keyIdOfVersion(client, key.secretId, v.versionId);
      return accessKeyId ? { ...v, accessKeyId } : v;
    });
    return { key: key.name, versions, total: listed.length };
  } catch (err) {
    return { key: key.name, error: `cannot read the versions of secret ${key.secretId}: ${messageOf(err)}` };
  }
}

export interface CollectOptions {
  /** Discover users through the credential report when it is fresh (`audit --credential-report`). */
  credentialReport?: boolean;
  /** Run the security checks (default true); false: the report says they were not run. */
  checks?: boolean;
  /** What the caller has read already (the scan): not read again. */
  inventory?: Inventory;
  states?: readonly SecretState[];
  /** The checks' report the caller has, or why it has none (the scan runs them once a day). */
  checkReport?: CheckReport | { skipped: string };
  configFile?: string;
  clock?: Clock;
  log?: Log;
  concurrency?: number;
}

/**
 * Reads everything the report shows, read-only: the inventory (every user's keys, as `audit`), each managed key's
 * secret state and versions, and the security checks (as `check`), then builds the report. Parts that cannot be
 * read are in the report (problems, a history's error, the checks' reason), not thrown.
 */
export async function collectKeyReport(
  composition: Composition,
  opts: CollectOptions = {},
): Promise<KeyReport> {
  const clock = opts.clock ?? systemClock;
  const keys = composition.config.keys;
  const [inventory, states] = await Promise.all([
    opts.inventory ??
      collectInventory(composition, {
        clock,
        source: opts.credentialReport ? 'auto' : 'list',
        ...(opts.log ? { log: opts.log } : {}),
      }),
    opts.states ?? readSecretStates(composition, keys, opts.concurrency),
  ]);
  const secretHistories = await mapLimit(keys, opts.concurrency ?? 4, (k) =>
    readSecretHistory(composition.clients.secrets, k),
  );
  const checks = opts.checkReport ?? (await checksFor(composition, opts, clock, inventory, states));
  return buildKeyReport({
    inventory,
    config: composition.config,
    ...(opts.configFile ? { configFile: opts.configFile } : {}),
    states,
    secretHistories,
    checks,
    now: clock.now(),
  });
}

async function checksFor(
  composition: Composition,
  opts: CollectOptions,
  clock: Clock,
  inventory: Inventory,
  states: readonly SecretState[],
): Promise<CheckReport | { skipped: string }> {
  if (opts.checks === false) return { skipped: 'not run (--no-checks): key-rotator check runs them' };
  if (!composition.config.keys.length)
    return { skipped: 'not run: no managed keys (the checks are about the keys the configuration manages)' };
  try {
    return await runChecks(composition, {
      clock,
      inventory,
      states,
      ...(opts.log ? { log: opts.log } : {}),
    });
  } catch (err) {
    return { skipped: `the checks failed: ${messageOf(err)}` };
  }
}
