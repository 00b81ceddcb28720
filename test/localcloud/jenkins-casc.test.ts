import type { AxiosInstance } from 'axios';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { toYaml } from '../../localcloud/jenkins/casc';
import { SecretBox } from '../../localcloud/jenkins/secret';
import type { JenkinsEmulator } from '../../localcloud/jenkins/server';
import { FAKE, XML, awsXml, basic, startForTest } from '../../localcloud/jenkins/testing';
import { caseInsensitiveCompare, envVarsEntries } from '../../localcloud/jenkins/xstream';

const GLOBAL_KEY = 'AKIAFAKEGLOBALENV002';
const tokens = {
  reader: '11ddddddddddddddddddddddddddddddd4',
  sysreader: '11eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee5',
};
const ALICE = { id: 'alice', password: 'alice-password-fake' };

let jenkins: JenkinsEmulator;
let http: AxiosInstance;
let admin: { auth: { username: string; password: string } };
const reader = { auth: { username: 'reader', password: tokens.reader } };
const sysreader = { auth: { username: 'sysreader', password: tokens.sysreader } };

interface Export {
  credentials: {
    system: { domainCredentials: { credentials: Record<string, Record<string, unknown>>[] }[] };
  };
  jenkins: {
    globalNodeProperties: { envVars: { env: { key: string; value: string }[] } }[];
    numExecutors: number;
  };
  unclassified: { location: { url: string } };
}

beforeAll(async () => {
  ({ jenkins, http, admin } = await startForTest());
});

afterAll(() => jenkins.close());

beforeEach(() => {
  jenkins.state.toggles.systemRead = false;
  jenkins.state.plugins.delete('configuration-as-code');
  jenkins.state.casc.credentials.clear();
  jenkins.state.seed({
    users: [
      {
        id: 'reader',
        apiTokens: [tokens.reader],
        permissions: ['Overall/Read', 'Job/Read', 'Credentials/View'],
      },
      { id: 'sysreader', apiTokens: [tokens.sysreader], permissions: ['Overall/Read', 'Overall/SystemRead'] },
      { id: ALICE.id, password: ALICE.password },
    ],
    credentials: [
      { store: 'system', kind: 'aws', id: 'aws-prod', accessKey: FAKE.accessKey, secretKey: FAKE.secretKey },
      {
        store: 'system',
        kind: 'string',
        id: 'slack',
        secret: 'fake-slack-token',
        description: 'Slack ${TOKEN}',
      },
    ],
    globalEnv: { AWS_ACCESS_KEY_ID: GLOBAL_KEY, NOTES: 'line one\nline two' },
  });
});

describe('plugin manager (/pluginManager/api/json)', () => {
  it('lists the installed plugins with depth=1, and only empty beans at the default depth', async () => {
    const r = await http.get<{ _class: string; plugins: Record<string, unknown>[] }>(
      '/pluginManager/api/json?depth=1',
      admin,
    );
    expect(r.status).toBe(200);
    expect(r.data._class).toBe('hudson.LocalPluginManager');
    const names = r.data.plugins.map((p) => p['shortName']);
    expect(names).toEqual(
      expect.arrayContaining([
        'credentials',
        'aws-credentials',
        'plain-credentials',
        'cloudbees-folder',
        'workflow-job',
      ]),
    );
    expect(names).not.toContain('configuration-as-code');
    expect(r.data.plugins.find((p) => p['shortName'] === 'aws-credentials')).toMatchObject({
      active: true,
      enabled: true,
      longName: 'CloudBees AWS Credentials Plugin',
      version: '262.v0efb_28f71f94',
      dependencies: [{}],
    });
    const shallow = await http.get<{ plugins: unknown[] }>('/pluginManager/api/json', admin);
    expect(shallow.data.plugins.every((p) => JSON.stringify(p) === '{}')).toBe(true);
    const tree = await http.get<{ plugins: unknown[] }>(
      '/pluginManager/api/json?tree=plugins%5BshortName,active%5D',
      admin,
    );
    expect(tree.data.plugins).toContainEqual({ shortName: 'credentials', active: true });
  });

  it('needs Overall/SystemRead, which is Overall/Administer while SystemRead is disabled', async () => {
    const r = await http.get<string>('/pluginManager/api/json?depth=1', reader);
    expect(r.status).toBe(403);
    expect(r.headers['x-required-permission']).toBe('hudson.model.Hudson.Administer');
    expect(r.data).toContain('reader is missing the Overall/Administer permission');
    expect((await http.get('/pluginManager/api/json', sysreader)).status).toBe(403);
    jenkins.state.seed({ systemReadPermission: true });
    expect((await http.get('/pluginManager/api/json', sysreader)).status).toBe(200);
    const stillDenied = await http.get('/pluginManager/api/json', reader);
    expect(stillDenied.headers['x-required-permission']).toBe('hudson.model.Hudson.SystemRead');
    const anonymous = await http.get<string>('/pluginManager/api/json');
    expect(anonymous.status).toBe(403);
    expect(anonymous.data).toContain('Authentication required');
  });

  it('shows a seeded plugin, disabled or not', async () => {
    jenkins.state.seed({ plugins: [{ shortName: 'configuration-as-code', active: false, enabled: false }] });
    const r = await http.get('/pluginManager/plugin/configuration-as-code/api/json', admin);
    expect(r.data).toMatchObject({ shortName: 'configuration-as-code', active: false, enabled: false });
    expect((await http.get('/pluginManager/plugin/nope/api/json', admin)).status).toBe(404);
  });
});

