import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startJenkinsEmulator, type JenkinsEmulator } from '../../localcloud/jenkins/server';
import { JenkinsClient, JenkinsError, type JenkinsAuth, type StoreRef } from '../../src/jenkins';
import { jenkinsFailure } from '../support/jenkins';

// Obviously fake sentinels: easy to grep for in error output.
const ROTATOR_TOKEN = `11${'ab'.repeat(16)}`;
const ROTATOR_PASSWORD = 'rotator-PASSWORD-sentinel-42';
const VIEWER_TOKEN = `11${'cd'.repeat(16)}`;
const OLD = { accessKeyId: 'AKIAFAKEOLD000000001', secretAccessKey: 'old-SECRET-sentinel-0001' };
const NEW = { accessKeyId: 'AKIAFAKENEW000000002', secretAccessKey: 'new-SECRET-sentinel+/&<>0002' };

const SYSTEM: StoreRef = { kind: 'system' };
const SUB: StoreRef = { kind: 'folder', path: 'team-a/sub' };

const UPDATE = 'com.cloudbees.plugins.credentials.CredentialsProvider.Update';
const CREATE = 'com.cloudbees.plugins.credentials.CredentialsProvider.Create';
const DELETE = 'com.cloudbees.plugins.credentials.CredentialsProvider.Delete';

// ----------------------------------------------------------------------------------------------------------------
// A reverse proxy in front of the emulator, mounted under /jenkins. It records what the client sends and can
// answer a path itself (an SSO gateway). It passes the emulator's Host on, so Jenkins' absolute Location headers
// name the emulator's address without the /jenkins prefix: the client must keep only the path (§7.3).

interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}
interface Intercept {
  match: RegExp;
  status: number;
  headers: Record<string, string>;
  body?: string;
}

interface Proxy {
  url: string;
  log: Recorded[];
  intercepts: Intercept[];
  close(): Promise<void>;
}

