import { randomBytes } from 'node:crypto';
import { matchesPattern } from '../aws/state';
import { CallLog, takeFault, type CallRecord, type FaultControls } from '../calls';
import {
  CredentialDocumentError,
  credentialId,
  displayName,
  parseCredentialXml,
  type Credential,
  type FieldValue,
} from './credentials';
import { defaultIdTokenConfiguration, type IdTokenConfiguration } from './oidc';
import { DEFAULT_PLUGINS, pluginOf, type PluginInfo } from './plugins';
import { SecretBox } from './secret';
import { applySeed, type SeedInput, type SeedResult } from './seed';
import {
  PERMISSION_NAMES,
  computeCrumb,
  grants,
  newApiToken,
  randomHex,
  type Authentication,
  type JenkinsUser,
  type PermissionName,
  type PermissionToggles,
} from './security';

/** A credential store: `'system'` (root) or the folder store of `team-a/sub`. */
export type StoreRef = 'system' | { folder: string };

export interface Domain {
  /** undefined for the global domain (URL name `_`). */
  name?: string;
  description?: string;
  credentials: Credential[];
}

export interface CredentialStore {
  /** URL name of the store: `system` or `folder` (§4.1). */
  name: 'system' | 'folder';
  /** Keyed by URL name (`_` for the global domain), in insertion order. */
  domains: Map<string, Domain>;
}

/** Project-based matrix grants of an item, by user id ('anonymous' for anonymous): inherited by what it contains. */
export type ItemGrants = Readonly<Record<string, readonly PermissionName[]>>;

export interface FolderSpec {
  description?: string;
  /** Folder environment variables (the folder-properties plugin's FolderProperties). */
  env?: Record<string, string>;
  grants?: ItemGrants;
  /** Serve this document as config.xml instead of one generated from the folder. */
  configXml?: string;
}

export interface Folder {
  kind: 'folder';
  /** '' for the root (Jenkins itself). */
  name: string;
  parent?: Folder;
  items: Map<string, Item>;
  store: CredentialStore;
  spec: FolderSpec;
}

export type JobCheck = 'sts-identity' | 'ecr-login' | 'web-identity' | 'noop';
export type BuildResult = 'SUCCESS' | 'FAILURE' | 'ABORTED';

export type JobType = 'freestyle' | 'pipeline';

/** A build parameter: a name alone is a string parameter with the default "". */
export interface ParameterSpec {
  name: string;
  default?: string;
  description?: string;
  /** hudson.model.PasswordParameterDefinition: the default is a Secret (encrypted in config.xml). */
  password?: boolean;
}

export interface JobSpec {
  /** `canary` or `team-a/canary`; missing folders are created. */
  path: string;
  /** Freestyle (`hudson.model.FreeStyleProject`, default) or Pipeline (`org.jenkinsci.plugins.workflow.job.WorkflowJob`). */
  type?: JobType;
  /** Build parameters. A job without parameters answers buildWithParameters with 400. */
  parameters?: (string | ParameterSpec)[];
  disabled?: boolean;
  check?: JobCheck;
  /** Resolved like Jenkins does: the job's folders from the innermost out, then the system store (GLOBAL scope). */
  credentialId?: string;
  region?: string;
  /** Minimum build duration. */
  durationMs?: number;
  /**
   * sts-identity: the caller ARN the key must authenticate as. web-identity: the assumed-role ARN
   * (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, or without `/SESSION`).
   */
  expectedArn?: string;
  /**
   * web-identity: the role the build assumes with its ID token (the Jenkinsfile's `AWS_ROLE_ARN`); a build parameter
   * named AWS_ROLE_ARN overrides it.
   */
  roleArn?: string;
  /** web-identity: `--role-session-name`; default the build's BUILD_TAG (`jenkins-team-a-canary-7`). */
  roleSessionName?: string;
  /** How long a queued item waits (the quiet period); default 50 ms. */
  quietPeriodMs?: number;
  description?: string;
  /** Environment variables of the EnvInject job property (`propertiesContent`, plain text in config.xml). */
  env?: Record<string, string>;
  /** EnvInject password wrapper entries (freestyle): Secrets, encrypted in config.xml. */
  passwords?: Record<string, string>;
  /** Freestyle: the command of an "Execute shell" build step. */
  shell?: string;
  /** Pipeline: the inline script (CpsFlowDefinition). */
  script?: string;
  grants?: ItemGrants;
  /** Serve this document as config.xml instead of one generated from the spec. */
  configXml?: string;
}

