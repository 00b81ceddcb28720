/**
 * One full rotation on the local cloud (RotateSecret -> the four steps -> Jenkins -> ECR), median of several, with
 * no propagation delay, so the figure is the rotator's own overhead.
 */
import {
  DescribeSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { startLocalCloud } from '../../localcloud/index';
import { seedScenario } from '../../localcloud/scenario';
import { ROTATE_LAMBDA_ARN, wireRotator } from '../../test/support/rotator';
import { type BenchSection, median } from '../section';

async function rotation(RUNS: number) {
  const cloud = await startLocalCloud();
  const { config } = await seedScenario(cloud, [
    {
      name: 'bench',
      iamUser: 'jenkins-bench',
      ageDays: 100,
      secretName: 'jenkins/bench/aws-key',
      credentials: [
        { store: 'system', credentialId: 'aws-bench', kind: 'aws' },
        { store: { folder: 'team/deploy' }, credentialId: 'aws-bench-up', kind: 'usernamePassword' },
      ],
      canary: true,
    },
  ]);
  const quiet = { ...config, defaults: { consecutiveSuccesses: 1 } };
  wireRotator(cloud, quiet, { silent: true });
  const sm = new SecretsManagerClient(cloud.aws.adminClientConfig('us-east-1'));
  const times: number[] = [];
  let calls = 0;
  for (let i = 0; i < RUNS; i++) {
    const before = cloud.aws.state.callLog.length;
    const t = performance.now();
    await sm.send(
      new RotateSecretCommand({ SecretId: 'jenkins/bench/aws-key', RotationLambdaARN: ROTATE_LAMBDA_ARN }),
    );
    await waitForRotations(cloud.aws.state, 60_000);
    times.push(performance.now() - t);
    calls = cloud.aws.state.callLog.length - before;
    const run = cloud.aws.state.rotations.at(-1);
    if (run?.status !== 'succeeded')
      throw new Error(`rotation ${i} ${run?.status}: ${JSON.stringify(run?.steps)}`);
  }
  await sm.send(new DescribeSecretCommand({ SecretId: 'jenkins/bench/aws-key' }));
  sm.destroy();
  await cloud.close();
  return { runs: RUNS, medianMs: Math.round(median(times)), awsCallsPerRotation: calls };
}

export const section: BenchSection = {
  name: 'rotation',
  title: 'One rotation on the local cloud',
  async run(ctx) {
    const r = await rotation(ctx.runs);
    return {
      lines: [
        `full rotation (2 Jenkins targets, ECR + /v2/, canary job): median ${r.medianMs} ms over ${r.runs} runs, ${r.awsCallsPerRotation} AWS API calls`,
      ],
      json: r,
    };
  },
};
