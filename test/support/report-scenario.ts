import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAccessKeyCommand, IAMClient } from '@aws-sdk/client-iam';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { seedAws } from '../../localcloud/aws/seed';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { wireRotationHook } from '../../localcloud/wire';
import { DEMO_KEYS, seedDemo } from '../../scripts/demo-seed';
import { rotateNow } from '../../src/engine/rotate-now';
import { createLogger } from '../../src/observability/logger';

/**
 * The demo seed (`npm start`'s set-up, with its three flaws) after some history, for the key report's tests:
 * prod's 120-day key rotated (the old one deactivated and tagged), dev left with a rotation that stopped
 * half-way (a new key in AWSPENDING, the old one still current), and an unmanaged user `ci-legacy` with a key
 * 200 days old (stale against the default line) besides the emulator's own administrator.
 */
export interface ReportScenario {
  cloud: LocalCloud;
  dir: string;
  configPath: string;
  /** Every secret the local cloud holds (secret access keys, Jenkins tokens and passwords): never in a report. */
  secrets: () => string[];
  /** prod's keys before and after its rotation, dev's current and pending keys. */
  ids: { prodOld: string; prodNew: string; devCurrent: string; devPending: string; legacy: string };
}

export async function reportScenario(): Promise<ReportScenario> {
  const cloud = await startLocalCloud();
  const { config } = await seedDemo(cloud);
  const dir = await mkdtemp(join(tmpdir(), 'jkr-report-'));
  const configPath = join(dir, 'rotator.config.json');
  await writeFile(configPath, JSON.stringify(config));
  const acct = cloud.aws.state.defaultAccountId;
  seedAws(cloud.aws.state, {
    users: [
      {
        userName: 'ci-legacy',
        accountId: acct,
        keys: [{ ageDays: 200, lastUsedDaysAgo: 40, lastUsedService: 's3' }],
      },
    ],
  });
  const keyOf = (user: string) => cloud.aws.state.keysOf(acct, user);
  const prodOld = keyOf('jenkins-prod')[0]!.accessKeyId;
  const devCurrent = keyOf('jenkins-dev')[0]!.accessKeyId;
  const legacy = keyOf('ci-legacy')[0]!.accessKeyId;

  const { composition, config: parsed } = wireRotationHook(
    cloud,
    config,
    createLogger('report-test', 'SILENT'),
  );
  const prod = parsed.keys.find((k) => k.name === 'prod-ecr-push');
  if (!prod) throw new Error('no prod key in the demo');
  const rotated = await rotateNow(composition, prod);
  if (rotated.outcome !== 'rotated') throw new Error(`the demo rotation failed: ${JSON.stringify(rotated)}`);
  const prodNew = keyOf('jenkins-prod').find((k) => k.status === 'Active')!.accessKeyId;

  // dev: a rotation that created its key and stored it as AWSPENDING, then stopped.
  const aws = cloud.aws.adminClientConfig();
  const iam = new IAMClient(aws);
  const sm = new SecretsManagerClient(aws);
  let devPending: string;
  try {
    const created = await iam.send(new CreateAccessKeyCommand({ UserName: 'jenkins-dev' }));
    const key = created.AccessKey!;
    devPending = key.AccessKeyId!;
    const dev = DEMO_KEYS.find((k) => k.name === 'dev-ecr-push')!;
    await sm.send(
      new PutSecretValueCommand({
        SecretId: dev.secretName,
        ClientRequestToken: randomUUID(),
        SecretString: JSON.stringify({
          userName: 'jenkins-dev',
          accessKeyId: devPending,
          secretAccessKey: key.SecretAccessKey,
        }),
        VersionStages: ['AWSPENDING'],
      }),
    );
  } finally {
    iam.destroy();
    sm.destroy();
  }
  const secrets = () => [
    ...[...cloud.aws.state.accessKeys.values()].map((k) => k.secretAccessKey),
    ...[...cloud.jenkins.state.users.values()].flatMap((u) => [
      ...u.apiTokens,
      ...(u.password !== undefined ? [u.password] : []),
    ]),
  ];
  return { cloud, dir, configPath, secrets, ids: { prodOld, prodNew, devCurrent, devPending, legacy } };
}
