import type { Composition } from '../compose';
import type { ManagedKey } from '../config';
import { messageOf } from '../domain/errors';

export interface JenkinsTargetCheck {
  key: string;
  target: string;
  url: string;
  /** `system`, or the folder path of a folder store. */
  store: string;
  credentialId: string;
  /** The rotation can update (or create) this credential, as far as a read-only check can tell. */
  ok: boolean;
  exists: boolean;
  kind?: 'aws' | 'usernamePassword' | 'other';
  /** What is wrong, or what the check could not prove. */
  detail: string;
}

/**
 * Read-only check of a key's Jenkins targets, for `plan`: the API token is readable, the credential store is
 * visible (Credentials/View), and the credential exists with a kind that holds an AWS key pair, or may be created
 * (`createIfMissing`). Whether the user may also write (Credentials/Update or Create) cannot be seen without
 * writing, which a plan must not do: a missing write permission shows on the first rotation, whose setSecret then
 * puts every target back on the current key.
 */
export async function checkJenkinsTargets(
  composition: Composition,
  key: ManagedKey,
): Promise<JenkinsTargetCheck[]> {
  return Promise.all(
    key.jenkins.map(async (t): Promise<JenkinsTargetCheck> => {
      const base = {
        key: key.name,
        target: t.name,
        url: t.url,
        store: t.store.kind === 'system' ? 'system' : t.store.path,
        credentialId: t.credentialId,
      };
      try {
        // The composition's client: its token and CA certificates (read once), as the rotation uses them.
        const client = await composition.jenkinsClient(key, t);
        const access = await client.describeAccess(t.store, t.credentialId);
        if (!access.exists)
          return t.createIfMissing
            ? {
                ...base,
                ok: true,
                exists: false,
                detail: 'missing; the rotation creates it (needs Credentials/Create)',
              }
            : {
                ...base,
                ok: false,
                exists: false,
                detail: 'the credential does not exist and createIfMissing is false',
              };
        if (access.kind === 'other')
          return {
            ...base,
            ok: false,
            exists: true,
            kind: 'other',
            detail:
              'the credential is neither an AWS credential nor a username/password: it cannot hold the key',
          };
        return {
          ...base,
          ok: true,
          exists: true,
          ...(access.kind ? { kind: access.kind } : {}),
          detail:
            access.kind && access.kind !== t.credentialKind
              ? `exists as ${access.kind}, configured as ${t.credentialKind}: the key is written into the existing kind (needs Credentials/Update)`
              : 'exists and is visible (needs Credentials/Update, which only a write can prove)',
        };
      } catch (err) {
        return { ...base, ok: false, exists: false, detail: messageOf(err) };
      }
    }),
  );
}
