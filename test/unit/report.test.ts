import { describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/checks/types';
import { parseConfig } from '../../src/config';
import { ATTEMPT_TAG_PREFIX } from '../../src/domain/attempts';
import { byUrgency, CHART_MAX_ROWS, chartLayout, renderChart } from '../../src/report/chart';
import { renderReportHtml } from '../../src/report/html';
import {
  buildKeyReport,
  DUE_SOON_DAYS,
  type KeyReport,
  type ReportInput,
  type ReportKey,
  type SecretHistory,
} from '../../src/report/model';
import type { Inventory, SecretState } from '../../src/scan';
import { rawKeyNamed } from '../support/config-fixture';

const NOW = new Date('2026-05-30T12:00:00Z');
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY);
const ACCOUNT = '111122223333';

const config = parseConfig({
  version: 1,
  defaults: { maxAgeDays: 90, deleteAfterDays: 7 },
  keys: [rawKeyNamed('prod', { policy: { maxAgeDays: 60 } }), rawKeyNamed('dev')],
});

const user = (userName: string, keys: Inventory['users'][number]['keys'], extra = {}) => ({
  userName,
  path: '/jenkins/',
  arn: `arn:aws:iam::${ACCOUNT}:user/jenkins/${userName}`,
  accountId: ACCOUNT,
  keys,
  ...extra,
});

/**
 * prod: rotated 10 days ago (AKIAPRODNEW…, current) from AKIAPRODOLD… (previous, deactivated 10 days ago), an
 * older key long deleted (only a deprecated version remembers it), and a dead attempt left on the user.
 * dev: one key 85 days old (due within 14 days) and a rotation in flight with no key yet.
 * ci-legacy: unmanaged, 200 days old (stale against the default 90) and an inactive one.
 */
const inventory: Inventory = {
  takenAt: NOW,
  accountId: ACCOUNT,
  source: 'list',
  problems: [],
  users: [
    user('ci-legacy', [
      { accessKeyId: 'AKIALEGACYLEGACY0001', status: 'Active', createDate: daysAgo(200), ageDays: 200 },
      { accessKeyId: 'AKIALEGACYLEGACY0002', status: 'Inactive', createDate: daysAgo(400), ageDays: 400 },
    ]),
    user(
      'jenkins-dev',
      [
        {
          accessKeyId: 'AKIADEVDEVDEVDEV0001',
          status: 'Active',
          createDate: daysAgo(85),
          ageDays: 85,
          lastUsedDate: daysAgo(1),
          lastUsedService: 'ecr',
        },
      ],
      { managedKey: 'dev' },
    ),
    user(
      'jenkins-prod',
      [
        {
          accessKeyId: 'AKIAPRODOLDPRODOLD01',
          status: 'Inactive',
          createDate: daysAgo(70),
          ageDays: 70,
          deactivatedAt: daysAgo(10),
        },
        { accessKeyId: 'AKIAPRODNEWPRODNEW01', status: 'Active', createDate: daysAgo(10), ageDays: 10 },
      ],
      {
        managedKey: 'prod',
        deactivationTags: { AKIAPRODOLDPRODOLD01: daysAgo(10).toISOString() },
        attempts: [
          {
            id: 'a1b2c3',
            token: 'tok',
            startedAt: daysAgo(3),
            leaseUntil: new Date(daysAgo(3).getTime() + 60_000),
            mode: 'hook' as const,
            tagKey: `${ATTEMPT_TAG_PREFIX}a1b2c3`,
          },
        ],
      },
    ),
    user('ops-nokeys', []),
  ],
};

const states: SecretState[] = [
  {
    key: 'prod',
    secretId: 'jenkins/prod/aws-key',
    rotationConfigured: true,
    currentVersionId: 'v-new',
    currentAccessKeyId: 'AKIAPRODNEWPRODNEW01',
    previousAccessKeyId: 'AKIAPRODOLDPRODOLD01',
    lastRotatedDate: daysAgo(10),
  },
  {
    key: 'dev',
    secretId: 'jenkins/dev/aws-key',
    rotationConfigured: true,
    currentVersionId: 'v-dev',
    currentAccessKeyId: 'AKIADEVDEVDEVDEV0001',
    pending: { versionId: 'v-dev-pending', createdDate: new Date(NOW.getTime() - 3 * 3_600_000) },
  },
];

