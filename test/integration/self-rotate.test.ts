import { runCli, type CliRun } from '../support/cli';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { wireRotationHook } from '../../localcloud/wire';
import { readProfileKey } from '../../src/aws/credentials-file';
import { parseConfig, type ManagedKey, type RotatorConfig } from '../../src/config';
import { selfRotate, selfRotationPolicy } from '../../src/engine/self-rotate';
import { createLogger } from '../../src/observability/logger';
import { authenticates as authenticatesAt, type Creds } from '../support/aws';
import { jenkinsCredential } from '../support/jenkins';

/**
 * Self-rotation on the local cloud: the key signs in as itself, under nothing but the policy
 * `self-rotate --print-policy` prints (and its ECR push policy), which the emulator enforces.
 */
const KEYS: ScenarioKey[] = [
  {
    name: 'edge-ecr-push',
    iamUser: 'jenkins-edge',
    ageDays: 100,
    secretName: 'jenkins/edge/aws-key',
    credentials: [
      { store: 'system', credentialId: 'aws-edge', kind: 'aws' },
      { store: { folder: 'team-a/deploy' }, credentialId: 'aws-edge-userpass', kind: 'usernamePassword' },
    ],
    canary: true,
  },
];
const USER = 'jenkins-edge';
const SECRET = 'jenkins/edge/aws-key';
const TOKEN_ENV = 'SELF_ROTATE_TEST_JENKINS_TOKEN';

let cloud: LocalCloud;
let config: RotatorConfig;
let rawConfig: unknown;
let key: ManagedKey;
let sm: SecretsManagerClient;
const log = createLogger('self-rotate-test', 'SILENT');

const keysOfUser = () => cloud.aws.state.keysOf(cloud.aws.state.defaultAccountId, USER);
const authenticates = (creds: Creds) => authenticatesAt(cloud.aws.url, creds);
const aws = () => ({ region: 'us-east-1', endpoint: cloud.aws.url });

async function currentSecret(): Promise<Creds> {
  const r = await sm.send(new GetSecretValueCommand({ SecretId: SECRET }));
  return JSON.parse(r.SecretString ?? '{}') as Creds;
}

/** What a new Jenkins build would get: the key the system credential holds. */
async function jenkinsKey(): Promise<Creds> {
  const c = await jenkinsCredential(cloud, 'system', 'aws-edge');
  return { accessKeyId: String(c['accessKey']), secretAccessKey: String(c['secretKey']) };
}

beforeAll(async () => {
  cloud = await startLocalCloud({ aws: { propagationDelayMs: 200 } });
  const seeded = await seedScenario(cloud, KEYS);
  // The rotator's Jenkins token comes from the job's environment: the key may read no secret but its own.
  const raw = structuredClone(seeded.config) as { keys: Record<string, unknown>[] };
  process.env[TOKEN_ENV] = cloud.jenkins.state.users.get('key-rotator')?.apiTokens[0] ?? '';
  for (const k of raw.keys) {
    k['rotatedBy'] = 'self';
    for (const t of k['jenkins'] as Record<string, unknown>[]) {
      delete t['tokenSecretId'];
      t['tokenEnv'] = TOKEN_ENV;
    }
  }
  rawConfig = raw;
  config = parseConfig(raw);
  key = config.keys[0] as ManagedKey;
  const iam = new IAMClient(cloud.aws.adminClientConfig());
  sm = new SecretsManagerClient(cloud.aws.adminClientConfig());
  const secretArn = seeded.seeded[0]?.secretArn ?? '';
  const policy = selfRotationPolicy({
    accountId: cloud.aws.state.defaultAccountId,
    userPath: '/jenkins/',
    secretArn: `${secretArn.slice(0, -7)}-??????`,
  });
  // Inline policies replace the seeded permissions: from now on the user may do exactly this, and push to ECR.
  await iam.send(
    new PutUserPolicyCommand({
      UserName: USER,
      PolicyName: 'self-rotation',
      PolicyDocument: JSON.stringify(policy),
    }),
  );
  await iam.send(
    new PutUserPolicyCommand({
      UserName: USER,
      PolicyName: 'ecr-push',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:PutImage'], Resource: '*' }],
      }),
    }),
  );
  iam.destroy();
});

afterAll(async () => {
  sm.destroy();
  delete process.env[TOKEN_ENV];
  await cloud.close();
});

