/**
 * `npm run demo:keyless`: on the local cloud, the prod key goes from long-lived to keyless. The plan (read-only),
 * the team switching its jobs to the plan's Jenkinsfile, `keyless apply --retire-key` (the ID-token credentials
 * created in Jenkins, the OIDC providers and roles in IAM, each role proven by a canary build whose web-identity
 * session logged in to ECR, as CloudTrail shows, and only then the key retired), then independent checks and the
 * scheduled scan. Exits 0 only if every check holds.
 */
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createScanHandler, METRICS_NAMESPACE } from '../handlers/scan';
import { waitForRotations } from '../localcloud/aws/secretsmanager';
import { startLocalCloud } from '../localcloud/index';
import { LOCAL_ROTATE_LAMBDA_ARN, lambdaContext, wireRotationHook } from '../localcloud/wire';
import { formatApply, formatPlan, writePlan } from '../src/cli/keyless';
import { applyKeyless } from '../src/keyless/apply';
import { planKeyless } from '../src/keyless/discover';
import { createLogger } from '../src/observability/logger';
import { KEYLESS_JOBS, prepareKeyless, seedDemo, switchJobsToKeyless } from './demo-seed';
import { runMain } from './run-main';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
process.env['POWERTOOLS_METRICS_DISABLED'] ??= 'true';

const say = (line = '') => process.stdout.write(`${line}\n`);
const mark = (ok: boolean) => (ok ? '✓' : '✗');

