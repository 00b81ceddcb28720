import type { IncomingMessage } from 'node:http';
import {
  CREDENTIAL_CLASSES,
  CredentialDocumentError,
  credentialFromForm,
  pluginOfClass,
  credentialId,
  displayName,
  parseCredentialXml,
  toRedactedXml,
  type Credential,
} from './credentials';
import { api, can, deny, isApiJson, notFound, page, redirect, requestOrigin, type Ctx } from './context';
import { ExportMap, bean, type Bean } from './export';
import { buildBean, groupBean, jobBean, queueItem, queueItemBean, scheduleBuild } from './jobs';
import { itemConfigXml, primaryViewConfigXml, routeCasc, routeComputers, routePluginManager } from './manage';
import { routeIdTokenDescriptor } from './oidc-routes';
import {
  escapeHtml,
  sendEmpty,
  sendFailure,
  sendJettyError,
  sendOops,
  sendRequirePost,
  sendText,
} from './pages';
import {
  addCredential,
  fullName,
  removeCredential,
  updateCredential,
  type Build,
  type CredentialStore,
  type Domain,
  type Folder,
  type Job,
  type QueueItem,
  parametersOf,
} from './state';

const acceptsJson = (req: IncomingMessage): boolean =>
  (req.headers.accept ?? '').includes('application/json');

/** CharacterEncodingFilter + getReader(): the charset of Content-Type, else ISO-8859-1 for XML, else UTF-8. */
export function decodeBody(body: Buffer, contentType: string | undefined): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  const xml = contentType !== undefined && /^(application|text)\/xml/.test(contentType);
  const effective = charset ?? (xml ? 'iso-8859-1' : 'utf-8');
  if (effective === 'iso-8859-1' || effective === 'latin1' || effective === 'us-ascii')
    return body.toString('latin1');
  return new TextDecoder(effective).decode(body);
}

// --- dispatch -------------------------------------------------------------------------------------------------

/** Stapler: `/job/a/job/b/…` walks folders (each needs Job/Read, else 404), then the rest is dispatched. */
export function route(ctx: Ctx, segments: string[]): void {
  let group: Folder = ctx.state.root;
  let i = 0;
  while (segments[i] === 'job' && segments[i + 1] !== undefined) {
    const item = group.items.get(segments[i + 1] ?? '');
    if (!item || !can(ctx, 'Job/Read', item)) return notFound(ctx);
    i += 2;
    if (item.kind === 'job') return routeJob(ctx, item, segments.slice(i));
    group = item;
  }
  const rest = segments.slice(i);
  if (rest.length === 0) return page(ctx, group === ctx.state.root ? 'Dashboard' : group.name);
  if (isApiJson(rest))
    return api(
      ctx,
      groupBean(ctx.state, group, (item) => can(ctx, 'Job/Read', item)),
    );
  if (rest[0] === 'credentials') return routeCredentialsAction(ctx, group, rest.slice(1));
  if (rest[0] === 'descriptorByName') return routeIdTokenDescriptor(ctx, group, rest.slice(1));
  if (group === ctx.state.root) {
    if (rest[0] === 'crumbIssuer') return routeCrumbIssuer(ctx, rest.slice(1));
    if (rest[0] === 'queue') return routeQueue(ctx, rest.slice(1));
    if (rest.length === 1 && rest[0] === 'config.xml') return primaryViewConfigXml(ctx);
    if (rest[0] === 'computer') return routeComputers(ctx, rest.slice(1));
    if (rest[0] === 'pluginManager') return routePluginManager(ctx, rest.slice(1));
    if (rest[0] === 'configuration-as-code') return routeCasc(ctx, rest.slice(1));
    if (rest[0] === 'manage' && rest[1] === 'configuration-as-code') return routeCasc(ctx, rest.slice(2));
  } else if (rest.length === 1 && rest[0] === 'config.xml') return itemConfigXml(ctx, group);
  notFound(ctx);
}

// --- crumbs and sessions ----------------------------------------------------------------------------------------

/** The session named by the request's cookie, if it is a live one. */
export function currentSession(ctx: Pick<Ctx, 'state' | 'req'>): string | undefined {
  const cookies = ctx.req.headers.cookie ?? '';
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== ctx.state.cookieName) continue;
    const id = part
      .slice(eq + 1)
      .trim()
      .replace(/\.node0$/, '');
    if (ctx.state.sessions.has(id)) return id;
  }
  return undefined;
}

