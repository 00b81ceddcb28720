import * as z from 'zod';
import { CredentialXmlError, newCredentialXml, parseCredentialXml, replaceKeyInXml } from './credential-xml';
import { JenkinsError, type JenkinsErrorInit } from './errors';
import { JenkinsHttp, sleep, XML_CONTENT_TYPE, type HttpResponse } from './http';
import { credentialPath, describeStore, itemPath, JenkinsPathError, queueItemPath, storePath } from './paths';
import type {
  CredentialDocument,
  CredentialKind,
  JenkinsClientOptions,
  JobRun,
  NewCredential,
  RunJobOptions,
  StoreRef,
} from './types';

import { controllerGate } from './limit';

const optionsSchema = z.object({
  // No user:pass@ (axios would send it instead of our header) and no query or fragment.
  baseUrl: z.url({ protocol: /^https?$/ }).refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u) && !/[?#]/.test(u)),
  auth: z.union([
    z.object({ username: z.string().min(1), apiToken: z.string().min(1) }),
    z.object({ username: z.string().min(1), password: z.string().min(1) }),
  ]),
  timeoutMs: z.number().int().positive().optional(),
  retries: z.number().int().min(0).max(10).optional(),
  caCertificates: z.array(z.string().includes('-----BEGIN CERTIFICATE-----')).optional(),
  maxConcurrent: z.number().int().min(1).max(1000).optional(),
});

/** createCredentials' JSON answer in form mode (credentials ≥ 1488). */
const formAnswerSchema = z.object({
  status: z.string().optional(),
  data: z.object({ message: z.string().optional(), notificationType: z.string().optional() }).optional(),
});
const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const listingSchema = z
  .object({ credentials: z.array(z.object({ id: z.string() }).loose()).optional() })
  .loose();
const queueItemSchema = z
  .object({
    cancelled: z.boolean().optional(),
    executable: z.object({ number: z.number().int() }).loose().nullish(),
  })
  .loose();
const itemsSchema = z
  .object({ jobs: z.array(z.object({ name: z.string(), _class: z.string().optional() }).loose()).optional() })
  .loose();
const computersSchema = z
  .object({
    computer: z
      .array(z.object({ displayName: z.string(), _class: z.string().optional() }).loose())
      .optional(),
  })
  .loose();
const pluginsSchema = z
  .object({
    plugins: z.array(z.object({ shortName: z.string(), active: z.boolean().optional() }).loose()).optional(),
  })
  .loose();
const buildSchema = z.object({ building: z.boolean().optional(), result: z.string().nullish() }).loose();
const whoAmISchema = z
  .object({
    name: z.string(),
    anonymous: z.boolean().optional(),
    authorities: z.array(z.string()).optional(),
  })
  .loose();
const jobSchema = z.object({ buildable: z.boolean().optional(), fullName: z.string().optional() }).loose();

/**
 * The body of the permission probe for Credentials/Update (see `probeCredentialUpdate`): not an XML document (a
 * comment and no root element), so Jenkins' parser rejects it before anything is read into a credential.
 */
export const UPDATE_PROBE_BODY = '<!-- key-rotator doctor: permission probe, not a credential -->';

/** What a permission probe showed: granted, refused (Jenkins named the permission), or not established. */
export type PermissionProbe =
  | { result: 'granted'; evidence: string }
  | { result: 'denied'; permission: string; evidence: string }
  | { result: 'unknown'; evidence: string };

/** Jenkins' permission ids (`X-Required-Permission`) as the UI names them. */
const PERMISSION_NAMES: Record<string, string> = {
  'hudson.model.Hudson.Read': 'Overall/Read',
  'hudson.model.Hudson.Administer': 'Overall/Administer',
  'com.cloudbees.plugins.credentials.CredentialsProvider.View': 'Credentials/View',
  'com.cloudbees.plugins.credentials.CredentialsProvider.Create': 'Credentials/Create',
  'com.cloudbees.plugins.credentials.CredentialsProvider.Update': 'Credentials/Update',
  'com.cloudbees.plugins.credentials.CredentialsProvider.Delete': 'Credentials/Delete',
  'hudson.model.Item.Read': 'Job/Read',
  'hudson.model.Item.Build': 'Job/Build',
  'hudson.model.Item.Discover': 'Job/Discover',
};

