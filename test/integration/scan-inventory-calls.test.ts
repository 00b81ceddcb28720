/**
 * What the scan's inventory costs in IAM calls, counted by the AWS emulator over real HTTP (the SDK's own
 * paginators and retries, SigV4): with a fresh credential report, 1 call + 1 per managed user whatever the number
 * of unmanaged users; generating the report first, 2 more; the list fallback, 1 per page + 1 per user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../../localcloud/aws/server';
import { seedFleetUsers, type FleetUser } from '../../localcloud/fleet';
import { compose, type Composition } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { collectInventory, planScan, type InventoryOptions, type SecretState } from '../../src/scan';
import { rawKey } from '../support/config-fixture';

const MANAGED = 10;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

let aws: AwsEmulator;
let users: FleetUser[];
let composition: Composition;
let states: SecretState[];

function iamCallsOf(run: () => Promise<unknown>) {
  return async () => {
    const since = aws.state.calls.lastSeq;
    await run();
    return aws.state.calls
      .since(since)
      .filter((c) => c.point.startsWith('iam:'))
      .map((c) => c.point);
  };
}

beforeAll(async () => {
  aws = await startAwsEmulator();
  // 5,000 users; every 10th key 200 days old.
  users = seedFleetUsers(aws.state, { count: 5000, staleEvery: 10 });
  const managed = users.slice(0, MANAGED);
  const config = parseConfig({
    version: 1,
    keys: managed.map((u, i) =>
      rawKey({
        name: `k${i}`,
        iamUser: u.userName,
        secretId: `jenkins/k${i}`,
        jenkins: [{ ...rawKey().jenkins[0], credentialId: `aws-k${i}` }],
      }),
    ),
  });
  composition = compose(config, aws.adminClientConfig(), silent);
  // The managed keys at rest: each user's only key is its secret's AWSCURRENT, active, nothing in flight.
  states = managed.map((u, i) => ({
    key: `k${i}`,
    secretId: `jenkins/k${i}`,
    rotationConfigured: true,
    currentAccessKeyId: u.accessKeyId,
    currentUserName: u.userName,
  }));
});

afterAll(async () => {
  await aws.close();
});

// As the deployed scan: the users on the stack's path (the emulator's administrator is on `/`).
const scanOptions = (): InventoryOptions => ({
  pathPrefix: '/jenkins/',
  unmanagedKeys: 'report',
  lastUsed: 'needed',
  secretStates: states,
});

describe('the inventory of 5,000 users with 10 managed, counted by the emulator', () => {
  it('generating the credential report first: 3 calls + 1 per managed user (13)', async () => {
    let source = '';
    const calls = await iamCallsOf(async () => {
      source = (await collectInventory(composition, scanOptions())).source;
    })();
    expect(source).toBe('credential-report');
    expect(calls.length).toBeLessThanOrEqual(3 + MANAGED);
    expect(calls.filter((c) => c === 'iam:ListAccessKeys')).toHaveLength(MANAGED);
    expect(calls.filter((c) => c !== 'iam:ListAccessKeys').sort()).toEqual([
      'iam:GenerateCredentialReport',
      'iam:GetCredentialReport',
      'iam:GetCredentialReport',
    ]);
  });

  it('with the fresh report: 1 call + 1 per managed user (11), and the stale unmanaged keys still reported', async () => {
    let stale = 0;
    const calls = await iamCallsOf(async () => {
      const inv = await collectInventory(composition, scanOptions());
      expect(inv.users).toHaveLength(5000);
      stale = planScan(inv, composition.config, states, new Date(aws.state.now())).unmanagedStale.length;
    })();
    expect(calls).toHaveLength(1 + MANAGED);
    expect(stale).toBe(499);
  });

  it("the list fallback on 1,200 users: 1 per page of 1,000 + 1 per user + the managed keys' last use", async () => {
    // A narrower path keeps the listing short: the first 1,200 users move to /jenkins/list/.
    for (const u of users.slice(0, 1200)) {
      const rec = aws.state.accounts.get(aws.state.defaultAccountId)!.users.get(u.userName)!;
      rec.path = '/jenkins/list/';
    }
    try {
      const calls = await iamCallsOf(() =>
        collectInventory(composition, { ...scanOptions(), source: 'list', pathPrefix: '/jenkins/list/' }),
      )();
      expect(calls.filter((c) => c === 'iam:ListUsers')).toHaveLength(2);
      expect(calls.filter((c) => c === 'iam:ListAccessKeys')).toHaveLength(1200);
      expect(calls.filter((c) => c === 'iam:GetAccessKeyLastUsed')).toHaveLength(MANAGED);
      expect(calls.length).toBeLessThanOrEqual(2 + 1200 + MANAGED);
    } finally {
      for (const u of users.slice(0, 1200))
        aws.state.accounts.get(aws.state.defaultAccountId)!.users.get(u.userName)!.path = '/jenkins/';
    }
  });
});
