import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/domain/errors';
import {
  emergencyFromHealthEvent,
  emergencyRotate,
  exposedKeysOf,
  HEALTH_LIMITS,
  HEALTH_REASON,
  isHealthEvent,
  parseEmergencyInput,
} from '../../src/engine/emergency';
import { ACCOUNT, rawConfig, World } from './emergency-fakes';

const PASTED_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const PASTED_PASSWORD = 'Fake-pw-42';

/** Runs a bad request and returns its InputError; the world must see no write (and, for `silent`, no call). */
async function rejected(world: World, input: unknown, silent: boolean): Promise<InputError> {
  const err = await emergencyRotate(world.composition(), input, { log: world.log, clock: world.clock }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  expect(world.writes).toEqual([]);
  if (silent) expect(world.calls).toEqual([]);
  return err as InputError;
}

const fieldsOf = (err: InputError) => err.details['fields'] as string[];

describe('emergency input: each bad input is an InputError naming the field, and changes nothing', () => {
  const cases: { name: string; input: unknown; fields: string[]; message: RegExp }[] = [
    { name: 'null', input: null, fields: ['(payload)'], message: /JSON object/ },
    { name: 'a string', input: 'jenkins-prod', fields: ['(payload)'], message: /JSON object/ },
    {
      name: 'an array',
      input: [{ userName: 'jenkins-prod' }],
      fields: ['(payload)'],
      message: /JSON object/,
    },
    {
      name: 'no target and no reason',
      input: {},
      fields: ['reason', 'userName'],
      message: /userName: required/,
    },
    {
      name: 'no target',
      input: { reason: 'leaked in a build log' },
      fields: ['userName'],
      message: /name the IAM user \(userName\) or the leaked key \(accessKeyId\)/,
    },
    {
      name: 'both targets',
      input: { userName: 'jenkins-prod', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', reason: 'x' },
      fields: ['accessKeyId'],
      message: /not both/,
    },
    {
      name: 'missing reason',
      input: { userName: 'jenkins-prod' },
      fields: ['reason'],
      message: /reason: required/,
    },
    {
      name: 'blank reason',
      input: { userName: 'jenkins-prod', reason: '  ' },
      fields: ['reason'],
      message: /empty/,
    },
    {
      name: 'reason not a string',
      input: { userName: 'jenkins-prod', reason: 7 },
      fields: ['reason'],
      message: /reason/,
    },
    {
      name: 'a malformed user name',
      input: { userName: 'jenkins prod!', reason: 'x' },
      fields: ['userName'],
      message: /must be an IAM user name/,
    },
    {
      name: 'a malformed key id',
      input: { accessKeyId: 'not-a-key', reason: 'x' },
      fields: ['accessKeyId'],
      message: /must be an access key id/,
    },
    {
      name: 'a temporary (ASIA) key id',
      input: { accessKeyId: 'ASIAIOSFODNN7EXAMPLE', reason: 'x' },
      fields: ['accessKeyId'],
      message: /temporary key of an STS session/,
    },
    {
      name: 'deleteOld not a boolean',
      input: { userName: 'jenkins-prod', reason: 'x', deleteOld: 'yes' },
      fields: ['deleteOld'],
      message: /deleteOld/,
    },
    {
      name: 'a malformed account id',
      input: { userName: 'jenkins-prod', reason: 'x', accountId: '1234' },
      fields: ['accountId'],
      message: /12-digit/,
    },
    {
      name: 'an unknown field',
      input: { username: 'jenkins-prod', reason: 'x' },
      fields: ['username', 'userName'],
      message: /username: unknown field/,
    },
    {
      name: 'a secret sent along',
      input: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: PASTED_SECRET, reason: 'x' },
      fields: ['secretAccessKey'],
      message: /never send a secret/,
    },
    {
      name: 'aws_secret_access_key=<secret> as the reason',
      input: { userName: 'jenkins-prod', reason: `aws_secret_access_key=${PASTED_SECRET}` },
      fields: ['reason'],
      message: /reason: holds an AWS secret access key at character 23: never paste a secret here/,
    },
    {
      name: 'a URL-encoded secret in the reason',
      input: {
        userName: 'jenkins-prod',
        reason: `leaked in ${encodeURIComponent(`?aws_secret_access_key=${PASTED_SECRET}`)}`,
      },
      fields: ['reason'],
      message: /reason: holds an AWS secret access key \(URL-encoded or escaped\)/,
    },
    {
      name: 'a secret in JSON in the reason',
      input: { userName: 'jenkins-prod', reason: `leaked: {"secretAccessKey": "${PASTED_SECRET}"}` },
      fields: ['reason'],
      message: /reason: holds an AWS secret access key at character 30/,
    },
    {
      name: 'password: … in the reason',
      input: { userName: 'jenkins-prod', reason: `jenkins password: ${PASTED_PASSWORD} was in the log` },
      fields: ['reason'],
      message: /reason: holds the value of password at character 19: never paste a secret here/,
    },
    {
      name: 'a secret pasted into the reason',
      input: { userName: 'jenkins-prod', reason: `leaked ${PASTED_SECRET} on a forum` },
      fields: ['reason'],
      message: /reason: holds an AWS secret access key at character 8: never paste a secret here/,
    },
  ];

  for (const c of cases)
    it(`rejects ${c.name}, before any AWS or Jenkins call`, async () => {
      const world = new World();
      world.seed();
      const err = await rejected(world, c.input, true);
      expect([...fieldsOf(err)].sort()).toEqual([...c.fields].sort());
      expect(err.message).toMatch(c.message);
      expect(err.message).toMatch(/nothing was changed/);
      expect(err.message).not.toContain(PASTED_SECRET);
      expect(err.message).not.toContain(encodeURIComponent(PASTED_SECRET));
      expect(err.message).not.toContain(PASTED_PASSWORD);
    });

  it('rejects a user that is not managed, naming the managed ones, without any call', async () => {
    const world = new World();
    world.seed();
    const err = await rejected(world, { userName: 'jenkins-staging', reason: 'x' }, true);
    expect(fieldsOf(err)).toEqual(['userName']);
    expect(err.message).toMatch(/jenkins-staging is not a managed IAM user \(managed: jenkins-prod\)/);
  });

  it('rejects a key id of a user this rotator does not manage, naming its owner, and touches nothing', async () => {
    const world = new World();
    world.seed();
    const bob = world.addKey('bob');
    const err = await rejected(world, { accessKeyId: bob.accessKeyId, reason: 'x' }, false);
    expect(fieldsOf(err)).toEqual(['accessKeyId']);
    expect(err.message).toMatch(
      /belongs to IAM user bob, which this rotator does not manage: it was NOT touched/,
    );
    expect(world.keys.get(bob.accessKeyId)?.status).toBe('Active');
  });

  it('rejects a key id no managed account knows', async () => {
    const world = new World();
    world.seed();
    const err = await rejected(world, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', reason: 'x' }, false);
    expect(fieldsOf(err)).toEqual(['accessKeyId']);
    expect(err.message).toMatch(/not a key of any managed user/);
    // GetAccessKeyLastUsed first, then ListAccessKeys on the managed users as a fallback; reads only.
    expect(world.calls).toEqual(['iam.owner AKIAIOSFODNN7EXAMPLE', 'iam.list jenkins-prod']);
  });

  it('rejects an account without managed keys', async () => {
    const world = new World();
    world.seed();
    const err = await rejected(
      world,
      { userName: 'jenkins-prod', reason: 'x', accountId: '999988887777' },
      false,
    );
    expect(fieldsOf(err)).toEqual(['accountId']);
    expect(world.calls).toEqual(['sts.ownAccount']);
  });

  it('asks for accountId when the user name is managed in two accounts', async () => {
    const cfg = rawConfig([
      { name: 'prod', iamUser: 'jenkins' },
      { name: 'other', iamUser: 'jenkins' },
    ]);
    (cfg.keys[1] as Record<string, unknown>)['accountId'] = '444455556666';
    const world = new World(cfg);
    const err = await rejected(world, { userName: 'jenkins', reason: 'x' }, true);
    expect(fieldsOf(err)).toEqual(['accountId']);
    expect(err.message).toMatch(/managed in several accounts/);
  });

  it('accepts a reason full of ids: key ids, request tokens, commits, ARNs', () => {
    const reason =
      'AKIAIOSFODNN7EXAMPLE in build 3f2c8a8e-7d5b-4b8e-9a77-2f1e0c6a9b10 of commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3, ' +
      'secret arn:aws:secretsmanager:us-east-1:111122223333:secret:jenkins/prod/aws-key-AbC123; the old token: revoked';
    expect(parseEmergencyInput({ userName: 'jenkins-prod', reason }).reason).toBe(reason);
  });

  it('accepts a good request and fills the defaults', () => {
    expect(parseEmergencyInput({ userName: 'jenkins-prod', reason: '  leaked in a log  ' })).toEqual({
      userName: 'jenkins-prod',
      reason: 'leaked in a log',
      deleteOld: false,
    });
  });
});

/** AWS's documented example of the event (AWS Health, "security event"), with a real-looking key id. */
const healthEvent = (over: Record<string, unknown> = {}, detail: Record<string, unknown> = {}) => ({
  version: '0',
  id: '121345678-1234-1234-1234-123456789012',
  'detail-type': 'AWS Health Event',
  source: 'aws.health',
  account: ACCOUNT,
  time: '2016-06-05T06:27:57Z',
  region: 'us-east-1',
  resources: [],
  detail: {
    eventArn:
      'arn:aws:health:us-east-1::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_ABC',
    service: 'RISK',
    eventTypeCode: 'AWS_RISK_CREDENTIALS_EXPOSED',
    eventTypeCategory: 'issue',
    startTime: 'Sat, 05 Jun 2016 15:10:09 GMT',
    eventDescription: [
      { language: 'en_US', latestDescription: 'A description of the event will be provided here' },
    ],
    affectedEntities: [{ entityValue: 'AKIAIOSFODNN7EXAMPLE' }],
    ...detail,
  },
  ...over,
});

describe('AWS Health AWS_RISK_CREDENTIALS_EXPOSED events', () => {
  it('recognises a Health event and not a manual request', () => {
    expect(isHealthEvent(healthEvent())).toBe(true);
    expect(isHealthEvent({ userName: 'jenkins-prod', reason: 'x' })).toBe(false);
    expect(isHealthEvent(null)).toBe(false);
  });

  it('maps the exposed key and the account of the event', () => {
    expect(exposedKeysOf(healthEvent())).toEqual({
      eventArn: expect.stringContaining('AWS_RISK_CREDENTIALS_EXPOSED') as unknown,
      keys: [{ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', accountId: ACCOUNT }],
    });
  });

  it('reads resources too, prefers an entity account, and names each key once', () => {
    const e = healthEvent(
      { resources: ['AKIAIOSFODNN7EXAMPLE', 'AKIAI44QH8DHBEXAMPLE', 'arn:aws:iam::111122223333:user/x'] },
      {
        service: 'ABUSE',
        affectedEntities: [{ entityValue: 'AKIAIOSFODNN7EXAMPLE', awsAccountId: '444455556666' }],
      },
    );
    expect(exposedKeysOf(e).keys).toEqual([
      { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', accountId: '444455556666' },
      { accessKeyId: 'AKIAI44QH8DHBEXAMPLE', accountId: ACCOUNT },
    ]);
  });

  it('refuses another Health event type, naming detail.eventTypeCode', () => {
    const err = (() => {
      try {
        exposedKeysOf(healthEvent({}, { eventTypeCode: 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED' }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).details['fields']).toEqual(['detail.eventTypeCode']);
  });

  it('names the first ten issues of a malformed event listing thousands of entries, and counts the rest', () => {
    const e = healthEvent({}, { affectedEntities: Array.from({ length: 2000 }, () => ({ entityValue: 7 })) });
    const err = (() => {
      try {
        exposedKeysOf(e);
      } catch (x) {
        return x as InputError;
      }
      throw new Error('not refused');
    })();
    expect(err).toBeInstanceOf(InputError);
    expect(err.message.match(/detail\.affectedEntities\.\d+\.entityValue: /g)).toHaveLength(10);
    expect(err.message).toMatch(/; and 1990 more$/);
    expect(err.message.length).toBeLessThan(2000);
  });

  it('refuses an event without a key id or without a detail', () => {
    expect(() => exposedKeysOf(healthEvent({}, { affectedEntities: [{ entityValue: 'i-0abc' }] }))).toThrow(
      /detail.affectedEntities: names no access key id/,
    );
    expect(() => exposedKeysOf({ source: 'aws.health', 'detail-type': 'AWS Health Event' })).toThrow(
      /detail: /,
    );
  });

  it('rotates a managed exposed key with the Health reason, and never deletes it', async () => {
    const world = new World();
    const leaked = world.seed();
    const event = healthEvent({}, { affectedEntities: [{ entityValue: leaked.accessKeyId }] });
    const report = await emergencyFromHealthEvent(world.composition(), event, {
      log: world.log,
      clock: world.clock,
    });
    expect(report.outcome).toBe('handled');
    const [r] = report.results;
    expect(r?.outcome).toBe('rotated');
    expect(r && 'report' in r ? r.report.reason : '').toMatch(new RegExp(`^${HEALTH_REASON}`));
    expect(world.keys.get(leaked.accessKeyId)?.status).toBe('Inactive');
    expect(world.writes.filter((w) => w.startsWith('iam.delete'))).toEqual([]);
  });

  it('reports unmanaged and temporary keys loudly and touches none of them', async () => {
    const world = new World();
    world.seed();
    const bob = world.addKey('bob');
    const event = healthEvent(
      {},
      { affectedEntities: [{ entityValue: bob.accessKeyId }, { entityValue: 'ASIAIOSFODNN7EXAMPLE' }] },
    );
    const report = await emergencyFromHealthEvent(world.composition(), event, {
      log: world.log,
      clock: world.clock,
    });
    expect(report.outcome).toBe('failed');
    expect(report.results.map((r) => [r.accessKeyId, r.outcome])).toEqual([
      [bob.accessKeyId, 'unmanaged'],
      ['ASIAIOSFODNN7EXAMPLE', 'unmanaged'],
    ]);
    expect(report.summary).toMatch(/belongs to IAM user bob.*NOT touched/);
    expect(world.writes).toEqual([]);
    expect(world.keys.get(bob.accessKeyId)?.status).toBe('Active');
    expect(world.logs.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      expect.stringMatching(/exposed key not handled: key AKIA\w+ belongs to IAM user bob/),
      expect.stringMatching(/exposed key not handled: key ASIA\w+ is a temporary STS key/),
      'AWS Health event failed: 2 exposed keys: 2 unmanaged (NOT touched)',
    ]);
    expect(report.counts).toEqual({
      exposed: 2,
      managed: 0,
      rotated: 0,
      revoked: 0,
      contained: 0,
      failed: 0,
      unmanaged: 2,
      errors: 0,
      ownersNotLookedUp: 0,
      omitted: 0,
    });
  });

  it('bounds the work and the report for an event listing thousands of keys; the managed key is still rotated', async () => {
    const unknown = Array.from({ length: 1998 }, (_, i) => `AKIA${String(i).padStart(16, '0')}`);
    const eventOf = (ids: string[]) =>
      healthEvent({}, { affectedEntities: ids.map((entityValue) => ({ entityValue })) });
    const opts = (w: World) => ({ log: w.log, clock: w.clock });

    // The same managed key alone in an event: what the rotation itself costs.
    const alone = new World();
    await emergencyFromHealthEvent(alone.composition(), eventOf([alone.seed().accessKeyId]), opts(alone));

    const world = new World();
    const leaked = world.seed();
    const bob = world.addKey('bob');
    const ids = [...unknown.slice(0, 1000), leaked.accessKeyId, bob.accessKeyId, ...unknown.slice(1000)];
    const report = await emergencyFromHealthEvent(world.composition(), eventOf(ids), opts(world));

    // jenkins-prod's keys are listed once and matched locally; owners are looked up for the first 20 others only.
    expect(world.calls.filter((c) => c.startsWith('iam.owner'))).toEqual(
      unknown.slice(0, HEALTH_LIMITS.ownerLookups).map((id) => `iam.owner ${id}`),
    );
    expect(world.calls).toHaveLength(alone.calls.length + HEALTH_LIMITS.ownerLookups);
    expect(world.keys.get(leaked.accessKeyId)?.status).toBe('Inactive');
    expect(world.keys.get(bob.accessKeyId)?.status).toBe('Active');

    expect(report.outcome).toBe('failed');
    expect(report.counts).toEqual({
      exposed: 2000,
      managed: 1,
      rotated: 1,
      revoked: 0,
      contained: 0,
      failed: 0,
      unmanaged: 1999,
      errors: 0,
      ownersNotLookedUp: 1979,
      omitted: 1979,
    });
    expect(report.results.map((r) => r.accessKeyId)).toEqual([
      ...unknown.slice(0, HEALTH_LIMITS.listed),
      leaked.accessKeyId,
    ]);
    expect(report.summary).toMatch(
      /^2000 exposed keys: 1 rotated, 1999 unmanaged \(NOT touched; 1979 owners not looked up\)\. /,
    );
    expect(report.summary).toContain(`Compromised key ${leaked.accessKeyId} of jenkins-prod is DEACTIVATED`);
    expect(report.summary).toContain('1979 more keys not handled are not listed here: the log names them');
    expect(report.summary.length).toBeLessThanOrEqual(HEALTH_LIMITS.summaryChars);
    expect(JSON.stringify(report).length).toBeLessThan(32 * 1024);

    // The log: 20 keys one by one, the other 1979 by id in lines of at most 500, then the counts.
    const errors = world.logs.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.message.replace(/ AKIA\w+ .*/, ''))).toEqual([
      ...Array<string>(20).fill('exposed key not handled: key'),
      ...[1, 2, 3, 4].map(
        (n) =>
          `1979 more exposed keys not handled (unmanaged), not listed one by one (part ${n} of 4): they were NOT touched`,
      ),
      'AWS Health event failed: 2000 exposed keys: 1 rotated, 1999 unmanaged (NOT touched; 1979 owners not looked up)',
    ]);
    const logged = new Set(
      errors.flatMap((l) => [
        ...((l.extra?.['accessKeyIds'] as string[] | undefined) ?? []),
        ...(typeof l.extra?.['accessKeyId'] === 'string' ? [l.extra['accessKeyId']] : []),
      ]),
    );
    expect(logged).toEqual(new Set([...unknown, bob.accessKeyId]));
    for (const l of world.logs) expect(JSON.stringify(l).length).toBeLessThan(32 * 1024);
  });

  it('an exposed key it cannot tell about is an error, listed first; a managed key is still found by its owner', async () => {
    const world = new World();
    const leaked = world.seed();
    world.fail('iam.list jenkins-prod', 'AccessDenied: iam:ListAccessKeys');
    const event = healthEvent(
      {},
      { affectedEntities: [{ entityValue: 'AKIAIOSFODNN7EXAMPLE' }, { entityValue: leaked.accessKeyId }] },
    );
    const report = await emergencyFromHealthEvent(world.composition(), event, {
      log: world.log,
      clock: world.clock,
    });
    expect(report.results.map((r) => [r.accessKeyId, r.outcome])).toEqual([
      ['AKIAIOSFODNN7EXAMPLE', 'error'],
      [leaked.accessKeyId, 'rotated'],
    ]);
    expect(report.summary).toContain(
      'AKIAIOSFODNN7EXAMPLE: ERROR: could not tell whether key AKIAIOSFODNN7EXAMPLE is a managed key: listing the keys of jenkins-prod: AccessDenied: iam:ListAccessKeys',
    );
    expect(report.counts).toMatchObject({ exposed: 2, managed: 1, rotated: 1, errors: 1, unmanaged: 0 });
    expect(world.keys.get(leaked.accessKeyId)?.status).toBe('Inactive');
  });
});