/** `req.getSession()`: the current session, or a new one announced with Set-Cookie. */
export function ensureSession(ctx: Pick<Ctx, 'state' | 'req' | 'res'>): string {
  const existing = currentSession(ctx);
  if (existing) return existing;
  const id = ctx.state.newSession();
  ctx.res.setHeader('Set-Cookie', `${ctx.state.cookieName}=${id}.node0; Path=/; HttpOnly`);
  return id;
}

function routeCrumbIssuer(ctx: Ctx, rest: string[]): void {
  if (!ctx.state.csrfEnabled) return notFound(ctx);
  const field = 'Jenkins-Crumb';
  const crumb = () => ctx.state.crumbFor(ctx.auth.user?.id ?? 'anonymous', ensureSession(ctx));
  if (isApiJson(rest))
    return api(
      ctx,
      bean('hudson.security.csrf.DefaultCrumbIssuer', { crumb: crumb(), crumbRequestField: field }),
    );
  if (rest.length === 2 && rest[0] === 'api' && rest[1] === 'xml') {
    const value = crumb();
    const xpath = ctx.query.get('xpath')?.replace(/\s/g, '');
    if (xpath === undefined)
      return sendText(
        ctx.res,
        200,
        'application/xml;charset=utf-8',
        `<defaultCrumbIssuer _class='hudson.security.csrf.DefaultCrumbIssuer'><crumb>${value}</crumb><crumbRequestField>${field}</crumbRequestField></defaultCrumbIssuer>`,
      );
    const concat = /^concat\(\/\/crumbRequestField,["'](.)["'],\/\/crumb\)$/.exec(xpath);
    if (concat?.[1])
      return sendText(ctx.res, 200, 'text/plain;charset=utf-8', `${field}${concat[1]}${value}`);
    if (xpath === '/*/crumb/text()' || xpath === '//crumb/text()')
      return sendText(ctx.res, 200, 'text/plain;charset=utf-8', value);
    if (xpath === '/*/crumbRequestField/text()' || xpath === '//crumbRequestField/text()')
      return sendText(ctx.res, 200, 'text/plain;charset=utf-8', field);
    return sendJettyError(ctx.req, ctx.res, 400, 'unsupported xpath in this emulator');
  }
  if (rest.length === 0) return page(ctx, 'Crumb Issuer');
  notFound(ctx);
}

/** `/whoAmI/` is an UnprotectedRootAction: it answers without Overall/Read. */
export function routeWhoAmI(ctx: Ctx, rest: string[]): void {
  const user = ctx.auth.user;
  const who = bean('hudson.security.WhoAmI', {
    anonymous: !user,
    authenticated: true,
    authorities: user ? ['authenticated'] : ['anonymous'],
    details: null,
    name: user?.id ?? 'anonymous',
    toString: user
      ? `UsernamePasswordAuthenticationToken [Principal=${user.id}, Credentials=[PROTECTED], Authenticated=true, Details=null, Granted Authorities=[authenticated]]`
      : 'AnonymousAuthenticationToken [Principal=anonymous, Credentials=[PROTECTED], Authenticated=true, Details=null, Granted Authorities=[anonymous]]',
  });
  if (isApiJson(rest)) return api(ctx, who);
  if (rest.length === 0)
    return page(ctx, 'Who Am I', `<h1>Who Am I?</h1>\n<p>Name: ${escapeHtml(user?.id ?? 'anonymous')}</p>`);
  notFound(ctx);
}

// --- credentials --------------------------------------------------------------------------------------------------

const STORE_CLASSES = {
  system: 'com.cloudbees.plugins.credentials.SystemCredentialsProvider$UserFacingAction',
  folder:
    'com.cloudbees.hudson.plugins.folder.properties.FolderCredentialsProvider$FolderCredentialsProperty$CredentialsStoreActionImpl',
} as const;
const DOMAIN_CLASS = 'com.cloudbees.plugins.credentials.CredentialsStoreAction$DomainWrapper';
const WRAPPER_CLASS = 'com.cloudbees.plugins.credentials.CredentialsStoreAction$CredentialsWrapper';

interface StoreCtx {
  folder: Folder;
  store: CredentialStore;
  /** `system` or `team-a/folder` (CredentialsStoreAction.getFullName). */
  fullName: string;
  fullDisplayName: string;
}

function storeCtx(folder: Folder): StoreCtx {
  const name = fullName(folder);
  const display = folder.store.name === 'system' ? 'System' : 'Folder';
  return {
    folder,
    store: folder.store,
    fullName: name ? `${name}/${folder.store.name}` : folder.store.name,
    fullDisplayName: name ? `${name.split('/').join(' » ')} » ${display}` : display,
  };
}

function domainNames(urlName: string, domain: Domain) {
  const global = urlName === '_';
  return {
    global,
    displayName: global ? 'Global credentials (unrestricted)' : (domain.name ?? urlName),
    description: global
      ? 'Credentials that should be available irrespective of domain specification to requirements matching.'
      : (domain.description ?? null),
  };
}

function credentialBean(s: StoreCtx, urlName: string, c: Credential, topLevel: boolean): Bean {
  const id = credentialId(c) ?? null;
  return bean(topLevel ? WRAPPER_CLASS : undefined, {
    description: typeof c.values['description'] === 'string' ? c.values['description'] : null,
    displayName: displayName(c),
    fingerprint: null,
    fullName: `${s.fullName}/${urlName}/${encodeURIComponent(id ?? 'null')}`,
    id,
    typeName: c.cls.typeName,
  });
}

function domainBean(s: StoreCtx, urlName: string, domain: Domain): Bean {
  const names = domainNames(urlName, domain);
  return bean(DOMAIN_CLASS, {
    credentials: domain.credentials.map((c) => credentialBean(s, urlName, c, false)),
    description: names.description,
    displayName: names.displayName,
    fullDisplayName: `${s.fullDisplayName} » ${names.displayName}`,
    fullName: `${s.fullName}/${urlName}`,
    global: names.global,
    urlName,
  });
}

const storeBean = (s: StoreCtx): Bean =>
  bean(STORE_CLASSES[s.store.name], {
    domains: new ExportMap(
      [...s.store.domains.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([n, d]) => [n, domainBean(s, n, d)]),
    ),
  });

function routeCredentialsAction(ctx: Ctx, folder: Folder, rest: string[]): void {
  const s = storeCtx(folder);
  const visible = can(ctx, 'Credentials/View');
  if (rest.length === 0) return page(ctx, 'Credentials');
  if (isApiJson(rest))
    return api(
      ctx,
      bean('com.cloudbees.plugins.credentials.ViewCredentialsAction', {
        stores: new ExportMap(visible ? [[s.store.name, storeBean(s)]] : []),
      }),
    );
  // ViewCredentialsAction.getStore: null (→ 404) for an unknown store or one the caller cannot view (§4.2).
  if (rest[0] !== 'store' || rest[1] !== s.store.name || !visible) return notFound(ctx);
  const r = rest.slice(2);
  if (r.length === 0) return page(ctx, s.fullDisplayName);
  if (isApiJson(r)) return api(ctx, storeBean(s));
  if (r[0] !== 'domain' || r[1] === undefined) return notFound(ctx);
  const urlName = r[1];
  const domain = s.store.domains.get(urlName);
  if (!domain) return notFound(ctx);
  const d = r.slice(2);
  if (d.length === 0) return page(ctx, domainNames(urlName, domain).displayName);
  if (isApiJson(d)) return api(ctx, domainBean(s, urlName, domain));
  if (d.length === 1 && d[0] === 'createCredentials') return createCredentials(ctx, domain, urlName);
  if ((d[0] === 'credential' || d[0] === 'credentials') && d[1] !== undefined) {
    const id = d[1];
    const credential = domain.credentials.find((c) => credentialId(c) === id);
    if (!credential) return notFound(ctx);
    const c = d.slice(2);
    if (c.length === 0) return page(ctx, displayName(credential));
    if (isApiJson(c)) return api(ctx, credentialBean(s, urlName, credential, true));
    if (c.length === 1 && c[0] === 'config.xml') return credentialConfigXml(ctx, domain, credential);
    if (c.length === 1 && c[0] === 'doDelete') return doDelete(ctx, domain, credential);
  }
  notFound(ctx);
}

/** An unhandled exception inside Stapler → the `/oops` page. */
function oopsOn<T>(ctx: Ctx, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CredentialDocumentError || err instanceof SyntaxError || err instanceof RangeError) {
      sendOops(ctx.res, ctx.state);
      return undefined;
    }
    throw err;
  }
}

