import type { AxiosInstance } from 'axios';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JenkinsEmulator } from '../../localcloud/jenkins/server';
import { FAKE, basic, rawRequest, startForTest } from '../../localcloud/jenkins/testing';

/** Synthetic key material shaped like AWS keys (AKIA + 16), made up for these tests. */
const PLANTED = { accessKeyId: 'AKIAFAKEPLANTED00001', secret: 'fakeSecretPlanted0001/abcdefghijklmnopqrs' };
const FOLDER_KEY = 'AKIAFAKEFOLDERENV001';
const GLOBAL_KEY = 'AKIAFAKEGLOBALENV001';
const AGENT_KEY = 'AKIAFAKEAGENTENV0001';
const DEPLOY_TOKEN = 'fake-deploy-token-0001';
const DB_PASSWORD = 'fake-db-password-0001';

let jenkins: JenkinsEmulator;
let http: AxiosInstance;
let admin: { auth: { username: string; password: string } };
const tokens = {
  reader: '11aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1',
  auditor: '11bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2',
};
const reader = { auth: { username: 'reader', password: tokens.reader } };
const auditor = { auth: { username: 'auditor', password: tokens.auditor } };

const xml = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  isArray: (name) => name === 'string',
});

beforeAll(async () => {
  ({ jenkins, http, admin } = await startForTest());
});

afterAll(() => jenkins.close());

beforeEach(() => {
  jenkins.state.toggles.extendedRead = false;
  jenkins.state.toggles.systemRead = false;
  jenkins.state.seed({
    users: [
      { id: 'reader', apiTokens: [tokens.reader], permissions: ['Overall/Read', 'Job/Read'] },
      {
        id: 'auditor',
        apiTokens: [tokens.auditor],
        permissions: ['Overall/Read', 'Job/Read', 'Job/ExtendedRead', 'Agent/ExtendedRead', 'View/Read'],
      },
    ],
    folders: [
      { path: 'team-a', description: 'Team A', env: { DEPLOY_ENV: 'prod', AWS_ACCESS_KEY_ID: FOLDER_KEY } },
    ],
    credentials: [
      {
        store: { folder: 'team-a' },
        kind: 'usernamePassword',
        id: 'team-a-aws',
        username: FAKE.accessKey,
        password: FAKE.secretKey,
      },
    ],
    jobs: [
      {
        path: 'team-a/deploy',
        description: 'Deploys <prod> & "staging"',
        parameters: ['REASON', { name: 'DEPLOY_TOKEN', password: true, default: DEPLOY_TOKEN }],
        env: { AWS_ACCESS_KEY_ID: PLANTED.accessKeyId, AWS_SECRET_ACCESS_KEY: PLANTED.secret },
        passwords: { DB_PASSWORD },
        shell: 'aws s3 ls',
      },
      {
        path: 'team-a/release',
        type: 'pipeline',
        script: "pipeline {\n  agent any\n  environment { REGION = 'eu-west-1' }\n}",
      },
    ],
    globalEnv: { aws_region: 'us-east-1', AWS_ACCESS_KEY_ID: GLOBAL_KEY },
    nodes: [
      { name: 'linux-1', labels: 'linux docker', env: { AWS_ACCESS_KEY_ID: AGENT_KEY, PATH: '/opt/bin' } },
    ],
  });
});

/** The element at a path of a parsed document (fails the test, naming the path, when it is not there). */
function dig(doc: unknown, ...path: string[]): unknown {
  let node = doc;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !(key in node))
      throw new Error(`no ${path.join(' > ')}`);
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The text of an element at a path. */
const text = (doc: unknown, ...path: string[]): string => {
  const v = dig(doc, ...path);
  if (typeof v !== 'string') throw new Error(`${path.join(' > ')} is not text`);
  return v;
};

/** The values of an XStream-serialized EnvVars (`<envVars serialization="custom">…<tree-map>`), as pairs. */
function treeMapPairs(envVars: unknown): [string, string][] {
  const strings = dig(envVars, 'tree-map', 'string') as string[];
  expect(strings).toHaveLength(Number(text(envVars, 'tree-map', 'int')) * 2);
  const pairs: [string, string][] = [];
  for (let i = 0; i < strings.length; i += 2) pairs.push([strings[i] ?? '', strings[i + 1] ?? '']);
  return pairs;
}