describe('key-rotator self-rotate, under the self-only policy', () => {
  it('rotates the key it signs in with: new key current, in Jenkins and verified, the old one refused', async () => {
    const old = await jenkinsKey();
    const from = cloud.aws.state.calls.lastSeq;
    const r = await selfRotate({ config, key, aws: aws(), initial: old, log, clockSkewMs: 2_000 });
    const to = cloud.aws.state.calls.lastSeq;
    expect(r.error).toBeUndefined();
    expect(r.outcome).toBe('rotated');
    const now = await currentSecret();
    expect(now.accessKeyId).not.toBe(old.accessKeyId);
    expect(r).toMatchObject({ signedInWith: old.accessKeyId, endedWith: now.accessKeyId });
    expect(await jenkinsKey()).toEqual({
      accessKeyId: now.accessKeyId,
      secretAccessKey: now.secretAccessKey,
    });
    expect(
      (await jenkinsCredential(cloud, { folder: 'team-a/deploy' }, 'aws-edge-userpass'))['username'],
    ).toBe(now.accessKeyId);
    expect(await authenticates(now)).toBe(true);
    expect(await authenticates(old)).toBe(false);
    expect(
      keysOfUser()
        .map((k) => [k.accessKeyId, k.status])
        .sort(),
    ).toEqual(
      [
        [now.accessKeyId, 'Active'],
        [old.accessKeyId, 'Inactive'],
      ].sort(),
    );
    // Every AWS call was made by the key itself, and the old key was deactivated by the new one.
    // (Probes of the new key before IAM has propagated it are refused: they have no caller.)
    const calls = cloud.aws.state.calls
      .since(from)
      .filter((c) => c.seq <= to && c.emulator === 'aws' && c.origin === 'client' && c.caller !== null);
    expect(new Set(calls.map((c) => c.caller))).toEqual(
      new Set([`arn:aws:iam::${cloud.aws.state.defaultAccountId}:user/jenkins/${USER}`]),
    );
    expect(calls.filter((c) => !c.ok && c.error === 'AccessDenied')).toEqual([]);
    const deactivation = calls.find((c) => c.point === 'iam:UpdateAccessKey');
    expect(deactivation?.accessKeyId).toBe(now.accessKeyId);
  });

  it('the next run, from a new build, finds nothing due; one with the dead old key is refused clearly', async () => {
    const r = await selfRotate({ config, key, aws: aws(), initial: await jenkinsKey(), log });
    expect(r.outcome).toBe('not-due');
    expect(r.actions.join(' ')).toMatch(/not due: key AKIA\w+ is 0 days old, rotated at 90 days/);
    const stale = keysOfUser().find((k) => k.status === 'Inactive');
    const staleCreds = {
      accessKeyId: stale?.accessKeyId ?? '',
      secretAccessKey: stale?.secretAccessKey ?? '',
    };
    const refused = await selfRotate({ config, key, aws: aws(), initial: staleCreds, log });
    expect(refused.outcome).toBe('failed');
    expect(refused.error?.message).toMatch(/AWS refuses the credentials of this environment.*new build/);
  });

  it('refuses credentials that are not the key’s own, changing nothing', async () => {
    const before = JSON.stringify(keysOfUser());
    const r = await selfRotate({
      config,
      key,
      aws: aws(),
      initial: { accessKeyId: cloud.aws.admin.accessKeyId, secretAccessKey: cloud.aws.admin.secretAccessKey },
      log,
      force: true,
    });
    expect(r.outcome).toBe('failed');
    expect(r.error?.message).toMatch(/not of IAM user jenkins-edge/);
    expect(JSON.stringify(keysOfUser())).toBe(before);
  });

  it('outside Jenkins (cron): the new key is written to the credentials file before the old one is deactivated', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jkr-self-'));
    const file = { path: join(dir, 'credentials'), profile: 'edge' };
    const old = await jenkinsKey();
    await writeFile(
      file.path,
      `[edge]\naws_access_key_id = ${old.accessKeyId}\naws_secret_access_key = ${old.secretAccessKey}\n`,
    );
    const initial = await readProfileKey(file);
    if (!initial) throw new Error('no key in the file');
    const r = await selfRotate({ config, key, aws: aws(), initial, log, force: true, credentialsFile: file });
    expect(r.outcome).toBe('rotated');
    const now = await currentSecret();
    expect(await readProfileKey(file)).toEqual({
      accessKeyId: now.accessKeyId,
      secretAccessKey: now.secretAccessKey,
    });
    // The next cron run starts from the file, and finds nothing to do.
    const next = await selfRotate({ config, key, aws: aws(), initial: now, log, credentialsFile: file });
    expect(next.outcome).toBe('not-due');
  });

  it('the rotation hook refuses a self-rotated key, changing nothing', async () => {
    const wired = wireRotationHook(cloud, rawConfig, log);
    const before = JSON.stringify(keysOfUser());
    await expect(
      wired.invoke({
        Step: 'createSecret',
        SecretId: SECRET,
        ClientRequestToken: '00000000-0000-4000-8000-000000000000',
      }),
    ).rejects.toMatchObject({
      name: 'InputError',
      message: expect.stringMatching(/is self-rotated/) as string,
    });
    expect(JSON.stringify(keysOfUser())).toBe(before);
  });

  it('--force rotates a key that is not due, still under the self-only policy', async () => {
    const old = await jenkinsKey();
    const r = await selfRotate({
      config,
      key,
      aws: aws(),
      initial: old,
      log,
      force: true,
      clockSkewMs: 2_000,
    });
    expect(r.outcome).toBe('rotated');
    expect((await currentSecret()).accessKeyId).not.toBe(old.accessKeyId);
    expect(await authenticates(old)).toBe(false);
  });
});

