/**
 * The Jenkins emulator's oidc-provider plugin over real HTTP: the two ID-token credential kinds through the
 * credentials REST API, the issuers' discovery and JWKS documents, the issuer override and its descriptor endpoints,
 * the plugin's absence, and that no response ever carries a private key. Builds and their tokens:
 * jenkins-oidc-canary.test.ts.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { AxiosInstance } from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JenkinsEmulator } from '../../localcloud/jenkins/server';
import { INTERNAL_SHOWN_AS } from '../../localcloud/jenkins/state';
import { XML, basic, startForTest } from '../../localcloud/jenkins/testing';

const STRING_CLASS = 'io.jenkins.plugins.oidc_provider.IdTokenStringCredentials';
const FILE_CLASS = 'io.jenkins.plugins.oidc_provider.IdTokenFileCredentials';
const STRING_ELEMENT = 'io.jenkins.plugins.oidc__provider.IdTokenStringCredentials';
const PLUGIN = 'oidc-provider@170.v15f73e25a_e28';
const JSON_TYPE = 'application/json;charset=UTF-8';
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** A key pair made by the test, as the plugin stores one: base64 of the PKCS#8 DER private key. */
function testKey(): { privateKey: string; n: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    n: publicKey.export({ format: 'jwk' }).n ?? '',
  };
}

const idTokenXml = (id: string, fields: Record<string, string>, element = STRING_ELEMENT): string =>
  [
    `<${element}>`,
    '  <scope>GLOBAL</scope>',
    `  <id>${id}</id>`,
    ...Object.entries(fields).map(([k, v]) => `  <${k}>${v}</${k}>`),
    `</${element}>`,
  ].join('\n');

/** A JWK's modulus without Java's sign byte, for comparing with node's export. */
const unsignedN = (n: string): string => {
  const bytes = Buffer.from(n, 'base64url');
  return (bytes[0] === 0 ? bytes.subarray(1) : bytes).toString('base64url');
};

interface Jwk {
  kid: string;
  kty: string;
  alg: string;
  use: string;
  n: string;
  e: string;
}

describe('without the oidc-provider plugin', () => {
  let jenkins: JenkinsEmulator;
  let http: AxiosInstance;
  let admin: { auth: { username: string; password: string } };
  beforeAll(async () => ({ jenkins, http, admin } = await startForTest()));
  afterAll(() => jenkins.close());

  it('has no /oidc endpoints, no descriptor, and cannot resolve the credential classes', async () => {
    const plugins = await http.get<{ plugins: { shortName: string }[] }>(
      '/pluginManager/api/json?tree=plugins[shortName]',
      admin,
    );
    expect(plugins.data.plugins.map((p) => p.shortName)).not.toContain('oidc-provider');

    // Not an UnprotectedRootAction any more: anonymous needs Overall/Read, a reader gets Jenkins' 404 page.
    const anonymous = await http.get('/oidc/.well-known/openid-configuration');
    expect(anonymous.status).toBe(403);
    expect(anonymous.headers['x-required-permission']).toBe('hudson.model.Hudson.Read');
    const asAdmin = await http.get('/oidc/jwks', admin);
    expect(asAdmin.status).toBe(404);
    expect(String(asAdmin.data)).toContain('Not Found');
    expect(
      (await http.get(`/descriptorByName/${STRING_CLASS}/wellKnownOpenidConfiguration`, admin)).status,
    ).toBe(404);

    const { privateKey } = testKey();
    const xml = await http.post(
      '/credentials/store/system/domain/_/createCredentials',
      idTokenXml('oidc', { privateKey }),
      { ...admin, headers: XML },
    );
    expect(xml.status).toBe(500);
    const form = await http.post(
      '/credentials/store/system/domain/_/createCredentials',
      new URLSearchParams({
        json: JSON.stringify({ credentials: { $class: STRING_CLASS, id: 'oidc' } }),
      }).toString(),
      { ...admin, headers: FORM },
    );
    expect(form.status).toBe(500);
    const listing = await http.get('/credentials/store/system/domain/_/api/json?tree=credentials[id]', admin);
    expect(listing.data).toMatchObject({ credentials: [] });
  });
});

