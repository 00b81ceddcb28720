import type { AxiosInstance } from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { startJenkinsEmulator, type JenkinsEmulator } from '../../localcloud/jenkins/server';
import {
  FAKE,
  XML,
  awsXml,
  basic,
  jenkinsHttp,
  pollUntil,
  userPassXml,
} from '../../localcloud/jenkins/testing';
import { startAws } from '../support/aws';

let aws: AwsEmulator;
let jenkins: JenkinsEmulator;
let http: AxiosInstance;
let admin: { auth: { username: string; password: string } };
let key: { accessKeyId: string; secretAccessKey: string };
let userArn: string;

beforeAll(async () => {
  aws = await startAws();
  jenkins = await startJenkinsEmulator({ awsEndpoint: aws.url });
  http = jenkinsHttp(jenkins);
  admin = { auth: { username: 'admin', password: jenkins.admin.apiToken } };
  const user = aws.state.createUser(aws.state.defaultAccountId, 'jenkins-ci');
  key = aws.state.createAccessKey(user, { established: true });
  userArn = user.arn;
});

afterAll(async () => {
  await jenkins.close();
  await aws.close();
});

interface BuildJson {
  _class: string;
  building: boolean;
  result: string | null;
  number: number;
  url: string;
}

/** Triggers a build and follows Location → queue item → executable → finished build, as a client would. */
async function runJob(jobUrlPath: string, params: Record<string, string> = { REASON: 'test' }) {
  const trigger = await http.post(`${jobUrlPath}/buildWithParameters`, null, { ...admin, params });
  expect(trigger.status).toBe(201);
  const location = String(trigger.headers['location']);
  expect(location).toMatch(new RegExp(`^${jenkins.url}/queue/item/\\d+/$`));
  const itemPath = new URL(location).pathname;
  const executable = await pollUntil(async () => {
    const q = await http.get<{ _class: string; executable?: { number: number; url: string } }>(
      `${itemPath}api/json`,
      admin,
    );
    expect(q.status).toBe(200);
    return q.data._class === 'hudson.model.Queue$LeftItem' ? q.data.executable : undefined;
  });
  const buildPath = new URL(executable.url).pathname;
  const build = await pollUntil(async () => {
    const b = await http.get<BuildJson>(`${buildPath}api/json?tree=building,result,number,url`, admin);
    return b.data.building ? undefined : b.data;
  });
  const console = await http.get<string>(`${buildPath}consoleText`, admin);
  return { build, console: console.data, buildPath };
}

describe('buildWithParameters → queue → build (jenkins-api.md §8)', () => {
  it('queues with 201 + absolute Location, shows a waiting then a left item, and finishes SUCCESS', async () => {
    jenkins.state.seed({ jobs: [{ path: 'noop', parameters: ['REASON'], quietPeriodMs: 1000 }] });
    const trigger = await http.post('/job/noop/buildWithParameters', null, {
      ...admin,
      params: { REASON: 'x' },
    });
    expect(trigger.status).toBe(201);
    expect(trigger.data).toBe('');
    const itemPath = new URL(String(trigger.headers['location'])).pathname;

    const waiting = await http.get(`${itemPath}api/json`, admin);
    expect(waiting.headers['x-jenkins']).toBe('2.578');
    expect(waiting.data).toMatchObject({
      _class: 'hudson.model.Queue$WaitingItem',
      id: Number(itemPath.split('/')[3]),
      url: itemPath.slice(1),
      params: '\nREASON=x',
      task: { name: 'noop', url: `${jenkins.url}/job/noop/` },
    });

    const left = await pollUntil(async () => {
      const q = await http.get<{ _class: string }>(`${itemPath}api/json`, admin);
      return q.data._class === 'hudson.model.Queue$LeftItem' ? q.data : undefined;
    });
    expect(left).toMatchObject({
      cancelled: false,
      executable: { _class: 'hudson.model.FreeStyleBuild', number: 1, url: `${jenkins.url}/job/noop/1/` },
    });
    const done = await pollUntil(async () => {
      const b = await http.get<BuildJson>('/job/noop/1/api/json', admin);
      return b.data.building ? undefined : b.data;
    });
    expect(done).toMatchObject({ _class: 'hudson.model.FreeStyleBuild', result: 'SUCCESS', number: 1 });
    expect((await http.get('/job/noop/lastBuild/api/json?tree=number', admin)).data).toMatchObject({
      number: 1,
    });
  });

  it('reports result null while the build is running', async () => {
    jenkins.state.seed({
      jobs: [{ path: 'slow', parameters: ['REASON'], quietPeriodMs: 0, durationMs: 2000 }],
    });
    await http.post('/job/slow/buildWithParameters', null, admin);
    const running = await pollUntil(async () => {
      const b = await http.get<BuildJson>('/job/slow/1/api/json?tree=building,result', admin);
      return b.status === 200 ? b.data : undefined;
    });
    expect(running).toEqual({ _class: 'hudson.model.FreeStyleBuild', building: true, result: null });
  });

  it('answers an identical trigger while the first is still queued with 303 to the same item', async () => {
    jenkins.state.seed({ jobs: [{ path: 'dup', parameters: ['REASON'], quietPeriodMs: 5000 }] });
    const first = await http.post('/job/dup/buildWithParameters', null, {
      ...admin,
      params: { REASON: 'a' },
    });
    const second = await http.post('/job/dup/buildWithParameters', null, {
      ...admin,
      params: { REASON: 'a' },
    });
    expect(first.status).toBe(201);
    expect(second.status).toBe(303);
    expect(second.headers['location']).toBe(first.headers['location']);
  });

  it('refuses: 400 not parameterized, 409 disabled, 405 GET, 403 without Job/Build, 404 unknown', async () => {
    const token = `11${'c'.repeat(32)}`;
    jenkins.state.seed({
      users: [{ id: 'reader', apiTokens: [token], permissions: ['Overall/Read', 'Job/Read'] }],
      jobs: [
        { path: 'team/plain' },
        { path: 'team/off', parameters: ['REASON'], disabled: true },
        { path: 'team/ok', parameters: ['REASON'] },
      ],
    });
    const notParameterized = await http.post('/job/team/job/plain/buildWithParameters', null, admin);
    expect(notParameterized.status).toBe(400);
    expect(notParameterized.data).toMatchObject({ message: 'team/plain is not parameterized' });

    const disabled = await http.post('/job/team/job/off/buildWithParameters', null, admin);
    expect(disabled.status).toBe(409);
    expect(disabled.data).toMatchObject({ message: 'team/off is not buildable' });

    const get = await http.get('/job/team/job/ok/buildWithParameters', admin);
    expect(get.status).toBe(405);
    expect(get.headers['allow']).toBe('POST');

    const denied = await http.post('/job/team/job/ok/buildWithParameters', null, {
      auth: basic('reader', token),
    });
    expect(denied.status).toBe(403);
    expect(denied.headers['x-required-permission']).toBe('hudson.model.Item.Build');

    expect((await http.post('/job/team/job/nope/buildWithParameters', null, admin)).status).toBe(404);
    expect((await http.get('/queue/item/99999/api/json', admin)).status).toBe(404);
    expect((await http.post('/job/team/job/plain/build', null, admin)).status).toBe(201);
  });
});

