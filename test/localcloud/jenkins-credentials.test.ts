import type { AxiosInstance } from 'axios';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JenkinsEmulator } from '../../localcloud/jenkins/server';
import {
  FAKE,
  XML,
  awsXml,
  basic,
  basicHeader,
  startForTest,
  rawRequest,
  userPassXml,
} from '../../localcloud/jenkins/testing';

const SYSTEM = '/credentials/store/system/domain/_';
const cred = (id: string) => `${SYSTEM}/credential/${id}`;

let jenkins: JenkinsEmulator;
let http: AxiosInstance;
let admin: { auth: { username: string; password: string } };
/** Password-only user with every permission (must use crumbs). */
const ALICE = { id: 'alice', password: 'alice-password-fake' };

beforeAll(async () => {
  ({ jenkins, http, admin } = await startForTest());
});

afterAll(() => jenkins.close());

beforeEach(() => {
  const system = jenkins.state.store('system').domains.get('_');
  if (system) system.credentials.length = 0;
  jenkins.state.seed({
    users: [{ id: ALICE.id, password: ALICE.password }],
    credentials: [{ store: 'system', xml: awsXml('aws-deploy', FAKE.accessKey, FAKE.secretKey) }],
  });
});

const plaintext = (id: string, store: 'system' | { folder: string } = 'system') =>
  jenkins.state.credentialView(store, id)?.fields;

/** GET /crumbIssuer as alice: the crumb plus the session cookie it is bound to. */
async function aliceCrumb(): Promise<{ crumb: string; cookie: string }> {
  const r = await http.get('/crumbIssuer/api/json', { auth: basic(ALICE.id, ALICE.password) });
  expect(r.status).toBe(200);
  const setCookie = r.headers['set-cookie']?.[0] ?? '';
  return { crumb: (r.data as { crumb: string }).crumb, cookie: setCookie.split(';')[0] ?? '' };
}

describe('request pipeline (jenkins-api.md §1, §10)', () => {
  it('answers 400 to a semicolon anywhere in the path, before authentication', async () => {
    const r = await http.get(`${cred('aws-deploy')};jsessionid=x/config.xml`, {
      auth: basic('admin', 'wrong'),
    });
    expect(r.status).toBe(400);
    expect(r.data).toMatchObject({ message: 'Semicolons are not allowed in the request URI', status: '400' });
  });

  it('answers 401 with WWW-Authenticate and a JSON Jetty body for axios default Accept', async () => {
    const r = await http.get(`${SYSTEM}/api/json`, { auth: basic('admin', 'not-the-token') });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="Jenkins"');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-jenkins']).toBeUndefined();
    expect(r.data).toEqual({
      url: `${SYSTEM}/api/json`,
      status: '401',
      message: 'Unauthorized',
      servlet: 'Stapler',
    });
  });

  it('answers 401 with an HTML Jetty page for Accept: text/html and for no Accept at all', async () => {
    const html = await http.get(`${SYSTEM}/api/json`, {
      auth: basic('nobody', 'x'),
      headers: { Accept: 'text/html' },
    });
    expect(html.status).toBe(401);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.data).toContain('<h2>HTTP ERROR 401 Unauthorized</h2>');

    const none = await rawRequest(`${jenkins.url}${SYSTEM}/api/json`, 'GET', {
      Authorization: basicHeader('admin', 'wrong'),
    });
    expect(none.status).toBe(401);
    expect(none.headers['content-type']).toMatch(/^text\/html/);
    expect(none.body).toContain('HTTP ERROR 401');
  });

  it('answers 401 to a Basic header without a colon', async () => {
    const r = await http.get(`${SYSTEM}/api/json`, {
      headers: { Authorization: `Basic ${Buffer.from('admin').toString('base64')}` },
    });
    expect(r.status).toBe(401);
  });

  it('answers anonymous requests with the 403 login page and diagnostic headers', async () => {
    for (const path of [`${SYSTEM}/api/json`, '/crumbIssuer/api/json']) {
      const r = await http.get(path);
      expect(r.status).toBe(403);
      expect(r.headers['content-type']).toBe('text/html;charset=utf-8');
      expect(r.headers['x-jenkins']).toBe('2.578');
      expect(r.headers['x-hudson']).toBe('1.395');
      expect(r.headers['x-jenkins-session']).toMatch(/^[0-9a-f]{8}$/);
      expect(r.headers['x-you-are-authenticated-as']).toBe('anonymous');
      expect(r.headers['x-required-permission']).toBe('hudson.model.Hudson.Read');
      expect(r.headers['x-permission-implied-by']).toContain('hudson.security.Permission.GenericRead');
      expect(r.data).toContain('Authentication required');
      expect(r.data).toContain(`url=/login?from=${encodeURIComponent(path)}`);
    }
  });

  it('answers 403 Access Denied to an authenticated user without Overall/Read', async () => {
    jenkins.state.seed({ users: [{ id: 'nobody', apiTokens: ['11' + '0'.repeat(32)], permissions: [] }] });
    const r = await http.get(`${SYSTEM}/api/json`, { auth: basic('nobody', '11' + '0'.repeat(32)) });
    expect(r.status).toBe(403);
    expect(r.headers['x-you-are-authenticated-as']).toBe('nobody');
    expect(r.headers['x-required-permission']).toBe('hudson.model.Hudson.Read');
    expect(r.headers['x-jenkins']).toBe('2.578');
    expect(r.data).toContain('nobody is missing the Overall/Read permission');
  });

  it('answers routing failures with the Jenkins 404 page', async () => {
    const paths = [
      '/no/such/page',
      '/credentials/store/folder/domain/_/api/json',
      '/credentials/store/system/domain/nope/api/json',
      `${cred('nope')}/config.xml`,
      '/job/missing/credentials/store/folder/domain/_/api/json',
    ];
    for (const path of paths) {
      const r = await http.get(path, admin);
      expect(r.status, path).toBe(404);
      expect(r.headers['content-type']).toBe('text/html;charset=utf-8');
      expect(r.headers['x-jenkins']).toBe('2.578');
    }
  });
});