/** The parameters of a job, each with its name and default value. */
export const parametersOf = (spec: JobSpec): Required<ParameterSpec>[] =>
  (spec.parameters ?? []).map((p) =>
    typeof p === 'string'
      ? { name: p, default: '', description: '', password: false }
      : {
          name: p.name,
          default: p.default ?? '',
          description: p.description ?? '',
          password: p.password ?? false,
        },
  );

/** A permanent agent (hudson.slaves.DumbSlave) and its node properties. */
export interface AgentNode {
  name: string;
  description: string;
  remoteFS: string;
  numExecutors: number;
  labels: string;
  /** EnvironmentVariablesNodeProperty of the agent. */
  env: Record<string, string>;
  offline: boolean;
}

/** What the configuration-as-code plugin was configured from. */
export interface CascState {
  /** The configuration sources shown on /configuration-as-code/ (paths or URLs of jenkins.yaml files). */
  sources: string[];
  /**
   * System-store credentials the JCasC source defines, by id, with the values the source gives them: a reload puts
   * these back (so a rotation done over REST is undone by the next reload).
   */
  credentials: Map<string, { domain: string; credential: Credential }>;
}

export interface Job {
  kind: 'job';
  name: string;
  parent: Folder;
  spec: JobSpec;
  builds: Build[];
  nextBuildNumber: number;
}

export type Item = Folder | Job;

export interface Build {
  job: Job;
  number: number;
  queueId: number;
  parameters: [string, string][];
  /** Who triggered it (a user id, or 'anonymous'). */
  triggeredBy: string;
  startedAt: number;
  finishedAt?: number;
  building: boolean;
  result: BuildResult | null;
  /** Console lines, secrets already masked. */
  console: string[];
  /** The access key id the check used, if it got that far. */
  accessKeyId?: string;
  /** web-identity: the header and claims of the ID token the build got (never the token itself). */
  idToken?: { header: Record<string, string>; claims: Record<string, string | number | boolean> };
}

export interface QueueItem {
  id: number;
  job: Job;
  parameters: [string, string][];
  triggeredBy: string;
  inQueueSince: number;
  /** End of the quiet period. */
  buildableAt: number;
  state: 'waiting' | 'left';
  leftAt?: number;
  build?: Build;
  cancelled: boolean;
}

/**
 * A fault of the Jenkins emulator; `skip`, `remaining`, `latencyMs`, `drop`, `crash` and `origin` see FaultControls.
 * It matches a request when every matcher it has does (at least `path` or `point`).
 */
export interface JenkinsFault extends FaultControls {
  id: number;
  method?: string;
  /** Substring of the request path (with query), or `/regex/flags`. */
  path?: string;
  /** Point name pattern, `*` wildcards allowed: `jenkins:POST *credential/aws-ci/config.xml`. */
  point?: string;
  /** Status to answer with (a Jetty error body unless `body`). */
  status?: number;
  body?: string;
  contentType?: string;
}

export interface RequestLogEntry {
  at: string;
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
  /** Authenticated user id, 'anonymous', or null when authentication failed. */
  user: string | null;
  apiToken: boolean;
  fault?: boolean;
}

export interface JenkinsStateOptions {
  /** The call record to share with an AWS emulator (one sequence for both); default: a new one. */
  calls?: CallLog;
  /** CSRF protection (crumbs); default true. */
  csrfEnabled?: boolean;
  /** `X-Jenkins`; default '2.578'. */
  jenkinsVersion?: string;
  /** AWS emulator URL that canary jobs call. */
  awsEndpoint?: string;
}

