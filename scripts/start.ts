/**
 * `npm start`: the main job on the local cloud. Starts the AWS and Jenkins emulators, seeds a dev and a prod
 * Jenkins user (prod's key 120 days old, dev's 10), runs the scheduled scan handler, lets the emulated Secrets
 * Manager drive the rotation hook through its four steps, then checks independently what happened and prints a
 * before/after report. Exits 0 only if the due key rotated, ECR accepted the new key, Jenkins holds it, the old
 * key is refused, and the young key was left alone.
 *
 * Last it writes the key report (`key-rotator report --html`) of the emulated account to ./key-report.html
 * (START_REPORT_FILE names another file) and prints its path.
 *
 * LOG_LEVEL=INFO shows the rotator's structured JSON logs (on stdout, as in Lambda); the default is WARN.
 */
import { resolve } from 'node:path';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createScanHandler, METRICS_NAMESPACE } from '../handlers/scan';
import { startLocalCloud, type LocalCloud } from '../localcloud/index';
import { LOCAL_ROTATE_LAMBDA_ARN, lambdaContext, wireRotationHook } from '../localcloud/wire';
import { writeFileAtomically } from '../src/cli/report';
import type { Composition } from '../src/compose';
import { JenkinsClient } from '../src/jenkins/client';
import { createLogger } from '../src/observability/logger';
import { collectKeyReport, renderReportHtml } from '../src/report';
import type { ScanSummary } from '../src/scan';
import { DEMO_KEYS, seedDemo } from './demo-seed';
import { runMain } from './run-main';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
process.env['POWERTOOLS_METRICS_DISABLED'] ??= 'true';

const PROPAGATION_DELAY_MS = Number(process.env['START_PROPAGATION_DELAY_MS'] ?? 2500);
const DAY = 86_400_000;
const tty = process.stdout.isTTY;
const mark = (ok: boolean) => (ok ? '✓' : '✗');
const say = (line = '') => process.stdout.write(`${line}\n`);

interface KeyRow {
  name: string;
  iamUser: string;
  accessKeyId: string;
  ageDays: number;
  status: string;
}

function keyRows(cloud: LocalCloud): KeyRow[] {
  const s = cloud.aws.state;
  return DEMO_KEYS.flatMap((k) =>
    s.keysOf(s.defaultAccountId, k.iamUser).map((key) => ({
      name: k.name,
      iamUser: k.iamUser,
      accessKeyId: key.accessKeyId,
      ageDays: Math.floor((s.now() - key.createDate) / DAY),
      status: key.status,
    })),
  );
}

function printKeys(title: string, rows: KeyRow[]) {
  say(title);
  for (const r of rows)
    say(`  ${r.iamUser.padEnd(14)} ${r.accessKeyId}  ${String(r.ageDays).padStart(4)} days  ${r.status}`);
}

