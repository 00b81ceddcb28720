/**
 * `npm run bench`: what the rotator costs, measured rather than asserted.
 *
 * 1. Bundle size of each Lambda handler, bundled as serverless.yml has serverless-esbuild do it (ESM, node22,
 *    minified, ES module builds preferred).
 * 2. Cold import of each bundle: a fresh `node` process importing it, median of several runs.
 * 3. One full rotation on the local cloud (RotateSecret -> the four steps -> Jenkins -> ECR), median of
 *    several, with no propagation delay, so the figure is the rotator's own overhead.
 *
 * Prints a table and, with `--json`, one JSON line. Numbers vary with the machine; compare runs on one machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { build } from 'esbuild';
import { waitForRotations } from '../localcloud/aws/secretsmanager';
import { startLocalCloud } from '../localcloud/index';
import { seedScenario } from '../localcloud/scenario';
import { ROTATE_LAMBDA_ARN, wireRotator } from '../test/support/rotator';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function bundles() {
  const dir = mkdtempSync(join(tmpdir(), 'jkr-bench-'));
  const handlers = readdirSync('handlers').filter((f) => f.endsWith('.ts') && f !== 'runtime.ts');
  const out: { handler: string; bytes: number; coldImportMs: number }[] = [];
  for (const h of handlers) {
    const outfile = join(dir, h.replace(/\.ts$/, '.mjs'));
    await build({
      entryPoints: [join('handlers', h)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      keepNames: true,
      mainFields: ['module', 'main'],
      outfile,
      logLevel: 'silent',
      banner: {
        js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
    });
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = execFileSync(
        process.execPath,
        [
          '-e',
          `const t=performance.now();await import(${JSON.stringify(outfile)});console.log(performance.now()-t)`,
          '--input-type=module',
        ],
        { encoding: 'utf8', env: { ...process.env, KEY_ROTATOR_CONFIG: 'config/example.json' } },
      );
      times.push(Number(t.trim().split('\n').at(-1)));
    }
    out.push({
      handler: h,
      bytes: statSync(outfile).size,
      coldImportMs: Math.round(median(times) * 10) / 10,
    });
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}

async function rotation() {
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

const result = { bundles: await bundles(), rotation: await rotation() };
if (process.argv.includes('--json')) console.log(JSON.stringify(result));
else {
  console.log('handler'.padEnd(16), 'bundle KiB'.padStart(11), 'cold import ms'.padStart(15));
  for (const b of result.bundles)
    console.log(
      b.handler.padEnd(16),
      (b.bytes / 1024).toFixed(0).padStart(11),
      String(b.coldImportMs).padStart(15),
    );
  console.log(
    `\nfull rotation on the local cloud (2 Jenkins targets, ECR + /v2/, canary job): median ${result.rotation.medianMs} ms over ${result.rotation.runs} runs, ${result.rotation.awsCallsPerRotation} AWS API calls`,
  );
}