/** A credential as `/_localcloud/state` shows it: plaintext secrets included. */
export interface CredentialView {
  id: string | null;
  kind: Credential['cls']['kind'];
  className: string;
  displayName: string;
  fields: Record<string, FieldValue>;
}

export const QUEUE_LEFT_ITEM_TTL_MS = 5 * 60 * 1000;

const splitPath = (path: string): string[] => path.split('/').filter((s) => s !== '');

function newStore(name: 'system' | 'folder'): CredentialStore {
  return { name, domains: new Map([['_', { credentials: [] }]]) };
}

/** All state of one emulated Jenkins controller. Mutate it directly in-process or through `/_localcloud/`. */
export class JenkinsState {
  readonly version: string;
  /** X-Jenkins-Session */
  readonly sessionHash = randomHex(4);
  /** Session cookie name, `JSESSIONID.` + 8 hex, new on each start (§3.2). */
  readonly cookieName = `JSESSIONID.${randomHex(4)}`;
  readonly crumbSalt = randomHex(16);
  csrfEnabled: boolean;
  awsEndpoint: string | undefined;
  /** The configured Jenkins URL (with trailing slash), used for absolute build/job URLs in the JSON API. */
  rootUrl = 'http://127.0.0.1/';
  readonly users = new Map<string, JenkinsUser>();
  anonymousPermissions = new Set<PermissionName>();
  readonly sessions = new Map<string, { createdAt: number }>();
  readonly root: Folder;
  readonly queue = new Map<number, QueueItem>();
  nextQueueId = 1;
  faults: JenkinsFault[] = [];
  nextFaultId = 1;
  readonly requests: RequestLogEntry[] = [];
  /** Every outside call, shared with the AWS emulator of the same local cloud. */
  readonly calls: CallLog;
  /** Aborted on close: stops queued and running builds. */
  readonly lifetime = new AbortController();
  readonly admin: JenkinsUser;
  /** The instance's `hudson.util.Secret` key: what config.xml and JCasC exports encrypt secrets with. */
  readonly secrets = new SecretBox();
  /** The permissions Jenkins ships disabled (ExtendedRead, SystemRead): off, as in a default installation. */
  readonly toggles: PermissionToggles = { extendedRead: false, systemRead: false };
  /** `jenkins.globalNodeProperties`: the global environment variables (Manage Jenkins » System). */
  globalEnv: Record<string, string> = {};
  /** Permanent agents by name (the built-in node is always there and is not in this map). */
  readonly nodes = new Map<string, AgentNode>();
  readonly plugins = new Map<string, PluginInfo>(DEFAULT_PLUGINS.map((n) => [n, pluginOf({ shortName: n })]));
  readonly casc: CascState = { sources: [], credentials: new Map() };
  /** The oidc-provider plugin's global configuration (IdTokenConfiguration). */
  idTokenConfig: IdTokenConfiguration = defaultIdTokenConfiguration();

  constructor(opts: JenkinsStateOptions = {}) {
    this.calls = opts.calls ?? new CallLog();
    this.version = opts.jenkinsVersion ?? '2.578';
    this.csrfEnabled = opts.csrfEnabled ?? true;
    this.awsEndpoint = opts.awsEndpoint;
    this.root = { kind: 'folder', name: '', items: new Map(), store: newStore('system'), spec: {} };
    this.admin = this.createUser('admin', { password: randomHex(12), apiTokens: [newApiToken()] });
  }

  // --- users and sessions ---------------------------------------------------------------------------------------

  /** Creates or replaces a user. Default: one fresh API token, no password, every permission. */
  createUser(
    id: string,
    opts: { password?: string; apiTokens?: string[]; permissions?: PermissionName[]; fullName?: string } = {},
  ): JenkinsUser {
    const user: JenkinsUser = {
      id,
      fullName: opts.fullName ?? id,
      apiTokens: opts.apiTokens ?? (opts.password === undefined ? [newApiToken()] : []),
      permissions: new Set(opts.permissions ?? PERMISSION_NAMES),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
    };
    this.users.set(id, user);
    return user;
  }