/** The credential classes XStream and Stapler can resolve: those of the installed, active plugins. */
const installedClasses = (ctx: Ctx) =>
  CREDENTIAL_CLASSES.filter((c) => ctx.state.hasPlugin(pluginOfClass(c)));

/** DomainWrapper.doCreateCredentials (§4.7). */
function createCredentials(ctx: Ctx, domain: Domain, urlName: string): void {
  if (ctx.method !== 'POST') return sendRequirePost(ctx.res, ctx.state);
  if (!can(ctx, 'Credentials/Create')) return deny(ctx, 'Credentials/Create');
  const contentType = ctx.req.headers['content-type'];
  if (contentType === undefined) return sendFailure(ctx.res, ctx.state, 'No Content-Type header set');
  if (contentType.startsWith('application/xml') || contentType.startsWith('text/xml')) {
    const added = oopsOn(ctx, () =>
      addCredential(domain, parseCredentialXml(decodeBody(ctx.body, contentType), installedClasses(ctx))),
    );
    if (added === undefined) return;
    return sendEmpty(ctx.res, added ? 200 : 409);
  }
  const json = ctx.form?.get('json');
  if (json === null || json === undefined)
    return sendJettyError(
      ctx.req,
      ctx.res,
      400,
      ctx.body.length ? 'This page expects a form submission' : 'Nothing is submitted',
    );
  const added = oopsOn(ctx, () =>
    addCredential(domain, credentialFromForm(JSON.parse(json), installedClasses(ctx))),
  );
  if (added === undefined) return;
  if (acceptsJson(ctx.req))
    return notification(
      ctx,
      added ? 'Credentials created' : 'Credentials with specified ID already exist',
      added ? 'SUCCESS' : 'ERROR',
    );
  redirect(ctx, 302, `../../domain/${urlName}`);
}