/** `Credentials/Update` for `com.cloudbees.plugins.credentials.CredentialsProvider.Update`; unknown ids as they are. */
export const permissionName = (id: string): string => PERMISSION_NAMES[id] ?? id;

/** Wraps a malformed-document problem in the request's terms, so callers handle one error type. */
function badDocument(method: string, path: string, e: unknown): JenkinsError {
  if (e instanceof CredentialXmlError || e instanceof JenkinsPathError) {
    return new JenkinsError({ method, path, reason: 'bad-response', detail: e.message, cause: e });
  }
  throw e;
}

/**
 * Jenkins credentials REST client (jenkins-api.md §2-§4, §8, §9). Only domain methods are public; axios stays in
 * `JenkinsHttp`. Every failure is a `JenkinsError` without secrets; invalid ids or folder paths throw
 * `JenkinsPathError` before any request.
 */
export class JenkinsClient {
  readonly #http: JenkinsHttp;

  constructor(opts: JenkinsClientOptions) {
    const parsed = optionsSchema.safeParse(opts);
    if (!parsed.success) {
      // Name the offending fields only: the issues may quote the token or password.
      const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
      throw new TypeError(`invalid JenkinsClient options: ${fields}`);
    }
    this.#http = new JenkinsHttp({
      baseUrl: opts.baseUrl,
      auth: opts.auth,
      timeoutMs: opts.timeoutMs ?? 10_000,
      retries: opts.retries ?? 2,
      ...(opts.caCertificates ? { caCertificates: opts.caCertificates } : {}),
      ...(opts.maxConcurrent ? { gate: controllerGate(opts.baseUrl, opts.maxConcurrent) } : {}),
    });
  }

  /** GET config.xml; undefined on 404. Returns the raw XML (secrets redacted by Jenkins) and parsed visible fields. */
  async getCredential(store: StoreRef, id: string): Promise<CredentialDocument | undefined> {
    const path = `${credentialPath(store, id)}/config.xml`;
    const res = await this.#getOr404(path, 'xml');
    if (!res) return undefined;
    try {
      return parseCredentialXml(res.body);
    } catch (e) {
      throw badDocument('GET', path, e);
    }
  }

  /** The access key id Jenkins holds (accessKey for AWS, username for usernamePassword), undefined if absent. */
  async readAccessKeyId(store: StoreRef, id: string): Promise<string | undefined> {
    const doc = await this.getCredential(store, id);
    if (!doc) return undefined;
    if (doc.kind === 'other') throw this.#wrongKind(store, id, doc.className);
    return doc.accessKeyId;
  }

  /**
   * Rebuilds the full document from the current config.xml with the new key (every other element kept, in order)
   * and POSTs it to config.xml. Jenkins redacts secrets on GET, so the GET output is never posted back as is (§4.5).
   * Repeating this call with the same key gives the same end state.
   */
  async putKey(
    store: StoreRef,
    id: string,
    key: { accessKeyId: string; secretAccessKey: string },
  ): Promise<void> {
    const path = `${credentialPath(store, id)}/config.xml`;
    const doc = await this.getCredential(store, id);
    if (!doc) {
      throw new JenkinsError({
        method: 'GET',
        path,
        status: 404,
        reason: 'not-found',
        detail: `credential ${id} not found in the ${describeStore(store)} (or not visible)`,
      });
    }
    if (doc.kind === 'other') throw this.#wrongKind(store, id, doc.className);
    // Jenkins ≥ credentials 1317 rejects an id mismatch with 500; older versions would rename the entry (§4.5).
    if (doc.id !== id) {
      throw new JenkinsError({
        method: 'GET',
        path,
        reason: 'bad-response',
        detail: 'config.xml <id> differs from the URL id',
      });
    }
    let xml: string;
    try {
      xml = replaceKeyInXml(doc.xml, doc.kind, key);
    } catch (e) {
      throw badDocument('GET', path, e);
    }
    await this.#http.request({
      method: 'POST',
      path,
      body: xml,
      contentType: XML_CONTENT_TYPE,
      expect: 'empty',
      retry: 'replace',
      sensitive: [key.secretAccessKey],
    });
  }

  /** createCredentials in XML mode (§4.7); 'exists' when the id is already taken in that store (409). */
  async createCredential(store: StoreRef, doc: NewCredential): Promise<'created' | 'exists'> {
    const path = `${storePath(store)}/createCredentials`;
    if (store.kind === 'folder' && doc.scope === 'SYSTEM') {
      throw new JenkinsError({
        method: 'POST',
        path,
        reason: 'bad-response',
        detail: 'folder stores accept GLOBAL scope only',
      });
    }
    credentialPath(store, doc.id); // validates the id the same way as every other call
    let xml: string;
    try {
      xml = newCredentialXml(doc);
    } catch (e) {
      throw badDocument('POST', path, e);
    }
    const res = await this.#http.request({
      method: 'POST',
      path,
      body: xml,
      contentType: XML_CONTENT_TYPE,
      expect: 'empty',
      retry: 'never',
      pass: [409],
      sensitive: [doc.secretAccessKey],
    });
    return res.status === 409 ? 'exists' : 'created';
  }

  /**
   * createCredentials in form mode (jenkins-api.md §4.7): `json={"credentials": {...}}` is bound through the class's
   * constructor, which is the only way to create credentials whose constructor makes something (the oidc-provider
   * plugin's ID-token credentials generate their key pair there; an XML document would have none). With a JSON
   * Accept header (credentials ≥ 1488) Jenkins says whether it was created or the id exists; an older plugin answers
   * 302 either way, so the outcome is then read back: created, or already there. Never retried.
   */
  async createCredentialForm(
    store: StoreRef,
    credential: { $class: string; id: string; scope?: 'GLOBAL' | 'SYSTEM' } & Record<string, unknown>,
  ): Promise<'created' | 'exists'> {
    const path = `${storePath(store)}/createCredentials`;
    credentialPath(store, credential.id);
    const existed = (await this.describeAccess(store, credential.id)).exists;
    if (existed) return 'exists';
    const json = JSON.stringify({ credentials: { scope: 'GLOBAL', ...credential } });
    const res = await this.#http.request({
      method: 'POST',
      path,
      body: new URLSearchParams({ json }).toString(),
      contentType: 'application/x-www-form-urlencoded; charset=utf-8',
      expect: 'any',
      retry: 'never',
      pass: [302, 303],
    });
    const answer = formAnswerSchema.safeParse(safeJson(res.body));
    if (answer.success && answer.data.data?.notificationType === 'ERROR')
      return /already exist/i.test(answer.data.data.message ?? '')
        ? 'exists'
        : this.#formRefused(path, answer.data);
    if (!(await this.describeAccess(store, credential.id)).exists)
      throw new JenkinsError({
        method: 'POST',
        path,
        status: res.status,
        reason: 'bad-response',
        detail: `Jenkins answered ${res.status} but credential ${credential.id} is not in the ${describeStore(store)}: is the plugin that provides ${credential.$class} installed?`,
      });
    return 'created';
  }

  #formRefused(path: string, answer: z.infer<typeof formAnswerSchema>): never {
    throw new JenkinsError({
      method: 'POST',
      path,
      reason: 'bad-response',
      detail: `Jenkins refused the credential: ${answer.data?.message ?? 'no message'}`,
    });
  }

  /**
   * The last lines of a build's console (`consoleText`, Job/Read), to say why a canary failed. Jenkins masks the
   * secrets it bound; the lines are still treated as untrusted text by callers (never logged raw).
   */
  async consoleTail(jobPath: string, build: number, lines = 15): Promise<string[]> {
    const path = `${itemPath('job path', jobPath)}/${build}/consoleText`;
    const res = await this.#http.request({
      method: 'GET',
      path,
      expect: 'any',
      retry: 'idempotent',
      pass: [404],
    });
    if (res.status === 404) return [];
    return res.body
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .slice(-lines);
  }

  /** Jenkins' root URL as configured (Manage Jenkins » System » Jenkins URL): the base of absolute job URLs. */
  async rootUrl(): Promise<string> {
    const path = '/api/json?tree=url';
    const res = await this.#http.request({ method: 'GET', path, expect: 'json', retry: 'idempotent' });
    const parsed = z.object({ url: z.string().url() }).safeParse(JSON.parse(res.body));
    if (!parsed.success) throw this.#badJson(path);
    return parsed.data.url.endsWith('/') ? parsed.data.url : `${parsed.data.url}/`;
  }

  /** DELETE config.xml (§4.6). Resolves when the credential is gone, including when it was already absent (404). */
  async deleteCredential(store: StoreRef, id: string): Promise<void> {
    const path = `${credentialPath(store, id)}/config.xml`;
    await this.#http.request({ method: 'DELETE', path, expect: 'empty', retry: 'idempotent', pass: [404] });
  }

  /**
   * Read-only check for a plan: the store must be visible (else JenkinsError 'not-found': unknown folder, or no
   * Credentials/View), then reports whether the credential exists and which kind it is.
   */
  async describeAccess(
    store: StoreRef,
    id: string,
  ): Promise<{ exists: boolean; kind?: CredentialKind | 'other' }> {
    credentialPath(store, id);
    const path = `${storePath(store)}/api/json?tree=credentials%5Bid%5D`;
    const res = await this.#getOr404(path, 'json');
    if (!res) {
      throw new JenkinsError({
        method: 'GET',
        path,
        status: 404,
        reason: 'not-found',
        detail: `${describeStore(store)} does not exist or is not visible (needs Credentials/View)`,
      });
    }
    const listing = listingSchema.safeParse(JSON.parse(res.body));
    if (!listing.success) {
      throw new JenkinsError({
        method: 'GET',
        path,
        status: res.status,
        reason: 'bad-response',
        detail: 'unexpected listing',
      });
    }
    if (!(listing.data.credentials ?? []).some((c) => c.id === id)) return { exists: false };
    const doc = await this.getCredential(store, id);
    return doc ? { exists: true, kind: doc.kind } : { exists: false };
  }

  /**
   * Who Jenkins takes this client for (`/whoAmI/api/json`, served without Overall/Read): the user id, and whether
   * the request arrived as anonymous (an Authorization header dropped on the way). A bad token is JenkinsError
   * 'unauthorized'.
   */
  async whoAmI(): Promise<{ name: string; anonymous: boolean; authorities: string[] }> {
    const path = '/whoAmI/api/json';
    const res = await this.#http.request({ method: 'GET', path, expect: 'json', retry: 'idempotent' });
    const who = whoAmISchema.safeParse(JSON.parse(res.body));
    if (!who.success) throw this.#badJson(path);
    return {
      name: who.data.name,
      anonymous: who.data.anonymous === true || who.data.name === 'anonymous',
      authorities: who.data.authorities ?? [],
    };
  }

  /** Resolves when the user has Overall/Read (the root API answers); else JenkinsError 'forbidden'. */
  async checkOverallRead(): Promise<void> {
    await this.#http.request({
      method: 'GET',
      path: '/api/json?tree=mode',
      expect: 'json',
      retry: 'idempotent',
    });
  }

  /**
   * Whether the user may update `id` (Credentials/Update), without changing it: POST config.xml with a body that
   * is not XML (`UPDATE_PROBE_BODY`). Jenkins checks Update first (403 naming the permission), then parses the body
   * and fails with 500 before anything is read into a credential (jenkins-api.md §4.5: updateByXml, "Failed to
   * parse credential"), so a 500 shows the permission is granted and nothing changed. It leaves that parse
   * failure in Jenkins' log. Never retried.
   */
  async probeCredentialUpdate(store: StoreRef, id: string): Promise<PermissionProbe> {
    const path = `${credentialPath(store, id)}/config.xml`;
    return this.#probe('Credentials/Update', path, UPDATE_PROBE_BODY, XML_CONTENT_TYPE, [500], (status) =>
      status === 500
        ? 'Jenkins refused the unparsable probe body after its permission check (500): nothing changed'
        : undefined,
    );
  }

  /**
   * Whether the user may create credentials in `store` (Credentials/Create), without creating one: POST
   * createCredentials without a Content-Type. Jenkins checks Create first (403), then answers 400 "No Content-Type
   * header set" (jenkins-api.md §4.7), having added nothing.
   */
  async probeCredentialCreate(store: StoreRef): Promise<PermissionProbe> {
    const path = `${storePath(store)}/createCredentials`;
    return this.#probe('Credentials/Create', path, undefined, undefined, [400], (status) =>
      status === 400
        ? 'Jenkins refused the empty probe request after its permission check (400): nothing was created'
        : undefined,
    );
  }

  /** The job as its API shows it (needs Job/Read): whether it may be built (false: disabled). undefined on 404. */
  async describeJob(jobPath: string): Promise<{ buildable: boolean } | undefined> {
    const path = `${itemPath('job path', jobPath)}/api/json?tree=buildable,fullName`;
    const res = await this.#getOr404(path, 'json');
    if (!res) return undefined;
    const job = jobSchema.safeParse(JSON.parse(res.body));
    if (!job.success) throw this.#badJson(path);
    return { buildable: job.data.buildable !== false };
  }

  /**
   * The items directly in a folder (or at the root): name and class. Read-only (Job/Read); undefined on 404 (the
   * folder does not exist or is not visible).
   */
  async listItems(folder?: string): Promise<{ name: string; className: string }[] | undefined> {
    const path = `${folder ? itemPath('folder path', folder) : ''}/api/json?tree=jobs%5Bname%2C_class%5D`;
    const res = await this.#getOr404(path, 'json');
    if (!res) return undefined;
    const parsed = itemsSchema.safeParse(JSON.parse(res.body));
    if (!parsed.success) throw this.#badJson(path);
    return (parsed.data.jobs ?? []).map((j) => ({ name: j.name, className: j._class ?? '' }));
  }

  /**
   * An item's config.xml (a job's or a folder's): the XML, or `forbidden` (Job/ExtendedRead, which Jenkins ships
   * disabled: then Job/Configure) or `missing`. Read-only: a GET, which Jenkins redacts without Configure.
   */
  async itemConfigXml(fullName: string): Promise<{ xml: string } | 'forbidden' | 'missing'> {
    return this.#readOrDenied(`${itemPath('item path', fullName)}/config.xml`, 'xml');
  }

  /** The agents (not the built-in node, whose config.xml Jenkins refuses to everybody): their names. */
  async listAgents(): Promise<string[] | 'forbidden'> {
    const r = await this.#readOrDenied('/computer/api/json?tree=computer%5BdisplayName%2C_class%5D', 'json');
    if (r === 'forbidden' || r === 'missing') return 'forbidden';
    const parsed = computersSchema.safeParse(JSON.parse(r.xml));
    if (!parsed.success) throw this.#badJson('/computer/api/json');
    return (parsed.data.computer ?? [])
      .filter((c) => !/MasterComputer$/.test(c._class ?? ''))
      .map((c) => c.displayName);
  }

  /** An agent's config.xml (Agent/ExtendedRead, shipped disabled: then Agent/Configure). */
  async agentConfigXml(name: string): Promise<{ xml: string } | 'forbidden' | 'missing'> {
    return this.#readOrDenied(`/computer/${encodeURIComponent(name)}/config.xml`, 'xml');
  }

  /** The installed plugins (the plugin manager needs Overall/SystemRead, Administer while that is disabled). */
  async plugins(): Promise<{ shortName: string; active: boolean }[] | 'forbidden'> {
    const r = await this.#readOrDenied(
      '/pluginManager/api/json?tree=plugins%5BshortName%2Cactive%5D',
      'json',
    );
    if (r === 'forbidden' || r === 'missing') return 'forbidden';
    const parsed = pluginsSchema.safeParse(JSON.parse(r.xml));
    if (!parsed.success) throw this.#badJson('/pluginManager/api/json');
    return (parsed.data.plugins ?? []).map((p) => ({ shortName: p.shortName, active: p.active !== false }));
  }

  /**
   * The Configuration-as-Code export (POST, Overall/SystemRead): the live configuration as YAML, or `forbidden`, or
   * `missing` (the plugin is not installed). Read-only: the export changes nothing.
   */
  async cascExport(): Promise<{ yaml: string } | 'forbidden' | 'missing'> {
    const path = '/configuration-as-code/export';
    try {
      const res = await this.#http.request({
        method: 'POST',
        path,
        body: '',
        contentType: 'application/x-www-form-urlencoded',
        expect: 'any',
        retry: 'never',
        pass: [403, 404],
      });
      if (res.status === 403) return 'forbidden';
      if (res.status === 404) return 'missing';
      return { yaml: res.body };
    } catch (e) {
      if (e instanceof JenkinsError && e.reason === 'forbidden') return 'forbidden';
      throw e;
    }
  }

  /** A GET answered with its body, or `forbidden` (403) / `missing` (404). */
  async #readOrDenied(
    path: string,
    expect: 'json' | 'xml',
  ): Promise<{ xml: string } | 'forbidden' | 'missing'> {
    try {
      const res = await this.#http.request({
        method: 'GET',
        path,
        expect,
        retry: 'idempotent',
        pass: [403, 404],
      });
      if (res.status === 403) return 'forbidden';
      if (res.status === 404) return 'missing';
      return { xml: res.body };
    } catch (e) {
      if (e instanceof JenkinsError && e.reason === 'forbidden') return 'forbidden';
      throw e;
    }
  }

  /** A GET that may be repeated; undefined on 404. */
  async #getOr404(path: string, expect: 'json' | 'xml'): Promise<HttpResponse | undefined> {
    const res = await this.#http.request({ method: 'GET', path, expect, retry: 'idempotent', pass: [404] });
    return res.status === 404 ? undefined : res;
  }

  async #probe(
    permission: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
    pass: number[],
    granted: (status: number) => string | undefined,
  ): Promise<PermissionProbe> {
    try {
      const res = await this.#http.request({
        method: 'POST',
        path,
        ...(body !== undefined ? { body } : {}),
        ...(contentType !== undefined ? { contentType } : {}),
        expect: 'any',
        retry: 'never',
        pass,
      });
      const evidence = granted(res.status);
      return evidence
        ? { result: 'granted', evidence }
        : { result: 'unknown', evidence: `unexpected ${res.status} answer to the probe` };
    } catch (e) {
      if (e instanceof JenkinsError && e.reason === 'forbidden' && e.requiredPermission) {
        const name = permissionName(e.requiredPermission);
        return name === permission
          ? { result: 'denied', permission: name, evidence: `Jenkins refused the probe: 403, needs ${name}` }
          : {
              result: 'denied',
              permission: name,
              evidence: `Jenkins refused the probe first for ${name} (403)`,
            };
      }
      if (e instanceof JenkinsError) return { result: 'unknown', evidence: e.message };
      throw e;
    }
  }

  /**
   * Triggers `buildWithParameters` (parameters as a form body, so they stay out of URLs and access logs; with no
   * parameters and a 400 "not parameterized", `/build` instead; `delay=0sec`, so no quiet period), follows the
   * queue item and then the build until it ends (§8). Resolves with the build result, or `CANCELLED` with number 0
   * when the queue item was cancelled. Rejects with JenkinsError 'timeout' when `timeoutMs` passes or `signal` aborts.
   * The trigger is never repeated: a repeat could start a second build.
   */
  async runJob(jobPath: string, params: Record<string, string>, opts: RunJobOptions): Promise<JobRun> {
    const job = itemPath('job path', jobPath);
    // Adaptive: a canary that takes 50 ms is seen after about 100 ms, a long build is polled every `pollMs`.
    const maxPollMs = opts.pollMs ?? 2000;
    let pollMs = Math.min(opts.firstPollMs ?? 100, maxPollMs);
    const nextPoll = () => {
      const ms = pollMs;
      pollMs = Math.min(maxPollMs, Math.round(pollMs * 1.5));
      return ms;
    };
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), opts.timeoutMs);
    const onAbort = (): void => deadline.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) deadline.abort();
    const signal = deadline.signal;
    let stage = `trigger ${jobPath}`;
    let lastPath = `${job}/buildWithParameters`;
    const get = async (path: string): Promise<unknown> => {
      lastPath = path;
      const res = await this.#http.request({
        method: 'GET',
        path,
        expect: 'json',
        retry: 'idempotent',
        signal,
      });
      return JSON.parse(res.body) as unknown;
    };
    try {
      const trigger = (endpoint: string, body: string): Promise<HttpResponse> => {
        lastPath = `${job}/${endpoint}`;
        return this.#http.request({
          method: 'POST',
          // No quiet period (Jenkins' default is 5 s): the build starts as soon as an executor is free.
          path: `${lastPath}?delay=0sec`,
          body,
          contentType: 'application/x-www-form-urlencoded; charset=utf-8',
          expect: 'empty',
          retry: 'never',
          // 201: queued; 303: an identical item was already queued, follow that one (§8.1).
          pass: [201, 303, ...(Object.keys(params).length === 0 ? [400] : [])],
          signal,
        });
      };
      let queued = await trigger('buildWithParameters', new URLSearchParams(params).toString());
      // 400 "not parameterized" (nothing was queued): a job without parameters is started with /build.
      if (queued.status === 400) queued = await trigger('build', '');
      const location = queued.headers['location'];
      const queuePath = typeof location === 'string' ? queueItemPath(location) : undefined;
      if (!queuePath || (queued.status !== 201 && queued.status !== 303)) {
        throw new JenkinsError({
          method: 'POST',
          path: lastPath,
          status: queued.status,
          reason: 'bad-response',
          detail: 'no queue item Location in the trigger response',
        });
      }

      stage = `wait for ${jobPath} to leave the queue`;
      let number: number | undefined;
      for (;;) {
        await sleep(nextPoll(), signal);
        if (signal.aborted) break;
        const item = queueItemSchema.safeParse(await get(`${queuePath}api/json`));
        if (!item.success) throw this.#badJson(lastPath);
        if (item.data.cancelled) return { number: 0, result: 'CANCELLED' };
        number = item.data.executable?.number;
        if (number !== undefined) break;
      }

      if (number !== undefined) {
        stage = `wait for ${jobPath} #${number} to finish`;
        // The build's own url may name an internal host (§7.3): rebuild it from our base URL.
        const buildPath = `${job}/${number}/api/json?tree=building,result,number`;
        for (;;) {
          const build = buildSchema.safeParse(await get(buildPath));
          if (!build.success) throw this.#badJson(lastPath);
          if (build.data.building !== true && build.data.result) return { number, result: build.data.result };
          await sleep(nextPoll(), signal);
          if (signal.aborted) break;
        }
      }
      throw new JenkinsError({ method: 'GET', path: lastPath, reason: 'timeout', detail: 'aborted' });
    } catch (e) {
      if (signal.aborted && e instanceof JenkinsError && e.reason === 'timeout') {
        const why = opts.signal?.aborted ? 'aborted by the caller' : `not done within ${opts.timeoutMs} ms`;
        throw new JenkinsError({
          method: e.method,
          path: e.path,
          reason: 'timeout',
          detail: `${stage}: ${why}`,
        });
      }
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  #wrongKind(store: StoreRef, id: string, className: string): JenkinsError {
    const init: JenkinsErrorInit = {
      method: 'GET',
      path: `${credentialPath(store, id)}/config.xml`,
      reason: 'bad-response',
      detail: `credential ${id} is a ${className}, not an AWS or username/password credential`,
    };
    return new JenkinsError(init);
  }

  #badJson(path: string): JenkinsError {
    return new JenkinsError({ method: 'GET', path, reason: 'bad-response', detail: 'unexpected JSON shape' });
  }
}