async function main(): Promise<boolean> {
  say('jenkins-key-rotator: the keyless migration on the local cloud (prod key → Jenkins ID tokens + STS)');
  const cloud = await startLocalCloud({ aws: { propagationDelayMs: 300 } });
  try {
    const { config, seeded } = await seedDemo(cloud, { flaws: false });
    const oldKey = seeded.find((s) => s.name === 'prod-ecr-push')?.accessKeyId ?? '';
    prepareKeyless(cloud);
    const logger = createLogger('jenkins-key-rotator', process.env['LOG_LEVEL'] ?? 'WARN');
    const { composition } = wireRotationHook(cloud, config, logger, LOCAL_ROTATE_LAMBDA_ARN);
    const key = composition.config.keys.find((k) => k.name === 'prod-ecr-push');
    if (!key) throw new Error('no prod key');
    // The prod secret on Secrets Manager's 90-day schedule, as a deployed rotator leaves it (RotateImmediately
    // false: Secrets Manager only runs testSecret, which proves Jenkins holds the current key).
    const smAdmin = new SecretsManagerClient(cloud.aws.adminClientConfig());
    await smAdmin.send(
      new RotateSecretCommand({
        SecretId: key.secretId,
        RotationLambdaARN: LOCAL_ROTATE_LAMBDA_ARN,
        RotationRules: { AutomaticallyAfterDays: 90 },
        RotateImmediately: false,
      }),
    );
    await waitForRotations(cloud.aws.state, 30_000);
    const scheduled = (await smAdmin.send(new DescribeSecretCommand({ SecretId: key.secretId })))
      .RotationEnabled;
    smAdmin.destroy();
    say(`  AWS emulator ${cloud.aws.url}, Jenkins emulator ${cloud.jenkins.url}`);
    say(`  prod's long-lived key: ${oldKey} (IAM user ${key.iamUser})`);
    say();

    say('$ key-rotator keyless plan prod-ecr-push --out <dir>');
    const plan = await planKeyless(composition, key);
    for (const l of formatPlan(plan).split('\n')) say(`  ${l}`);
    if (plan.blockers.length) return false;
    const files = await writePlan(plan, await mkdtemp(join(tmpdir(), 'keyless-plan-')));
    say(`  wrote ${files.map((f) => basename(f)).join(', ')}`);
    say();
    say("The team switches the canary and team-a/deploy/ecr-push to the plan's Jenkinsfile.");
    const buildsBefore = new Map(
      KEYLESS_JOBS.map((p) => [p, cloud.jenkins.state.job(p)?.builds.length ?? 0]),
    );
    switchJobsToKeyless(cloud);
    say();

    say(
      '$ key-rotator keyless apply prod-ecr-push --canary ecr-canary-prod-ecr-push --canary team-a/deploy/ecr-push --retire-key',
    );
    const report = await applyKeyless(composition, key, {
      canaries: ['ecr-canary-prod-ecr-push', 'team-a/deploy/ecr-push'],
      retireKey: true,
      proofTimeoutMs: 30_000,
      progress: (l) => say(l),
    });
    for (const l of formatApply(report).split('\n').slice(-3)) say(`  ${l}`);

    // Independent checks, through the public APIs.
    const checks: { ok: boolean; text: string }[] = [];
    const aws = cloud.aws.adminClientConfig();
    const sm = new SecretsManagerClient(aws);
    const secret = JSON.parse(
      (await sm.send(new GetSecretValueCommand({ SecretId: key.secretId }))).SecretString ?? '{}',
    ) as { accessKeyId: string; secretAccessKey: string };
    const sts = new STSClient({ ...aws, credentials: secret, maxAttempts: 1 });
    const refused = await sts.send(new GetCallerIdentityCommand({})).then(
      () => 'still accepted!',
      (err: unknown) => (err instanceof Error ? err.name : String(err)),
    );
    sts.destroy();
    const k = cloud.aws.state.accessKeys.get(oldKey);
    checks.push({
      ok: k?.status === 'Inactive' && refused === 'InvalidClientTokenId',
      text: `the long-lived key ${oldKey} is ${k?.status ?? 'gone'} and AWS refuses it (${refused})`,
    });
    const ct = new CloudTrailClient(aws);
    const events =
      (
        await ct.send(
          new LookupEventsCommand({
            LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'AssumeRoleWithWebIdentity' }],
          }),
        )
      ).Events ?? [];
    ct.destroy();
    const sessions = events.filter((e) => !/errorCode/.test(e.CloudTrailEvent ?? ''));
    const firstSession = sessions.map((e) => e.EventTime?.getTime() ?? 0).sort()[0] ?? Infinity;
    const retiredAt = Date.parse(
      cloud.aws.state
        .account(cloud.aws.state.defaultAccountId)
        .users.get(key.iamUser)
        ?.tags.find((t) => t.Key === `key-rotator:deactivated:${oldKey}`)?.Value ?? '',
    );
    checks.push({
      ok: sessions.length >= 2 && firstSession <= retiredAt,
      text: `CloudTrail: ${sessions.length} web-identity sessions of the new roles, the first at ${new Date(firstSession).toISOString()}, before the key was retired at ${Number.isNaN(retiredAt) ? '?' : new Date(retiredAt).toISOString()}`,
    });
    const keylessBuilds = KEYLESS_JOBS.flatMap(
      (path) =>
        cloud.jenkins.state
          .job(path)
          ?.builds.slice(buildsBefore.get(path) ?? 0)
          .filter((b) => b.result === 'SUCCESS') ?? [],
    );
    checks.push({
      ok: keylessBuilds.length >= 2,
      text: `${keylessBuilds.length} Jenkins builds pushed with ID tokens (web-identity credentials, no stored key)`,
    });
    const tags = cloud.aws.state.account(cloud.aws.state.defaultAccountId).users.get(key.iamUser)?.tags ?? [];
    checks.push({
      ok: tags.some((t) => t.Key === 'key-rotator:keyless'),
      text: `IAM user ${key.iamUser} is marked keyless (tag key-rotator:keyless)`,
    });
    const described = await sm.send(new DescribeSecretCommand({ SecretId: key.secretId }));
    checks.push({
      ok: scheduled === true && described.RotationEnabled !== true,
      text: `Secrets Manager scheduled rotations of ${key.secretId} before (${String(scheduled)}), and no longer does`,
    });
    sm.destroy();

    // The scheduled scan afterwards: prod is keyless with no access key, dev untouched.
    const scan = createScanHandler({
      composition: () => Promise.resolve(composition),
      logger,
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'jenkins-key-rotator' }),
      rotationLambdaArn: LOCAL_ROTATE_LAMBDA_ARN,
      options: { checks: false },
    });
    const summary = await scan({}, lambdaContext(900_000, 'jenkins-key-rotator-local-scan'));
    const entry = summary.keyless.find((x) => x.key === 'prod-ecr-push');
    checks.push({
      ok: entry !== undefined && entry.activeKeys.length === 0 && summary.started.length === 0,
      text: `the scan reports prod-ecr-push keyless since ${entry?.since.slice(0, 10) ?? '?'} with ${entry?.activeKeys.length ?? '?'} active access keys, and starts no rotation`,
    });

    say();
    say('Checks (made independently, with the public APIs):');
    for (const c of checks) say(`  ${mark(c.ok)} ${c.text}`);
    const ok = checks.every((c) => c.ok);
    say();
    say(ok ? 'prod-ecr-push is keyless. All checks passed.' : 'Some checks FAILED.');
    return ok;
  } finally {
    await cloud.close();
  }
}

runMain('demo:keyless', main);