  /**
   * Whether a request's user has a permission on an item (default: on Jenkins itself): their global permissions plus
   * the grants of the item and its folders, through matrix-auth's implication rule (security.ts `grants`).
   */
  allows(auth: Authentication, permission: PermissionName, item?: Item): boolean {
    const granted = new Set<PermissionName>(auth.user ? auth.user.permissions : this.anonymousPermissions);
    const who = auth.user?.id ?? 'anonymous';
    for (let i: Item | undefined = item; i; i = i.parent)
      for (const p of i.spec.grants?.[who] ?? []) granted.add(p);
    return grants(granted, permission, this.toggles);
  }

  /** Whether the plugin is installed and loaded. */
  hasPlugin(shortName: string): boolean {
    return this.plugins.get(shortName)?.active === true;
  }

  /** Installs a plugin the seeded configuration needs, unless it is there already. */
  ensurePlugin(shortName: string): void {
    if (!this.plugins.has(shortName)) this.plugins.set(shortName, pluginOf({ shortName }));
  }

  newSession(): string {
    const id = `node0${randomBytes(12)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')}${this.sessions.size}`;
    this.sessions.set(id, { createdAt: Date.now() });
    return id;
  }

  /** The crumb Jenkins expects from `userName` in session `sessionId`. */
  crumbFor(userName: string, sessionId: string): string {
    return computeCrumb(userName, sessionId, this.crumbSalt);
  }

  // --- items ------------------------------------------------------------------------------------------------------

  /** The folder at `path` ('' = root); undefined if it (or an ancestor) is missing or a job. */
  folder(path: string): Folder | undefined {
    let f: Folder = this.root;
    for (const name of splitPath(path)) {
      const next = f.items.get(name);
      if (next?.kind !== 'folder') return undefined;
      f = next;
    }
    return f;
  }

  /** Creates the folder and its ancestors as needed. */
  createFolder(path: string): Folder {
    let f: Folder = this.root;
    for (const name of splitPath(path)) {
      const existing = f.items.get(name);
      if (existing?.kind === 'job') throw new Error(`${fullName(existing)} is a job, not a folder`);
      if (existing) {
        f = existing;
        continue;
      }
      const folder: Folder = {
        kind: 'folder',
        name,
        parent: f,
        items: new Map(),
        store: newStore('folder'),
        spec: {},
      };
      f.items.set(name, folder);
      f = folder;
    }
    return f;
  }

  job(path: string): Job | undefined {
    const parts = splitPath(path);
    const name = parts.pop();
    const item = name === undefined ? undefined : this.folder(parts.join('/'))?.items.get(name);
    return item?.kind === 'job' ? item : undefined;
  }

  /** Creates or reconfigures a job (builds are kept when it exists). */
  createJob(spec: JobSpec): Job {
    const parts = splitPath(spec.path);
    const name = parts.pop();
    if (name === undefined) throw new Error('a job needs a name');
    const parent = this.createFolder(parts.join('/'));
    const existing = parent.items.get(name);
    if (existing?.kind === 'folder') throw new Error(`${fullName(existing)} is a folder, not a job`);
    if (existing) {
      existing.spec = spec;
      return existing;
    }
    const job: Job = { kind: 'job', name, parent, spec, builds: [], nextBuildNumber: 1 };
    parent.items.set(name, job);
    return job;
  }

  // --- credentials ------------------------------------------------------------------------------------------------

  store(ref: StoreRef): CredentialStore {
    if (ref === 'system') return this.root.store;
    const folder = this.folder(ref.folder);
    if (!folder || folder === this.root) throw new Error(`no folder ${ref.folder}`);
    return folder.store;
  }