describe('CSRF crumbs (§3)', () => {
  it('issues a crumb with a session cookie and Api headers', async () => {
    const r = await http.get('/crumbIssuer/api/json', { auth: basic(ALICE.id, ALICE.password) });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json;charset=utf-8');
    expect(r.headers['x-jenkins']).toBe('2.578');
    expect(r.data).toEqual({
      _class: 'hudson.security.csrf.DefaultCrumbIssuer',
      crumb: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown,
      crumbRequestField: 'Jenkins-Crumb',
    });
    expect(r.headers['set-cookie']?.[0]).toMatch(/^JSESSIONID\.[0-9a-f]{8}=[^;]+; Path=\/; HttpOnly$/);
  });

  it('refuses a password-authenticated POST without a crumb, even to a credential that does not exist', async () => {
    for (const path of [`${cred('aws-deploy')}/config.xml`, `${cred('does-not-exist')}/config.xml`]) {
      const r = await http.post(path, awsXml('aws-deploy', FAKE.accessKey2, FAKE.secretKey2), {
        auth: basic(ALICE.id, ALICE.password),
        headers: XML,
      });
      expect(r.status, path).toBe(403);
      expect(r.data).toMatchObject({ message: 'No valid crumb was included in the request', status: '403' });
    }
    expect(plaintext('aws-deploy')?.['accessKey']).toBe(FAKE.accessKey);
  });

  it('refuses a crumb presented without the session cookie it was issued in', async () => {
    const { crumb } = await aliceCrumb();
    const r = await http.post(
      `${cred('aws-deploy')}/config.xml`,
      awsXml('aws-deploy', FAKE.accessKey2, 'x'),
      {
        auth: basic(ALICE.id, ALICE.password),
        headers: { ...XML, 'Jenkins-Crumb': crumb },
      },
    );
    expect(r.status).toBe(403);
    expect(plaintext('aws-deploy')?.['accessKey']).toBe(FAKE.accessKey);
  });

  it('accepts a crumb with its session cookie, as the same user only', async () => {
    const { crumb, cookie } = await aliceCrumb();
    const body = awsXml('aws-deploy', FAKE.accessKey2, FAKE.secretKey2);
    const asAdminPassword = await http.post(`${cred('aws-deploy')}/config.xml`, body, {
      auth: basic('admin', jenkins.admin.password),
      headers: { ...XML, 'Jenkins-Crumb': crumb, Cookie: cookie },
    });
    expect(asAdminPassword.status).toBe(403);

    const r = await http.post(`${cred('aws-deploy')}/config.xml`, body, {
      auth: basic(ALICE.id, ALICE.password),
      headers: { ...XML, 'Jenkins-Crumb': crumb, Cookie: cookie },
    });
    expect(r.status).toBe(200);
    expect(plaintext('aws-deploy')?.['secretKey']).toBe(FAKE.secretKey2);
  });

  it('needs no crumb for API-token authentication', async () => {
    const r = await http.post(
      `${cred('aws-deploy')}/config.xml`,
      awsXml('aws-deploy', FAKE.accessKey2, FAKE.secretKey2),
      { ...admin, headers: XML },
    );
    expect(r.status).toBe(200);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('never checks DELETE for a crumb', async () => {
    const r = await http.delete(`${cred('aws-deploy')}/config.xml`, {
      auth: basic(ALICE.id, ALICE.password),
    });
    expect(r.status).toBe(200);
    expect(plaintext('aws-deploy')).toBeUndefined();
  });

  it('has no crumb issuer and checks no crumbs when CSRF protection is off', async () => {
    jenkins.state.csrfEnabled = false;
    try {
      expect((await http.get('/crumbIssuer/api/json', admin)).status).toBe(404);
      const r = await http.post(
        `${cred('aws-deploy')}/config.xml`,
        awsXml('aws-deploy', FAKE.accessKey2, FAKE.secretKey2),
        { auth: basic(ALICE.id, ALICE.password), headers: XML },
      );
      expect(r.status).toBe(200);
    } finally {
      jenkins.state.csrfEnabled = true;
    }
  });
});

describe('credential config.xml (§4.4–4.6)', () => {
  it('GET returns the redacted document with the plugin attribute and no XML declaration', async () => {
    const r = await http.get(`${cred('aws-deploy')}/config.xml`, admin);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/xml/);
    expect(r.headers['x-jenkins']).toBeUndefined();
    expect(r.data).toBe(
      [
        '<com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl plugin="aws-credentials@262.v0efb_28f71f94">',
        '  <scope>GLOBAL</scope>',
        '  <id>aws-deploy</id>',
        '  <description>deploy key</description>',
        `  <accessKey>${FAKE.accessKey}</accessKey>`,
        '  <secretKey>',
        '    <secret-redacted/>',
        '  </secretKey>',
        '  <iamRoleArn></iamRoleArn>',
        '  <iamExternalId></iamExternalId>',
        '  <iamMfaSerialNumber></iamMfaSerialNumber>',
        '</com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl>',
      ].join('\n'),
    );
    expect(r.data).not.toContain(FAKE.secretKey);
  });

  it('POST replaces the credential in place and answers 200 with an empty body', async () => {
    jenkins.state.seed({
      credentials: [{ store: 'system', kind: 'string', id: 'after', secret: 'fake-string-secret' }],
    });
    const r = await http.post(
      `${cred('aws-deploy')}/config.xml`,
      awsXml('aws-deploy', FAKE.accessKey2, 'new&amp;secret', 'rotated'),
      { ...admin, headers: XML },
    );
    expect(r.status).toBe(200);
    expect(r.data).toBe('');
    const state = await http.get<{
      stores: { store: unknown; domains: { credentials: { id: string }[] }[] }[];
    }>('/_localcloud/state');
    const system = state.data.stores.find((s) => s.store === 'system')?.domains[0]?.credentials;
    expect(system?.map((c) => c.id)).toEqual(['aws-deploy', 'after']);
    expect(system?.[0]).toMatchObject({ kind: 'aws', displayName: `${FAKE.accessKey2} (rotated)` });
    expect(plaintext('aws-deploy')).toEqual({
      scope: 'GLOBAL',
      id: 'aws-deploy',
      description: 'rotated',
      accessKey: FAKE.accessKey2,
      secretKey: 'new&secret',
      iamRoleArn: '',
      iamExternalId: '',
      iamMfaSerialNumber: '',
    });
  });

  it('POST of the redacted GET output blanks the secret (round-trip hazard)', async () => {
    const got = await http.get<string>(`${cred('aws-deploy')}/config.xml`, admin);
    const r = await http.post(`${cred('aws-deploy')}/config.xml`, got.data, { ...admin, headers: XML });
    expect(r.status).toBe(200);
    expect(plaintext('aws-deploy')?.['secretKey']).toMatch(/^\s*$/);
    expect(plaintext('aws-deploy')?.['accessKey']).toBe(FAKE.accessKey);
  });

  it('POST with a different id is a 500 Oops page, whatever the Accept header', async () => {
    const r = await http.post(`${cred('aws-deploy')}/config.xml`, awsXml('other-id', FAKE.accessKey2, 'x'), {
      ...admin,
      headers: XML,
    });
    expect(r.status).toBe(500);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.data).toContain('Oops!');
    expect(r.data).toMatch(/Logging ID=[0-9a-f-]{36}/);
    expect(plaintext('aws-deploy')?.['accessKey']).toBe(FAKE.accessKey);
  });

  it.each([
    ['malformed XML', '<com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl><id>aws-deploy</id>'],
    [
      'a DTD',
      '<!DOCTYPE x [<!ENTITY e "v">]><com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl><id>aws-deploy</id></com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl>',
    ],
    ['an unknown class', '<com.example.NotInstalled><id>aws-deploy</id></com.example.NotInstalled>'],
    ['an empty body', ''],
  ])('POST with %s is a 500 Oops page', async (_what, body) => {
    const r = await http.post(`${cred('aws-deploy')}/config.xml`, body, { ...admin, headers: XML });
    expect(r.status).toBe(500);
    expect(r.data).toContain('Oops!');
  });

  it('accepts a type change, ignores unknown elements and invalid enum values', async () => {
    const body = userPassXml('aws-deploy', FAKE.accessKey2, FAKE.secretKey2)
      .replace('<scope>GLOBAL</scope>', '<scope>global</scope><plugin>ignored</plugin>')
      .replace('<usernameSecret>false</usernameSecret>', '');
    const r = await http.post(`${cred('aws-deploy')}/config.xml`, body, { ...admin, headers: XML });
    expect(r.status).toBe(200);
    expect(jenkins.state.credentialView('system', 'aws-deploy')).toMatchObject({
      kind: 'usernamePassword',
      fields: { id: 'aws-deploy', username: FAKE.accessKey2, password: FAKE.secretKey2 },
    });
    expect(plaintext('aws-deploy')).not.toHaveProperty('scope');
    const got = await http.get<string>(`${cred('aws-deploy')}/config.xml`, admin);
    expect(got.data).toContain(
      '<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl plugin="credentials@',
    );
    expect(got.data).toContain('<password>\n    <secret-redacted/>\n  </password>');
    expect(got.data).not.toContain('<scope>');
  });

  it('DELETE removes the credential with 200 and an empty body; other methods get 400', async () => {
    const put = await http.put(`${cred('aws-deploy')}/config.xml`, '', admin);
    expect(put.status).toBe(400);
    const r = await http.delete(`${cred('aws-deploy')}/config.xml`, admin);
    expect(r.status).toBe(200);
    expect(r.data).toBe('');
    expect((await http.get(`${cred('aws-deploy')}/api/json`, admin)).status).toBe(404);
  });

  it('checks Update, View and Delete: 403 with X-Required-Permission, or 404 without View', async () => {
    const token = `11${'a'.repeat(32)}`;
    jenkins.state.seed({
      users: [
        { id: 'viewer', apiTokens: [token], permissions: ['Overall/Read', 'Credentials/View'] },
        { id: 'blind', apiTokens: [token], permissions: ['Overall/Read', 'Credentials/Update'] },
      ],
    });
    const update = await http.post(`${cred('aws-deploy')}/config.xml`, awsXml('aws-deploy', 'A', 'B'), {
      auth: basic('viewer', token),
      headers: XML,
    });
    expect(update.status).toBe(403);
    expect(update.headers['x-required-permission']).toBe(
      'com.cloudbees.plugins.credentials.CredentialsProvider.Update',
    );
    expect(update.headers['x-you-are-authenticated-as']).toBe('viewer');
    expect(update.headers['x-permission-implied-by']).toBe(
      'hudson.security.Permission.GenericUpdate, hudson.security.Permission.GenericWrite, hudson.model.Hudson.Administer',
    );
    expect(update.data).toContain('viewer is missing the Credentials/Update permission');

    const del = await http.delete(`${cred('aws-deploy')}/config.xml`, { auth: basic('viewer', token) });
    expect(del.status).toBe(403);
    expect(del.headers['x-required-permission']).toBe(
      'com.cloudbees.plugins.credentials.CredentialsProvider.Delete',
    );

    const hidden = await http.post(`${cred('aws-deploy')}/config.xml`, awsXml('aws-deploy', 'A', 'B'), {
      auth: basic('blind', token),
      headers: XML,
    });
    expect(hidden.status).toBe(404);
    expect(plaintext('aws-deploy')?.['accessKey']).toBe(FAKE.accessKey);
  });
});