/** hudson.util.HttpResponses JSON envelope of the form endpoints (credentials ≥ 1488). */
function notification(ctx: Ctx, message: string, notificationType: 'SUCCESS' | 'ERROR'): void {
  sendText(
    ctx.res,
    200,
    'application/json; charset=UTF-8',
    JSON.stringify({ status: 'ok', data: { message, notificationType } }),
  );
}

/** CredentialsWrapper.doConfigDotXml (§4.4–4.6). */
function credentialConfigXml(ctx: Ctx, domain: Domain, credential: Credential): void {
  switch (ctx.method) {
    case 'GET':
      return sendText(ctx.res, 200, 'application/xml;charset=UTF-8', toRedactedXml(credential));
    case 'POST': {
      if (!can(ctx, 'Credentials/Update')) return deny(ctx, 'Credentials/Update');
      const contentType = ctx.req.headers['content-type'];
      const done = oopsOn(ctx, () => {
        updateCredential(
          domain,
          credential,
          parseCredentialXml(decodeBody(ctx.body, contentType), installedClasses(ctx)),
        );
        return true;
      });
      if (done) sendEmpty(ctx.res, 200);
      return;
    }
    case 'DELETE':
      if (!can(ctx, 'Credentials/Delete')) return deny(ctx, 'Credentials/Delete');
      if (removeCredential(domain, credential)) return sendEmpty(ctx.res, 200);
      return sendJettyError(ctx.req, ctx.res, 409);
    default:
      return sendJettyError(ctx.req, ctx.res, 400);
  }
}

function doDelete(ctx: Ctx, domain: Domain, credential: Credential): void {
  if (ctx.method !== 'POST') return sendRequirePost(ctx.res, ctx.state);
  if (!can(ctx, 'Credentials/Delete')) return deny(ctx, 'Credentials/Delete');
  const removed = removeCredential(domain, credential);
  if (acceptsJson(ctx.req))
    return notification(
      ctx,
      removed ? 'Credentials deleted' : 'Failed to delete credentials',
      removed ? 'SUCCESS' : 'ERROR',
    );
  redirect(ctx, 302, removed ? '../..' : '.');
}

