import { describe, expect, it } from 'vitest';
import { parse as parseCsv } from 'csv-parse/sync';
import { auditCsv, buildAudit, formatAudit, staleKeys } from '../../src/cli/audit';
import { toCsv } from '../../src/cli/csv';
import { formatTable } from '../../src/cli/format';
import type { CliIo } from '../../src/cli/io';
import { buildPlanReport, formatPlan } from '../../src/cli/plan';
import { progressReporter, propagationLine, stepLine } from '../../src/cli/rotate';
import { parseSandboxText } from '../../src/cli/sandbox';
import { parseConfig } from '../../src/config';
import type { Inventory, ScanPlan } from '../../src/scan';

const NOW = new Date('2025-06-01T12:00:00Z');
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 86_400_000);

const config = parseConfig({
  version: 1,
  defaults: { maxAgeDays: 90, deleteAfterDays: 7 },
  keys: [
    {
      name: 'prod-ecr-push',
      iamUser: 'jenkins-prod',
      secretId: 'jenkins/prod/aws-key',
      jenkins: [
        {
          url: 'https://jenkins.example.com',
          user: 'key-rotator',
          tokenSecretId: 'key-rotator/token',
          store: 'system',
          credentialId: 'aws-prod',
        },
      ],
      verify: { ecr: { region: 'us-east-1' } },
      policy: { maxAgeDays: 60 },
    },
  ],
});

const inventory: Inventory = {
  takenAt: NOW,
  accountId: '111122223333',
  source: 'list',
  users: [
    {
      userName: 'jenkins-prod',
      path: '/jenkins/',
      arn: 'arn:aws:iam::111122223333:user/jenkins/jenkins-prod',
      accountId: '111122223333',
      managedKey: 'prod-ecr-push',
      keys: [
        {
          accessKeyId: 'AKIAOLDOLDOLDOLDOLD1',
          status: 'Inactive',
          createDate: daysAgo(70),
          ageDays: 70,
          deactivatedAt: daysAgo(2),
          lastUsedDate: daysAgo(3),
          lastUsedService: 'ecr',
        },
        { accessKeyId: 'AKIANEWNEWNEWNEWNEW1', status: 'Active', createDate: daysAgo(61), ageDays: 61 },
      ],
    },
    {
      userName: 'legacy-ci',
      path: '/',
      arn: 'arn:aws:iam::111122223333:user/legacy-ci',
      accountId: '111122223333',
      keys: [
        {
          accessKeyId: 'AKIALEGACYLEGACYLEG1',
          status: 'Active',
          createDate: daysAgo(89),
          ageDays: 89,
          lastUsedDate: daysAgo(1),
          lastUsedService: 's3',
        },
        { accessKeyId: 'AKIALEGACYLEGACYLEG2', status: 'Active', createDate: daysAgo(90), ageDays: 90 },
      ],
    },
    {
      userName: 'nobody',
      path: '/',
      arn: 'arn:aws:iam::111122223333:user/nobody',
      accountId: '111122223333',
      keys: [],
    },
  ],
  problems: [],
};

describe('formatTable', () => {
  it('aligns columns, right-aligns where asked, trims trailing spaces', () => {
    const t = formatTable(
      ['NAME', 'AGE', 'NOTE'],
      [
        ['a', '5d', ''],
        ['longer-name', '120d', 'x'],
      ],
      ['left', 'right'],
    );
    expect(t).toBe(['NAME          AGE  NOTE', 'a              5d', 'longer-name  120d  x', ''].join('\n'));
  });

  it('keeps one line per row: whitespace in a cell is collapsed, missing cells are empty', () => {
    const t = formatTable(['A', 'B'], [['x\ny'], ['z', 'w']]);
    expect(t.split('\n')).toEqual(['A    B', 'x y', 'z    w', '']);
  });
});