describe('with the oidc-provider plugin', () => {
  let jenkins: JenkinsEmulator;
  let http: AxiosInstance;
  let admin: { auth: { username: string; password: string } };
  const readerToken = `11${'d'.repeat(32)}`;
  const reader = { auth: basic('reader', readerToken) };
  /** Every response body this suite saw, for the no-private-key check at the end. */
  const seen: string[] = [];
  const keep = <T extends { data: unknown }>(r: T): T => {
    seen.push(typeof r.data === 'string' ? r.data : JSON.stringify(r.data));
    return r;
  };

  /** Form-mode createCredentials (the way the UI and JCasC make one: Jenkins generates the key pair). */
  const createByForm = (storeUrl: string, credentials: Record<string, unknown>) =>
    http.post(
      `${storeUrl}/domain/_/createCredentials`,
      new URLSearchParams({
        json: JSON.stringify({
          credentials: {
            $class: STRING_CLASS,
            scope: 'GLOBAL',
            description: '',
            issuer: '',
            audience: '',
            ...credentials,
          },
        }),
      }).toString(),
      { ...admin, headers: FORM },
    );

  beforeAll(async () => {
    ({ jenkins, http, admin } = await startForTest());
    jenkins.state.seed({
      plugins: ['oidc-provider', 'configuration-as-code'],
      folders: ['team a/sub', 'external'],
      users: [{ id: 'reader', apiTokens: [readerToken], permissions: ['Overall/Read', 'Job/Read'] }],
    });
  });
  afterAll(() => jenkins.close());

  it('creates both kinds through the form, the key pair made by Jenkins, and shows them as Jenkins does', async () => {
    const created = await createByForm('/credentials/store/system', {
      id: 'aws-oidc',
      description: 'keyless ECR push',
      audience: 'sts.amazonaws.com',
      privateKey: 'ignored: not a constructor parameter',
    });
    expect(created.status).toBe(200);
    expect(created.data).toEqual({
      status: 'ok',
      data: { message: 'Credentials created', notificationType: 'SUCCESS' },
    });
    expect(
      (
        await createByForm('/credentials/store/system', {
          $class: FILE_CLASS,
          id: 'aws-oidc-file',
          description: 'as file',
        })
      ).status,
    ).toBe(200);

    const xml = keep(
      await http.get<string>('/credentials/store/system/domain/_/credential/aws-oidc/config.xml', admin),
    );
    expect(xml.status).toBe(200);
    expect(xml.data).toBe(
      [
        `<${STRING_ELEMENT} plugin="${PLUGIN}">`,
        '  <scope>GLOBAL</scope>',
        '  <id>aws-oidc</id>',
        '  <description>keyless ECR push</description>',
        '  <privateKey>',
        '    <secret-redacted/>',
        '  </privateKey>',
        '  <audience>sts.amazonaws.com</audience>',
        `</${STRING_ELEMENT}>`,
      ].join('\n'),
    );
    const listing = keep(
      await http.get(
        '/credentials/store/system/domain/_/api/json?tree=credentials[id,typeName,displayName]',
        admin,
      ),
    );
    expect(listing.data).toMatchObject({
      credentials: [
        { id: 'aws-oidc', typeName: 'OpenID Connect id token', displayName: 'keyless ECR push' },
        {
          id: 'aws-oidc-file',
          typeName: 'OpenID Connect id token as file',
          displayName: 'id_token (as file)',
        },
      ],
    });
  });

  it('serves discovery and JWKS at /oidc to anyone, one RS256 key per credential, kid = its id', async () => {
    const config = keep(await http.get('/oidc/.well-known/openid-configuration'));
    expect(config.status).toBe(200);
    expect(config.headers['content-type']).toBe(JSON_TYPE);
    expect(config.data).toEqual({
      issuer: `${jenkins.url}/oidc`,
      jwks_uri: `${jenkins.url}/oidc/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      authorization_endpoint: 'https://unimplemented',
      token_endpoint: 'https://unimplemented',
    });
    const jwks = keep(await http.get<{ keys: Jwk[] }>('/oidc/jwks'));
    expect(jwks.status).toBe(200);
    expect(jwks.headers['content-type']).toBe(JSON_TYPE);
    expect(jwks.data.keys.map((k) => k.kid)).toEqual(['aws-oidc', 'aws-oidc-file']);
    for (const key of jwks.data.keys) {
      expect(Object.keys(key)).toEqual(['kid', 'kty', 'alg', 'use', 'n', 'e']);
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
      // BigInteger.toByteArray: the 2048-bit modulus gets a leading sign byte.
      const n = Buffer.from(key.n, 'base64url');
      expect([n.length, n[0]]).toEqual([257, 0]);
      const imported = createPublicKey({ key: { kty: 'RSA', n: key.n, e: key.e }, format: 'jwk' });
      expect(imported.asymmetricKeyDetails?.modulusLength).toBe(2048);
    }
    expect(jwks.data.keys[0]?.n).not.toBe(jwks.data.keys[1]?.n);
    // Anything else under /oidc: 404 with no body (HttpResponses.notFound).
    for (const path of ['/oidc', '/oidc/', '/oidc/jwks/', '/oidc/job/nope/jwks', '/oidc/.well-known/other']) {
      const r = await http.get(path);
      expect([path, r.status, r.data]).toEqual([path, 404, '']);
    }
  });

  it("gives a folder with ID-token credentials its own issuer, serving only that folder's keys", async () => {
    expect((await createByForm('/job/team%20a/credentials/store/folder', { id: 'team-oidc' })).status).toBe(
      200,
    );
    const config = keep(await http.get('/oidc/job/team%20a/.well-known/openid-configuration'));
    expect(config.status).toBe(200);
    expect(config.data).toMatchObject({
      issuer: `${jenkins.url}/oidc/job/team%20a`,
      jwks_uri: `${jenkins.url}/oidc/job/team%20a/jwks`,
    });
    const jwks = keep(await http.get<{ keys: Jwk[] }>('/oidc/job/team%20a/jwks'));
    expect(jwks.data.keys.map((k) => k.kid)).toEqual(['team-oidc']);
    const root = await http.get<{ keys: Jwk[] }>('/oidc/jwks');
    expect(root.data.keys.map((k) => k.kid)).not.toContain('team-oidc');
    // A folder without ID-token credentials of its own, or spelled other than its URL, is no issuer.
    expect((await http.get('/oidc/job/team%20a/job/sub/.well-known/openid-configuration')).status).toBe(404);
    expect((await http.get('/oidc/job/team%20%61/jwks')).status).toBe(404);
  });

  it('leaves a credential with an issuer override out of the JWKS, and serves what to publish there', async () => {
    const issuer = 'https://oidc.example.com/jenkins';
    expect((await createByForm('/credentials/store/system', { id: 'ext', issuer })).status).toBe(200);
    expect(
      (await createByForm('/job/external/credentials/store/folder', { id: 'ext-folder', issuer })).status,
    ).toBe(200);
    const root = await http.get<{ keys: Jwk[] }>('/oidc/jwks');
    expect(root.data.keys.map((k) => k.kid)).toEqual(['aws-oidc', 'aws-oidc-file']);
    // Keys.findIssuer: a folder whose only credentials have an override is not advertised.
    expect((await http.get('/oidc/job/external/.well-known/openid-configuration')).status).toBe(404);

    const descriptor = `/descriptorByName/${STRING_CLASS}`;
    const config = keep(
      await http.get(`${descriptor}/wellKnownOpenidConfiguration`, { ...admin, params: { issuer } }),
    );
    expect(config.data).toMatchObject({ issuer, jwks_uri: `${issuer}/jwks` });
    const jwks = keep(
      await http.get<{ keys: Jwk[] }>(`${descriptor}/jwks`, { ...admin, params: { id: 'ext', issuer } }),
    );
    expect(jwks.status).toBe(200);
    expect(jwks.data.keys.map((k) => k.kid)).toEqual(['ext']);
    // The root issuer's key needs Overall/Manage (shipped disabled, so Administer); a folder's needs Job/Read.
    const denied = await http.get(`${descriptor}/jwks`, { ...reader, params: { id: 'ext', issuer } });
    expect(denied.status).toBe(403);
    expect(denied.headers['x-required-permission']).toBe('hudson.model.Hudson.Administer');
    const folder = await http.get<{ keys: Jwk[] }>(`/job/external${descriptor}/jwks`, {
      ...reader,
      params: { id: 'ext-folder', issuer },
    });
    expect(folder.data.keys.map((k) => k.kid)).toEqual(['ext-folder']);
    // Only a credential with exactly that override; no issuer parameter at all is a NullPointerException.
    expect(
      (await http.get(`${descriptor}/jwks`, { ...admin, params: { id: 'aws-oidc', issuer } })).status,
    ).toBe(404);
    expect((await http.get(`${descriptor}/jwks`, { ...admin, params: { id: 'ext' } })).status).toBe(500);
  });

  it("takes the issuer's base from the Jenkins URL", async () => {
    jenkins.state.seed({ rootUrl: 'https://jenkins.example.com' });
    try {
      const config = await http.get('/oidc/.well-known/openid-configuration');
      expect(config.data).toMatchObject({
        issuer: 'https://jenkins.example.com/oidc',
        jwks_uri: 'https://jenkins.example.com/oidc/jwks',
      });
    } finally {
      jenkins.state.seed({ rootUrl: jenkins.url });
    }
  });

  it('XML: needs a private key to create (readResolve), fails on the redacted GET output, takes a new key', async () => {
    const store = '/credentials/store/system/domain/_';
    const noKey = await http.post(`${store}/createCredentials`, idTokenXml('xml-oidc', {}), {
      ...admin,
      headers: XML,
    });
    expect(noKey.status).toBe(500);
    const badKey = await http.post(
      `${store}/createCredentials`,
      idTokenXml('xml-oidc', { privateKey: 'bm90IGEga2V5' }),
      {
        ...admin,
        headers: XML,
      },
    );
    expect(badKey.status).toBe(500);

    const first = testKey();
    // XStream reads the class name with the underscore doubled (as written) or single.
    const created = await http.post(
      `${store}/createCredentials`,
      idTokenXml(
        'xml-oidc',
        { privateKey: first.privateKey },
        `io.jenkins.plugins.oidc_provider.IdTokenStringCredentials`,
      ),
      { ...admin, headers: XML },
    );
    expect(created.status).toBe(200);
    const served = async () =>
      (await http.get<{ keys: Jwk[] }>('/oidc/jwks')).data.keys.find((k) => k.kid === 'xml-oidc');
    expect(unsignedN((await served())?.n ?? '')).toBe(first.n);

    const get = keep(await http.get<string>(`${store}/credential/xml-oidc/config.xml`, admin));
    const roundTrip = await http.post(`${store}/credential/xml-oidc/config.xml`, get.data, {
      ...admin,
      headers: XML,
    });
    expect(roundTrip.status).toBe(500);
    expect(unsignedN((await served())?.n ?? '')).toBe(first.n);

    const second = testKey();
    const update = await http.post(
      `${store}/credential/xml-oidc/config.xml`,
      idTokenXml('xml-oidc', { privateKey: second.privateKey, audience: 'sts.amazonaws.com' }),
      { ...admin, headers: XML },
    );
    expect(update.status).toBe(200);
    expect(unsignedN((await served())?.n ?? '')).toBe(second.n);
    const everything = keep(await http.get('/_localcloud/state')).data as {
      stores: { domains: { credentials: { id: string; fields: Record<string, unknown> }[] }[] }[];
    };
    const fields = everything.stores
      .flatMap((s) => s.domains.flatMap((d) => d.credentials))
      .find((c) => c.id === 'xml-oidc')?.fields;
    expect(fields).toMatchObject({ privateKey: INTERNAL_SHOWN_AS, audience: 'sts.amazonaws.com' });
    for (const body of seen) {
      expect(body).not.toContain(first.privateKey);
      expect(body).not.toContain(second.privateKey);
    }
  });

  it('JCasC: exports the credentials without their keys; a reload gives them a new key pair', async () => {
    jenkins.state.seed({
      credentials: [{ store: 'system', kind: 'idToken', id: 'casc-oidc', audience: 'sts.amazonaws.com' }],
      jcasc: { credentials: ['casc-oidc'] },
    });
    const exported = keep(await http.post<string>('/configuration-as-code/export', null, admin));
    expect(exported.status).toBe(200);
    expect(exported.data).toContain(
      [
        '      - idToken:',
        '          audience: "sts.amazonaws.com"',
        '          id: "casc-oidc"',
        '          scope: GLOBAL',
      ].join('\n'),
    );
    expect(exported.data).not.toContain('privateKey');
    const key = async () =>
      (await http.get<{ keys: Jwk[] }>('/oidc/jwks')).data.keys.find((k) => k.kid === 'casc-oidc');
    const before = await key();
    expect((await http.post('/configuration-as-code/reload', null, admin)).status).toBe(302);
    const after = await key();
    expect(after?.n).toBeDefined();
    expect(after?.n).not.toBe(before?.n);
  });

  it('never answers with a private key: redacted on REST, encrypted in folder config.xml, absent elsewhere', async () => {
    keep(await http.get('/credentials/store/system/api/json?depth=2', admin));
    keep(await http.get('/job/team%20a/credentials/store/folder/api/json?depth=2', admin));
    keep(
      await http.get(
        '/job/team%20a/credentials/store/folder/domain/_/credential/team-oidc/config.xml',
        admin,
      ),
    );
    const folderXml = keep(await http.get<string>('/job/team%20a/config.xml', admin));
    // A folder's config.xml carries its store as XStream writes it: every Secret encrypted for this instance.
    expect(folderXml.data).toMatch(/<privateKey>\{AQAAAB[A-Za-z0-9+/=]+\}<\/privateKey>/);
    keep(await http.get('/_localcloud/state'));
    const all = seen.join('\n').replace(/\{AQAAAB[A-Za-z0-9+/=]+\}/g, '{encrypted}');
    // A PKCS#8 RSA 2048 key in base64 starts "MIIE"; a private JWK has "d", "p", "q", …
    expect(all).not.toMatch(/MIIE[A-Za-z0-9+/]{20}/);
    expect(all).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
    expect(all).not.toContain('PRIVATE KEY');
  });
});