  /** Adds a credential or replaces the one with the same id (seeding semantics, not Jenkins'). */
  putCredential(ref: StoreRef, credential: Credential, domain = '_'): Credential {
    const d = this.domainOf(ref, domain);
    const id = credentialId(credential);
    const at = d.credentials.findIndex((c) => credentialId(c) === id);
    if (at >= 0) d.credentials[at] = credential;
    else d.credentials.push(credential);
    return credential;
  }

  /** Parses and stores a credential document (throws CredentialDocumentError like the REST endpoint would 500). */
  putCredentialXml(ref: StoreRef, xml: string, domain = '_'): Credential {
    return this.putCredential(ref, parseCredentialXml(xml), domain);
  }

  credential(ref: StoreRef, id: string, domain = '_'): Credential | undefined {
    return this.store(ref)
      .domains.get(domain)
      ?.credentials.find((c) => credentialId(c) === id);
  }

  /** Plaintext view of a stored credential, or undefined. */
  credentialView(ref: StoreRef, id: string, domain = '_'): CredentialView | undefined {
    const c = this.credential(ref, id, domain);
    return c && viewOf(c);
  }

  domainOf(ref: StoreRef, domain: string): Domain {
    const store = this.store(ref);
    let d = store.domains.get(domain);
    if (!d) {
      d = { name: domain, description: '', credentials: [] };
      store.domains.set(domain, d);
    }
    return d;
  }

  // --- seeding and inspection -------------------------------------------------------------------------------------

  seed(input: SeedInput): SeedResult {
    return applySeed(this, input);
  }

  /** Everything, secrets in plaintext: what `GET /_localcloud/state` returns. */
  snapshot(): unknown {
    const stores: unknown[] = [];
    const folders: string[] = [];
    const jobs: unknown[] = [];
    const builds: unknown[] = [];
    const visit = (f: Folder) => {
      const ref: StoreRef = f === this.root ? 'system' : { folder: fullName(f) };
      if (f !== this.root) folders.push(fullName(f));
      stores.push({
        store: ref,
        path: `${itemUrl(f)}credentials/store/${f.store.name}/`,
        domains: [...f.store.domains.entries()].map(([urlName, d]) => ({
          urlName,
          credentials: d.credentials.map(viewOf),
        })),
      });
      for (const item of f.items.values()) {
        if (item.kind === 'folder') {
          visit(item);
          continue;
        }
        jobs.push({
          type: 'freestyle',
          ...item.spec,
          path: fullName(item),
          url: this.absoluteUrl(itemUrl(item)),
          nextBuildNumber: item.nextBuildNumber,
        });
        for (const b of item.builds) builds.push(buildView(this, b));
      }
    };
    visit(this.root);
    return {
      url: this.rootUrl,
      jenkinsVersion: this.version,
      csrfEnabled: this.csrfEnabled,
      awsEndpoint: this.awsEndpoint ?? null,
      cookieName: this.cookieName,
      users: [...this.users.values()].map((u) => ({
        id: u.id,
        fullName: u.fullName,
        password: u.password ?? null,
        apiTokens: u.apiTokens,
        permissions: [...u.permissions],
      })),
      anonymousPermissions: [...this.anonymousPermissions],
      sessions: this.sessions.size,
      folders,
      folderSpecs: folders
        .map((path) => ({ path, ...this.folder(path)?.spec }))
        .filter((f) => Object.keys(f).length > 1),
      stores,
      jobs,
      builds,
      toggles: this.toggles,
      globalEnv: this.globalEnv,
      nodes: [...this.nodes.values()],
      plugins: [...this.plugins.values()],
      idToken: this.idTokenConfig,
      casc: {
        installed: this.hasPlugin('configuration-as-code'),
        sources: this.casc.sources,
        credentials: [...this.casc.credentials.values()].map((c) => ({
          domain: c.domain,
          ...viewOf(c.credential),
        })),
      },
      queue: [...this.queue.values()].map((q) => ({
        id: q.id,
        job: fullName(q.job),
        state: q.state,
        parameters: Object.fromEntries(q.parameters),
        inQueueSince: new Date(q.inQueueSince).toISOString(),
        ...(q.build ? { buildNumber: q.build.number } : {}),
      })),
      faults: this.faults,
    };
  }