describe('createCredentials (§4.7)', () => {
  const create = `${SYSTEM}/createCredentials`;

  it('creates with 200 and an empty body, then answers 409 for the same id', async () => {
    const body = userPassXml('aws-as-userpass', FAKE.accessKey, FAKE.secretKey);
    const first = await http.post(create, body, { ...admin, headers: XML });
    expect(first.status).toBe(200);
    expect(first.data).toBe('');
    expect(first.headers['x-jenkins']).toBeUndefined();
    expect(plaintext('aws-as-userpass')).toEqual({
      scope: 'GLOBAL',
      id: 'aws-as-userpass',
      description: 'as user/pass',
      username: FAKE.accessKey,
      password: FAKE.secretKey,
      usernameSecret: false,
    });
    const again = await http.post(create, body, { ...admin, headers: { 'Content-Type': 'text/xml' } });
    expect(again.status).toBe(409);
    expect(again.data).toBe('');
  });

  it('answers 400 with X-Error when there is no Content-Type', async () => {
    const r = await rawRequest(
      `${jenkins.url}${create}`,
      'POST',
      { Authorization: basicHeader('admin', jenkins.admin.apiToken) },
      awsXml('x', 'A', 'B'),
    );
    expect(r.status).toBe(400);
    expect(r.headers['x-error']).toBe('No Content-Type header set');
    expect(plaintext('x')).toBeUndefined();
  });

  it('answers GET with 405 and Allow: POST', async () => {
    const r = await http.get(create, admin);
    expect(r.status).toBe(405);
    expect(r.headers['allow']).toBe('POST');
    expect(r.data).toContain('This URL requires POST');
  });

  it('answers 403 without Credentials/Create and 500 for an unparseable document', async () => {
    const token = `11${'b'.repeat(32)}`;
    jenkins.state.seed({
      users: [{ id: 'reader', apiTokens: [token], permissions: ['Overall/Read', 'Credentials/View'] }],
    });
    const denied = await http.post(create, awsXml('new', 'A', 'B'), {
      auth: basic('reader', token),
      headers: XML,
    });
    expect(denied.status).toBe(403);
    expect(denied.headers['x-required-permission']).toBe(
      'com.cloudbees.plugins.credentials.CredentialsProvider.Create',
    );
    const broken = await http.post(create, '<not-closed>', { ...admin, headers: XML });
    expect(broken.status).toBe(500);
  });

  it('form mode: JSON envelope for a JSON Accept, 302 otherwise; duplicates are not an HTTP error', async () => {
    const json = JSON.stringify({
      credentials: {
        $class: 'com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl',
        scope: 'GLOBAL',
        id: 'from-form',
        description: '',
        accessKey: FAKE.accessKey2,
        secretKey: FAKE.secretKey2,
        stsTokenDuration: 3600,
      },
    });
    const form = new URLSearchParams({ json }).toString();
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const first = await http.post(create, form, { ...admin, headers });
    expect(first.status).toBe(200);
    expect(first.data).toEqual({
      status: 'ok',
      data: { message: 'Credentials created', notificationType: 'SUCCESS' },
    });
    expect(plaintext('from-form')).toMatchObject({ accessKey: FAKE.accessKey2, secretKey: FAKE.secretKey2 });
    expect(plaintext('from-form')).not.toHaveProperty('stsTokenDuration');

    const again = await http.post(create, form, { ...admin, headers: { ...headers, Accept: 'text/html' } });
    expect(again.status).toBe(302);
    expect(again.headers['location']).toBe(`${jenkins.url}${SYSTEM}`);

    const empty = await http.post(create, 'foo=bar', { ...admin, headers });
    expect(empty.status).toBe(400);
    expect(empty.data).toMatchObject({ message: 'This page expects a form submission' });
  });
});

