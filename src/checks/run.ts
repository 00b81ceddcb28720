import {
  CloudTrailClient,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
} from '@aws-sdk/client-cloudtrail';
import type { Composition } from '../compose';
import type { ManagedKey } from '../config';
import { awsErrorName, messageOf } from '../domain/errors';
import { collectInventory, readSecretStates, type Inventory, type SecretState } from '../scan';
import type { Clock, Log } from '../engine/ports';
import { systemClock } from '../engine/ports';
import { cloudTrailFindings, configFindings, userFindings, type Trail } from './findings';
import { bySeverity } from './format';
import { readIamUserFacts } from './iam-facts';
import { checkController, type KnownKeys } from './jenkins';
import { emitPushPolicy, leastPrivilegeFindings } from './least-privilege';
import { SEVERITIES, type CheckReport, type EmittedPolicy, type Finding, type NotChecked } from './types';

export interface CheckOptions {
  clock?: Clock;
  log?: Log;
  /** Only these managed keys (names); default all. */
  keys?: readonly string[];
  /** What the caller has read already (the scan): not read again. */
  inventory?: Inventory;
  states?: readonly SecretState[];
}

/**
 * Every check, read-only: for each managed key its user's least privilege (and the push policy it should have),
 * console access and MFA, its keys and the configuration; CloudTrail in each account and region the keys live in;
 * each Jenkins controller's configuration, Configuration-as-Code, and whether every credential holds the current key.
 */