describe('audit', () => {
  const r = buildAudit(inventory, config, '/etc/rotator.config.json');
  const key = (id: string) => r.users.flatMap((u) => u.keys).find((k) => k.accessKeyId === id);

  it('managed keys: due at created + the key policy maxAgeDays, stale when past it; inactive: deletion due', () => {
    expect(r.users[0]).toMatchObject({
      userName: 'jenkins-prod',
      managed: true,
      managedKey: 'prod-ecr-push',
    });
    expect(key('AKIANEWNEWNEWNEWNEW1')).toMatchObject({
      ageDays: 61,
      maxAgeDays: 60,
      rotationDue: daysAgo(1).toISOString(),
      stale: true,
      lastUsedDate: null,
      lastUsedService: null,
    });
    expect(key('AKIAOLDOLDOLDOLDOLD1')).toMatchObject({
      status: 'Inactive',
      rotationDue: null,
      stale: false,
      deactivatedAt: daysAgo(2).toISOString(),
      deletionDue: new Date(daysAgo(2).getTime() + 7 * 86_400_000).toISOString(),
    });
  });

  it('unmanaged keys: no due date, stale at the default maxAgeDays', () => {
    expect(r.users[1]).toMatchObject({ userName: 'legacy-ci', managed: false, managedKey: null });
    expect(key('AKIALEGACYLEGACYLEG1')).toMatchObject({
      maxAgeDays: 90,
      rotationDue: null,
      stale: false,
      lastUsedService: 's3',
    });
    expect(key('AKIALEGACYLEGACYLEG2')).toMatchObject({ rotationDue: null, stale: true });
    expect(r.counts).toEqual({
      users: 3,
      keys: 4,
      managedKeys: 2,
      staleKeys: 2,
      activeKeys: 3,
      problems: 0,
      problemErrors: 0,
    });
  });

  it('the table: a row per key, users without keys included', () => {
    const lines = formatAudit(r).split('\n');
    const row = (id: string) => lines.find((l) => l.includes(id)) ?? '';
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^USER\s+ACCESS KEY\s+STATUS\s+AGE\s+LAST USED\s+MANAGED\s+ROTATION DUE\s+STALE$/,
      ),
    );
    expect(row('AKIANEWNEWNEWNEWNEW1')).toMatch(
      /^jenkins-prod\s+AKIANEWNEWNEWNEWNEW1\s+active\s+61d\s+never\s+prod-ecr-push\s+2025-05-31\s+STALE$/,
    );
    expect(row('AKIAOLDOLDOLDOLDOLD1')).toMatch(
      /inactive\s+70d\s+2025-05-29 ecr\s+prod-ecr-push\s+- \(delete 2025-06-06\)$/,
    );
    expect(row('AKIALEGACYLEGACYLEG1')).toMatch(
      /^legacy-ci\s+AKIALEGACYLEGACYLEG1\s+active\s+89d\s+2025-05-31 s3\s+no\s+-$/,
    );
    expect(lines.find((l) => l.startsWith('nobody'))).toMatch(/^nobody\s+\(no keys\)\s+no\s+-$/);
    expect(lines).toContain('3 users, 4 keys (3 active), 2 managed, 2 stale, 0 problems');
    expect(formatAudit(r)).not.toMatch(/Problems/);
  });

  it('--fail-on-stale: the stale managed keys; with --include-unmanaged the unmanaged ones too', () => {
    const ids = (include: boolean) => staleKeys(r, include).map((s) => `${s.user}:${s.key.accessKeyId}`);
    expect(ids(false)).toEqual(['jenkins-prod:AKIANEWNEWNEWNEWNEW1']);
    expect(ids(true)).toEqual(['jenkins-prod:AKIANEWNEWNEWNEWNEW1', 'legacy-ci:AKIALEGACYLEGACYLEG2']);
  });

  it('csv: one row per key with the values of --json, parsed back by a CSV library', () => {
    const rows = parseCsv<Record<string, string>>(auditCsv(r), { columns: true });
    expect(rows).toHaveLength(4);
    expect(rows[0]).toEqual({
      accountId: '111122223333',
      userName: 'jenkins-prod',
      managedKey: 'prod-ecr-push',
      accessKeyId: 'AKIAOLDOLDOLDOLDOLD1',
      status: 'Inactive',
      createDate: daysAgo(70).toISOString(),
      ageDays: '70',
      lastUsedDate: daysAgo(3).toISOString(),
      lastUsedService: 'ecr',
      maxAgeDays: '60',
      rotationDue: '',
      stale: 'false',
      deactivatedAt: daysAgo(2).toISOString(),
      deletionDue: new Date(daysAgo(2).getTime() + 7 * 86_400_000).toISOString(),
    });
    expect(rows.map((x) => [x['userName'], x['managedKey'], x['stale']])).toEqual([
      ['jenkins-prod', 'prod-ecr-push', 'false'],
      ['jenkins-prod', 'prod-ecr-push', 'true'],
      ['legacy-ci', '', 'false'],
      ['legacy-ci', '', 'true'],
    ]);
  });
});