describe('listing and lookup (§4.3)', () => {
  beforeEach(() => {
    jenkins.state.seed({
      credentials: [
        { store: 'system', xml: userPassXml('userpass', FAKE.accessKey2, FAKE.secretKey2, 'legacy') },
        { store: 'system', kind: 'string', id: 'token', secret: 'fake-string-secret' },
        {
          store: 'system',
          kind: 'aws',
          id: 'with-role',
          accessKey: FAKE.accessKey2,
          secretKey: FAKE.secretKey2,
          iamRoleArn: 'arn:aws:iam::111122223333:role/deploy',
        },
      ],
    });
  });

  it('lists display names and types with tree=, with the Api headers and no secrets', async () => {
    const r = await http.get(`${SYSTEM}/api/json?tree=credentials%5Bid,typeName,displayName%5D`, admin);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json;charset=utf-8');
    expect(r.headers['x-jenkins']).toBe('2.578');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('deny');
    expect(r.data).toEqual({
      _class: 'com.cloudbees.plugins.credentials.CredentialsStoreAction$DomainWrapper',
      credentials: [
        { displayName: `${FAKE.accessKey} (deploy key)`, id: 'aws-deploy', typeName: 'AWS Credentials' },
        {
          displayName: `${FAKE.accessKey2}/****** (legacy)`,
          id: 'userpass',
          typeName: 'Username with password',
        },
        { displayName: 'token', id: 'token', typeName: 'Secret text' },
        {
          displayName: `${FAKE.accessKey2}:arn:aws:iam::111122223333:role/deploy`,
          id: 'with-role',
          typeName: 'AWS Credentials',
        },
      ],
    });
    expect(JSON.stringify(r.data)).not.toContain('fake-secret');
  });

  it('shows only visibility-2 properties of nested beans at the default depth', async () => {
    const shallow = await http.get<{ credentials: unknown[]; urlName: string }>(`${SYSTEM}/api/json`, admin);
    expect(shallow.data.urlName).toBe('_');
    expect(shallow.data.credentials).toEqual([{}, {}, {}, {}]);
    const deep = await http.get<{ credentials: { id: string; fullName: string }[] }>(
      `${SYSTEM}/api/json?depth=1`,
      admin,
    );
    expect(deep.data.credentials[0]).toMatchObject({ id: 'aws-deploy', fullName: 'system/_/aws-deploy' });
  });

  it('answers a single credential api/json with 200, an unknown one with 404', async () => {
    const r = await http.get(`${cred('aws-deploy')}/api/json?tree=id,displayName`, admin);
    expect(r.status).toBe(200);
    expect(r.data).toEqual({
      _class: 'com.cloudbees.plugins.credentials.CredentialsStoreAction$CredentialsWrapper',
      displayName: `${FAKE.accessKey} (deploy key)`,
      id: 'aws-deploy',
    });
    expect((await http.get(`${SYSTEM}/credentials/aws-deploy/api/json`, admin)).status).toBe(200);
    expect((await http.get(`${cred('missing')}/api/json`, admin)).status).toBe(404);
  });

  it('lists the store with its domains', async () => {
    const r = await http.get('/credentials/store/system/api/json?tree=domains%5BurlName%5D', admin);
    expect(r.data).toEqual({
      _class: 'com.cloudbees.plugins.credentials.SystemCredentialsProvider$UserFacingAction',
      domains: {
        _: { _class: 'com.cloudbees.plugins.credentials.CredentialsStoreAction$DomainWrapper', urlName: '_' },
      },
    });
  });
});

