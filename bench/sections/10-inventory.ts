/**
 * The scan's inventory of a large account against naive per-user listing, measured in the same run on the same
 * emulator, with every AWS call answering 20 ms late: IAM calls (counted by the emulator) and wall time, with a
 * fresh credential report, generating one, and with the list fallback. `--users N` (default 5,000), 10 managed.
 */
import { IAMClient, ListAccessKeysCommand, paginateListUsers } from '@aws-sdk/client-iam';
import { startAwsEmulator, type AwsEmulator } from '../../localcloud/aws/server';
import { seedFleetUsers } from '../../localcloud/fleet';
import { compose } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { collectInventory, type InventoryOptions, type SecretState } from '../../src/scan';
import { mapLimit } from '../../src/scan/limit';
import { option, ratio, type BenchSection } from '../section';

const MANAGED = 10;
const LATENCY_MS = 20;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Measure {
  calls: number;
  ms: number;
}

async function measure(aws: AwsEmulator, run: () => Promise<unknown>): Promise<Measure> {
  const since = aws.state.calls.lastSeq;
  const t = performance.now();
  await run();
  const ms = performance.now() - t;
  return { calls: aws.state.calls.since(since).filter((c) => c.point.startsWith('iam:')).length, ms };
}

/** What a tool without the report does: every user listed, then each user's keys, 4 at a time. */
async function naiveListing(iam: IAMClient): Promise<number> {
  const users: string[] = [];
  for await (const page of paginateListUsers({ client: iam, pageSize: 1000 }, { PathPrefix: '/jenkins/' }))
    for (const u of page.Users ?? []) if (u.UserName) users.push(u.UserName);
  const keys = await mapLimit(users, 4, async (UserName) => {
    const r = await iam.send(new ListAccessKeysCommand({ UserName }));
    return r.AccessKeyMetadata?.length ?? 0;
  });
  return keys.reduce((a, b) => a + b, 0);
}

async function inventoryBench(userCount: number) {
  const aws = await startAwsEmulator();
  try {
    const users = seedFleetUsers(aws.state, { count: userCount, staleEvery: 10 });
    const managed = users.slice(0, MANAGED);
    const config = parseConfig({
      version: 1,
      keys: managed.map((u, i) => ({
        name: `k${i}`,
        iamUser: u.userName,
        secretId: `jenkins/k${i}/aws-key`,
        jenkins: [
          {
            url: 'https://jenkins.example.com',
            user: 'key-rotator',
            tokenSecretId: 'key-rotator/jenkins-api-token',
            store: 'system',
            credentialId: `aws-k${i}`,
          },
        ],
        verify: { ecr: { region: 'us-east-1' } },
      })),
    });
    const composition = compose(config, aws.adminClientConfig(), silent);
    const states: SecretState[] = managed.map((u, i) => ({
      key: `k${i}`,
      secretId: `jenkins/k${i}/aws-key`,
      rotationConfigured: true,
      currentAccessKeyId: u.accessKeyId,
      currentUserName: u.userName,
    }));
    // The scan's options (src/scan/run.ts): unmanaged users from the report's columns, tags only where they matter.
    const scan: InventoryOptions = {
      pathPrefix: '/jenkins/',
      unmanagedKeys: 'report',
      lastUsed: 'needed',
      secretStates: states,
    };
    aws.state.callLatencyMs = LATENCY_MS;
    const iam = new IAMClient(aws.adminClientConfig());
    const generating = await measure(aws, () => collectInventory(composition, scan));
    const fresh = await measure(aws, () => collectInventory(composition, scan));
    const fallback = await measure(aws, () => collectInventory(composition, { ...scan, source: 'list' }));
    const naive = await measure(aws, () => naiveListing(iam));
    iam.destroy();
    return { users: userCount, managed: MANAGED, latencyMs: LATENCY_MS, naive, fresh, generating, fallback };
  } finally {
    await aws.close();
  }
}

const line = (name: string, m: Measure, naive: Measure) =>
  `${name.padEnd(34)} ${String(m.calls).padStart(6)} IAM calls ${(m.ms / 1000).toFixed(2).padStart(7)} s   ` +
  `${ratio(naive.calls, m.calls).padStart(8)} fewer calls, ${ratio(naive.ms, m.ms).padStart(8)} less time`;

export const section: BenchSection = {
  name: 'inventory',
  title: 'The scan inventory against per-user listing (20 ms per AWS call)',
  async run(ctx) {
    const r = await inventoryBench(option(ctx.argv, 'users', 5000));
    return {
      lines: [
        `${r.users} IAM users with one key each, ${r.managed} managed; every AWS call answers ${r.latencyMs} ms late`,
        `${'naive per-user listing (4 at a time)'.padEnd(34)} ${String(r.naive.calls).padStart(6)} IAM calls ${(r.naive.ms / 1000).toFixed(2).padStart(7)} s   (baseline)`,
        line('scan, credential report fresh', r.fresh, r.naive),
        line('scan, generating the report', r.generating, r.naive),
        line('scan, list fallback', r.fallback, r.naive),
        `target: with a fresh report <= ${3 + r.managed} calls (${r.fresh.calls}); at 5,000 users >= 300x fewer calls and >= 50x less time than per-user listing`,
      ],
      json: r,
    };
  },
};
