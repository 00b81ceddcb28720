import type { CallRecord } from '../../localcloud/calls';
import type { ScenarioKey } from '../../localcloud/scenario';

/**
 * The key of the per-rotation measurements (the call-count test, `npm run bench`): two Jenkins targets (the system
 * store, AWS kind; a folder store, username/password kind), ECR with the registry's /v2/, and a canary job.
 * Credential ids are `aws-<name>` and `aws-<name>-up`, the folder `team/deploy`, the canary `ecr-canary-<name>`.
 */
export const oneRotationKey = (name: string): ScenarioKey => ({
  name,
  iamUser: `jenkins-${name}`,
  ageDays: 100,
  secretName: `jenkins/${name}/aws-key`,
  credentials: [
    { store: 'system', credentialId: `aws-${name}`, kind: 'aws' },
    { store: { folder: 'team/deploy' }, credentialId: `aws-${name}-up`, kind: 'usernamePassword' },
  ],
  canary: true,
});

/** How many calls went to each call point. */
export function countByPoint(calls: readonly CallRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) out[c.point] = (out[c.point] ?? 0) + 1;
  return out;
}
