import type { ManagedKey, RotatorConfig } from '../config';
import { diagnoseRotation, type RotationObservation, type RotationProblem } from '../domain/diagnose';
import { deactivatedTag, deactivationDates } from '../engine/engine';
import type { Inventory, InventoryUser, SecretState } from './types';

/** A rotation problem of one managed key (see diagnoseRotation), named by key, user and account. Ids only. */
export interface KeyProblem extends RotationProblem {
  key: string;
  user: string;
  accountId: string;
}

const SEVERITY_RANK: Record<RotationProblem['severity'], number> = { error: 0, warning: 1, info: 2 };

/** Most severe first, then by key name: the order reports list problems in. */
export const bySeverity = (
  a: Pick<KeyProblem, 'severity' | 'key'>,
  b: Pick<KeyProblem, 'severity' | 'key'>,
): number => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.key.localeCompare(b.key);

/** When this tool deactivated each of the user's keys, read as the engine reads its tags. */
export function deactivationDatesOf(user: InventoryUser): Record<string, Date> {
  const tags: Record<string, string> = {};
  for (const [accessKeyId, value] of Object.entries(user.deactivationTags ?? {}))
    tags[deactivatedTag(accessKeyId)] = value;
  return deactivationDates(tags);
}

/**
 * The observation diagnoseRotation needs, built from what the scan (or the CLI's audit and plan) has read anyway:
 * the inventory's keys and tags of the managed user and the secret's stages. No call of its own; the same shape
 * `RotationEngine.observeRotation` reads through the engine's ports.
 */
export function observationOf(user: InventoryUser, state: SecretState, now: Date): RotationObservation {
  const pending = state.pending;
  return {
    now,
    userName: user.userName,
    ...(state.currentVersionId ? { currentVersionId: state.currentVersionId } : {}),
    ...(state.currentAccessKeyId ? { currentKeyId: state.currentAccessKeyId } : {}),
    ...(state.previousAccessKeyId ? { previousKeyId: state.previousAccessKeyId } : {}),
    ...(pending ? { pending } : {}),
    keys: user.keys,
    deactivatedAt: deactivationDatesOf(user),
    attempts: user.attempts ?? [],
  };
}

/** The problems of one managed key, judged with its own policy (what the scan may abandon, and when). */
export function diagnoseKey(
  key: ManagedKey,
  user: InventoryUser,
  state: SecretState,
  now: Date,
): KeyProblem[] {
  const problems = diagnoseRotation(observationOf(user, state, now), {
    abandonAfterHours: key.policy.abandonStuckAfterHours,
  }).map((p) => ({ ...p, key: key.name, user: user.userName, accountId: user.accountId }));
  // A self-rotated key is repaired by its own job next to Jenkins (its next run resumes or finishes): the scan
  // never touches Jenkins for it, so it only reports, with that job as the fix.
  if (key.rotatedBy !== 'self') return problems;
  return problems.map(({ repair: _repair, ...p }) => ({
    ...p,
    ...(p.fix
      ? {
          fix: `the next run of its job next to Jenkins (key-rotator self-rotate ${key.name}) does it; or ${p.fix}`,
        }
      : {}),
  }));
}

/**
 * Every managed key's rotation problems (pure), most severe first. A key whose user or secret could not be read
 * has none here: it is reported as unreadable (or failed) instead.
 */
export function diagnoseKeys(
  inventory: Inventory,
  config: RotatorConfig,
  states: readonly SecretState[],
  now: Date,
): KeyProblem[] {
  const out: KeyProblem[] = [];
  for (const key of config.keys) {
    const user = inventory.users.find((u) => u.managedKey === key.name);
    const state = states.find((s) => s.key === key.name);
    // A keyless key's retired key is AWSCURRENT and inactive by design: nothing to diagnose or repair.
    if (!user || !state || state.error !== undefined || user.keylessSince) continue;
    out.push(...diagnoseKey(key, user, state, now));
  }
  return out.sort(bySeverity);
}
