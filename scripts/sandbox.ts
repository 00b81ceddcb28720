/**
 * `npm run sandbox`: starts the local cloud and prints one JSON line with the endpoints and the seeded
 * admin credentials (synthetic, valid only against this sandbox). Runs until SIGINT/SIGTERM.
 *
 * Options (environment): SANDBOX_AWS_PORT, SANDBOX_JENKINS_PORT, SANDBOX_PROPAGATION_DELAY_MS (default 3000:
 * a new key works after a few seconds, like real IAM), SANDBOX_SEED=demo to seed the `npm start` scenario, write
 * its rotator configuration to a temporary file named in the line (`configFile`), and deploy the rotation hook as
 * the emulated Lambda function the line names (`aws.rotationLambdaArn`), as `npm start` does: Secrets Manager's
 * RotateSecret then runs the real hook, and `key-rotator --sandbox LINE plan` finds the function the scan would set.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCloud } from '../localcloud/index';
import { LOCAL_ROTATE_LAMBDA_ARN, wireRotationHook } from '../localcloud/wire';
import { createLogger } from '../src/observability/logger';
import { seedDemo } from './demo-seed';

// The lockfile pins SDK versions that support Node 20; their notice about future versions is noise here.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const num = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number(v));

const cloud = await startLocalCloud({
  aws: {
    port: num(process.env['SANDBOX_AWS_PORT'], 0),
    propagationDelayMs: num(process.env['SANDBOX_PROPAGATION_DELAY_MS'], 3000),
  },
  jenkins: { port: num(process.env['SANDBOX_JENKINS_PORT'], 0) },
});
const seeded = process.env['SANDBOX_SEED'] === 'demo' ? await seedDemo(cloud) : undefined;
// The demo's rotator configuration, for `key-rotator --sandbox - audit` and friends.
let configFile: string | undefined;
if (seeded) {
  configFile = join(mkdtempSync(join(tmpdir(), 'jkr-sandbox-')), 'rotator.config.json');
  writeFileSync(configFile, `${JSON.stringify(seeded.config, null, 2)}\n`);
  // The rotation hook, deployed as the emulated Lambda function (its JSON logs on stdout from WARN, as in Lambda).
  wireRotationHook(
    cloud,
    seeded.config,
    createLogger('jenkins-key-rotator', process.env['LOG_LEVEL'] ?? 'WARN'),
  );
}
console.log(
  JSON.stringify({
    aws: {
      endpoint: cloud.aws.url,
      region: cloud.aws.state.defaultRegion,
      accountId: cloud.aws.state.defaultAccountId,
      accessKeyId: cloud.aws.admin.accessKeyId,
      secretAccessKey: cloud.aws.admin.secretAccessKey,
      admin: `${cloud.aws.url}/_localcloud/`,
      propagationDelayMs: cloud.aws.state.propagationDelayMs,
      ...(seeded ? { rotationLambdaArn: LOCAL_ROTATE_LAMBDA_ARN } : {}),
    },
    jenkins: {
      url: cloud.jenkins.url,
      username: cloud.jenkins.admin.username,
      apiToken: cloud.jenkins.admin.apiToken,
      admin: `${cloud.jenkins.url}/_localcloud/`,
    },
    ...(seeded ? { seeded: seeded.summary, configFile } : {}),
  }),
);
const stop = () => {
  void cloud.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