/** The key-rotator command as a child process, with only the environment given (no admin credentials). */
async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const dir = await mkdtemp(join(tmpdir(), 'jkr-self-cli-'));
  const configPath = join(dir, 'rotator.config.json');
  await writeFile(configPath, JSON.stringify(rawConfig));
  return runCli(['--config', configPath, '--endpoint', cloud.aws.url, ...args], {
    cwd: dir,
    env: { HOME: dir, AWS_REGION: 'us-east-1', [TOKEN_ENV]: process.env[TOKEN_ENV], ...env },
  });
}

describe('the key-rotator self-rotate command', () => {
  it('--print-policy prints the self-only policy, finding the account and path from the key itself', async () => {
    const own = await jenkinsKey();
    const r = await cli(['self-rotate', 'edge-ecr-push', '--print-policy'], {
      AWS_ACCESS_KEY_ID: own.accessKeyId,
      AWS_SECRET_ACCESS_KEY: own.secretAccessKey,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(
      selfRotationPolicy({
        accountId: cloud.aws.state.defaultAccountId,
        userPath: '/jenkins/',
        secretArn: `arn:aws:secretsmanager:us-east-1:${cloud.aws.state.defaultAccountId}:secret:${SECRET}-??????`,
      }),
    );
  });

  it('rotates with the key of the job’s environment, and prints its report', async () => {
    const old = await jenkinsKey();
    const r = await cli(['self-rotate', 'jenkins-edge', '--force'], {
      AWS_ACCESS_KEY_ID: old.accessKeyId,
      AWS_SECRET_ACCESS_KEY: old.secretAccessKey,
    });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const now = await currentSecret();
    expect(r.stdout).toMatch(new RegExp(`^Rotated edge-ecr-push .*new key ${now.accessKeyId} is current`));
    expect((await jenkinsKey()).accessKeyId).toBe(now.accessKeyId);
    for (const secret of [old.secretAccessKey, now.secretAccessKey])
      expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
  });

  it('from cron, with a profile of the shared credentials file, keeps the file on the new key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jkr-self-cron-'));
    const path = join(dir, 'credentials');
    const old = await jenkinsKey();
    await writeFile(
      path,
      `[edge]\naws_access_key_id = ${old.accessKeyId}\naws_secret_access_key = ${old.secretAccessKey}\n`,
    );
    const r = await cli(['self-rotate', 'edge-ecr-push', '--force', '--json'], {
      AWS_SHARED_CREDENTIALS_FILE: path,
      AWS_PROFILE: 'edge',
    });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { outcome: string; endedWith: string };
    expect(report.outcome).toBe('rotated');
    expect(await readProfileKey({ path, profile: 'edge' })).toMatchObject({ accessKeyId: report.endedWith });
  });

  it('refuses to run with the credentials of another identity (exit 1, one line)', async () => {
    const r = await cli(['self-rotate', 'edge-ecr-push'], {
      AWS_ACCESS_KEY_ID: cloud.aws.admin.accessKeyId,
      AWS_SECRET_ACCESS_KEY: cloud.aws.admin.secretAccessKey,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /key-rotator: error: the self-rotation of edge-ecr-push failed: the AWS credentials of this environment are those of .*localcloud-admin/,
    );
  });
});
