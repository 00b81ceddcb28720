import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyReport } from '../../src/report/model';
import { adminEnv, runCli, type CliRun } from '../support/cli';
import { reportScenario, type ReportScenario } from '../support/report-scenario';

/**
 * `key-rotator report` as a user runs it, on the demo seed with some history (see report-scenario.ts): what the
 * report holds, read from the local cloud through the real SDK clients and the Jenkins client; that making it
 * changes nothing anywhere; and that no secret gets into it.
 */
let s: ReportScenario;
let json: KeyReport;
let page: string;
let first: CliRun;

const report = async (...args: string[]): Promise<CliRun> => {
  const r = await runCli(['report', '--config', s.configPath, '--endpoint', s.cloud.aws.url, ...args], {
    env: adminEnv(s.cloud.aws.admin),
    cwd: s.dir,
  });
  for (const secret of s.secrets()) expect(r.stdout + r.stderr).not.toContain(secret);
  return r;
};

beforeAll(async () => {
  s = await reportScenario();
  const since = s.cloud.aws.state.calls.lastSeq;
  first = await report('--html', 'out/keys.html', '--json');
  json = JSON.parse(first.stdout) as KeyReport;
  page = await readFile(join(s.dir, 'out/keys.html'), 'utf8');
  calls = s.cloud.aws.state.calls.since(since);
}, 120_000);
let calls: ReturnType<ReportScenario['cloud']['aws']['state']['calls']['since']> = [];

afterAll(async () => {
  await s.cloud.close();
  await rm(s.dir, { recursive: true, force: true });
});

