import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudTrailClient, CreateTrailCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { DetachUserPolicyCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { DEMO_FLAWS, seedDemo } from '../../scripts/demo-seed';
import { adminEnv, runCli, type CliRun } from '../support/cli';

/**
 * The security checks' "done when", as a user would do it on the demo seed (`npm start`'s set-up) with the CLI:
 * `key-rotator check` names the FullAccess policy with the scoped one to replace it, the planted key with its job
 * and field (never its value), and the missing trail; `--fail-on high` fails; after the fixes the findings print
 * say, it passes.
 */
let cloud: LocalCloud;
let dir: string;
let configPath: string;
const secrets: string[] = [];

const check = async (...args: string[]): Promise<CliRun> => {
  const r = await runCli(['check', '--config', configPath, '--endpoint', cloud.aws.url, ...args], {
    env: adminEnv(cloud.aws.admin),
    cwd: dir,
  });
  for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s);
  return r;
};

beforeAll(async () => {
  cloud = await startLocalCloud();
  const { config } = await seedDemo(cloud);
  dir = await mkdtemp(join(tmpdir(), 'jkr-check-demo-'));
  configPath = join(dir, 'rotator.config.json');
  await writeFile(configPath, JSON.stringify(config));
  for (const k of cloud.aws.state.accessKeys.values()) secrets.push(k.secretAccessKey);
});

afterAll(async () => {
  await cloud.close();
  await rm(dir, { recursive: true, force: true });
});

describe('key-rotator check on the demo seed', () => {
  let first: CliRun;
  const policies = () => join(dir, 'policies');

  it('names the three flaws, each with its fix, and --fail-on high exits 1', async () => {
    first = await check('--fail-on', 'high', '--emit-policy', policies());
    expect(first.code).toBe(1);
    const out = first.stdout;
    expect(out).toMatch(/HIGH \(3\)/);
    expect(out).toMatch(
      /\[ecr-broad-managed-policy\] user jenkins-prod has the AWS managed policy AmazonEC2ContainerRegistryFullAccess/,
    );
    expect(out).toContain(
      'aws iam put-user-policy --user-name jenkins-prod --policy-name key-rotator-ecr-push --policy-document file://policies/prod-ecr-push.policy.json',
    );
    expect(out).toMatch(
      /\[key-outside-credentials-store\] access key AKIA\w{16} is written in the configuration of team-a\/legacy-deploy \(.*propertiesContent \(AWS_ACCESS_KEY_ID\)\)/,
    );
    expect(out).toMatch(/it is the current key of managed key dev-ecr-push/);
    expect(out).toMatch(/\[no-cloudtrail\] no CloudTrail trail covers account \d{12} in us-east-1/);
  });

  it('after the fixes it prints, --fail-on high exits 0', async () => {
    const aws = cloud.aws.adminClientConfig();
    const iam = new IAMClient(aws);
    const ct = new CloudTrailClient(aws);
    try {
      // 1. The emitted policy in place of FullAccess, exactly as the fix says.
      await iam.send(
        new PutUserPolicyCommand({
          UserName: 'jenkins-prod',
          PolicyName: 'key-rotator-ecr-push',
          PolicyDocument: await readFile(join(policies(), 'prod-ecr-push.policy.json'), 'utf8'),
        }),
      );
      await iam.send(
        new DetachUserPolicyCommand({ UserName: 'jenkins-prod', PolicyArn: DEMO_FLAWS.broadPolicy }),
      );
      // 2. The job uses the credential instead of a pasted key.
      cloud.jenkins.state.seed({ jobs: [{ path: DEMO_FLAWS.plantedJob }] });
      // 3. A trail that logs management events in every Region.
      await ct.send(
        new CreateTrailCommand({
          Name: 'management-events',
          S3BucketName: 'audit-logs',
          IsMultiRegionTrail: true,
        }),
      );
      await ct.send(new StartLoggingCommand({ Name: 'management-events' }));
    } finally {
      iam.destroy();
      ct.destroy();
    }
    const after = await check('--fail-on', 'high');
    expect(after.stdout).not.toMatch(/^HIGH/m);
    expect(after.code).toBe(0);
  });
});