export async function runChecks(composition: Composition, opts: CheckOptions = {}): Promise<CheckReport> {
  const clock = opts.clock ?? systemClock;
  const now = clock.now();
  const keys = composition.config.keys.filter((k) => !opts.keys || opts.keys.includes(k.name));
  const findings: Finding[] = [];
  const notChecked: NotChecked[] = [];
  const policies: EmittedPolicy[] = [];
  const [inventory, states] = await Promise.all([
    opts.inventory ?? collectInventory(composition, { clock }),
    opts.states ?? readSecretStates(composition, keys),
  ]);
  const own = await composition.ownAccountId();
  const accountOf = (k: ManagedKey) => k.accountId ?? own;

  const known: KnownKeys = new Map();
  for (const s of states) {
    if (s.currentAccessKeyId) known.set(s.currentAccessKeyId, { key: s.key, role: 'current' });
    if (s.pending?.accessKeyId) known.set(s.pending.accessKeyId, { key: s.key, role: 'pending' });
    if (s.previousAccessKeyId && !known.has(s.previousAccessKeyId))
      known.set(s.previousAccessKeyId, { key: s.key, role: 'previous' });
  }

  for (const key of keys) {
    const accountId = accountOf(key);
    const resource = { kind: 'iam-user' as const, id: key.iamUser, accountId, key: key.name };
    const user = inventory.users.find((u) => u.managedKey === key.name);
    const state = states.find((s) => s.key === key.name);
    for (const k of user?.keys ?? [])
      if (!known.has(k.accessKeyId)) known.set(k.accessKeyId, { key: key.name, role: 'other' });
    const facts = await readIamUserFacts(composition.iamFor(key), key.iamUser, resource);
    notChecked.push(...facts.notChecked);
    if (facts.policies) {
      findings.push(
        ...leastPrivilegeFindings({ key: key.name, user: key.iamUser, accountId }, facts.policies, {
          emittedPolicyName: key.name,
          ...(key.rotatedBy === 'self'
            ? {
                self: {
                  userArns: user ? [user.arn] : [],
                  secretName: key.secretId.replace(/^arn:.*:secret:/, '').replace(/-[A-Za-z0-9]{6}$/, ''),
                },
              }
            : {}),
        }),
      );
      policies.push(
        emitPushPolicy(
          { key: key.name, user: key.iamUser, accountId, region: key.verify.ecr.region },
          key.ecrRepositories,
          facts.policies,
        ),
      );
    }
    if (user)
      findings.push(
        ...userFindings(
          {
            key: key.name,
            user: key.iamUser,
            accountId,
            ...(facts.loginProfile !== undefined ? { loginProfile: facts.loginProfile } : {}),
            ...(facts.mfaDevices !== undefined ? { mfaDevices: facts.mfaDevices } : {}),
            keys: user.keys.map((k) => ({
              accessKeyId: k.accessKeyId,
              status: k.status,
              createDate: k.createDate,
              ...(k.lastUsedDate ? { lastUsedDate: k.lastUsedDate } : {}),
            })),
            ...(state?.currentAccessKeyId ? { currentKeyId: state.currentAccessKeyId } : {}),
            ...(state?.pending?.accessKeyId ? { pendingKeyId: state.pending.accessKeyId } : {}),
          },
          now,
          { unusedDays: composition.config.checks.unusedKeyDays },
        ),
      );
    else
      notChecked.push({
        group: 'user',
        resource,
        reason: 'not checked: the user could not be read (see the audit)',
      });
    findings.push(...configFindings(key, accountId));
  }

  // CloudTrail, once per account and region that holds managed keys (the region the keys are used in: ECR's).
  const places = new Map<string, { key: ManagedKey; accountId: string; region: string; names: string[] }>();
  for (const key of keys) {
    const accountId = accountOf(key);
    const region = key.verify.ecr.region;
    const id = `${accountId} ${region}`;
    const p = places.get(id);
    if (p) p.names.push(key.name);
    else places.set(id, { key, accountId, region, names: [key.name] });
  }
  for (const p of places.values()) {
    const r = await readTrails(new CloudTrailClient(composition.settingsFor(p.key, p.region)), p.region);
    const resource = { kind: 'account' as const, id: p.accountId, accountId: p.accountId, region: p.region };
    if ('notChecked' in r) notChecked.push({ group: 'cloudtrail', resource, ...r.notChecked });
    else findings.push(...cloudTrailFindings(p.accountId, p.region, p.names, r.trails));
  }

  // Jenkins, once per controller (and sign-in): its configuration; per managed credential, the key it holds.
  const controllers = new Map<
    string,
    {
      key: ManagedKey;
      target: ManagedKey['jenkins'][number];
      credentials: { key: string; credentialId: string; secretId: string }[];
    }
  >();
  for (const key of keys)
    for (const t of key.jenkins) {
      const id = `${t.url} ${t.user}`;
      const c = controllers.get(id) ?? { key, target: t, credentials: [] };
      if (t.store.kind === 'system')
        c.credentials.push({ key: key.name, credentialId: t.credentialId, secretId: key.secretId });
      controllers.set(id, c);
    }
  const cascOn = new Set<string>();
  for (const c of controllers.values()) {
    const jenkins = { kind: 'jenkins' as const, id: c.target.url, jenkins: c.target.url };
    try {
      const client = await composition.jenkinsClient(c.key, c.target);
      const r = await checkController(client, c.target.url, known, c.credentials);
      findings.push(...r.findings);
      notChecked.push(...r.notChecked);
      if (r.cascInstalled) cascOn.add(c.target.url);
    } catch (err) {
      notChecked.push({
        group: 'jenkins-config',
        resource: jenkins,
        reason: `not checked: ${messageOf(err)}`,
      });
    }
  }
  for (const key of keys) {
    const state = states.find((s) => s.key === key.name);
    if (!state?.currentAccessKeyId || key.rotatedBy === 'self') continue;
    for (const t of key.jenkins) {
      const resource = {
        kind: 'jenkins-credential' as const,
        id: t.credentialId,
        jenkins: t.url,
        key: key.name,
      };
      try {
        const client = await composition.jenkinsClient(key, t);
        const held = await client.readAccessKeyId(t.store, t.credentialId);
        const holds = (s: SecretState) =>
          held === s.currentAccessKeyId || (held !== undefined && held === s.pending?.accessKeyId);
        if (holds(state)) continue;
        // The states may be older than this read (the scan reads them before it starts rotations): read the secret
        // again before saying Jenkins is wrong. A rotation in flight owns its Jenkins credentials: not a finding.
        const [fresh] = await readSecretStates(composition, [key]);
        if (!fresh || fresh.error !== undefined || !fresh.currentAccessKeyId) {
          notChecked.push({
            group: 'jenkins-config',
            resource,
            reason: `not checked: the secret ${key.secretId} could not be read again${fresh?.error ? ` (${fresh.error})` : ''}`,
          });
          continue;
        }
        if (holds(fresh) || fresh.pending) continue;
        findings.push({
          check: 'jenkins-not-on-current-key',
          severity: 'high',
          resource: {
            ...resource,
            location: t.store.kind === 'system' ? 'system store' : `folder ${t.store.path}`,
          },
          title: `Jenkins credential ${t.credentialId} (${t.name}) holds ${held ?? 'no key'}, not the current key ${fresh.currentAccessKeyId} of ${key.name}${cascOn.has(t.url) ? ': a Configuration-as-Code reload or restart puts back what its YAML says' : ''}`,
          detail:
            'pipelines using it fail once that key is deactivated, or keep using a key that should be gone',
          fix: `find what wrote it back${cascOn.has(t.url) ? ' (the casc.yaml: see credential-defined-by-jcasc)' : ''}, then put the current key there: key-rotator rotate ${key.iamUser}`,
        });
      } catch (err) {
        notChecked.push({ group: 'jenkins-config', resource, reason: `not checked: ${messageOf(err)}` });
      }
    }
  }

  findings.sort(bySeverity);
  const counts = Object.fromEntries(
    SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length]),
  ) as Record<(typeof SEVERITIES)[number], number>;
  return {
    at: now.toISOString(),
    findings,
    notChecked,
    policies,
    counts: { ...counts, notChecked: notChecked.length },
  };
}