async function startProxy(target: string): Promise<Proxy> {
  const upstream = new URL(target);
  const log: Recorded[] = [];
  const intercepts: Intercept[] = [];
  const server: Server = createServer((req, res) => {
    const full = req.url ?? '/';
    const path = full.replace(/^\/jenkins(?=\/|$)/, '') || '/';
    log.push({ method: req.method ?? '', path, headers: req.headers });
    const hit = intercepts.find((i) => i.match.test(path));
    if (hit) {
      req.resume();
      res.writeHead(hit.status, hit.headers).end(hit.body ?? '');
      return;
    }
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method ?? 'GET',
        path,
        headers: { ...req.headers, host: upstream.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jenkins`,
    log,
    intercepts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ----------------------------------------------------------------------------------------------------------------

let emu: JenkinsEmulator;
let proxy: Proxy;

async function admin(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${emu.url}/_localcloud/${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const json: unknown = await res.json();
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

type Fields = Record<string, string | number | boolean>;
interface StateView {
  cookieName: string;
  stores: Array<{
    store: 'system' | { folder: string };
    domains: Array<{
      urlName: string;
      credentials: Array<{ id: string | null; className: string; fields: Fields }>;
    }>;
  }>;
  builds: Array<{ job: string; number: number; parameters: Record<string, string>; result: string | null }>;
}

const state = async (): Promise<StateView> => (await admin('GET', 'state')) as StateView;

/** Plaintext fields of a stored credential, from the emulator's state dump. */
async function stored(store: StoreRef, id: string): Promise<Fields | undefined> {
  const s = await state();
  const entry = s.stores.find((x) =>
    store.kind === 'system'
      ? x.store === 'system'
      : typeof x.store === 'object' && x.store.folder === store.path,
  );
  return entry?.domains.find((d) => d.urlName === '_')?.credentials.find((c) => c.id === id)?.fields;
}

const seedStore = (store: StoreRef) => (store.kind === 'system' ? 'system' : { folder: store.path });

const AWS_FIELDS = {
  scope: 'GLOBAL',
  description: 'prod & staging <deploy> "key"',
  iamRoleArn: 'arn:aws:iam::123456789012:role/deployer',
  iamExternalId: 'ext-id-1',
  iamMfaSerialNumber: 'arn:aws:iam::123456789012:mfa/jenkins',
  stsTokenDuration: 1800,
};
const UP_FIELDS = { scope: 'SYSTEM', description: 'AWS key as user/pass & more', usernameSecret: true };

async function seedCredentials(): Promise<void> {
  const credentials = [SYSTEM, SUB].flatMap((store) => [
    {
      store: seedStore(store),
      kind: 'aws',
      id: 'aws-deploy',
      accessKey: OLD.accessKeyId,
      secretKey: OLD.secretAccessKey,
      ...AWS_FIELDS,
    },
    {
      store: seedStore(store),
      kind: 'usernamePassword',
      id: 'aws-userpass',
      username: OLD.accessKeyId,
      password: OLD.secretAccessKey,
      ...UP_FIELDS,
    },
    { store: seedStore(store), kind: 'string', id: 'plain-text', secret: 'string-SECRET-sentinel' },
  ]);
  await admin('POST', 'seed', { credentials });
}

function client(
  auth: JenkinsAuth = { username: 'rotator', apiToken: ROTATOR_TOKEN },
  extra = {},
): JenkinsClient {
  return new JenkinsClient({ baseUrl: proxy.url, auth, timeoutMs: 5000, ...extra });
}
const passwordClient = (): JenkinsClient => client({ username: 'rotator', password: ROTATOR_PASSWORD });

beforeAll(async () => {
  emu = await startJenkinsEmulator();
  proxy = await startProxy(emu.url);
  await admin('POST', 'seed', {
    users: [
      { id: 'rotator', password: ROTATOR_PASSWORD, apiTokens: [ROTATOR_TOKEN] },
      {
        id: 'viewer',
        apiTokens: [VIEWER_TOKEN],
        permissions: ['Overall/Read', 'Job/Read', 'Credentials/View'],
      },
    ],
    folders: ['team-a', 'team-a/sub'],
    jobs: [
      { path: 'canary', parameters: ['CRED_ID'], check: 'noop', durationMs: 100 },
      { path: 'team-a/canary', parameters: ['CRED_ID'], check: 'noop', durationMs: 50 },
      { path: 'plain', check: 'noop' },
    ],
  });
});

afterAll(async () => {
  await proxy?.close();
  await emu?.close();
});

beforeEach(async () => {
  await seedCredentials();
  await admin('DELETE', 'faults');
  proxy.log.length = 0;
  proxy.intercepts.length = 0;
});

// ----------------------------------------------------------------------------------------------------------------

describe('putKey', () => {
  it.each([
    ['system', SYSTEM],
    ['two-deep folder', SUB],
  ])('replaces an AWS key in the %s store and keeps every other field', async (_label, store) => {
    await client().putKey(store, 'aws-deploy', NEW);
    expect(await stored(store, 'aws-deploy')).toEqual({
      ...AWS_FIELDS,
      id: 'aws-deploy',
      accessKey: NEW.accessKeyId,
      secretKey: NEW.secretAccessKey,
    });
    await expect(client().readAccessKeyId(store, 'aws-deploy')).resolves.toBe(NEW.accessKeyId);
  });

  it.each([
    ['system', SYSTEM],
    ['two-deep folder', SUB],
  ])('replaces a username/password key in the %s store and keeps usernameSecret', async (_label, store) => {
    await client().putKey(store, 'aws-userpass', NEW);
    expect(await stored(store, 'aws-userpass')).toEqual({
      ...UP_FIELDS,
      id: 'aws-userpass',
      username: NEW.accessKeyId,
      password: NEW.secretAccessKey,
    });
    await expect(client().readAccessKeyId(store, 'aws-userpass')).resolves.toBe(NEW.accessKeyId);
  });

  it('is idempotent', async () => {
    await client().putKey(SUB, 'aws-deploy', NEW);
    await client().putKey(SUB, 'aws-deploy', NEW);
    expect(await stored(SUB, 'aws-deploy')).toMatchObject({ secretKey: NEW.secretAccessKey });
  });

  it('leaves the other store alone', async () => {
    await client().putKey(SUB, 'aws-deploy', NEW);
    expect(await stored(SYSTEM, 'aws-deploy')).toMatchObject({
      accessKey: OLD.accessKeyId,
      secretKey: OLD.secretAccessKey,
    });
  });

  it('refuses a credential that is neither AWS nor username/password, without writing', async () => {
    const e = await jenkinsFailure(client().putKey(SYSTEM, 'plain-text', NEW));
    expect(e.reason).toBe('bad-response');
    expect(e.message).toMatch(/StringCredentialsImpl/);
    expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(0);
  });
});

describe('getCredential', () => {
  it('returns the redacted XML and the visible fields', async () => {
    const doc = await client().getCredential(SUB, 'aws-deploy');
    expect(doc).toMatchObject({
      kind: 'aws',
      id: 'aws-deploy',
      scope: 'GLOBAL',
      description: AWS_FIELDS.description,
      accessKeyId: OLD.accessKeyId,
      redacted: ['secretKey'],
    });
    expect(doc?.fields['iamExternalId']).toBe('ext-id-1');
    expect(doc?.xml).toContain('<secret-redacted/>');
    expect(doc?.xml).not.toContain(OLD.secretAccessKey);
  });
});

describe('authentication and CSRF', () => {
  it('with an API token: no crumb request, no crumb header, no cookie', async () => {
    await client().putKey(SYSTEM, 'aws-deploy', NEW);
    await client().createCredential(SYSTEM, { kind: 'aws', id: 'fresh', ...NEW });
    expect(proxy.log.map((r) => r.path)).not.toContain('/crumbIssuer/api/json');
    for (const post of proxy.log.filter((r) => r.method === 'POST')) {
      expect(post.headers['jenkins-crumb']).toBeUndefined();
      expect(post.headers.cookie).toBeUndefined();
      expect(post.headers['content-type']).toBe('application/xml; charset=utf-8');
    }
  });

  it('with a password: one crumb, sent with the session cookie on every POST', async () => {
    const { cookieName } = await state();
    const c = passwordClient();
    await c.putKey(SYSTEM, 'aws-deploy', NEW);
    await c.putKey(SUB, 'aws-userpass', NEW);
    await expect(c.createCredential(SUB, { kind: 'usernamePassword', id: 'fresh', ...NEW })).resolves.toBe(
      'created',
    );
    expect(proxy.log.filter((r) => r.path === '/crumbIssuer/api/json')).toHaveLength(1);
    const posts = proxy.log.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(3);
    for (const post of posts) {
      expect(post.headers['jenkins-crumb']).toMatch(/^[0-9a-f]{64}$/);
      expect(post.headers.cookie).toMatch(new RegExp(`^${cookieName.replace('.', '\\.')}=`));
    }
    expect(await stored(SUB, 'aws-userpass')).toMatchObject({ password: NEW.secretAccessKey });
  });

  it('with a password: fetches a new crumb once when the session is gone', async () => {
    const c = passwordClient();
    await c.putKey(SYSTEM, 'aws-deploy', OLD);
    await admin('DELETE', 'sessions');
    await c.putKey(SYSTEM, 'aws-deploy', NEW);
    expect(proxy.log.filter((r) => r.path === '/crumbIssuer/api/json')).toHaveLength(2);
    expect(await stored(SYSTEM, 'aws-deploy')).toMatchObject({ secretKey: NEW.secretAccessKey });
  });

  it('a wrong token is unauthorized (401)', async () => {
    const e = await jenkinsFailure(
      client({ username: 'rotator', apiToken: `11${'00'.repeat(16)}` }).getCredential(SYSTEM, 'aws-deploy'),
    );
    expect(e).toMatchObject({ reason: 'unauthorized', status: 401, method: 'GET' });
    expect(e.path).toBe('/credentials/store/system/domain/_/credential/aws-deploy/config.xml');
  });

  it('a missing permission is forbidden with the required permission', async () => {
    const viewer = client({ username: 'viewer', apiToken: VIEWER_TOKEN });
    expect(await jenkinsFailure(viewer.putKey(SUB, 'aws-deploy', NEW))).toMatchObject({
      reason: 'forbidden',
      status: 403,
      method: 'POST',
      requiredPermission: UPDATE,
    });
    expect(
      await jenkinsFailure(viewer.createCredential(SYSTEM, { kind: 'aws', id: 'x', ...NEW })),
    ).toMatchObject({
      reason: 'forbidden',
      requiredPermission: CREATE,
    });
    expect(await jenkinsFailure(viewer.deleteCredential(SYSTEM, 'aws-deploy'))).toMatchObject({
      reason: 'forbidden',
      requiredPermission: DELETE,
    });
    expect(await stored(SUB, 'aws-deploy')).toMatchObject({ secretKey: OLD.secretAccessKey });
  });

  it('a read-only user can still plan', async () => {
    const viewer = client({ username: 'viewer', apiToken: VIEWER_TOKEN });
    await expect(viewer.describeAccess(SUB, 'aws-deploy')).resolves.toEqual({ exists: true, kind: 'aws' });
    await expect(viewer.describeAccess(SYSTEM, 'aws-userpass')).resolves.toEqual({
      exists: true,
      kind: 'usernamePassword',
    });
    await expect(viewer.describeAccess(SYSTEM, 'plain-text')).resolves.toEqual({
      exists: true,
      kind: 'other',
    });
    await expect(viewer.describeAccess(SYSTEM, 'missing')).resolves.toEqual({ exists: false });
  });
});

describe('absent things', () => {
  it('an unknown credential reads as undefined', async () => {
    await expect(client().getCredential(SYSTEM, 'missing')).resolves.toBeUndefined();
    await expect(client().readAccessKeyId(SUB, 'missing')).resolves.toBeUndefined();
    await expect(
      client().getCredential({ kind: 'folder', path: 'nope' }, 'aws-deploy'),
    ).resolves.toBeUndefined();
  });

  it('putKey on an unknown credential is not-found and creates nothing', async () => {
    expect(await jenkinsFailure(client().putKey(SUB, 'missing', NEW))).toMatchObject({
      reason: 'not-found',
      status: 404,
    });
    expect(await stored(SUB, 'missing')).toBeUndefined();
  });

  it('describeAccess on an unknown folder is not-found', async () => {
    const e = await jenkinsFailure(
      client().describeAccess({ kind: 'folder', path: 'team-a/nope' }, 'aws-deploy'),
    );
    expect(e).toMatchObject({ reason: 'not-found', status: 404 });
    expect(e.message).toMatch(/folder store team-a\/nope/);
  });
});

describe('createCredential and deleteCredential', () => {
  it('creates, reports an existing id, deletes, and deletes again quietly', async () => {
    const doc = {
      kind: 'aws' as const,
      id: 'created-aws',
      description: 'made by <test> & co',
      iamRoleArn: 'arn:aws:iam::1:role/r',
      ...NEW,
    };
    await expect(client().createCredential(SUB, doc)).resolves.toBe('created');
    expect(await stored(SUB, 'created-aws')).toEqual({
      scope: 'GLOBAL',
      id: 'created-aws',
      description: 'made by <test> & co',
      accessKey: NEW.accessKeyId,
      secretKey: NEW.secretAccessKey,
      iamRoleArn: 'arn:aws:iam::1:role/r',
      iamExternalId: '',
      iamMfaSerialNumber: '',
    });
    await expect(client().createCredential(SUB, { ...doc, ...OLD })).resolves.toBe('exists');
    expect(await stored(SUB, 'created-aws')).toMatchObject({ secretKey: NEW.secretAccessKey });

    await client().deleteCredential(SUB, 'created-aws');
    await expect(client().getCredential(SUB, 'created-aws')).resolves.toBeUndefined();
    await expect(client().deleteCredential(SUB, 'created-aws')).resolves.toBeUndefined();
  });

  it('creates a username/password credential in the system store', async () => {
    await expect(
      client().createCredential(SYSTEM, {
        kind: 'usernamePassword',
        id: 'created-up',
        scope: 'SYSTEM',
        ...NEW,
      }),
    ).resolves.toBe('created');
    expect(await stored(SYSTEM, 'created-up')).toEqual({
      scope: 'SYSTEM',
      id: 'created-up',
      description: '',
      username: NEW.accessKeyId,
      password: NEW.secretAccessKey,
      usernameSecret: false,
    });
    await client().deleteCredential(SYSTEM, 'created-up');
  });
});

describe('faults', () => {
  it('retries a GET after 5xx', async () => {
    await admin('POST', 'faults', {
      method: 'GET',
      path: '/credential/aws-deploy/config.xml',
      status: 503,
      count: 2,
    });
    await expect(client().readAccessKeyId(SYSTEM, 'aws-deploy')).resolves.toBe(OLD.accessKeyId);
    expect(proxy.log.filter((r) => r.method === 'GET')).toHaveLength(3);
  });

  it('gives up after the retry budget', async () => {
    await admin('POST', 'faults', {
      method: 'GET',
      path: '/credential/aws-deploy/config.xml',
      status: 500,
      count: 5,
    });
    const e = await jenkinsFailure(
      client({ username: 'rotator', apiToken: ROTATOR_TOKEN }, { retries: 1 }).getCredential(
        SYSTEM,
        'aws-deploy',
      ),
    );
    expect(e).toMatchObject({ reason: 'server', status: 500 });
    expect(e.retryable).toBe(true);
    expect(proxy.log).toHaveLength(2);
  });

  it('never repeats createCredentials', async () => {
    await admin('POST', 'faults', { method: 'POST', path: '/createCredentials', status: 503, count: 3 });
    const e = await jenkinsFailure(client().createCredential(SYSTEM, { kind: 'aws', id: 'x', ...NEW }));
    expect(e).toMatchObject({ reason: 'server', status: 503, method: 'POST' });
    expect(proxy.log).toHaveLength(1);
  });

  it('repeats the config.xml POST after a 502 (it replaces by id)', async () => {
    await admin('POST', 'faults', {
      method: 'POST',
      path: '/credential/aws-deploy/config.xml',
      status: 502,
      count: 1,
    });
    await client().putKey(SYSTEM, 'aws-deploy', NEW);
    expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(await stored(SYSTEM, 'aws-deploy')).toMatchObject({ secretKey: NEW.secretAccessKey });
  });

  it('a 302 to /login is a login page, and is not followed', async () => {
    proxy.intercepts.push({
      match: /config\.xml$/,
      status: 302,
      headers: { location: `${emu.url}/login?from=%2Fcredentials` },
    });
    const e = await jenkinsFailure(client().getCredential(SYSTEM, 'aws-deploy'));
    expect(e).toMatchObject({ reason: 'login-page', status: 302 });
    expect(proxy.log).toHaveLength(1);
  });

  it('a 200 HTML page instead of XML is a login page', async () => {
    await admin('POST', 'faults', {
      path: '/credential/aws-deploy/config.xml',
      status: 200,
      body: '<!DOCTYPE html><html><body>Sign in to continue</body></html>',
      contentType: 'text/html;charset=utf-8',
      count: 2,
    });
    expect(await jenkinsFailure(client().getCredential(SYSTEM, 'aws-deploy'))).toMatchObject({
      reason: 'login-page',
      status: 200,
    });
  });
});

describe('runJob', () => {
  it('runs a noop job to SUCCESS through the proxy', async () => {
    const run = await client().runJob('canary', { CRED_ID: 'aws-deploy' }, { timeoutMs: 15_000, pollMs: 25 });
    expect(run.result).toBe('SUCCESS');
    const build = (await state()).builds.find((b) => b.job === 'canary' && b.number === run.number);
    expect(build).toMatchObject({ parameters: { CRED_ID: 'aws-deploy' }, result: 'SUCCESS' });
    // Location named the emulator's own address; the client followed it through its base URL instead.
    expect(proxy.log.some((r) => /^\/queue\/item\/\d+\/api\/json$/.test(r.path))).toBe(true);
  });

  it('runs a job inside a folder with password auth', async () => {
    const run = await passwordClient().runJob(
      'team-a/canary',
      { CRED_ID: 'x' },
      { timeoutMs: 15_000, pollMs: 25 },
    );
    expect(run).toMatchObject({ result: 'SUCCESS' });
    expect(run.number).toBeGreaterThan(0);
  });

  it('starts a job without parameters through /build', async () => {
    await expect(client().runJob('plain', {}, { timeoutMs: 15_000, pollMs: 25 })).resolves.toMatchObject({
      result: 'SUCCESS',
    });
    expect(proxy.log.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual([
      '/job/plain/buildWithParameters?delay=0sec',
      '/job/plain/build?delay=0sec',
    ]);
  });

  it('an unknown job is not-found', async () => {
    expect(await jenkinsFailure(client().runJob('nope', {}, { timeoutMs: 5000 }))).toMatchObject({
      reason: 'not-found',
      method: 'POST',
    });
  });
});

describe('secret hygiene', () => {
  it('no error, message, JSON or inspection ever contains a token, password or secret key', async () => {
    const failures: unknown[] = [];
    const collect = async (p: Promise<unknown>): Promise<void> => {
      await p.then(
        () => failures.push(new Error('expected a failure')),
        (e: unknown) => failures.push(e),
      );
    };
    const viewer = client({ username: 'viewer', apiToken: VIEWER_TOKEN });
    const badToken = client({ username: 'rotator', apiToken: `${ROTATOR_TOKEN.slice(0, -1)}0` });
    const badPassword = client({ username: 'rotator', password: `${ROTATOR_PASSWORD}-wrong` });
    const pw = passwordClient();

    await collect(badToken.putKey(SYSTEM, 'aws-deploy', NEW));
    await collect(badPassword.putKey(SYSTEM, 'aws-deploy', NEW));
    await collect(viewer.putKey(SUB, 'aws-deploy', NEW));
    await collect(viewer.createCredential(SYSTEM, { kind: 'aws', id: 'x', ...NEW }));
    await collect(client().putKey(SUB, 'missing', NEW));
    await collect(client().putKey(SYSTEM, 'plain-text', NEW));
    await admin('POST', 'faults', { method: 'POST', path: '/createCredentials', status: 500 });
    await collect(pw.createCredential(SYSTEM, { kind: 'aws', id: 'x', ...NEW }));
    await admin('POST', 'faults', {
      method: 'POST',
      path: '/credential/aws-deploy/config.xml',
      status: 409,
      body: JSON.stringify({ message: `echo ${NEW.secretAccessKey} ${ROTATOR_PASSWORD}` }),
      contentType: 'application/json',
    });
    await collect(pw.putKey(SYSTEM, 'aws-deploy', NEW));
    await admin('POST', 'faults', { path: '/credential/aws-deploy/config.xml', latencyMs: 1000 });
    await collect(client(undefined, { timeoutMs: 200, retries: 0 }).getCredential(SYSTEM, 'aws-deploy'));
    await collect(
      new JenkinsClient({
        baseUrl: 'http://127.0.0.1:1',
        auth: { username: 'rotator', password: ROTATOR_PASSWORD },
        retries: 0,
      }).putKey(SYSTEM, 'x', NEW),
    );

    expect(failures).toHaveLength(10);
    const forbidden = [
      ROTATOR_TOKEN,
      ROTATOR_PASSWORD,
      VIEWER_TOKEN,
      NEW.secretAccessKey,
      OLD.secretAccessKey,
      Buffer.from(`rotator:${ROTATOR_TOKEN}`).toString('base64'),
      Buffer.from(`rotator:${ROTATOR_PASSWORD}`).toString('base64'),
      'Authorization',
      'JSESSIONID',
    ];
    for (const e of failures) {
      expect(e).toBeInstanceOf(JenkinsError);
      const err = e as JenkinsError;
      const renderings = [
        err.message,
        String(err),
        err.stack ?? '',
        JSON.stringify(err),
        inspect(err, { depth: 10, showHidden: true }),
        JSON.stringify(err.cause ?? null),
        inspect(err.cause, { depth: 10, showHidden: true }),
      ].join('\n');
      for (const secret of forbidden) expect(renderings).not.toContain(secret);
    }
    const reasons = failures.map((e) => (e as JenkinsError).reason);
    expect(reasons).toEqual([
      'unauthorized',
      'unauthorized',
      'forbidden',
      'forbidden',
      'not-found',
      'bad-response',
      'server',
      'conflict',
      'timeout',
      'network',
    ]);
  });
});