describe('job config.xml (AbstractItem.doConfigDotXml)', () => {
  it('serves a freestyle job with its EnvInject variables in plain text and every Secret encrypted', async () => {
    const r = await http.get<string>('/job/team-a/job/deploy/config.xml', admin);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/xml');
    expect(r.headers['x-jenkins']).toBeUndefined();
    expect(r.data.startsWith('<?xml version="1.1" encoding="UTF-8"?>\n<project>\n  <actions/>\n')).toBe(true);
    const p = dig(xml.parse(r.data), 'project');
    expect(text(p, 'description')).toBe('Deploys <prod> & "staging"');
    const envInject = dig(p, 'properties', 'EnvInjectJobProperty');
    expect(text(envInject, '@_plugin')).toMatch(/^envinject@/);
    expect(text(envInject, 'info', 'propertiesContent')).toBe(
      `AWS_ACCESS_KEY_ID=${PLANTED.accessKeyId}\nAWS_SECRET_ACCESS_KEY=${PLANTED.secret}`,
    );
    const defs = dig(p, 'properties', 'hudson.model.ParametersDefinitionProperty', 'parameterDefinitions');
    expect(dig(defs, 'hudson.model.StringParameterDefinition')).toMatchObject({
      name: 'REASON',
      defaultValue: '',
    });
    const password = text(defs, 'hudson.model.PasswordParameterDefinition', 'defaultValue');
    expect(password).toMatch(/^\{AQAAABAAAAA[A-Za-z0-9+/]+={0,2}\}$/);
    expect(jenkins.state.secrets.decrypt(password)).toBe(DEPLOY_TOKEN);
    const entry = dig(
      p,
      'buildWrappers',
      'EnvInjectPasswordWrapper',
      'passwordEntries',
      'EnvInjectPasswordEntry',
    );
    expect(text(entry, 'name')).toBe('DB_PASSWORD');
    expect(jenkins.state.secrets.decrypt(text(entry, 'value'))).toBe(DB_PASSWORD);
    expect(text(p, 'builders', 'hudson.tasks.Shell', 'command')).toBe('aws s3 ls');
    expect(r.data).not.toContain(DEPLOY_TOKEN);
    expect(r.data).not.toContain(DB_PASSWORD);
  });

  it('gives the same encrypted value on every read, as a Secret keeps its IV', async () => {
    const a = await http.get<string>('/job/team-a/job/deploy/config.xml', admin);
    const b = await http.get<string>('/job/team-a/job/deploy/config.xml', admin);
    expect(a.data).toBe(b.data);
  });

  it('serves a pipeline job with its inline script (CpsFlowDefinition)', async () => {
    const r = await http.get<string>('/job/team-a/job/release/config.xml', admin);
    expect(r.status).toBe(200);
    const flow = dig(xml.parse(r.data), 'flow-definition');
    expect(text(flow, '@_plugin')).toMatch(/^workflow-job@/);
    expect(text(flow, 'definition', '@_class')).toBe('org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition');
    expect(text(flow, 'definition', 'script')).toBe(
      "pipeline {\n  agent any\n  environment { REGION = 'eu-west-1' }\n}",
    );
    expect(r.data).toContain('environment { REGION = &apos;eu-west-1&apos; }');
  });

  it('needs Job/Configure while ExtendedRead is disabled (the default): 403 naming Job/Configure', async () => {
    const r = await http.get('/job/team-a/job/deploy/config.xml', reader);
    expect(r.status).toBe(403);
    expect(r.headers['x-required-permission']).toBe('hudson.model.Item.Configure');
    expect(r.headers['x-permission-implied-by']).toContain('hudson.model.Hudson.Administer');
    expect(r.data).toContain('reader is missing the Job/Configure permission');
    // A grant of the disabled permission does not count either.
    const denied = await http.get('/job/team-a/job/deploy/config.xml', auditor);
    expect(denied.status).toBe(403);
    expect(denied.headers['x-required-permission']).toBe('hudson.model.Item.Configure');
  });

  it('with ExtendedRead enabled, serves Job/ExtendedRead without Configure with the Secrets as ********', async () => {
    jenkins.state.seed({ extendedReadPermission: true });
    const r = await http.get<string>('/job/team-a/job/deploy/config.xml', auditor);
    expect(r.status).toBe(200);
    expect(r.data).toContain(`AWS_ACCESS_KEY_ID=${PLANTED.accessKeyId}`);
    expect(r.data).toContain('<defaultValue>********</defaultValue>');
    expect(r.data).toContain('<value>********</value>');
    expect(r.data).not.toMatch(/\{AQAAAB/);
    const denied = await http.get('/job/team-a/job/deploy/config.xml', reader);
    expect(denied.status).toBe(403);
    expect(denied.headers['x-required-permission']).toBe('hudson.model.Item.ExtendedRead');
    expect(denied.headers['x-permission-implied-by']).toEqual(
      expect.stringContaining('hudson.model.Item.Configure'),
    );
  });

  it('answers 404 without Job/Read on the way, and the login page to anonymous', async () => {
    jenkins.state.seed({
      users: [
        { id: 'outsider', apiTokens: ['11ccccccccccccccccccccccccccccccc3'], permissions: ['Overall/Read'] },
      ],
    });
    const r = await http.get('/job/team-a/job/deploy/config.xml', {
      auth: basic('outsider', '11ccccccccccccccccccccccccccccccc3'),
    });
    expect(r.status).toBe(404);
    const anonymous = await http.get<string>('/job/team-a/job/deploy/config.xml');
    expect(anonymous.status).toBe(403);
    expect(anonymous.data).toContain('Authentication required');
    expect(anonymous.headers['x-required-permission']).toBe('hudson.model.Hudson.Read');
  });

  it('honours project-based grants: ExtendedRead granted on a folder reaches its jobs only', async () => {
    jenkins.state.seed({
      extendedReadPermission: true,
      folders: [{ path: 'team-b', grants: { reader: ['Job/ExtendedRead'] } }],
      jobs: [{ path: 'team-b/build', env: { REGION: 'eu-west-1' } }],
    });
    const inB = await http.get<string>('/job/team-b/job/build/config.xml', reader);
    expect(inB.status).toBe(200);
    expect(inB.data).toContain('REGION=eu-west-1');
    expect((await http.get('/job/team-a/job/deploy/config.xml', reader)).status).toBe(403);
  });

  it('answers 400 to other methods, and 403 to POST without Job/Configure', async () => {
    expect((await http.put('/job/team-a/job/deploy/config.xml', '<project/>', admin)).status).toBe(400);
    const post = await http.post('/job/team-a/job/deploy/config.xml', '<project/>', {
      ...reader,
      headers: { 'Content-Type': 'application/xml' },
    });
    expect(post.status).toBe(403);
    expect(post.headers['x-required-permission']).toBe('hudson.model.Item.Configure');
  });

  it('serves a seeded document as it is, redacting only values that decrypt on this instance', async () => {
    const encrypted = jenkins.state.secrets.encrypt('fake-raw-secret');
    const foreign = '{AQAAABAAAAAQnpYMn3jSLWvl8T1M9x3dVAyi6ZNe9iekO9HyQSQnB6U=}';
    const doc = `<?xml version='1.1' encoding='UTF-8'?>\n<project>\n  <description>raw</description>\n  <a>${encrypted}</a>\n  <b>${foreign}</b>\n</project>`;
    jenkins.state.seed({ extendedReadPermission: true, jobs: [{ path: 'raw', configXml: doc }] });
    expect((await http.get<string>('/job/raw/config.xml', admin)).data).toBe(doc);
    const redacted = await http.get<string>('/job/raw/config.xml', auditor);
    expect(redacted.data).toContain('<a>********</a>');
    expect(redacted.data).toContain(`<b>${foreign}</b>`);
  });
});

describe('folder config.xml', () => {
  it('holds the folder properties and the folder credential store, usernames plain and passwords encrypted', async () => {
    const r = await http.get<string>('/job/team-a/config.xml', admin);
    expect(r.status).toBe(200);
    const folder = dig(xml.parse(r.data), 'com.cloudbees.hudson.plugins.folder.Folder');
    expect(text(folder, 'description')).toBe('Team A');
    const props = dig(
      folder,
      'properties',
      'com.mig82.folders.properties.FolderProperties',
      'properties',
      'com.mig82.folders.properties.StringProperty',
    );
    expect(props).toEqual([
      { key: 'DEPLOY_ENV', value: 'prod' },
      { key: 'AWS_ACCESS_KEY_ID', value: FOLDER_KEY },
    ]);
    const store = dig(
      folder,
      'properties',
      'com.cloudbees.hudson.plugins.folder.properties.FolderCredentialsProvider_-FolderCredentialsProperty',
      'domainCredentialsMap',
    );
    expect(text(store, '@_class')).toBe('hudson.util.CopyOnWriteMap$Hash');
    const cred = dig(
      store,
      'entry',
      'java.util.concurrent.CopyOnWriteArrayList',
      'com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl',
    );
    expect(cred).toMatchObject({ id: 'team-a-aws', username: FAKE.accessKey });
    expect(jenkins.state.secrets.decrypt(text(cred, 'password'))).toBe(FAKE.secretKey);
    expect(r.data).not.toContain(FAKE.secretKey);
  });
});

describe('job listing (/api/json?tree=jobs[…])', () => {
  it('lists jobs and folders with their classes, at the root and in a folder', async () => {
    const root = await http.get<{ jobs: unknown[] }>('/api/json?tree=jobs%5Bname,url,_class%5D', admin);
    expect(root.data.jobs).toContainEqual({
      _class: 'com.cloudbees.hudson.plugins.folder.Folder',
      name: 'team-a',
      url: `${jenkins.url}/job/team-a/`,
    });
    const inFolder = await http.get('/job/team-a/api/json?tree=jobs%5Bname,_class%5D', admin);
    expect(inFolder.data).toEqual({
      _class: 'com.cloudbees.hudson.plugins.folder.Folder',
      jobs: [
        { _class: 'hudson.model.FreeStyleProject', name: 'deploy' },
        { _class: 'org.jenkinsci.plugins.workflow.job.WorkflowJob', name: 'release' },
      ],
    });
  });

  it('shows a password parameter by name only in the JSON API', async () => {
    const r = await http.get<string>('/job/team-a/job/deploy/api/json?depth=2', {
      ...admin,
      transformResponse: (d: string) => d,
    });
    expect(r.data).toContain('"_class":"hudson.model.PasswordParameterDefinition"');
    expect(r.data).not.toContain(DEPLOY_TOKEN);
  });
});

describe('parameters at build time', () => {
  it('uses the defaults for what is not given and shows a password parameter as **** in the queue', async () => {
    jenkins.state.seed({
      jobs: [
        {
          path: 'param-defaults',
          quietPeriodMs: 60_000,
          parameters: [
            { name: 'REGION', default: 'eu-west-1' },
            { name: 'TOKEN', password: true, default: DEPLOY_TOKEN },
          ],
        },
      ],
    });
    const trigger = await http.post('/job/param-defaults/buildWithParameters', null, admin);
    expect(trigger.status).toBe(201);
    const item = await http.get<string>(
      `${new URL(String(trigger.headers['location'])).pathname}api/json?depth=2`,
      {
        ...admin,
        transformResponse: (d: string) => d,
      },
    );
    const parsed = JSON.parse(item.data) as { params: string };
    expect(parsed.params).toBe('\nREGION=eu-west-1\nTOKEN=****');
    expect(item.data).toContain('"_class":"hudson.model.PasswordParameterValue"');
    expect(item.data).not.toContain(DEPLOY_TOKEN);
  });
});

describe('global configuration', () => {
  it('answers /config.xml at the root with the primary view, as the StaplerFallback does (View/Read)', async () => {
    const r = await http.get<string>('/config.xml', admin);
    expect(r.status).toBe(200);
    expect(r.data).toContain('<hudson.model.AllView>\n  <name>all</name>');
    expect(r.data).not.toContain(GLOBAL_KEY);
    const denied = await http.get('/config.xml', reader);
    expect(denied.status).toBe(403);
    expect(denied.headers['x-required-permission']).toBe('hudson.model.View.Read');
  });

  it('lists the nodes, the built-in one first (ComputerSet exports `computer` inline)', async () => {
    const r = await http.get('/computer/api/json', reader);
    expect(r.status).toBe(200);
    expect(r.data).toMatchObject({
      _class: 'hudson.model.ComputerSet',
      computer: [
        { _class: 'hudson.model.Hudson$MasterComputer', displayName: 'Built-In Node' },
        {
          _class: 'hudson.slaves.SlaveComputer',
          displayName: 'linux-1',
          assignedLabels: [{ name: 'linux' }, { name: 'docker' }, { name: 'linux-1' }],
        },
      ],
    });
  });

  it("serves an agent's config.xml with its EnvironmentVariablesNodeProperty (EnvVars' custom serialization)", async () => {
    const r = await http.get<string>('/computer/linux-1/config.xml', admin);
    expect(r.status).toBe(200);
    expect(r.data).toContain(
      '<envVars serialization="custom">\n        <unserializable-parents/>\n        <tree-map>',
    );
    expect(r.data).toContain('<comparator class="java.lang.String$CaseInsensitiveComparator"/>');
    const slave = dig(xml.parse(r.data), 'slave');
    expect(text(slave, 'label')).toBe('linux docker');
    const envVars = dig(slave, 'nodeProperties', 'hudson.slaves.EnvironmentVariablesNodeProperty', 'envVars');
    expect(text(envVars, '@_serialization')).toBe('custom');
    expect(treeMapPairs(envVars)).toEqual([
      ['AWS_ACCESS_KEY_ID', AGENT_KEY],
      ['PATH', '/opt/bin'],
    ]);
  });

  it('needs Agent/ExtendedRead (Agent/Configure while disabled) for an agent, and refuses the built-in node with 400', async () => {
    const denied = await http.get('/computer/linux-1/config.xml', reader);
    expect(denied.status).toBe(403);
    expect(denied.headers['x-required-permission']).toBe('hudson.model.Computer.Configure');
    jenkins.state.seed({ extendedReadPermission: true });
    expect((await http.get('/computer/linux-1/config.xml', auditor)).status).toBe(200);
    const builtIn = await rawRequest(`${jenkins.url}/computer/(built-in)/config.xml`, 'GET', {
      Authorization: `Basic ${Buffer.from(`admin:${jenkins.admin.apiToken}`).toString('base64')}`,
    });
    expect(builtIn.status).toBe(400);
    expect(builtIn.body).toBe('');
    expect((await http.get('/computer/nope/config.xml', admin)).status).toBe(404);
  });
});

describe('seed validation', () => {
  it('refuses mismatched job settings and documents, naming what is wrong, and changes nothing', () => {
    expect(() => jenkins.state.seed({ jobs: [{ path: 'bad', script: 'node {}' }] })).toThrow(
      /script is a pipeline job's; a freestyle job has shell/,
    );
    expect(() =>
      jenkins.state.seed({ jobs: [{ path: 'bad', type: 'pipeline', configXml: '<project/>' }] }),
    ).toThrow(/the root element is <project>, a pipeline job has <flow-definition>/);
    expect(() => jenkins.state.seed({ jobs: [{ path: 'bad', configXml: '<project>' }] })).toThrow(
      /not well-formed XML/,
    );
    expect(() => jenkins.state.seed({ globalEnv: { 'A=B': 'x' } })).toThrow(/environment variable name/);
    expect(() =>
      jenkins.state.seed({ jobs: [{ path: 'bad', parameters: ['X', { name: 'X', password: true }] }] }),
    ).toThrow(/parameter X is defined twice/);
    expect(jenkins.state.job('bad')).toBeUndefined();
  });

  it('answers a bad seed over HTTP with 400 and the reason', async () => {
    const r = await http.post('/_localcloud/seed', { nodes: [{ name: '(built-in)' }] });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.data)).toContain('the built-in node is always there');
  });
});