const histories: SecretHistory[] = [
  {
    key: 'prod',
    total: 4,
    versions: [
      {
        versionId: 'v-new',
        stages: ['AWSCURRENT'],
        createdDate: daysAgo(10),
        accessKeyId: 'AKIAPRODNEWPRODNEW01',
      },
      {
        versionId: 'v-old',
        stages: ['AWSPREVIOUS'],
        createdDate: daysAgo(70),
        accessKeyId: 'AKIAPRODOLDPRODOLD01',
      },
      { versionId: 'v-older', stages: [], createdDate: daysAgo(130), accessKeyId: 'AKIAPRODGONEPRODGONE' },
    ],
  },
  {
    key: 'dev',
    total: 2,
    versions: [
      {
        versionId: 'v-dev-pending',
        stages: ['AWSPENDING'],
        createdDate: new Date(NOW.getTime() - 3 * 3_600_000),
      },
      {
        versionId: 'v-dev',
        stages: ['AWSCURRENT'],
        createdDate: daysAgo(85),
        accessKeyId: 'AKIADEVDEVDEVDEV0001',
      },
    ],
  },
];

const checks: CheckReport = {
  at: NOW.toISOString(),
  findings: [
    {
      check: 'no-cloudtrail',
      severity: 'high',
      resource: { kind: 'account', id: ACCOUNT, accountId: ACCOUNT, region: 'us-east-1' },
      title: `no CloudTrail trail covers account ${ACCOUNT} in us-east-1`,
      fix: 'aws cloudtrail create-trail --name management-events --s3-bucket-name <bucket>',
    },
  ],
  notChecked: [],
  policies: [],
  counts: { high: 1, medium: 0, low: 0, notChecked: 0 },
};

const input = (over: Partial<ReportInput> = {}): ReportInput => ({
  inventory,
  config,
  configFile: '/etc/rotator.config.json',
  states,
  secretHistories: histories,
  checks,
  now: NOW,
  ...over,
});

const keyOf = (r: KeyReport, id: string): ReportKey => {
  const k = r.keys.find((x) => x.accessKeyId === id);
  if (!k) throw new Error(`no key ${id}`);
  return k;
};

