import type { StoreRef } from './types';

/** Thrown for identifiers that cannot be put into a Jenkins URL safely. */
export class JenkinsPathError extends Error {
  override readonly name = 'JenkinsPathError';
}

function checkSegment(what: string, value: string): string {
  if (value === '' || value === '.' || value === '..') {
    throw new JenkinsPathError(`${what} must not be empty, '.' or '..' (got ${JSON.stringify(value)})`);
  }
  // Jenkins answers 400 to any ';' in the request URI, even percent-encoded ids are unsafe behind proxies (§1).
  if (value.includes(';'))
    throw new JenkinsPathError(`${what} must not contain ';' (got ${JSON.stringify(value)})`);
  if (value.includes('/'))
    throw new JenkinsPathError(`${what} must not contain '/' (got ${JSON.stringify(value)})`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new JenkinsPathError(`${what} must not contain control characters`);
  return encodeURIComponent(value);
}

/** 'team-a/sub' → '/job/team-a/job/sub'; used for folders and jobs. */
export function itemPath(what: string, fullName: string): string {
  if (fullName.trim() === '') throw new JenkinsPathError(`${what} must not be empty`);
  const segments = fullName.replace(/^\/+|\/+$/g, '').split('/');
  return segments.map((s) => `/job/${checkSegment(`${what} segment`, s)}`).join('');
}

/** Path of the global domain of a store, relative to the Jenkins base URL (jenkins-api.md §4.1). */
export function storePath(store: StoreRef): string {
  if (store.kind === 'system') return '/credentials/store/system/domain/_';
  return `${itemPath('folder path', store.path)}/credentials/store/folder/domain/_`;
}

/** Path of one credential (singular `credential/` form, §4.1), without a trailing slash. */
export function credentialPath(store: StoreRef, id: string): string {
  return `${storePath(store)}/credential/${checkSegment('credential id', id)}`;
}

/** A human label for messages: 'system' or 'folder team-a/sub'. */
export function describeStore(store: StoreRef): string {
  return store.kind === 'system' ? 'system store' : `folder store ${store.path}`;
}

/**
 * The queue item path from a buildWithParameters `Location`. Behind a reverse proxy the absolute URL may name an
 * internal host or scheme (§7.3), so only `/queue/item/{id}/` is kept and resolved against our own base URL.
 */
export function queueItemPath(location: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(location, 'http://relative.invalid').pathname;
  } catch {
    return undefined;
  }
  const m = /\/queue\/item\/(\d+)\/?$/.exec(pathname);
  return m ? `/queue/item/${m[1]}/` : undefined;
}