describe('folder stores (§4.1)', () => {
  const folderStore = '/job/team-a/job/sub/credentials/store/folder/domain/_';

  it('serves the store of a folder nested two deep, separate from the system store', async () => {
    jenkins.state.seed({ folders: ['team-a/sub'] });
    const created = await http.post(
      `${folderStore}/createCredentials`,
      awsXml('aws-deploy', FAKE.accessKey2, FAKE.secretKey2),
      { ...admin, headers: XML },
    );
    expect(created.status).toBe(200);
    expect(plaintext('aws-deploy', { folder: 'team-a/sub' })?.['secretKey']).toBe(FAKE.secretKey2);
    expect(plaintext('aws-deploy')?.['secretKey']).toBe(FAKE.secretKey);

    const updated = await http.post(
      `${folderStore}/credential/aws-deploy/config.xml`,
      awsXml('aws-deploy', FAKE.accessKey2, 'rotated-secret'),
      { ...admin, headers: XML },
    );
    expect(updated.status).toBe(200);
    expect(plaintext('aws-deploy', { folder: 'team-a/sub' })?.['secretKey']).toBe('rotated-secret');

    const list = await http.get(`${folderStore}/api/json?tree=fullName,credentials%5Bid%5D`, admin);
    expect(list.data).toMatchObject({ fullName: 'team-a/sub/folder/_', credentials: [{ id: 'aws-deploy' }] });
    expect(
      (await http.get('/job/team-a/credentials/store/folder/domain/_/credential/aws-deploy/api/json', admin))
        .status,
    ).toBe(404);
    expect(
      (await http.get('/job/team-a/job/sub/credentials/store/system/domain/_/api/json', admin)).status,
    ).toBe(404);
  });
});