  absoluteUrl(path: string): string {
    return this.rootUrl.replace(/\/$/, '') + path;
  }

  /** Takes the fault that applies to the request (see takeFault for `skip` and `count`). */
  takeFault(method: string, url: string, call: CallRecord): JenkinsFault | undefined {
    return takeFault(
      this.faults,
      call,
      (f) =>
        (!f.method || f.method.toUpperCase() === method) &&
        (f.path === undefined || faultMatches(f.path, url)) &&
        (f.point === undefined || matchesPattern(f.point, call.point)),
    );
  }
}

function faultMatches(pattern: string, url: string): boolean {
  const re = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  if (re?.[1] !== undefined) {
    try {
      return new RegExp(re[1], re[2]).test(url);
    } catch {
      return false;
    }
  }
  return url.includes(pattern);
}

export function viewOf(c: Credential): CredentialView {
  return {
    id: credentialId(c) ?? null,
    kind: c.cls.kind,
    className: c.cls.className,
    displayName: displayName(c),
    fields: Object.fromEntries(
      c.cls.fields.flatMap((f): [string, FieldValue][] => {
        const v = c.values[f.name];
        return v === undefined ? [] : [[f.name, f.internal ? INTERNAL_SHOWN_AS : v]];
      }),
    ),
  };
}

/** How `/_localcloud/state` shows a value that never leaves Jenkins (an ID-token credential's private key). */
export const INTERNAL_SHOWN_AS = '(held by Jenkins, never shown)';

export function buildView(state: JenkinsState, b: Build): unknown {
  return {
    job: fullName(b.job),
    number: b.number,
    url: state.absoluteUrl(`${itemUrl(b.job)}${b.number}/`),
    queueId: b.queueId,
    parameters: Object.fromEntries(b.parameters),
    triggeredBy: b.triggeredBy,
    building: b.building,
    result: b.result,
    startedAt: new Date(b.startedAt).toISOString(),
    finishedAt: b.finishedAt === undefined ? null : new Date(b.finishedAt).toISOString(),
    accessKeyId: b.accessKeyId ?? null,
    idToken: b.idToken ?? null,
    console: b.console.join('\n'),
  };
}

/** `team-a/sub/canary`; '' for the root. */
export function fullName(item: Item): string {
  const names: string[] = [];
  for (let i: Item | undefined = item; i && i.name !== ''; i = i.parent) names.unshift(i.name);
  return names.join('/');
}

/** `/job/team-a/job/canary/` (root: `/`). */
export function itemUrl(item: Item): string {
  const name = fullName(item);
  return name === ''
    ? '/'
    : `/${name
        .split('/')
        .map((n) => `job/${encodeURIComponent(n)}`)
        .join('/')}/`;
}

/** Store operations with Jenkins' semantics (used by the REST endpoints). */
export function addCredential(domain: Domain, credential: Credential): boolean {
  const id = credentialId(credential);
  // IdCredentials.Helpers.equals dereferences the id: a null id NPEs as soon as there is something to compare with.
  if (id === undefined && domain.credentials.length > 0)
    throw new CredentialDocumentError('java.lang.NullPointerException');
  if (domain.credentials.some((c) => credentialId(c) === id)) return false;
  domain.credentials.push(credential);
  return true;
}

/** updateCredentials ≥ credentials 1317: the replacement must keep the id; the type may change. */
export function updateCredential(domain: Domain, current: Credential, replacement: Credential): void {
  if (credentialId(replacement) !== credentialId(current))
    throw new CredentialDocumentError(
      "java.lang.IllegalArgumentException: Credentials' IDs do not match, will not update.",
    );
  const at = domain.credentials.indexOf(current);
  if (at >= 0) domain.credentials[at] = replacement;
}

export function removeCredential(domain: Domain, current: Credential): boolean {
  const at = domain.credentials.indexOf(current);
  if (at < 0) return false;
  domain.credentials.splice(at, 1);
  return true;
}
