import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ADMINISTER = 'hudson.model.Hudson.Administer';
const GENERIC_READ = 'hudson.security.Permission.GenericRead';
const GENERIC_WRITE = 'hudson.security.Permission.GenericWrite';
const GENERIC_CREATE = 'hudson.security.Permission.GenericCreate';
const GENERIC_UPDATE = 'hudson.security.Permission.GenericUpdate';
const GENERIC_DELETE = 'hudson.security.Permission.GenericDelete';
const GENERIC_CONFIGURE = 'hudson.security.Permission.GenericConfigure';

/**
 * The permissions the emulator checks, by their UI name (`Group/Name`), with Jenkins' permission id and the
 * `impliedBy` chain that AccessDeniedException3 reports as `X-Permission-Implied-By` (jenkins-api.md §2.5).
 */
export const PERMISSIONS = {
  'Overall/Administer': { id: ADMINISTER, impliedBy: [] },
  'Overall/Read': { id: 'hudson.model.Hudson.Read', impliedBy: [GENERIC_READ, ADMINISTER] },
  'Credentials/View': {
    id: 'com.cloudbees.plugins.credentials.CredentialsProvider.View',
    impliedBy: [GENERIC_READ, ADMINISTER],
  },
  'Credentials/Create': {
    id: 'com.cloudbees.plugins.credentials.CredentialsProvider.Create',
    impliedBy: [GENERIC_CREATE, GENERIC_WRITE, ADMINISTER],
  },
  'Credentials/Update': {
    id: 'com.cloudbees.plugins.credentials.CredentialsProvider.Update',
    impliedBy: [GENERIC_UPDATE, GENERIC_WRITE, ADMINISTER],
  },
  'Credentials/Delete': {
    id: 'com.cloudbees.plugins.credentials.CredentialsProvider.Delete',
    impliedBy: [GENERIC_DELETE, GENERIC_WRITE, ADMINISTER],
  },
  'Credentials/ManageDomains': {
    id: 'com.cloudbees.plugins.credentials.CredentialsProvider.ManageDomains',
    impliedBy: [GENERIC_CONFIGURE, GENERIC_UPDATE, GENERIC_WRITE, ADMINISTER],
  },
  'Job/Build': { id: 'hudson.model.Item.Build', impliedBy: [GENERIC_UPDATE, GENERIC_WRITE, ADMINISTER] },
  'Job/Read': { id: 'hudson.model.Item.Read', impliedBy: [GENERIC_READ, ADMINISTER] },
} as const satisfies Record<string, { id: string; impliedBy: readonly string[] }>;

export type PermissionName = keyof typeof PERMISSIONS;
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as [PermissionName, ...PermissionName[]];

export interface JenkinsUser {
  id: string;
  fullName: string;
  /** Plaintext; undefined = the user cannot log in with a password. */
  password?: string;
  /** Current-format API tokens ('11' + 32 hex), plaintext. */
  apiTokens: string[];
  permissions: Set<PermissionName>;
}

/** Who a request runs as. `user` undefined = anonymous. */
export interface Authentication {
  user?: JenkinsUser;
  /** Authenticated with an API token: the marker that exempts the request from CSRF checks (§3.3). */
  apiToken: boolean;
}

export const newApiToken = (): string => `11${randomBytes(16).toString('hex')}`;
export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');

export function hasPermission(
  auth: Authentication,
  anonymousPermissions: ReadonlySet<PermissionName>,
  permission: PermissionName,
): boolean {
  const granted = auth.user ? auth.user.permissions : anonymousPermissions;
  return granted.has('Overall/Administer') || granted.has(permission);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * BasicHeaderProcessor: only `Basic` is examined (case-insensitively); the secret is tried as an API token first,
 * then as the password. Returns undefined for a header that must be answered with 401.
 */
export function authenticateBasic(
  header: string | undefined,
  users: ReadonlyMap<string, JenkinsUser>,
): Authentication | undefined {
  if (!header || !/^basic /i.test(header)) return { apiToken: false };
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = users.get(decoded.slice(0, colon));
  const secret = decoded.slice(colon + 1);
  if (!user) return undefined;
  if (user.apiTokens.some((t) => safeEqual(t, secret))) return { user, apiToken: true };
  if (user.password !== undefined && safeEqual(user.password, secret)) return { user, apiToken: false };
  return undefined;
}

/**
 * DefaultCrumbIssuer since 2.543: SHA-256 over `userName;sessionId` with a per-instance salt (§3.2).
 */
export function computeCrumb(userName: string, sessionId: string, salt: string): string {
  return createHash('sha256').update(`${userName};${sessionId}`).update(salt, 'ascii').digest('hex');
}

export function crumbMatches(presented: string | undefined, expected: string): boolean {
  return presented !== undefined && safeEqual(presented, expected);
}