describe('toCsv', () => {
  it('quotes what needs quoting (RFC 4180) and round-trips through a CSV parser', () => {
    const values = [['a,b', 'say "hi"', 'two\nlines', null, 7, true]];
    const text = toCsv(['x', 'y', 'z', 'n', 'num', 'b'], values);
    expect(text).toBe('x,y,z,n,num,b\r\n"a,b","say ""hi""","two\nlines",,7,true\r\n');
    expect(parseCsv(text)).toEqual([
      ['x', 'y', 'z', 'n', 'num', 'b'],
      ['a,b', 'say "hi"', 'two\nlines', '', '7', 'true'],
    ]);
  });
});

describe('plan report', () => {
  const plan: ScanPlan = {
    keyless: [],
    now: NOW,
    repair: [],
    problems: [],
    rotate: [
      {
        key: 'prod-ecr-push',
        secretId: 'jenkins/prod/aws-key',
        userName: 'jenkins-prod',
        accountId: '111122223333',
        accessKeyId: 'AKIANEWNEWNEWNEWNEW1',
        createDate: daysAgo(61),
        ageDays: 61,
        maxAgeDays: 60,
      },
    ],
    delete: [],
    untag: [],
    skipped: [
      {
        key: 'prod-ecr-push',
        accessKeyId: 'AKIAOLDOLDOLDOLDOLD1',
        reason: 'deactivated …; deleted after the grace period',
      },
    ],
    failed: [],
    inProgress: [],
    unmanagedStale: [
      { user: 'legacy-ci', accountId: '111122223333', accessKeyId: 'AKIALEGACYLEGACYLEG2', ageDays: 90 },
    ],
    rotated: [],
  };
  const jenkins = [
    {
      key: 'prod-ecr-push',
      target: 'jenkins-0',
      url: 'https://jenkins.example.com',
      store: 'system',
      credentialId: 'aws-prod',
      ok: true,
      exists: true,
      detail: 'exists and is visible',
    },
  ];

  it('flattens the plan into decisions, failures first, and is ok without failures', () => {
    const r = buildPlanReport(inventory, plan, jenkins);
    expect(r.decisions.map((d) => [d.action, d.key, d.user, d.accessKeyId])).toEqual([
      ['rotate', 'prod-ecr-push', 'jenkins-prod', 'AKIANEWNEWNEWNEWNEW1'],
      ['report', null, 'legacy-ci', 'AKIALEGACYLEGACYLEG2'],
      ['skip', 'prod-ecr-push', 'jenkins-prod', 'AKIAOLDOLDOLDOLDOLD1'],
    ]);
    expect(r.decisions[0]?.reason).toMatch(/^due: 61 days old \(max 60\)/);
    expect(r.ok).toBe(true);
    expect(r.inventory).toEqual({ source: 'list', users: 3, keys: 4 });
    const text = formatPlan(r);
    expect(text).toMatch(/^rotate\s+prod-ecr-push\s+jenkins-prod\s+AKIANEWNEWNEWNEWNEW1\s+due: 61 days old/m);
    expect(text).toMatch(
      /^report\s+-\s+legacy-ci\s+AKIALEGACYLEGACYLEG2\s+unmanaged, 90 days old, never used/m,
    );
    expect(text).toMatch(/^ok\s+prod-ecr-push\s+jenkins-0\s+system\s+aws-prod/m);
    expect(text).toMatch(/1 rotation, 0 deletions, .*0 failures; Jenkins: 1\/1 credentials ok/);
  });

  it('is not ok when a key would fail or a Jenkins credential check fails', () => {
    const failing = buildPlanReport(
      inventory,
      { ...plan, failed: [{ key: 'prod-ecr-push', reason: 'boom' }] },
      jenkins,
    );
    expect(failing.ok).toBe(false);
    expect(failing.decisions[0]).toMatchObject({
      action: 'fail',
      key: 'prod-ecr-push',
      user: 'jenkins-prod',
      reason: 'boom',
    });
    expect(formatPlan(failing)).toMatch(/^FAIL\s+prod-ecr-push/m);
    const jenkinsBad = buildPlanReport(inventory, plan, [{ ...jenkins[0]!, ok: false, detail: 'missing' }]);
    expect(jenkinsBad.ok).toBe(false);
    expect(jenkinsBad.counts.jenkinsFailed).toBe(1);
    expect(formatPlan(jenkinsBad)).toMatch(/^FAIL\s+prod-ecr-push\s+jenkins-0/m);
  });
});