// --- jobs, builds, queue ------------------------------------------------------------------------------------------

const PERMALINKS: Record<string, (b: Build) => boolean> = {
  lastBuild: () => true,
  lastCompletedBuild: (b) => !b.building,
  lastSuccessfulBuild: (b) => b.result === 'SUCCESS',
  lastFailedBuild: (b) => b.result === 'FAILURE',
};

function routeJob(ctx: Ctx, job: Job, rest: string[]): void {
  if (rest.length === 0) return page(ctx, job.name);
  if (isApiJson(rest)) return api(ctx, jobBean(ctx.state, job));
  if (rest.length === 1 && rest[0] === 'config.xml') return itemConfigXml(ctx, job);
  if (rest.length === 1 && (rest[0] === 'buildWithParameters' || rest[0] === 'build'))
    return triggerBuild(ctx, job, rest[0] === 'buildWithParameters');
  const key = rest[0] ?? '';
  const permalink = PERMALINKS[key];
  const build = permalink
    ? [...job.builds].reverse().find(permalink)
    : /^\d+$/.test(key)
      ? job.builds.find((b) => b.number === Number(key))
      : undefined;
  if (!build) return notFound(ctx);
  const r = rest.slice(1);
  if (r.length === 0) return page(ctx, `${fullName(job)} #${build.number}`);
  if (isApiJson(r)) return api(ctx, buildBean(ctx.state, build));
  if (r.length === 1 && r[0] === 'consoleText')
    return sendText(ctx.res, 200, 'text/plain;charset=utf-8', build.console.map((l) => `${l}\n`).join(''));
  notFound(ctx);
}

/** ParameterizedJobMixIn.doBuildWithParameters / doBuild (§8). */
function triggerBuild(ctx: Ctx, job: Job, withParameters: boolean): void {
  if (!can(ctx, 'Job/Build')) return deny(ctx, 'Job/Build');
  if (ctx.method !== 'POST') return sendRequirePost(ctx.res, ctx.state);
  const name = fullName(job);
  if (job.spec.disabled) return sendJettyError(ctx.req, ctx.res, 409, `${name} is not buildable`);
  const defined = parametersOf(job.spec);
  if (withParameters && defined.length === 0)
    return sendJettyError(ctx.req, ctx.res, 400, `${name} is not parameterized`);
  if (!withParameters && defined.length > 0)
    return sendJettyError(ctx.req, ctx.res, 400, 'Nothing is submitted');
  const given = (p: string) => ctx.form?.get(p) ?? ctx.query.get(p);
  const parameters: [string, string][] = defined.map((p) => [p.name, given(p.name) ?? p.default]);
  const delay = /^(\d+)\s*(?:sec|secs|s)?$/.exec(ctx.query.get('delay') ?? '');
  const { item, duplicate } = scheduleBuild(
    ctx.state,
    job,
    parameters,
    ctx.auth.user?.id ?? 'anonymous',
    ...(delay?.[1] !== undefined ? [Number(delay[1]) * 1000] : []),
  );
  sendEmpty(ctx.res, duplicate ? 303 : 201, { Location: `${requestOrigin(ctx.req)}/queue/item/${item.id}/` });
}

function routeQueue(ctx: Ctx, rest: string[]): void {
  const readable = (q: QueueItem) => can(ctx, 'Job/Read', q.job);
  if (isApiJson(rest))
    return api(
      ctx,
      bean('hudson.model.Queue', {
        discoverableItems: [],
        items: [...ctx.state.queue.values()]
          .filter((q) => q.state === 'waiting' && readable(q))
          .map((q) => queueItemBean(ctx.state, q)),
      }),
    );
  if (rest[0] === 'item' && rest[1] !== undefined && /^\d+$/.test(rest[1])) {
    const item = queueItem(ctx.state, Number(rest[1]));
    if (!item || !readable(item)) return notFound(ctx);
    const r = rest.slice(2);
    if (isApiJson(r)) return api(ctx, queueItemBean(ctx.state, item));
    if (r.length === 0) return page(ctx, `Queue item ${item.id}`);
  }
  if (rest.length === 0) return page(ctx, 'Queue');
  notFound(ctx);
}
