import type { Composition } from '../compose';
import type { ManagedKey } from '../config';
import { messageOf } from '../domain/errors';
import type { PermissionProbe } from '../jenkins';

export interface JenkinsTargetCheck {
  key: string;
  target: string;
  url: string;
  /** `system`, or the folder path of a folder store. */
  store: string;
  credentialId: string;
  /** The rotation can update (or create) this credential: it exists (or may be created) and the write is granted. */
  ok: boolean;
  exists: boolean;
  kind?: 'aws' | 'usernamePassword' | 'other';
  /**
   * The write permission the rotation needs (Credentials/Update, or Credentials/Create for a credential it
   * creates), proven without writing: `granted`, `denied`, or `unknown` when the probe did not tell. Absent when the
   * check stopped before the probe.
   */
  write?: 'granted' | 'denied' | 'unknown';
  /** What is wrong, or what the check could not prove. */
  detail: string;
}

/**
 * The check of a key's Jenkins targets, for `plan`, which writes nothing: the API token is readable, the credential
 * store is visible (Credentials/View), the credential exists with a kind that holds an AWS key pair, or may be
 * created (`createIfMissing`), and the rotator's user may write it. The write permission is proven the way
 * `doctor` does (JenkinsClient.probeCredentialUpdate / probeCredentialCreate): a POST that Jenkins refuses after
 * its permission check and before any change (403 naming the permission: not granted; 500 for an unparsable
 * config.xml, or 400 for createCredentials without a body: granted). Nothing in the store changes either way; the
 * probe leaves a parse failure in Jenkins' log.
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
            ? withWrite(
                { ...base, exists: false },
                'missing; the rotation creates it',
                await client.probeCredentialCreate(t.store),
              )
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
        return withWrite(
          { ...base, exists: true, ...(access.kind ? { kind: access.kind } : {}) },
          access.kind && access.kind !== t.credentialKind
            ? `exists as ${access.kind}, configured as ${t.credentialKind}: the key is written into the existing kind`
            : 'exists',
          await client.probeCredentialUpdate(t.store, t.credentialId),
        );
      } catch (err) {
        return { ...base, ok: false, exists: false, detail: messageOf(err) };
      }
    }),
  );
}

/** The check's outcome from the write probe: ok only when Jenkins showed the permission is granted. */
function withWrite(
  check: Omit<JenkinsTargetCheck, 'ok' | 'detail' | 'write'>,
  found: string,
  probe: PermissionProbe,
): JenkinsTargetCheck {
  if (probe.result === 'granted')
    return { ...check, ok: true, write: 'granted', detail: `${found}; writable: ${probe.evidence}` };
  if (probe.result === 'denied')
    return {
      ...check,
      ok: false,
      write: 'denied',
      detail: `${found}, but not writable by this user: it lacks ${probe.permission} (${probe.evidence}); the rotation would fail at setSecret`,
    };
  return {
    ...check,
    ok: false,
    write: 'unknown',
    detail: `${found}, but the write permission could not be proven (${probe.evidence}); key-rotator doctor shows every check`,
  };
}
