import { describe, expect, it } from 'vitest';
import { planCreate } from '../../src/domain/create-plan';
import { UnsafeStateError } from '../../src/domain/errors';
import { emergencyRotate } from '../../src/engine/emergency';
import { rotateNow, type StepEvent } from '../../src/engine/rotate-now';
import { World } from './emergency-fakes';

const now = (world: World) => ({ clock: world.clock });
const emergency = (world: World, input: Record<string, unknown>) =>
  emergencyRotate(
    world.composition(),
    { reason: 'leaked in a build log', ...input },
    { log: world.log, clock: world.clock },
  );

/** The index of the first write matching `re`, failing when there is none. */
function at(world: World, re: RegExp): number {
  const i = world.writes.findIndex((w) => re.test(w));
  expect(i, `no write matching ${String(re)} in ${world.writes.join(' | ')}`).toBeGreaterThanOrEqual(0);
  return i;
}

function noSecretsLogged(world: World) {
  const logged = JSON.stringify(world.logs);
  for (const k of world.keys.values()) expect(logged).not.toContain(k.secretAccessKey);
}

describe('rotateNow (normal)', () => {
  it('creates its own version, runs the four steps and deactivates the old key', async () => {
    const world = new World();
    const old = world.seed();
    const events: string[] = [];
    const report = await rotateNow(world, world.managed(), {
      ...now(world),
      onStep: (e: StepEvent) => events.push(`${e.step}:${e.phase}`),
    });
    expect(report).toMatchObject({
      key: 'prod',
      user: 'jenkins-prod',
      outcome: 'rotated',
      oldKeyId: old.accessKeyId,
    });
    expect(report.steps.map((s) => s.step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    expect(events).toEqual([
      'createSecret:started',
      'createSecret:finished',
      'setSecret:started',
      'setSecret:finished',
      'testSecret:started',
      'testSecret:finished',
      'finishSecret:started',
      'finishSecret:finished',
    ]);
    expect(world.holder('AWSCURRENT')?.[0]).toBe(report.token);
    expect(world.keyIdIn('AWSCURRENT')).toBe(report.newKeyId);
    expect(world.holder('AWSPENDING')).toBeUndefined();
    expect(world.keys.get(old.accessKeyId)?.status).toBe('Inactive');
    expect(world.jenkins.get('prod/main')).toBe(report.newKeyId);
  });

  it('refuses, changing nothing, while Secrets Manager is rotating the secret', async () => {
    const world = new World();
    world.seed();
    world.versions().set('v-rotate-secret', { stages: ['AWSPENDING'] });
    const report = await rotateNow(world, world.managed(), now(world));
    expect(report.outcome).toBe('failed');
    expect(report.failedStep).toBe('createSecret');
    expect(report.error).toMatchObject({ code: 'RotationInProgress' });
    expect(report.error?.message).toMatch(
      /unfinished rotation \(AWSPENDING on version v-rotate-secret\).*--resume.*--abandon/,
    );
    expect(world.writes).toEqual([]);
  });

  it('undoes a failed rotation so that it blocks nothing: new key deleted, AWSPENDING removed', async () => {
    const world = new World();
    const old = world.seed();
    world.fail('jenkins.put prod/main AKIA', 'Jenkins answered 503');
    const failed = await rotateNow(world, world.managed(), now(world));
    expect(failed).toMatchObject({ outcome: 'failed', failedStep: 'setSecret' });
    expect(failed.actions).toEqual(expect.arrayContaining([`deleted the new key ${failed.newKeyId ?? '?'}`]));
    expect(world.keysOf('jenkins-prod').map((k) => k.accessKeyId)).toEqual([old.accessKeyId]);
    expect(world.holder('AWSPENDING')).toBeUndefined();
    expect(world.jenkins.get('prod/main')).toBe(old.accessKeyId);
    const again = await rotateNow(world, world.managed(), now(world));
    expect(again.outcome).toBe('rotated');
  });

  it('deletes the old key after a finished rotation when asked', async () => {
    const world = new World();
    const old = world.seed();
    const report = await rotateNow(world, world.managed(), { ...now(world), deleteOld: true });
    expect(report.outcome).toBe('rotated');
    expect(world.keys.has(old.accessKeyId)).toBe(false);
    expect(report.actions).toContain(`deleted key ${old.accessKeyId}`);
  });
});

describe('emergency rotation of the current key', () => {
  it('deactivates the compromised key right after storing the new one, before Jenkins is touched', async () => {
    const world = new World();
    const leaked = world.seed();
    const report = await emergency(world, { userName: 'jenkins-prod' });
    expect(report.outcome).toBe('rotated');
    const stored = at(world, /^sm\.putPending/);
    const revoked = at(world, new RegExp(`^iam\\.setStatus ${leaked.accessKeyId} Inactive`));
    const jenkins = at(world, /^jenkins\.put/);
    expect(revoked).toBe(stored + 1);
    expect(revoked).toBeLessThan(jenkins);
    expect(report.compromisedKey).toEqual({
      accessKeyId: leaked.accessKeyId,
      wasCurrent: true,
      before: 'Active',
      after: 'Inactive',
    });
    expect(report.summary).toMatch(
      new RegExp(`Compromised key ${leaked.accessKeyId} of jenkins-prod is DEACTIVATED`),
    );
    expect(world.keyIdIn('AWSCURRENT')).toBe(report.newKeyId);
    expect(world.logs.find((l) => l.message.startsWith('emergency rotation rotated'))?.level).toBe('warn');
    noSecretsLogged(world);
  });

  it('leaves the key deactivated when Jenkins fails, does not roll Jenkins back to it, and says so', async () => {
    const world = new World();
    const leaked = world.seed();
    world.fail('jenkins.put', 'Jenkins answered 503', true);
    const report = await emergency(world, { userName: 'jenkins-prod' });
    expect(report.outcome).toBe('contained');
    expect(report.compromisedKey.after).toBe('Inactive');
    expect(report.failures).toEqual([
      expect.stringMatching(/rotation failed at setSecret: .*Jenkins answered 503/),
    ]);
    expect(report.summary).toMatch(/is DEACTIVATED, BUT: the rotation failed at setSecret/);
    expect(report.rotation?.warnings.join(' ')).toMatch(/key-rotator rotate jenkins-prod --resume/);
    expect(world.logs.find((l) => l.message.startsWith('EMERGENCY ROTATION CONTAINED'))?.level).toBe('error');

    // Jenkins back, the emergency runs again: it takes the unfinished one over and finishes.
    world.failures.clear();
    const pendingKey = world.keyIdIn('AWSPENDING');
    const again = await emergency(world, { userName: 'jenkins-prod' });
    expect(again.outcome).toBe('rotated');
    expect(again.compromisedKey).toMatchObject({ accessKeyId: leaked.accessKeyId, before: 'Inactive' });
    expect(again.warnings.join(' ')).toMatch(/took over the rotation in flight/);
    expect(world.keys.has(pendingKey ?? '')).toBe(false);
    expect(world.jenkins.get('prod/main')).toBe(again.newKeyId);
  });

  it('when verification fails, Jenkins stays on the new key rather than going back to the revoked one', async () => {
    const world = new World();
    const leaked = world.seed();
    // ECR refuses the new key once, at testSecret (setSecret only uses STS).
    world.fail('ecr.login', 'AccessDeniedException: not authorized to perform ecr:GetAuthorizationToken');
    const report = await emergency(world, { userName: 'jenkins-prod' });
    expect(world.calls.filter((c) => c.startsWith('ecr.login'))).toHaveLength(1);
    expect(report.outcome).toBe('contained');
    expect(report.rotation?.failedStep).toBe('testSecret');
    expect(report.rotation?.error?.message).toMatch(
      new RegExp(
        `the old key ${leaked.accessKeyId} is not active \\(revoked\\), so Jenkins stays on the new key`,
      ),
    );
    expect(world.jenkins.get('prod/main')).toBe(report.newKeyId);
    expect(world.writes.filter((w) => w.startsWith(`jenkins.put prod/main ${leaked.accessKeyId}`))).toEqual(
      [],
    );
  });

  it('with deleteOld deletes the key at once; finishSecret and later rotations cope with the deleted key', async () => {
    const world = new World();
    const leaked = world.seed();
    const report = await emergency(world, { userName: 'jenkins-prod', deleteOld: true });
    expect(report.outcome).toBe('rotated');
    expect(report.compromisedKey.after).toBe('deleted');
    expect(at(world, new RegExp(`^iam\\.delete ${leaked.accessKeyId}`))).toBeLessThan(
      at(world, /^jenkins\.put/),
    );
    const finish = report.rotation?.steps.find((s) => s.step === 'finishSecret');
    expect(finish?.actions).toContain(`previous key ${leaked.accessKeyId} is gone`);
    expect(report.summary).toMatch(/DEACTIVATED and DELETED/);
    expect(world.keyIdIn('AWSPREVIOUS')).toBe(leaked.accessKeyId);

    const later = await rotateNow(world, world.managed(), now(world));
    expect(later.outcome).toBe('rotated');
    expect(world.keys.get(report.newKeyId ?? '')?.status).toBe('Inactive');
  });

  it('after deleteOld and a failed rotation, running the emergency again still replaces the key', async () => {
    const world = new World();
    world.seed();
    world.fail('jenkins.put', 'Jenkins answered 503', true);
    const first = await emergency(world, { userName: 'jenkins-prod', deleteOld: true });
    expect(first.outcome).toBe('contained');
    expect(first.compromisedKey.after).toBe('deleted');
    world.failures.clear();
    // AWSCURRENT now holds a key that no longer exists: expected during an emergency, so the plan accepts it.
    const again = await emergency(world, { userName: 'jenkins-prod', deleteOld: true });
    expect(again.outcome).toBe('rotated');
    expect(again.compromisedKey).toMatchObject({ before: 'absent', after: 'absent' });
  });

  it('deactivates the key anyway when the rotation cannot even create a new key', async () => {
    const world = new World();
    const leaked = world.seed();
    const stranger = world.addKey('jenkins-prod'); // a second active key the rotator does not know
    const report = await emergency(world, { accessKeyId: leaked.accessKeyId });
    expect(report.outcome).toBe('contained');
    expect(report.failures.join(' ')).toMatch(/createSecret: .*second active key/);
    expect(world.keys.get(leaked.accessKeyId)?.status).toBe('Inactive');
    expect(world.keys.get(stranger.accessKeyId)?.status).toBe('Active');
    expect(world.writes.filter((w) => w.startsWith('iam.create'))).toEqual([]);
    expect(report.warnings.join(' ')).toMatch(/revoked after the rotation failed/);
  });

  it('says loudly, with the command to run, when the key could not be deactivated at all', async () => {
    const world = new World();
    const leaked = world.seed();
    world.fail(`iam.setStatus ${leaked.accessKeyId}`, 'AccessDenied', true);
    const report = await emergency(world, { userName: 'jenkins-prod' });
    expect(report.outcome).toBe('failed');
    expect(report.compromisedKey.after).toBe('Active');
    expect(report.summary).toMatch(/is STILL ACTIVE/);
    expect(report.summary).toContain(
      `aws iam update-access-key --user-name jenkins-prod --access-key-id ${leaked.accessKeyId} --status Inactive`,
    );
    expect(world.logs.find((l) => l.message.startsWith('EMERGENCY ROTATION FAILED'))?.level).toBe('error');
  });

  it('createSecret run again after the revocation failed revokes the key (the step converges)', async () => {
    const world = new World();
    const leaked = world.seed();
    const ctx = {
      token: 'tok-emergency',
      deadline: world.t + 60_000,
      direct: true,
      revokeCurrentOnCreate: true,
    };
    world.fail(`iam.setStatus ${leaked.accessKeyId}`);
    const first = await world.engine.createSecret(world.managed(), ctx);
    expect(first.warnings?.join(' ')).toMatch(/could not revoke the current key/);
    expect(world.keys.get(leaked.accessKeyId)?.status).toBe('Active');
    const second = await world.engine.createSecret(world.managed(), ctx);
    expect(second.actions).toContain(
      `revoked the current key at once: deactivated key ${leaked.accessKeyId}`,
    );
    expect(world.keys.get(leaked.accessKeyId)?.status).toBe('Inactive');
  });
});

describe('emergency for a leaked key that is not the current one', () => {
  it('an old inactive key: deleted on request, nothing rotated', async () => {
    const world = new World();
    const old = world.addKey('jenkins-prod', 'Inactive', 200);
    const current = world.seed();
    world.versions().set('v-old', { value: world.secretValue(old), stages: ['AWSPREVIOUS'] });
    const report = await emergency(world, { accessKeyId: old.accessKeyId, deleteOld: true });
    expect(report).toMatchObject({
      outcome: 'revoked',
      compromisedKey: { wasCurrent: false, before: 'Inactive', after: 'deleted' },
    });
    expect(report.summary).toMatch(/it was not the current key, so nothing was rotated/);
    expect(world.keys.has(old.accessKeyId)).toBe(false);
    expect(world.keys.get(current.accessKeyId)?.status).toBe('Active');
    expect(world.writes.filter((w) => /^(iam\.create|sm\.|jenkins\.put)/.test(w))).toEqual([]);
  });

  it('the pending key of a rotation in flight: revoked, Jenkins back on the current key, that rotation abandoned', async () => {
    const world = new World();
    const current = world.seed();
    const pending = world.addKey('jenkins-prod', 'Active', 0);
    world.versions().set('v-rotating', { value: world.secretValue(pending), stages: ['AWSPENDING'] });
    world.jenkins.set('prod/main', pending.accessKeyId); // setSecret had run
    const report = await emergency(world, { accessKeyId: pending.accessKeyId });
    expect(report.outcome).toBe('revoked');
    expect(world.keys.get(pending.accessKeyId)?.status).toBe('Inactive');
    expect(world.jenkins.get('prod/main')).toBe(current.accessKeyId);
    expect(world.holder('AWSPENDING')).toBeUndefined();
    expect(report.actions).toEqual(
      expect.arrayContaining([
        `deactivated key ${pending.accessKeyId}`,
        'put Jenkins target main back on the current key',
        'abandoned the rotation in flight that created it (version v-rotating)',
      ]),
    );
    expect(world.writes.filter((w) => w.startsWith('iam.create'))).toEqual([]);
  });
});

describe('planCreate during an emergency', () => {
  const base = {
    userName: 'jenkins-prod',
    token: 'tok',
    currentKeyId: 'AKIACURRENT000000001',
    now: new Date('2026-11-25T10:00:00Z'),
    stalePending: [],
    keys: [],
    attempts: [],
  };
  it('accepts an AWSCURRENT key that an earlier emergency deleted', () => {
    expect(planCreate({ ...base, currentRevoked: true })).toEqual({
      kind: 'create',
      delete: [],
      clearPendingFrom: [],
      removeAttempts: [],
    });
  });
  it('still refuses it otherwise', () => {
    expect(() => planCreate(base)).toThrow(UnsafeStateError);
  });
});
