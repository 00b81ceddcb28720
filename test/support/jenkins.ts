import { expect } from 'vitest';
import { JenkinsError } from '../../src/jenkins';
import type { LocalCloud } from '../../localcloud/index';

type Store = 'system' | { folder: string };

/** The plaintext fields of a credential as the Jenkins emulator stores it (secrets included). */
export async function jenkinsCredential(
  cloud: LocalCloud,
  store: Store,
  id: string,
): Promise<Record<string, unknown>> {
  const view = cloud.jenkins.state.credentialView(store, id);
  if (!view) throw new Error(`no credential ${id} in ${JSON.stringify(store)}`);
  return Promise.resolve({ ...view.fields, id: view.id });
}

/** After `skip` matching requests, the next `count` requests whose path contains `path` answer `status`. */
export async function jenkinsFault(
  cloud: LocalCloud,
  fault: { method?: string; path: string; status: number; count?: number; skip?: number },
): Promise<void> {
  const r = await fetch(`${cloud.jenkins.url}/_localcloud/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  if (!r.ok) throw new Error(`fault not set: ${r.status}`);
}

export async function clearJenkinsFaults(cloud: LocalCloud): Promise<void> {
  const r = await fetch(`${cloud.jenkins.url}/_localcloud/faults`, { method: 'DELETE' });
  if (!r.ok) throw new Error(`faults not cleared: ${r.status}`);
}

/** The JenkinsError a promise rejects with (the test fails if it resolves or rejects with anything else). */
export async function jenkinsFailure(p: Promise<unknown>): Promise<JenkinsError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(JenkinsError);
  return e as JenkinsError;
}