describe('canary jobs against the AWS emulator', () => {
  it('sts-identity: SUCCESS with the stored key, console without the secret', async () => {
    jenkins.state.seed({
      credentials: [{ store: 'system', xml: awsXml('aws-ci', key.accessKeyId, key.secretAccessKey) }],
      jobs: [
        {
          path: 'sts-canary',
          parameters: ['REASON'],
          check: 'sts-identity',
          credentialId: 'aws-ci',
          expectedArn: userArn,
          quietPeriodMs: 0,
        },
      ],
    });
    const { build, console } = await runJob('/job/sts-canary');
    expect(build.result).toBe('SUCCESS');
    expect(console).toContain(userArn);
    expect(console).toContain('Finished: SUCCESS');
    expect(console).not.toContain(key.secretAccessKey);
  });

  it('sts-identity: FAILURE once Jenkins holds a wrong secret, or the credential is missing', async () => {
    jenkins.state.seed({
      credentials: [{ store: 'system', xml: awsXml('aws-bad', key.accessKeyId, FAKE.secretKey) }],
      jobs: [
        {
          path: 'bad-canary',
          parameters: ['REASON'],
          check: 'sts-identity',
          credentialId: 'aws-bad',
          quietPeriodMs: 0,
        },
        {
          path: 'lost-canary',
          parameters: ['REASON'],
          check: 'sts-identity',
          credentialId: 'gone',
          quietPeriodMs: 0,
        },
      ],
    });
    const bad = await runJob('/job/bad-canary');
    expect(bad.build.result).toBe('FAILURE');
    expect(bad.console).toContain('SignatureDoesNotMatch');
    expect(bad.console).not.toContain(FAKE.secretKey);

    const lost = await runJob('/job/lost-canary');
    expect(lost.build.result).toBe('FAILURE');
    expect(lost.console).toContain("Could not find credentials entry with ID 'gone'");
  });

  it('resolves the credential from the job folder before the system store, and sees a rotation', async () => {
    jenkins.state.seed({
      credentials: [
        { store: 'system', xml: awsXml('shared', FAKE.accessKey, FAKE.secretKey) },
        { store: { folder: 'team-a' }, xml: userPassXml('shared', key.accessKeyId, 'stale-secret') },
      ],
      jobs: [
        {
          path: 'team-a/inner/canary',
          parameters: ['REASON'],
          check: 'sts-identity',
          credentialId: 'shared',
          quietPeriodMs: 0,
        },
      ],
    });
    const before = await runJob('/job/team-a/job/inner/job/canary');
    expect(before.build.result).toBe('FAILURE');
    expect(before.console).toContain('from the folder team-a store');

    const update = await http.post(
      '/job/team-a/credentials/store/folder/domain/_/credential/shared/config.xml',
      userPassXml('shared', key.accessKeyId, key.secretAccessKey),
      { ...admin, headers: XML },
    );
    expect(update.status).toBe(200);
    const after = await runJob('/job/team-a/job/inner/job/canary');
    expect(after.build.result).toBe('SUCCESS');
    expect(after.console).not.toContain(key.secretAccessKey);
  });

  // Depends on the ECR service of the AWS emulator (GetAuthorizationToken and the registry's GET /v2/).
  it('ecr-login: SUCCESS when the key gets a token the registry accepts', async () => {
    jenkins.state.seed({
      credentials: [{ store: 'system', xml: awsXml('aws-ecr', key.accessKeyId, key.secretAccessKey) }],
      jobs: [
        {
          path: 'ecr-canary',
          parameters: ['REASON'],
          check: 'ecr-login',
          credentialId: 'aws-ecr',
          quietPeriodMs: 0,
        },
      ],
    });
    const { build, console } = await runJob('/job/ecr-canary');
    expect(console).toContain('ecr:GetAuthorizationToken');
    expect(build.result).toBe('SUCCESS');
    expect(console).not.toContain(key.secretAccessKey);
  });
});