describe('sandbox line', () => {
  const line = JSON.stringify({
    aws: {
      endpoint: 'http://127.0.0.1:40001',
      region: 'eu-west-1',
      accountId: '111122223333',
      accessKeyId: 'AKIAADMINADMINADMIN1',
      secretAccessKey: 'x'.repeat(40),
    },
    jenkins: { url: 'http://127.0.0.1:40002' },
  });

  it("is found after npm's header lines", () => {
    const text = `\n> jenkins-key-rotator@0.1.0 sandbox\n> tsx scripts/sandbox.ts\n\n${line}\n`;
    expect(parseSandboxText(text)).toEqual({
      endpoint: 'http://127.0.0.1:40001',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIAADMINADMINADMIN1', secretAccessKey: 'x'.repeat(40) },
    });
  });

  it('may name the configuration of the seeded setup', () => {
    const withConfig = JSON.stringify({
      ...(JSON.parse(line) as object),
      configFile: '/tmp/sandbox/rotator.config.json',
    });
    expect(parseSandboxText(withConfig)).toMatchObject({ configFile: '/tmp/sandbox/rotator.config.json' });
    expect(parseSandboxText(line)).not.toHaveProperty('configFile');
  });

  it("may name the rotation function the seeded sandbox deployed, plan's default", () => {
    const parsed = JSON.parse(line) as { aws: Record<string, unknown> };
    const arn = 'arn:aws:lambda:us-east-1:111122223333:function:jenkins-key-rotator-local-rotate';
    const withArn = JSON.stringify({ ...parsed, aws: { ...parsed.aws, rotationLambdaArn: arn } });
    expect(parseSandboxText(withArn)).toMatchObject({ rotationLambdaArn: arn });
    expect(parseSandboxText(line)).not.toHaveProperty('rotationLambdaArn');
  });

  it('is refused when it is not the sandbox JSON', () => {
    expect(parseSandboxText('{"aws":{"endpoint":"http://x"}}')).toBeUndefined();
    expect(parseSandboxText('{not json')).toBeUndefined();
    expect(parseSandboxText('')).toBeUndefined();
  });
});

describe('rotation progress', () => {
  it('says how the propagation wait is going', () => {
    expect(propagationLine({ attempt: 3, ok: true, streak: 1, needed: 3 })).toBe(
      'waiting for the new key to propagate… attempt 3, 1/3 consecutive successes',
    );
    expect(propagationLine({ attempt: 1, ok: false, streak: 0, needed: 3 })).toMatch(
      /attempt 1, 0\/3 .*not accepted yet/,
    );
    expect(stepLine({ step: 'setSecret', phase: 'started' })).toBe('[2/4] setSecret…');
    expect(
      stepLine({
        step: 'finishSecret',
        phase: 'finished',
        result: { step: 'finishSecret', changed: true, actions: ['a', 'b'] },
      }),
    ).toBe('[4/4] finishSecret: a; b');
    expect(stepLine({ step: 'testSecret', phase: 'failed', error: 'ECR said no' })).toBe(
      '[3/4] testSecret FAILED: ECR said no',
    );
  });

  const io = (tty: boolean) => {
    let err = '';
    const fake: CliIo = {
      out: () => undefined,
      err: (t) => void (err += t),
      errIsTTY: tty,
      env: {},
      cwd: '/',
      stdin: process.stdin,
    };
    return { fake, text: () => err };
  };

  it('in a log a line per success and per tenth failure, one rewritten line on a terminal', () => {
    const log = io(false);
    const p = progressReporter(log.fake);
    for (let attempt = 1; attempt <= 11; attempt++)
      p.onProgress({ attempt, ok: false, streak: 0, needed: 2 });
    p.onProgress({ attempt: 12, ok: true, streak: 1, needed: 2 });
    p.onStep({
      step: 'setSecret',
      phase: 'finished',
      result: { step: 'setSecret', changed: true, actions: [] },
    });
    expect(log.text().split('\n')).toEqual([
      expect.stringMatching(/attempt 1, 0\/2/),
      expect.stringMatching(/attempt 10, 0\/2/),
      expect.stringMatching(/attempt 12, 1\/2/),
      '[2/4] setSecret: done',
      '',
    ]);
    const tty = io(true);
    const q = progressReporter(tty.fake);
    q.onProgress({ attempt: 1, ok: false, streak: 0, needed: 2 });
    q.onProgress({ attempt: 2, ok: true, streak: 1, needed: 2 });
    q.done();
    const CLEAR = '\r\u001b[K';
    const text = tty.text();
    expect(text.split(CLEAR)).toEqual([
      '',
      expect.stringMatching(/attempt 1, 0\/2 .*\(not accepted yet\)$/),
      'waiting for the new key to propagate… attempt 2, 1/2 consecutive successes\n',
    ]);
  });
});
