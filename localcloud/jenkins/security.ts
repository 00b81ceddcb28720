import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ADMINISTER = 'hudson.model.Hudson.Administer';
const GENERIC_READ = 'hudson.security.Permission.GenericRead';
const GENERIC_WRITE = 'hudson.security.Permission.GenericWrite';
const GENERIC_CREATE = 'hudson.security.Permission.GenericCreate';
const GENERIC_UPDATE = 'hudson.security.Permission.GenericUpdate';
const GENERIC_DELETE = 'hudson.security.Permission.GenericDelete';
const GENERIC_CONFIGURE = 'hudson.security.Permission.GenericConfigure';

const ITEM_CONFIGURE = 'hudson.model.Item.Configure';
const COMPUTER_CONFIGURE = 'hudson.model.Computer.Configure';

/**
 * The permissions the emulator checks, by their UI name (`Group/Name`), with Jenkins' permission id and the
 * `impliedBy` chain that AccessDeniedException3 reports as `X-Permission-Implied-By` (jenkins-api.md §2.5).
 * `via` is the next permission of that chain the emulator models (Administer implies everything anyway);
 * `toggle` marks the permissions Jenkins ships disabled (README: Permissions).
 */
export const PERMISSIONS = {
  'Overall/Administer': { id: ADMINISTER, impliedBy: [] },
  'Overall/Read': { id: 'hudson.model.Hudson.Read', impliedBy: [GENERIC_READ, ADMINISTER] },
  'Overall/SystemRead': {
    id: 'hudson.model.Hudson.SystemRead',
    impliedBy: [ADMINISTER],
    toggle: 'systemRead',
  },
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
  'Job/Configure': {
    id: ITEM_CONFIGURE,
    impliedBy: [GENERIC_CONFIGURE, GENERIC_UPDATE, GENERIC_WRITE, ADMINISTER],
  },
  'Job/ExtendedRead': {
    id: 'hudson.model.Item.ExtendedRead',
    impliedBy: [ITEM_CONFIGURE, GENERIC_CONFIGURE, GENERIC_UPDATE, GENERIC_WRITE, ADMINISTER],
    via: 'Job/Configure',
    toggle: 'extendedRead',
  },
  'Agent/Configure': {
    id: COMPUTER_CONFIGURE,
    impliedBy: [GENERIC_CONFIGURE, GENERIC_UPDATE, GENERIC_WRITE, ADMINISTER],
  },
  'Agent/ExtendedRead': {
    id: 'hudson.model.Computer.ExtendedRead',
    impliedBy: [COMPUTER_CONFIGURE, GENERIC_CONFIGURE, GENERIC_UPDATE, GENERIC_WRITE, ADMINISTER],
    via: 'Agent/Configure',
    toggle: 'extendedRead',
  },
  'View/Read': { id: 'hudson.model.View.Read', impliedBy: [GENERIC_READ, ADMINISTER] },
} as const satisfies Record<
  string,
  { id: string; impliedBy: readonly string[]; via?: string; toggle?: 'extendedRead' | 'systemRead' }
>;

export type PermissionName = keyof typeof PERMISSIONS;
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as [PermissionName, ...PermissionName[]];

/**
 * The permissions Jenkins ships disabled: `-Dhudson.security.ExtendedReadPermission=true` (Job/ExtendedRead,
 * Agent/ExtendedRead) and `-Djenkins.security.SystemReadPermission=true` (Overall/SystemRead). A disabled
 * permission is never granted by itself: only what implies it counts (matrix-auth skips disabled links).
 */
export interface PermissionToggles {
  extendedRead: boolean;
  systemRead: boolean;
}

type PermissionInfo = {
  id: string;
  impliedBy: readonly string[];
  via?: PermissionName;
  toggle?: keyof PermissionToggles;
};
const info = (p: PermissionName): PermissionInfo => PERMISSIONS[p];

const enabled = (p: PermissionName, toggles: PermissionToggles): boolean => {
  const t = info(p).toggle;
  return t === undefined || toggles[t];
};

/**
 * matrix-auth's AuthorizationContainer.hasPermission: walk the implication chain, skipping disabled links; a grant
 * of any enabled link (or of Overall/Administer) answers yes.
 */
export function grants(
  granted: ReadonlySet<PermissionName>,
  permission: PermissionName,
  toggles: PermissionToggles,
): boolean {
  for (let p: PermissionName | undefined = permission; p !== undefined; p = info(p).via)
    if (enabled(p, toggles) && granted.has(p)) return true;
  return granted.has('Overall/Administer');
}

/** ACL.checkPermission: the permission a denial names is the first enabled one of the chain. */
export function reportedPermission(permission: PermissionName, toggles: PermissionToggles): PermissionName {
  let p = permission;
  while (!enabled(p, toggles)) p = info(p).via ?? 'Overall/Administer';
  return p;
}

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