describe('the report model', () => {
  const r = buildKeyReport(input());

  it('has every key with its rotation line, due date and state; unmanaged keys are judged by the default', () => {
    expect(r.keys.map((k) => k.accessKeyId)).toEqual([
      'AKIALEGACYLEGACY0001',
      'AKIALEGACYLEGACY0002',
      'AKIADEVDEVDEVDEV0001',
      'AKIAPRODOLDPRODOLD01',
      'AKIAPRODNEWPRODNEW01',
    ]);
    expect(keyOf(r, 'AKIALEGACYLEGACY0001')).toMatchObject({
      managedKey: null,
      maxAgeDays: 90,
      dueDate: daysAgo(110).toISOString(),
      daysLeft: -110,
      stale: true,
      state: 'stale',
    });
    expect(keyOf(r, 'AKIALEGACYLEGACY0002')).toMatchObject({
      dueDate: null,
      daysLeft: null,
      state: 'inactive',
    });
    // dev: 85 of 90 days: due in 5 days, within DUE_SOON_DAYS.
    expect(keyOf(r, 'AKIADEVDEVDEVDEV0001')).toMatchObject({
      managedKey: 'dev',
      daysLeft: 5,
      state: 'due-soon',
      lastUsedService: 'ecr',
    });
    expect(DUE_SOON_DAYS).toBeGreaterThanOrEqual(5);
    // prod's own line is 60 days.
    expect(keyOf(r, 'AKIAPRODNEWPRODNEW01')).toMatchObject({ maxAgeDays: 60, daysLeft: 50, state: 'ok' });
    expect(keyOf(r, 'AKIAPRODOLDPRODOLD01')).toMatchObject({
      deactivatedAt: daysAgo(10).toISOString(),
      deletionDue: daysAgo(3).toISOString(),
    });
    expect(r.usersWithoutKeys).toEqual([{ user: 'ops-nokeys', accountId: ACCOUNT, managedKey: null }]);
    expect(r.counts).toMatchObject({ keys: 5, activeKeys: 3, stale: 1, dueSoon: 1, findings: 1 });
  });

  it("gives each managed key's keys, newest first: when each came and went", () => {
    const prod = r.histories.find((h) => h.key === 'prod');
    expect(prod?.generations).toEqual([
      expect.objectContaining({
        accessKeyId: 'AKIAPRODNEWPRODNEW01',
        role: 'current',
        versionId: 'v-new',
        status: 'Active',
        createdAt: daysAgo(10).toISOString(),
        deactivatedAt: null,
      }),
      expect.objectContaining({
        accessKeyId: 'AKIAPRODOLDPRODOLD01',
        role: 'previous',
        status: 'Inactive',
        deactivatedAt: daysAgo(10).toISOString(),
        deletionDue: daysAgo(3).toISOString(),
      }),
      expect.objectContaining({
        accessKeyId: 'AKIAPRODGONEPRODGONE',
        role: 'superseded',
        status: 'deleted',
        createdAt: null,
        storedAt: daysAgo(130).toISOString(),
      }),
    ]);
    expect(prod).toMatchObject({
      versions: 4,
      versionsOmitted: 1,
      lastRotatedDate: daysAgo(10).toISOString(),
    });
    expect(prod?.attempts).toEqual([expect.objectContaining({ id: 'a1b2c3', live: false })]);
    const dev = r.histories.find((h) => h.key === 'dev');
    expect(dev?.inFlight).toEqual({
      versionId: 'v-dev-pending',
      startedAt: new Date(NOW.getTime() - 3 * 3_600_000).toISOString(),
      accessKeyId: null,
    });
    expect(dev?.generations[0]).toMatchObject({ accessKeyId: null, role: 'pending', stages: ['AWSPENDING'] });
    expect(dev?.problems.map((p) => p.kind)).toEqual(['rotation-in-flight']);
    expect(dev?.problems[0]?.fix).toContain('key-rotator rotate jenkins-dev --resume');
  });

  it('lists an IAM key no version holds as not in the secret, and a history that cannot be read', () => {
    const extra = structuredClone(inventory);
    extra.users[1]!.keys.push({
      accessKeyId: 'AKIADEVSECONDDEV0002',
      status: 'Active',
      createDate: daysAgo(1),
      ageDays: 1,
    });
    const rr = buildKeyReport(
      input({
        inventory: extra,
        secretHistories: [histories[0]!, { key: 'dev', error: 'cannot read the versions: AccessDenied' }],
      }),
    );
    const dev = rr.histories.find((h) => h.key === 'dev');
    expect(dev?.error).toBe('cannot read the versions: AccessDenied');
    expect(dev?.generations.map((g) => [g.accessKeyId, g.role])).toEqual([
      ['AKIADEVSECONDDEV0002', 'unrecorded'],
      ['AKIADEVDEVDEVDEV0001', 'current'],
    ]);
    expect(rr.problems.some((p) => p.kind === 'second-active-key' && p.key === 'dev')).toBe(true);
  });

  it('makes a timeline, newest first', () => {
    expect(r.timeline.map((e) => [e.key, e.kind, e.accessKeyId])).toEqual([
      ['dev', 'rotation-started', null],
      ['prod', 'attempt', null],
      ['prod', 'created', 'AKIAPRODNEWPRODNEW01'],
      ['prod', 'deactivated', 'AKIAPRODOLDPRODOLD01'],
      ['prod', 'created', 'AKIAPRODOLDPRODOLD01'],
      ['dev', 'created', 'AKIADEVDEVDEVDEV0001'],
      ['prod', 'created', 'AKIAPRODGONEPRODGONE'],
    ]);
    expect(r.timeline[1]?.text).toMatch(/stopped before finishing/);
  });

  it('says why the checks did not run', () => {
    const rr = buildKeyReport(input({ checks: { skipped: 'not run (--no-checks)' } }));
    expect(rr.checks).toEqual({ ran: false, reason: 'not run (--no-checks)' });
    expect(rr.counts.findings).toBeNull();
  });
});

