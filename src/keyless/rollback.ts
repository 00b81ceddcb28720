import type { Composition } from '../compose';
import type { ManagedKey } from '../config';
import { rotateNow, type RotateNowOptions, type RotateNowReport } from '../engine/rotate-now';
import { KEYLESS_TAG, keylessSince } from './state';

export interface RollbackReport {
  key: string;
  /** Whether the key was marked keyless when the rollback began. */
  wasKeyless: boolean;
  rotation: RotateNowReport;
  notes: string[];
}

/**
 * `keyless rollback`: brings the long-lived key path back when keyless breaks: the keyless mark is removed and a
 * new key goes through the normal rotation (created, written into every Jenkins credential, re-created where
 * `--credential delete` removed it, proven, promoted). The roles and providers stay (harmless; the notes say how to
 * delete them). Running it again after a failure converges: the mark is already gone and the rotation resumes or
 * starts afresh like any `key-rotator rotate`.
 */
export async function rollbackKeyless(
  composition: Composition,
  key: ManagedKey,
  opts: RotateNowOptions = {},
): Promise<RollbackReport> {
  const store = composition.keyStoreFor(key);
  const tags = await store.tags(key.iamUser);
  const since = keylessSince(tags);
  if (since) await store.untag(key.iamUser, KEYLESS_TAG);
  // The Jenkins credential may have been deleted when the key was retired: put it back. The canary job runs the
  // keyless Jenkinsfile now (it cannot prove a stored key): the rotation proves the key with STS, ECR and Jenkins
  // reading it back; the canary runs again at the next rotation, once the jobs are back on the stored credential.
  const withCreate: ManagedKey = {
    ...key,
    jenkins: key.jenkins.map((t) => ({ ...t, createIfMissing: true })),
    verify: { ...key.verify, canary: undefined },
  };
  const rotation = await rotateNow(composition, withCreate, opts);
  return {
    key: key.name,
    wasKeyless: since !== undefined,
    rotation,
    notes: [
      ...(key.verify.canary
        ? [
            `the canary ${key.verify.canary.job} was not run (it runs the keyless Jenkinsfile): switch the jobs back to credential ${key.jenkins[0]?.credentialId ?? ''}; the next rotation runs it again`,
          ]
        : []),
      `the scan rotates ${key.name} again (its rotation schedule is set again by the scan when the key is due)`,
      `the keyless roles stay in IAM (path /jenkins-key-rotator/); jobs on the keyless Jenkinsfile keep working. To remove them: aws iam delete-role-policy and delete-role for each`,
    ],
  };
}
