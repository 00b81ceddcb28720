import { describe, expect, it } from 'vitest';
import { buildAudit, formatAudit } from '../../src/cli/audit';
import { buildPlanReport, formatPlan } from '../../src/cli/plan';
import { formatRecoveryReport, formatRotateReport } from '../../src/cli/rotate';
import { parseConfig } from '../../src/config';
import type { RotationProblem } from '../../src/domain/diagnose';
import type { RecoveryReport, RotateNowReport } from '../../src/engine/rotate-now';
import { planScan, type Inventory, type InventoryUser, type SecretState } from '../../src/scan';
import { rawKey, rawKeyNamed } from '../support/config-fixture';

const NOW = new Date('2026-06-01T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const ACCOUNT = '111122223333';
const CUR = 'AKIACURRENT000000001';
const OLD = 'AKIAOLD0000000000001';
const GONE = 'AKIAGONE000000000001';

const config = parseConfig({
  version: 1,
  defaults: { maxAgeDays: 90, deleteAfterDays: 7 },
  keys: [rawKey(), rawKeyNamed('dev')],
});

const user = (name: string, managedKey: string, keys: InventoryUser['keys']): InventoryUser => ({
  userName: name,
  path: '/jenkins/',
  arn: `arn:aws:iam::${ACCOUNT}:user/jenkins/${name}`,
  accountId: ACCOUNT,
  managedKey,
  keys,
  deactivationTags: {},
  attempts: [],
});
const key = (accessKeyId: string, ageDays: number, status: 'Active' | 'Inactive' = 'Active') => ({
  accessKeyId,
  status,
  createDate: ago(ageDays * DAY),
  ageDays,
});

/** prod: promoted, its previous key still active; dev: an AWSPENDING whose key is gone. */
const inventory: Inventory = {
  takenAt: NOW,
  accountId: ACCOUNT,
  source: 'list',
  users: [
    user('jenkins-prod', 'prod', [key(CUR, 1), key(OLD, 100)]),
    user('jenkins-dev', 'dev', [key('AKIADEV0000000000001', 10)]),
  ],
  problems: [{ user: 'legacy', accountId: ACCOUNT, reason: 'could not read its access keys: AccessDenied' }],
};
const states: SecretState[] = [
  {
    key: 'prod',
    secretId: 'jenkins/prod/aws-key',
    rotationConfigured: true,
    currentVersionId: 'v2',
    currentAccessKeyId: CUR,
    currentUserName: 'jenkins-prod',
    previousAccessKeyId: OLD,
  },
  {
    key: 'dev',
    secretId: 'jenkins/dev/aws-key',
    rotationConfigured: true,
    currentVersionId: 'w1',
    currentAccessKeyId: 'AKIADEV0000000000001',
    currentUserName: 'jenkins-dev',
    pending: { versionId: 'w2', createdDate: ago(3 * HOUR), accessKeyId: GONE },
  },
];

describe('audit: problems first', () => {
  const r = buildAudit(inventory, config, '/etc/rotator.config.json', states);

  it('lists every managed key problem with its fix and what the scan does, plus what could not be read', () => {
    expect(r.problems).toEqual([
      {
        key: 'dev',
        user: 'jenkins-dev',
        accountId: ACCOUNT,
        kind: 'pending-key-gone',
        severity: 'error',
        message: expect.stringMatching(
          /AWSPENDING \(version w2, started 3 h ago\) holds key AKIAGONE/,
        ) as unknown,
        fix: 'key-rotator rotate jenkins-dev --abandon',
        repair: null,
        accessKeyId: GONE,
        versionId: 'w2',
        ageHours: 3,
      },
      expect.objectContaining({
        key: 'prod',
        kind: 'previous-still-active',
        severity: 'error',
        fix: 'key-rotator rotate jenkins-prod --resume',
        repair: 'finish',
      }),
      {
        key: null,
        user: 'legacy',
        accountId: ACCOUNT,
        kind: 'unreadable',
        severity: 'error',
        message: 'could not read its access keys: AccessDenied',
        fix: null,
        repair: null,
      },
    ]);
    expect(r.counts).toMatchObject({ problems: 3, problemErrors: 3 });
  });

  it('the human report shows the problems before the table, each with its fix', () => {
    const text = formatAudit(r);
    const problems = text.indexOf('Problems (3 problems, 3 of severity error; most severe first):');
    expect(problems).toBeGreaterThan(0);
    expect(problems).toBeLessThan(text.indexOf('USER  '));
    expect(text).toMatch(
      /^ {2}ERROR {4}dev, user jenkins-dev: AWSPENDING .*\n {11}fix: key-rotator rotate jenkins-dev --abandon\n/m,
    );
    expect(text).toMatch(
      /^ {2}ERROR {4}prod, user jenkins-prod: the previous key AKIAOLD0000000000001 is still active.*\n {11}fix: key-rotator rotate jenkins-prod --resume\n {11}\(the next scheduled scan finishes it by itself\)\n/m,
    );
    expect(text).toMatch(/^ {2}ERROR {4}user legacy, account 111122223333: could not read its access keys/m);
  });

  it('without secret states (no configuration) there are no rotation problems', () => {
    expect(buildAudit({ ...inventory, problems: [] }, config).problems).toEqual([]);
  });
});

describe('plan: repairs and problems', () => {
  it('the repairs come first among the decisions; a problem the run would not repair makes it not ok', () => {
    const plan = planScan(inventory, config, states, NOW);
    const r = buildPlanReport(inventory, plan, []);
    expect(r.decisions.slice(0, 2).map((d) => [d.action, d.key])).toEqual([
      ['fail', 'dev'],
      ['repair', 'prod'],
    ]);
    expect(r.decisions[1]).toMatchObject({
      action: 'repair',
      key: 'prod',
      user: 'jenkins-prod',
      accessKeyId: OLD,
      reason: expect.stringMatching(/^finish the last rotation .*: the previous key AKIAOLD/) as unknown,
    });
    expect(r.problems.map((p) => [p.key, p.kind, p.repair])).toEqual([
      ['dev', 'pending-key-gone', null],
      ['prod', 'previous-still-active', 'finish'],
    ]);
    expect(r.counts).toMatchObject({ repair: 1, problems: 2, problemErrors: 1 });
    expect(r.ok).toBe(false);
    const text = formatPlan(r);
    expect(text.indexOf('Problems (2 problems')).toBeLessThan(text.indexOf('ACTION  '));
    expect(text).toMatch(/^repair\s+prod\s+jenkins-prod\s+AKIAOLD0000000000001\s+finish the last rotation/m);
    expect(text).toMatch(/^1 repair, /m);
  });

  it('is ok when the only error is one the run repairs', () => {
    const plan = planScan(inventory, config, [states[0]!, { ...states[1]!, pending: undefined }], NOW);
    expect(buildPlanReport(inventory, plan, []).ok).toBe(true);
  });

  it('a due rotation that would delete the rollback key of the last one says so', () => {
    const inv: Inventory = {
      ...inventory,
      problems: [],
      users: [
        {
          ...user('jenkins-prod', 'prod', [key(CUR, 100), key(OLD, 200, 'Inactive')]),
          deactivationTags: { [OLD]: ago(2 * DAY).toISOString() },
        },
      ],
    };
    const st = { ...states[0]!, previousAccessKeyId: undefined };
    const r = buildPlanReport(
      inv,
      planScan(inv, parseConfig({ version: 1, keys: [rawKey()] }), [st], NOW),
      [],
    );
    expect(r.decisions.find((d) => d.action === 'rotate')?.reason).toMatch(
      /; NOTE: to make room it deletes key AKIAOLD0000000000001, the rollback key of the last rotation \(deactivated 2026-05-30T12:00:00.000Z, inside its grace period until 2026-06-06T12:00:00.000Z\)$/,
    );
  });
});

const failedReport = (over: Partial<RotateNowReport> = {}): RotateNowReport => ({
  key: 'prod',
  user: 'jenkins-prod',
  token: 'v-token',
  emergency: false,
  oldKeyId: CUR,
  newKeyId: 'AKIANEW0000000000001',
  steps: [{ step: 'createSecret', changed: true, actions: ['created key AKIANEW0000000000001'] }],
  outcome: 'failed',
  failedStep: 'setSecret',
  error: { name: 'JenkinsError', message: 'folder team-a/deploy answered 503' },
  actions: [],
  warnings: [],
  durationMs: 1500,
  ...over,
});

const inFlight: RotationProblem = {
  kind: 'rotation-in-flight',
  severity: 'warning',
  versionId: 'v-token',
  accessKeyId: 'AKIANEW0000000000001',
  message: 'a rotation is unfinished (version v-token, new key AKIANEW0000000000001)',
  fix: 'key-rotator rotate jenkins-prod --resume (or key-rotator rotate jenkins-prod --abandon to undo it)',
};

describe('rotate: what a failed rotation left, and the commands that fix it', () => {
  it('prints the problems read again after the failure, with the commands', () => {
    const text = formatRotateReport(failedReport(), [inFlight]);
    expect(text).toMatch(/^Rotation of prod \(IAM user jenkins-prod\) FAILED at setSecret/);
    expect(text).toContain('What the failed rotation left (read again now), and how to fix it:');
    expect(text).toContain(
      '           fix: key-rotator rotate jenkins-prod --resume (or key-rotator rotate jenkins-prod --abandon to undo it)\n',
    );
  });

  it('says when nothing is left in the way', () => {
    expect(formatRotateReport(failedReport(), [])).toContain(
      'Nothing of the failed rotation is left in the way: fix the cause, then run key-rotator rotate jenkins-prod again.',
    );
  });

  it('a rotation that needs a confirmation says what it would delete and how to go ahead', () => {
    const text = formatRotateReport(
      failedReport({
        steps: [],
        failedStep: 'createSecret',
        error: {
          name: 'ConfirmationRequiredError',
          code: 'ConfirmationRequired',
          message: `rotating prod now deletes key ${OLD} (deactivated …): the key a rollback of the last rotation would need. Nothing was changed. Confirm to go ahead`,
        },
      }),
    );
    expect(text).toBe(
      `Rotation of prod (IAM user jenkins-prod) NOT STARTED: it needs your confirmation\n  rotating prod now deletes key ${OLD} (deactivated …): the key a rollback of the last rotation would need. Nothing was changed. Confirm to go ahead\n  To go ahead, run it again with --yes (or --delete-old).\n`,
    );
  });
});

describe('rotate --resume / --abandon reports', () => {
  const base: RecoveryReport = {
    key: 'prod',
    user: 'jenkins-prod',
    action: 'resume',
    found: [inFlight],
    outcome: 'resumed',
    actions: [],
    warnings: [],
  };

  it('resumed: what was found, then the continued rotation', () => {
    const text = formatRecoveryReport({
      ...base,
      rotation: failedReport({
        outcome: 'rotated',
        failedStep: undefined,
        error: undefined,
        steps: [
          {
            step: 'createSecret',
            changed: false,
            actions: ['AWSPENDING already holds a key for this token'],
          },
          { step: 'setSecret', changed: true, actions: ['updated Jenkins target jenkins-0'] },
          { step: 'testSecret', changed: false, actions: [] },
          { step: 'finishSecret', changed: true, actions: [`deactivated the previous key ${CUR}`] },
        ],
      }),
    });
    expect(text).toMatch(/^Resumed the rotation of prod \(IAM user jenkins-prod\): it completed\n/);
    expect(text).toContain('Found before acting:\nProblems (1 problem, 0 of severity error');
    expect(text).toContain('\nThe rotation:\n  Rotated prod (IAM user jenkins-prod)');
  });

  it('abandoned: a plain rotate works again', () => {
    const text = formatRecoveryReport({
      ...base,
      action: 'abandon',
      outcome: 'abandoned',
      actions: [
        'restored Jenkins target jenkins-0 to the current key',
        'deleted the new key AKIANEW0000000000001',
      ],
    });
    expect(text).toMatch(
      /^Abandoned the rotation in flight of prod .*key-rotator rotate jenkins-prod works again\n/,
    );
    expect(text).toContain('Actions:\n  - restored Jenkins target jenkins-0 to the current key\n');
  });

  it('failed and nothing to do say so', () => {
    expect(
      formatRecoveryReport({
        ...base,
        outcome: 'failed',
        error: {
          name: 'ConcurrentRotationError',
          code: 'RotationBusy',
          message: 'a rotation is running right now',
        },
      }),
    ).toMatch(
      /^Could not resume the rotation of prod \(IAM user jenkins-prod\): RotationBusy: a rotation is running/,
    );
    expect(formatRecoveryReport({ ...base, found: [], outcome: 'nothing-to-do' })).toBe(
      'Nothing to resume for prod (IAM user jenkins-prod)\n\nFound before acting: no rotation problem.\n',
    );
  });
});