describe('test controls', () => {
  it('injects faults for the next N matching requests', async () => {
    const add = await http.post('/_localcloud/faults', {
      method: 'POST',
      path: '/config.xml',
      status: 503,
      count: 2,
    });
    expect(add.status).toBe(200);
    const body = awsXml('aws-deploy', FAKE.accessKey2, FAKE.secretKey2);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (await http.post(`${cred('aws-deploy')}/config.xml`, body, { ...admin, headers: XML })).status,
      );
    expect(statuses).toEqual([503, 503, 200]);

    await http.post('/_localcloud/faults', {
      path: '/^\\/credentials\\/.*api\\/json/',
      status: 502,
      body: 'bad gateway',
    });
    const faulted = await http.get(`${SYSTEM}/api/json`, admin);
    expect(faulted.status).toBe(502);
    expect(faulted.data).toBe('bad gateway');
    await http.post('/_localcloud/faults', { path: 'api/json', status: 500, count: 5 });
    await http.delete('/_localcloud/faults');
    expect((await http.get(`${SYSTEM}/api/json`, admin)).status).toBe(200);
  });

  it('logs requests without secrets and exposes plaintext state', async () => {
    await http.delete('/_localcloud/requests');
    await http.get(`${SYSTEM}/api/json`, admin);
    await http.get(`${SYSTEM}/api/json`, { auth: basic(ALICE.id, 'wrong') });
    const log = await http.get<{ requests: unknown[] }>('/_localcloud/requests');
    expect(log.data.requests).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: `${SYSTEM}/api/json`,
        status: 200,
        user: 'admin',
        apiToken: true,
      }),
      expect.objectContaining({ status: 401, user: null, apiToken: false }),
    ]);
    expect(JSON.stringify(log.data)).not.toContain(jenkins.admin.apiToken);

    const state = await http.get<{ stores: { store: unknown; domains: { credentials: unknown[] }[] }[] }>(
      '/_localcloud/state',
    );
    const system = state.data.stores.find((s) => s.store === 'system');
    expect(system?.domains[0]?.credentials).toContainEqual(
      expect.objectContaining({
        id: 'aws-deploy',
        fields: expect.objectContaining({ secretKey: FAKE.secretKey }) as unknown,
      }),
    );
  });

  it('seeds over HTTP and rejects bad seeds with 400', async () => {
    const r = await http.post('/_localcloud/seed', {
      users: [{ id: 'ci', permissions: ['Overall/Read', 'Credentials/View'] }],
      folders: ['org/team'],
      credentials: [
        { store: { folder: 'org/team' }, kind: 'usernamePassword', id: 'up', username: 'u', password: 'p' },
      ],
      jobs: [{ path: 'org/team/canary', parameters: ['REASON'], check: 'noop' }],
    });
    expect(r.status).toBe(200);
    expect(r.data).toMatchObject({
      users: [{ id: 'ci', apiTokens: [expect.stringMatching(/^11[0-9a-f]{32}$/)] }],
      credentials: [{ id: 'up', displayName: 'u/******' }],
      jobs: [{ path: 'org/team/canary', url: `${jenkins.url}/job/org/job/team/job/canary/` }],
    });
    const bad = await http.post('/_localcloud/seed', {
      credentials: [{ store: 'system', kind: 'aws', id: 'x' }],
    });
    expect(bad.status).toBe(400);
  });
});