/** Shows each finished step and, while setSecret waits for IAM, how long it has waited. */
async function followRotations(cloud: LocalCloud, timeoutMs: number): Promise<void> {
  const started = Date.now();
  const shown = new Set<string>();
  let waitingSince: number | undefined;
  for (;;) {
    const runs = cloud.aws.state.rotations;
    for (const run of runs)
      run.steps.forEach((st, i) => {
        const id = `${run.token}:${i}`;
        if (shown.has(id)) return;
        shown.add(id);
        if (tty && waitingSince !== undefined) process.stdout.write('\r\x1b[K');
        say(`  ${mark(st.ok)} ${st.step}${st.ok ? '' : `: ${st.error ?? 'failed'}`}`);
        waitingSince = undefined;
      });
    const running = runs.find((r) => r.status === 'running');
    if (!running) return;
    if (running.steps.length === 1) {
      waitingSince ??= Date.now();
      const s = ((Date.now() - waitingSince) / 1000).toFixed(1);
      if (tty) process.stdout.write(`\r  … setSecret: waiting for the new key to propagate in IAM (${s} s)`);
      else if (!shown.has(`${running.token}:wait`)) {
        shown.add(`${running.token}:wait`);
        say('  … setSecret: waiting for the new key to propagate in IAM');
      }
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`rotation still running after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function authenticates(cloud: LocalCloud, creds: { accessKeyId: string; secretAccessKey: string }) {
  const sts = new STSClient({
    region: 'us-east-1',
    endpoint: cloud.aws.url,
    credentials: creds,
    maxAttempts: 1,
  });
  try {
    return { ok: true, arn: (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? '' };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.name : String(err) };
  } finally {
    sts.destroy();
  }
}

async function ecrLogin(cloud: LocalCloud, creds: { accessKeyId: string; secretAccessKey: string }) {
  const ecr = new ECRClient({
    region: 'us-east-1',
    endpoint: cloud.aws.url,
    credentials: creds,
    maxAttempts: 1,
  });
  try {
    const data = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
    if (!data?.authorizationToken || !data.proxyEndpoint) return { ok: false, detail: 'no token' };
    const res = await fetch(new URL('/v2/', data.proxyEndpoint), {
      headers: { authorization: `Basic ${data.authorizationToken}` },
    });
    return { ok: res.status === 200, detail: `registry /v2/ answered ${res.status}` };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.name : String(err) };
  } finally {
    ecr.destroy();
  }
}

/**
 * What the scan's security checks found in the demo's set-up (seeded with three common flaws). Findings are advice,
 * not failures: they never fail the scan, and the run still exits 0.
 */
function printSecurityChecks(summary: ScanSummary) {
  const c = summary.checks;
  if (!c?.ran) return;
  say(
    `Security checks (run by the scan once a day, read-only): ${c.counts.high} high, ${c.counts.medium} medium, ${c.counts.low} low`,
  );
  for (const f of c.newHigh) {
    say(`  ! ${f.title}`);
    say(`    fix: ${f.fix}`);
  }
  say(
    '  every finding, its fix and the least-privilege policy to attach: npx key-rotator check --emit-policy DIR',
  );
  say();
}

/** The key report of the emulated account after the run, as `key-rotator report --html` writes it. */
async function writeReport(composition: Composition): Promise<boolean> {
  const file = resolve(process.env['START_REPORT_FILE'] ?? 'key-report.html');
  try {
    const report = await collectKeyReport(composition);
    await writeFileAtomically(
      file,
      renderReportHtml(report, { generator: 'jenkins-key-rotator (npm start)' }),
    );
    say(`Key report: ${file}`);
    say(
      `  ${report.counts.keys} keys, ${report.counts.stale} past the rotation line, their history and the findings: open it in a browser`,
    );
    say('  (npx key-rotator report --html FILE makes one for any account)');
    return true;
  } catch (err) {
    say(
      `✗ the key report could not be written to ${file}: ${err instanceof Error ? err.message : String(err)}`,
    );
    return false;
  }
}

async function main(): Promise<boolean> {
  say(
    'jenkins-key-rotator: the scheduled rotation on the local cloud (emulated AWS and Jenkins on 127.0.0.1)',
  );
  const cloud = await startLocalCloud({ aws: { propagationDelayMs: PROPAGATION_DELAY_MS } });
  try {
    const { config } = await seedDemo(cloud);
    say(`  AWS emulator ${cloud.aws.url}, Jenkins emulator ${cloud.jenkins.url}`);
    say(
      `  a new IAM key becomes usable ${PROPAGATION_DELAY_MS / 1000} s after it is created, as in real IAM`,
    );
    say();
    const before = keyRows(cloud);
    printKeys('Before:', before);
    say();

    const logger = createLogger('jenkins-key-rotator', process.env['LOG_LEVEL'] ?? 'WARN');
    const { composition } = wireRotationHook(cloud, config, logger, LOCAL_ROTATE_LAMBDA_ARN);
    const scan = createScanHandler({
      composition: () => Promise.resolve(composition),
      logger,
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'jenkins-key-rotator' }),
      rotationLambdaArn: LOCAL_ROTATE_LAMBDA_ARN,
    });
    say('Scheduled scan:');
    let summary: ScanSummary | undefined;
    try {
      summary = await scan({}, lambdaContext(900_000, 'jenkins-key-rotator-local-scan'));
    } catch (err) {
      say(`  ✗ the scan failed: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
    for (const s of summary.started) say(`  → rotation started for ${s.key ?? JSON.stringify(s)}`);
    for (const s of summary.skipped) say(`  · ${s.key ?? '?'} skipped: ${s.reason}`);
    say('Rotation hook, driven by Secrets Manager:');
    await followRotations(cloud, 180_000);
    say();

    const after = keyRows(cloud);
    printKeys('After:', after);
    say();

    const sm = new SecretsManagerClient(cloud.aws.adminClientConfig('us-east-1'));
    const checks: { ok: boolean; text: string }[] = [];
    for (const k of DEMO_KEYS) {
      const old = before.find((r) => r.iamUser === k.iamUser && r.status === 'Active');
      const raw = (await sm.send(new GetSecretValueCommand({ SecretId: k.secretName }))).SecretString ?? '{}';
      const current = JSON.parse(raw) as { accessKeyId: string; secretAccessKey: string };
      const due = k.ageDays >= 90;
      if (!old) {
        checks.push({ ok: false, text: `${k.iamUser}: no key before the scan` });
        continue;
      }
      if (!due) {
        const untouched = current.accessKeyId === old.accessKeyId && (await authenticates(cloud, current)).ok;
        checks.push({
          ok: untouched,
          text: `${k.iamUser}: key ${old.accessKeyId} is ${old.ageDays} days old, not due: left alone`,
        });
        continue;
      }
      checks.push({
        ok: current.accessKeyId !== old.accessKeyId,
        text: `${k.iamUser}: key ${old.accessKeyId} (${old.ageDays} days old) replaced by ${current.accessKeyId} in Secrets Manager (AWSCURRENT)`,
      });
      const ecr = await ecrLogin(cloud, current);
      checks.push({
        ok: ecr.ok,
        text: `${k.iamUser}: ECR accepted the new key (GetAuthorizationToken, ${ecr.detail})`,
      });
      const jenkins = new JenkinsClient({
        baseUrl: cloud.jenkins.url,
        auth: { username: cloud.jenkins.admin.username, apiToken: cloud.jenkins.admin.apiToken },
      });
      for (const c of k.credentials) {
        const store =
          c.store === 'system'
            ? ({ kind: 'system' } as const)
            : { kind: 'folder' as const, path: c.store.folder };
        const held = await jenkins.readAccessKeyId(store, c.credentialId);
        const where = c.store === 'system' ? 'system store' : `folder ${c.store.folder}`;
        checks.push({
          ok: held === current.accessKeyId,
          text: `${k.iamUser}: Jenkins credential ${c.credentialId} (${where}, ${c.kind}) holds ${held ?? 'nothing'}`,
        });
      }
      const oldNow = after.find((r) => r.accessKeyId === old.accessKeyId);
      const oldSecret = cloud.aws.state.accessKeys.get(old.accessKeyId)?.secretAccessKey;
      const refused = oldSecret
        ? await authenticates(cloud, { accessKeyId: old.accessKeyId, secretAccessKey: oldSecret })
        : { ok: false, error: 'deleted' };
      checks.push({
        ok: oldNow?.status === 'Inactive' && !refused.ok,
        text: `${k.iamUser}: the old key ${old.accessKeyId} is ${oldNow?.status ?? 'gone'} and AWS now refuses it (${refused.ok ? 'still accepted!' : refused.error})`,
      });
    }
    sm.destroy();
    say('Checks (made independently, with the public APIs):');
    for (const c of checks) say(`  ${mark(c.ok)} ${c.text}`);
    const ok = checks.every((c) => c.ok);
    say();
    say(ok ? 'All checks passed.' : 'Some checks FAILED.');
    say();
    printSecurityChecks(summary);
    const reported = await writeReport(composition);
    return ok && reported;
  } finally {
    await cloud.close();
  }
}

runMain('npm start', main);