/** Trails that apply in `region`, with their logging status and whether they record management events. */
async function readTrails(
  ct: CloudTrailClient,
  region: string,
): Promise<{ trails: Trail[] } | { notChecked: Omit<NotChecked, 'group' | 'resource'> }> {
  const denied = (permission: string, err: unknown) => ({
    notChecked: /AccessDenied/.test(awsErrorName(err) ?? '')
      ? { reason: `not checked: missing permission ${permission}`, missingPermission: permission }
      : { reason: `not checked: ${permission} failed (${messageOf(err)})` },
  });
  try {
    let list;
    try {
      list = await ct.send(new DescribeTrailsCommand({ includeShadowTrails: true }));
    } catch (err) {
      return denied('cloudtrail:DescribeTrails', err);
    }
    const trails: Trail[] = [];
    for (const t of list.trailList ?? []) {
      const name = t.TrailARN ?? t.Name ?? '';
      if (!t.IsMultiRegionTrail && t.HomeRegion && t.HomeRegion !== region) continue;
      const trail: Trail = {
        name: t.Name ?? name,
        multiRegion: t.IsMultiRegionTrail === true,
        ...(t.HomeRegion ? { homeRegion: t.HomeRegion } : {}),
      };
      try {
        trail.logging = (await ct.send(new GetTrailStatusCommand({ Name: name }))).IsLogging === true;
      } catch (err) {
        return denied('cloudtrail:GetTrailStatus', err);
      }
      try {
        const sel = await ct.send(new GetEventSelectorsCommand({ TrailName: name }));
        trail.managementEvents =
          (sel.EventSelectors?.some(
            (e) => e.IncludeManagementEvents !== false && e.ReadWriteType !== 'ReadOnly',
          ) ??
            false) ||
          (sel.AdvancedEventSelectors?.some((a) =>
            a.FieldSelectors?.some((f) => f.Field === 'eventCategory' && f.Equals?.includes('Management')),
          ) ??
            false);
      } catch (err) {
        return denied('cloudtrail:GetEventSelectors', err);
      }
      trails.push(trail);
    }
    return { trails };
  } finally {
    ct.destroy();
  }
}