describe('a keyless managed key', () => {
  const since = daysAgo(3);
  const r = buildKeyReport(
    input({
      inventory: {
        ...inventory,
        users: inventory.users.map((u) =>
          u.userName === 'jenkins-prod' ? { ...u, keylessSince: since } : u,
        ),
      },
    }),
  );
  const prod = r.histories.find((h) => h.key === 'prod');

  it('says since when it is keyless, in its history and on the timeline; the others are not', () => {
    expect(prod?.keylessSince).toBe(since.toISOString());
    expect(r.histories.find((h) => h.key === 'dev')?.keylessSince).toBeNull();
    expect(r.timeline.filter((e) => e.kind === 'keyless')).toEqual([
      expect.objectContaining({ key: 'prod', at: since.toISOString(), accessKeyId: null }),
    ]);
  });

  it('shows who rotates it: nobody, and why a new key on it would be a finding', () => {
    const html = renderReportHtml(r, { generator: 'test' });
    expect(html).toMatch(/<dt>Rotated by<\/dt><dd>nobody: keyless since/);
    expect(html).toContain('an active access key on this user is a high finding of the scan');
    expect(renderReportHtml(buildKeyReport(input()), { generator: 'test' })).not.toContain('keyless since');
  });
});

describe('the chart layout', () => {
  const r = buildKeyReport(input());

  it('puts each key at its age and its tick at its own rotation line, on one scale', () => {
    const L = chartLayout(r.keys);
    expect(L.rows).toHaveLength(r.keys.length);
    const px = (days: number) => L.x0 + ((L.x1 - L.x0) * days) / L.domainDays;
    for (const row of L.rows) {
      expect(row.x).toBeCloseTo(px(Math.min(row.key.ageDays, L.domainDays)));
      expect(row.limitX).toBeCloseTo(px(row.key.maxAgeDays));
    }
    // Most urgent first: the stale key, the one due soon, then by how far along its line, inactive last.
    expect(L.rows.map((x) => x.key.accessKeyId)).toEqual([
      'AKIALEGACYLEGACY0001',
      'AKIADEVDEVDEVDEV0001',
      'AKIAPRODNEWPRODNEW01',
      'AKIALEGACYLEGACY0002',
      'AKIAPRODOLDPRODOLD01',
    ]);
    // The scale covers the oldest key (400 days) in round steps, tick labels included.
    expect(L.domainDays).toBeGreaterThanOrEqual(403);
    expect(L.ticks[0]).toBe(0);
    expect(L.ticks.at(-1)).toBe(L.domainDays);
  });

  it(`draws at most ${CHART_MAX_ROWS} rows, the most urgent, and counts the others`, () => {
    const many: ReportKey[] = Array.from({ length: CHART_MAX_ROWS + 30 }, (_, i) => ({
      ...keyOf(r, 'AKIAPRODNEWPRODNEW01'),
      accessKeyId: `AKIA${String(i).padStart(16, '0')}`,
      ageDays: i,
    }));
    const L = chartLayout(many);
    expect(L.rows).toHaveLength(CHART_MAX_ROWS);
    expect(L.omitted).toBe(30);
    expect(L.rows[0]?.key.ageDays).toBe(CHART_MAX_ROWS + 29);
    expect([...many].sort(byUrgency)[0]?.ageDays).toBe(CHART_MAX_ROWS + 29);
  });

  it('renders one mark per key with its figures, a title and a description naming the stale keys', () => {
    const svg = renderChart(r.keys);
    expect(svg.match(/<g class="mark /g)).toHaveLength(r.keys.length);
    expect(svg).toMatch(/role="img" aria-labelledby="ages-title" aria-describedby="ages-desc"/);
    expect(svg).toMatch(
      /<desc id="ages-desc">[^<]*1 key past their rotation line: ci-legacy AKIALEGACYLEGACY0001: 200 days old, rotation line 90 days, past its line/,
    );
    expect(svg).toContain(
      '<g class="mark state-due-soon" data-key="AKIADEVDEVDEVDEV0001" data-user="jenkins-dev" data-age="85" data-max-age="90" data-due="2026-06-04">',
    );
    // A stale key is a diamond, not only another colour.
    expect(svg).toMatch(/data-key="AKIALEGACYLEGACY0001"[^>]*>.*?<path class="dot"/);
  });
});

describe('the HTML page', () => {
  const r = buildKeyReport(input());
  const html = renderReportHtml(r, { generator: 'jenkins-key-rotator 9.9.9' });

  it('is self-contained: no script, no external reference, a policy that forbids loading anything', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    );
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    // Every href is an anchor in the page; no src at all.
    for (const [, href] of html.matchAll(/href="([^"]*)"/g)) expect(href).toMatch(/^#[\w-]+$/);
    expect(html).not.toMatch(/\ssrc=/);
    for (const [, id] of html.matchAll(/href="#([\w-]+)"/g)) expect(html).toContain(`id="${id}"`);
  });

  it('has light and dark colour schemes', () => {
    expect(html).toContain('<meta name="color-scheme" content="light dark">');
    expect(html).toMatch(/@media \(prefers-color-scheme:dark\)\{:root\{--bg:#0d1117/);
  });

  it('is structured for a screen reader: one h1, sections by heading, tables with captions and header cells', () => {
    expect(html.match(/<h1[ >]/g)).toHaveLength(1);
    expect([...html.matchAll(/<h2 id="([\w-]+)"/g)].map((m) => m[1])).toEqual([
      'summary-h',
      'problems-h',
      'ages-h',
      'keys-h',
      'history-h',
      'timeline-h',
      'findings-h',
    ]);
    expect(html).toContain('<nav aria-label="Sections">');
    const tables = html.match(/<table>/g)?.length ?? 0;
    expect(html.match(/<caption id=/g)).toHaveLength(tables);
    // One row header per key in the keys table, column headers scoped.
    const keysTable = html.slice(html.indexOf('id="keys-h"'), html.indexOf('id="history-h"'));
    expect(keysTable.match(/<th scope="row"/g)).toHaveLength(r.keys.length);
    expect(keysTable).toContain('<th scope="col">Due</th>');
    expect(keysTable).not.toMatch(/<th>/);
  });

  it('shows the key rows with due dates and states, the history, the problems and the findings', () => {
    expect(html).toMatch(
      /<th scope="row" class="mono">AKIALEGACYLEGACY0001<\/th>.*?<time datetime="2026-02-09T12:00:00.000Z"[^>]*>2026-02-09<\/time>.*?STALE, 110 days over/,
    );
    expect(html).toMatch(/AKIADEVDEVDEVDEV0001<\/th>.*?due in 5 days/);
    expect(html).toContain('<h3 id="history-0-h">prod</h3>');
    expect(html).toMatch(/AKIAPRODOLDPRODOLD01<\/th><td>previous \(AWSPREVIOUS\)<\/td>.*?deactivated <time/);
    expect(html).toMatch(/AKIAPRODGONEPRODGONE<\/th><td>superseded<\/td>.*?<td>deleted<\/td>/);
    expect(html).toContain('The 3 newest of 4 secret versions are shown.');
    expect(html).toMatch(
      /<span class="sev">warning<\/span><strong>dev, user jenkins-dev<\/strong>: a rotation is unfinished/,
    );
    expect(html).toContain(
      '<code>key-rotator rotate jenkins-dev --resume (or key-rotator rotate jenkins-dev --abandon to undo it)</code>',
    );
    expect(html).toContain('no CloudTrail trail covers account 111122223333 in us-east-1');
    expect(html).toContain('ops-nokeys');
    expect(html).toContain('jenkins-key-rotator 9.9.9');
  });

  it('says when the security checks were not run', () => {
    const page = renderReportHtml(
      buildKeyReport(input({ checks: { skipped: 'not run (--no-checks): key-rotator check runs them' } })),
    );
    expect(page).toContain('The security checks were not run (--no-checks): key-rotator check runs them.');
    expect(page).toMatch(/<dt>Security checks<\/dt><dd>not run<\/dd>/);
  });

  it('escapes every value it did not write itself', () => {
    const hostile = structuredClone(inventory);
    hostile.users[0]!.userName = 'ci-<script>alert("x")</script>&\'';
    const page = renderReportHtml(buildKeyReport(input({ inventory: hostile })));
    expect(page).not.toContain('<script>');
    expect(page).toContain('ci-&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  });
});