describe('configuration-as-code export (POST /configuration-as-code/export)', () => {
  const exportYaml = async (auth = admin) => {
    const r = await http.post<string>('/configuration-as-code/export', null, {
      ...auth,
      responseType: 'text',
    });
    return r;
  };

  it('is not there without the plugin (404), nor while the plugin is inactive', async () => {
    expect((await exportYaml()).status).toBe(404);
    jenkins.state.seed({ plugins: [{ shortName: 'configuration-as-code', active: false }] });
    expect((await exportYaml()).status).toBe(404);
  });

  it('exports YAML: system credentials with Secrets encrypted, global env vars in plain text, the location', async () => {
    jenkins.state.seed({ jcasc: { sources: ['/var/jenkins_home/casc/jenkins.yaml'] } });
    const r = await exportYaml();
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-yaml; charset=utf-8');
    expect(r.headers['content-disposition']).toBe('attachment; filename=jenkins.yaml');
    const doc = parse(r.data) as Export;
    const creds = doc.credentials.system.domainCredentials[0]?.credentials ?? [];
    const aws = creds.find((c) => 'aws' in c)?.['aws'];
    expect(aws).toMatchObject({ id: 'aws-prod', accessKey: FAKE.accessKey, scope: 'GLOBAL' });
    expect(aws?.['secretKey']).toMatch(/^\{AQAAABAAAAA/);
    expect(jenkins.state.secrets.decrypt(String(aws?.['secretKey']))).toBe(FAKE.secretKey);
    expect(creds.find((c) => 'string' in c)?.['string']).toMatchObject({
      id: 'slack',
      description: 'Slack ^${TOKEN}',
    });
    expect(r.data).not.toContain(FAKE.secretKey);
    expect(r.data).not.toContain('fake-slack-token');
    expect(doc.jenkins.globalNodeProperties[0]?.envVars.env).toEqual([
      { key: 'AWS_ACCESS_KEY_ID', value: GLOBAL_KEY },
      { key: 'NOTES', value: 'line one\nline two' },
    ]);
    expect(doc.jenkins.numExecutors).toBe(2);
    expect(doc.unclassified.location.url).toBe(`${jenkins.url}/`);
    // snakeyaml's layout: sequences at their key's indentation, strings double-quoted, enums plain.
    expect(r.data).toContain(
      '    domainCredentials:\n    - credentials:\n      - aws:\n          accessKey: "',
    );
    expect(r.data).toContain('          scope: GLOBAL\n');
  });

  it('needs Overall/SystemRead (Administer while disabled) and answers a bare 403 from sendError', async () => {
    jenkins.state.seed({ jcasc: {} });
    const denied = await exportYaml(reader);
    expect(denied.status).toBe(403);
    expect(denied.headers['content-type']).toBe('application/json');
    expect(JSON.parse(denied.data)).toMatchObject({ status: '403', message: 'Forbidden' });
    expect(denied.headers['x-required-permission']).toBeUndefined();
    expect((await exportYaml(sysreader)).status).toBe(403);
    jenkins.state.seed({ systemReadPermission: true });
    expect((await exportYaml(sysreader)).status).toBe(200);
  });

  it('is POST only (405 to GET, whoever asks) and needs a crumb with a password', async () => {
    jenkins.state.seed({ jcasc: {} });
    const get = await http.get('/configuration-as-code/export', admin);
    expect(get.status).toBe(405);
    expect(get.headers['allow']).toBe('POST');
    expect((await http.get('/configuration-as-code/export', reader)).status).toBe(405);
    const noCrumb = await http.post('/configuration-as-code/export', null, {
      auth: basic(ALICE.id, ALICE.password),
    });
    expect(noCrumb.status).toBe(403);
    expect(noCrumb.data).toMatchObject({ message: 'No valid crumb was included in the request' });
  });

  it('is also under /manage/, and viewExport shows the same YAML in a page', async () => {
    jenkins.state.seed({ jcasc: { sources: ['/var/jenkins_home/casc/jenkins.yaml'] } });
    expect((await http.post('/manage/configuration-as-code/export', null, admin)).status).toBe(200);
    const page = await http.post<string>('/configuration-as-code/viewExport', null, admin);
    expect(page.status).toBe(200);
    expect(page.data).toContain('<pre id="export">credentials:');
    const index = await http.get<string>('/configuration-as-code/', admin);
    expect(index.data).toContain('/var/jenkins_home/casc/jenkins.yaml');
    expect((await http.get('/configuration-as-code/', reader)).status).toBe(403);
  });

  it('reload puts back what the JCasC source defines: a rotation done over REST is undone', async () => {
    jenkins.state.seed({ jcasc: { credentials: ['aws-prod'] } });
    const update = await http.post(
      '/credentials/store/system/domain/_/credential/aws-prod/config.xml',
      awsXml('aws-prod', FAKE.accessKey2, FAKE.secretKey2),
      { ...admin, headers: XML },
    );
    expect(update.status).toBe(200);
    expect(jenkins.state.credentialView('system', 'aws-prod')?.fields['accessKey']).toBe(FAKE.accessKey2);
    expect((await http.post('/configuration-as-code/reload', null, reader)).status).toBe(403);
    const reload = await http.post('/configuration-as-code/reload', null, admin);
    expect(reload.status).toBe(302);
    expect(reload.headers['location']).toBe(`${jenkins.url}/configuration-as-code/`);
    expect(jenkins.state.credentialView('system', 'aws-prod')?.fields).toMatchObject({
      accessKey: FAKE.accessKey,
      secretKey: FAKE.secretKey,
    });
    const state = await http.get<{
      casc: { installed: boolean; credentials: { id: string; domain: string }[] };
    }>('/_localcloud/state');
    expect(state.data.casc).toMatchObject({
      installed: true,
      credentials: [{ id: 'aws-prod', domain: '_' }],
    });
  });

  it('refuses to seed a JCasC credential that is not in the system store, changing nothing', () => {
    expect(() => jenkins.state.seed({ jcasc: { credentials: ['nope'] } })).toThrow(
      'jcasc.credentials: no credential nope in domain _ of the system store',
    );
    expect(jenkins.state.hasPlugin('configuration-as-code')).toBe(false);
  });
});

describe('YAML output (snakeyaml block style)', () => {
  it('writes literal blocks for multi-line strings, double quotes otherwise, and parses back', () => {
    const text = toYaml([
      [
        'jenkins',
        {
          systemMessage: { scalar: 'first\nsecond\n' },
          quote: { scalar: 'say "hi"\tnow' },
          trailing: { scalar: 'a \nb' },
          list: [{ scalar: 'x' }, { k: { scalar: 'v' } }],
          empty: [],
          flag: { scalar: 'true', raw: true },
        },
      ],
    ]);
    expect(text).toBe(
      [
        'jenkins:',
        '  flag: true',
        '  list:',
        '  - "x"',
        '  - k: "v"',
        '  quote: "say \\"hi\\"\\tnow"',
        '  systemMessage: |',
        '    first',
        '    second',
        '  trailing: "a \\nb"',
        '',
      ].join('\n'),
    );
    expect(parse(text)).toEqual({
      jenkins: {
        flag: true,
        list: ['x', { k: 'v' }],
        quote: 'say "hi"\tnow',
        systemMessage: 'first\nsecond\n',
        trailing: 'a \nb',
      },
    });
  });
});

describe('Secret encoding (hudson.util.Secret)', () => {
  it('writes {AQAAABAAAAA…}, decrypts its own values only, and keeps one value per plaintext', () => {
    const box = new SecretBox();
    const value = box.encrypt('fake-secret');
    expect(value).toMatch(/^\{AQAAABAAAAAQ[A-Za-z0-9+/]+={0,2}\}$/);
    expect(box.encrypt('fake-secret')).toBe(value);
    expect(box.decrypt(value)).toBe('fake-secret');
    expect(new SecretBox().decrypt(value)).toBeUndefined();
    expect(box.decrypt('plain')).toBeUndefined();
    expect(box.redact(`<a>${value}</a><b>linux</b>`)).toBe('<a>********</a><b>linux</b>');
  });
});

describe('EnvVars (case-insensitive TreeMap)', () => {
  it('orders keys as String.CASE_INSENSITIVE_ORDER and merges keys differing only in case', () => {
    // '_' (0x5f) sorts before the letters once they are lower-cased.
    expect(envVarsEntries({ path: '/a', Zeta: 'z', alpha: 'a', PATH: '/b', _X: 'x' })).toEqual([
      ['_X', 'x'],
      ['alpha', 'a'],
      ['path', '/b'],
      ['Zeta', 'z'],
    ]);
    expect(caseInsensitiveCompare('abc', 'ABD')).toBeLessThan(0);
    expect(caseInsensitiveCompare('ab', 'AB')).toBe(0);
  });
});