describe('key-rotator report on the demo seed', () => {
  it('writes the page (its folder created), prints the data as JSON and says what it wrote on stderr', () => {
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(
      /^wrote .*\/out\/keys\.html \(\d+ KB\): 6 keys, 1 past the rotation line, 0 due within 14 days, 1 rotation problem, 3 security findings \(3 high\)$/m,
    );
    expect(json.format).toBe('jenkins-key-rotator/key-report');
    expect(json.configFile).toBe(s.configPath);
  });

  it('has every key of the account with its age, rotation line, due date and last use', () => {
    const acct = s.cloud.aws.state.defaultAccountId;
    const iamKeys = ['ci-legacy', 'jenkins-dev', 'jenkins-prod', 'localcloud-admin'].flatMap((u) =>
      s.cloud.aws.state.keysOf(acct, u).map((k) => ({ user: u, ...k })),
    );
    expect(json.keys.map((k) => k.accessKeyId).sort()).toEqual(iamKeys.map((k) => k.accessKeyId).sort());
    const now = s.cloud.aws.state.now();
    for (const k of iamKeys) {
      const row = json.keys.find((r) => r.accessKeyId === k.accessKeyId);
      expect(row, k.accessKeyId).toMatchObject({
        user: k.user,
        status: k.status,
        ageDays: Math.floor((now - k.createDate) / 86_400_000),
        maxAgeDays: 90,
        // IAM gives CreateDate to the second.
        dueDate:
          k.status === 'Active'
            ? new Date(Math.floor(k.createDate / 1000) * 1000 + 90 * 86_400_000).toISOString()
            : null,
      });
    }
    expect(json.keys.find((k) => k.accessKeyId === s.ids.legacy)).toMatchObject({
      managedKey: null,
      state: 'stale',
      ageDays: 200,
      lastUsedService: 's3',
    });
    expect(json.keys.find((k) => k.accessKeyId === s.ids.prodOld)).toMatchObject({
      managedKey: 'prod-ecr-push',
      status: 'Inactive',
      ageDays: 120,
      state: 'inactive',
    });
    expect(json.keys.find((k) => k.accessKeyId === s.ids.prodNew)).toMatchObject({ ageDays: 0, state: 'ok' });
  });

  it("has each managed key's history: prod's rotation, dev's rotation stopped half-way, with its fix", () => {
    const prod = json.histories.find((h) => h.key === 'prod-ecr-push');
    expect(prod?.generations.map((g) => [g.accessKeyId, g.role, g.status])).toEqual([
      [s.ids.prodNew, 'current', 'Active'],
      [s.ids.prodOld, 'previous', 'Inactive'],
    ]);
    expect(prod?.generations[1]?.deactivatedAt).toEqual(expect.any(String));
    expect(prod?.generations[1]?.deletionDue).toEqual(expect.any(String));
    const dev = json.histories.find((h) => h.key === 'dev-ecr-push');
    expect(dev?.inFlight).toMatchObject({ accessKeyId: s.ids.devPending });
    expect(dev?.generations.map((g) => [g.accessKeyId, g.role])).toEqual([
      [s.ids.devPending, 'pending'],
      [s.ids.devCurrent, 'current'],
    ]);
    expect(json.problems).toEqual([
      expect.objectContaining({
        key: 'dev-ecr-push',
        kind: 'rotation-in-flight',
        fix: 'key-rotator rotate jenkins-dev --resume (or key-rotator rotate jenkins-dev --abandon to undo it)',
      }),
    ]);
    expect(json.timeline.map((e) => [e.key, e.kind])).toEqual(
      expect.arrayContaining([
        ['prod-ecr-push', 'deactivated'],
        ['dev-ecr-push', 'rotation-started'],
      ]),
    );
  });

  it('has the security findings of the demo’s three flaws', () => {
    expect(json.checks.ran).toBe(true);
    if (!json.checks.ran) return;
    expect(json.checks.findings.map((f) => f.check).sort()).toEqual([
      'ecr-broad-managed-policy',
      'key-outside-credentials-store',
      'no-cloudtrail',
    ]);
    expect(page).toContain('AmazonEC2ContainerRegistryFullAccess');
  });

  it('the page holds the same keys, the chart and the history', () => {
    for (const k of json.keys) expect(page).toContain(`<th scope="row" class="mono">${k.accessKeyId}</th>`);
    expect(page.match(/<g class="mark /g)).toHaveLength(json.keys.length);
    expect(page).toContain('<h3 id="history-0-h">prod-ecr-push</h3>');
    expect(page).toContain('a rotation is unfinished');
  });

  it('changes nothing: only reads, in AWS and in Jenkins', () => {
    const aws = calls.filter((c) => c.emulator === 'aws').map((c) => c.point);
    expect(aws.length).toBeGreaterThan(10);
    for (const point of aws)
      expect(point).toMatch(
        /^(iam|secretsmanager|sts|cloudtrail):(List|Get|Describe)\w+$|^iam:GenerateCredentialReport$/,
      );
    expect(aws).toContain('secretsmanager:ListSecretVersionIds');
    const jenkins = calls.filter((c) => c.emulator === 'jenkins').map((c) => c.point);
    expect(jenkins.length).toBeGreaterThan(0);
    for (const point of jenkins) expect(point).toMatch(/^jenkins:(GET|HEAD) /);
  });

  it('holds no secret value, in the page or the JSON', () => {
    expect(s.secrets().length).toBeGreaterThan(5);
    for (const secret of s.secrets()) {
      expect(page).not.toContain(secret);
      expect(first.stdout).not.toContain(secret);
    }
  });

  it('--no-checks says in the page that the checks were not run; without --json the line goes to stdout', async () => {
    const r = await report('--html', 'quick.html', '--no-checks');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*quick\.html .*security checks not run$/m);
    const quick = await readFile(join(s.dir, 'quick.html'), 'utf8');
    expect(quick).toContain('The security checks were not run (--no-checks)');
    expect((await stat(join(s.dir, 'quick.html'))).size).toBe(Buffer.byteLength(quick));
  });

  it('needs --html or --json (exit 2), and fails (exit 1) when the file cannot be written', async () => {
    const none = await report();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/report needs --html FILE .* or --json/);
    await mkdir(join(s.dir, 'a-folder'));
    const bad = await report('--html', 'a-folder');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^key-rotator: error: cannot write the report to .*a-folder: /m);
  });
});
