import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JenkinsClient } from '../../src/jenkins';
import { jenkinsFailure } from '../support/jenkins';

// A scripted HTTP server: each test queues handlers; every request is recorded.
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void;

const TOKEN = '11aaaabbbbccccddddeeeeffff00001111';
const PASSWORD = 'pw-SENTINEL-9876';
const SECRET = 'fake-secret-SENTINEL-0001';
const SYSTEM = { kind: 'system' } as const;
const CRED = '/credentials/store/system/domain/_/credential/aws-deploy/config.xml';
const AWS_XML = `<com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl plugin="aws-credentials@1">
  <scope>GLOBAL</scope>
  <id>aws-deploy</id>
  <description>d</description>
  <accessKey>AKIAFAKEOLD</accessKey>
  <secretKey>
    <secret-redacted/>
  </secretKey>
</com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl>`;

let server: Server;
let baseUrl: string;
let queue: Handler[] = [];
let seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(s);
      const handler = queue.shift();
      if (handler) handler(s, res);
      else res.writeHead(599).end('unscripted request');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jenkins`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(async () => {
  // Let requests a test aborted mid-flight reach the server before the next test scripts its answers.
  await new Promise((resolve) => setTimeout(resolve, 50));
  queue = [];
  seen = [];
});

const send =
  (status: number, body = '', headers: Record<string, string | string[]> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, headers).end(body);
  };
const xml = send(200, AWS_XML, { 'content-type': 'application/xml' });
const json = (value: unknown, headers: Record<string, string | string[]> = {}): Handler =>
  send(200, JSON.stringify(value), { 'content-type': 'application/json;charset=UTF-8', ...headers });
const hang: Handler = () => {
  // never answers
};

function client(extra: Partial<ConstructorParameters<typeof JenkinsClient>[0]> = {}): JenkinsClient {
  return new JenkinsClient({
    baseUrl,
    auth: { username: 'rotator', apiToken: TOKEN },
    timeoutMs: 2000,
    ...extra,
  });
}

describe('JenkinsClient over HTTP (scripted server)', () => {
  it('sends preemptive Basic auth, XML content type, and no crumb with an API token', async () => {
    queue.push(xml, send(200));
    await client().putKey(SYSTEM, 'aws-deploy', { accessKeyId: 'AKIAFAKENEW', secretAccessKey: SECRET });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([`GET /jenkins${CRED}`, `POST /jenkins${CRED}`]);
    const post = seen[1]!;
    expect(post.headers.authorization).toBe(`Basic ${Buffer.from(`rotator:${TOKEN}`).toString('base64')}`);
    expect(post.headers['content-type']).toBe('application/xml; charset=utf-8');
    expect(post.headers['jenkins-crumb']).toBeUndefined();
    expect(post.body).toContain(`<secretKey>${SECRET}</secretKey>`);
  });

  it('uses a crumb and the session cookie in password mode, re-fetching once after a crumb 403', async () => {
    queue.push(
      json(
        { crumb: 'c1', crumbRequestField: 'X-Crumb' },
        { 'set-cookie': ['JSESSIONID.ab12cd34=s1; Path=/; HttpOnly'] },
      ),
      send(201, '', { location: 'http://internal:8080/jenkins/queue/item/5/' }),
    );
    queue.push(
      json({ _class: 'hudson.model.Queue$LeftItem', executable: { number: 3, url: 'http://internal/x' } }),
    );
    queue.push(json({ building: false, result: 'SUCCESS' }));
    const c = client({ auth: { username: 'rotator', password: PASSWORD } });
    await expect(c.runJob('team-a/canary', { A: 'b c' }, { timeoutMs: 5000, pollMs: 10 })).resolves.toEqual({
      number: 3,
      result: 'SUCCESS',
    });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /jenkins/crumbIssuer/api/json',
      'POST /jenkins/job/team-a/job/canary/buildWithParameters?delay=0sec',
      'GET /jenkins/queue/item/5/api/json',
      'GET /jenkins/job/team-a/job/canary/3/api/json?tree=building,result,number',
    ]);
    expect(seen[1]!.headers['x-crumb']).toBe('c1');
    expect(seen[1]!.headers.cookie).toBe('JSESSIONID.ab12cd34=s1');
    expect(seen[1]!.body).toBe('A=b+c');

    // The session expired: one crumb 403, a new crumb and session, then success.
    queue.push(
      send(403, JSON.stringify({ message: 'No valid crumb was included in the request' }), {
        'content-type': 'application/json',
      }),
      json({ crumb: 'c2', crumbRequestField: 'X-Crumb' }, { 'set-cookie': 'JSESSIONID.99999999=s2; Path=/' }),
      send(409),
    );
    const create = c.createCredential(SYSTEM, {
      kind: 'aws',
      id: 'aws-deploy',
      accessKeyId: 'AKIAX',
      secretAccessKey: SECRET,
    });
    await expect(create).resolves.toBe('exists');
    const last = seen.slice(-3);
    expect(last.map((s) => s.url)).toEqual([
      '/jenkins/credentials/store/system/domain/_/createCredentials',
      '/jenkins/crumbIssuer/api/json',
      '/jenkins/credentials/store/system/domain/_/createCredentials',
    ]);
    expect(last[2]!.headers['x-crumb']).toBe('c2');
    expect(last[2]!.headers.cookie).toBe('JSESSIONID.99999999=s2');
  });

  it('gives up after one crumb refresh', async () => {
    const crumb403 = send(403, 'No valid crumb', { 'content-type': 'text/plain' });
    queue.push(
      json({ crumb: 'c', crumbRequestField: 'Jenkins-Crumb' }),
      crumb403,
      json({ crumb: 'd', crumbRequestField: 'Jenkins-Crumb' }),
      crumb403,
    );
    const c = client({ auth: { username: 'rotator', password: PASSWORD } });
    const e = await jenkinsFailure(
      c.createCredential(SYSTEM, { kind: 'aws', id: 'x', accessKeyId: 'A', secretAccessKey: SECRET }),
    );
    expect(e).toMatchObject({ reason: 'crumb', status: 403, method: 'POST' });
    expect(seen.map((r) => r.method)).toEqual(['GET', 'POST', 'GET', 'POST']);
  });

  it('treats a 200 HTML page as a login page, for reads and for writes', async () => {
    const sso = send(200, '<!DOCTYPE html><html><body>Sign in with SSO</body></html>', {
      'content-type': 'text/html',
    });
    queue.push(sso);
    expect(await jenkinsFailure(client().getCredential(SYSTEM, 'aws-deploy'))).toMatchObject({
      reason: 'login-page',
      status: 200,
    });
    queue.push(xml, sso);
    const e = await jenkinsFailure(
      client().putKey(SYSTEM, 'aws-deploy', { accessKeyId: 'AKIAX', secretAccessKey: SECRET }),
    );
    expect(e).toMatchObject({ reason: 'login-page', method: 'POST' });
  });

  it('does not follow redirects', async () => {
    queue.push(send(302, '', { location: 'https://idp.example/oauth2/authorize?x=1' }));
    expect(await jenkinsFailure(client().getCredential(SYSTEM, 'aws-deploy'))).toMatchObject({
      reason: 'login-page',
      status: 302,
    });
    queue.push(send(301, '', { location: 'https://ci.example/jenkins/' }));
    expect(await jenkinsFailure(client().getCredential(SYSTEM, 'aws-deploy'))).toMatchObject({
      reason: 'redirect',
      status: 301,
    });
    expect(seen).toHaveLength(2);
  });

  it('retries a GET on 503 and honours a short Retry-After', async () => {
    queue.push(send(503, '', { 'retry-after': '0' }), send(502), xml);
    await expect(client().readAccessKeyId(SYSTEM, 'aws-deploy')).resolves.toBe('AKIAFAKEOLD');
    expect(seen).toHaveLength(3);
  });

  it('does not wait for a Retry-After beyond its cap', async () => {
    queue.push(send(503, '', { 'retry-after': '3600' }));
    expect(await jenkinsFailure(client().getCredential(SYSTEM, 'aws-deploy'))).toMatchObject({
      reason: 'server',
      status: 503,
    });
    expect(seen).toHaveLength(1);
  });

  it('retries POST config.xml on 502 but not on 500 (a rejected document)', async () => {
    queue.push(xml, send(502), send(200));
    await client().putKey(SYSTEM, 'aws-deploy', { accessKeyId: 'AKIAX', secretAccessKey: SECRET });
    expect(seen.map((s) => s.method)).toEqual(['GET', 'POST', 'POST']);
    seen = [];
    queue.push(xml, send(500, '<html>Oops</html>', { 'content-type': 'text/html' }));
    const e = await jenkinsFailure(
      client().putKey(SYSTEM, 'aws-deploy', { accessKeyId: 'AKIAX', secretAccessKey: SECRET }),
    );
    expect(e).toMatchObject({ reason: 'server', status: 500 });
    expect(seen).toHaveLength(2);
  });

  it('never retries createCredentials or buildWithParameters', async () => {
    queue.push(send(503));
    const e = await jenkinsFailure(
      client().createCredential(SYSTEM, { kind: 'aws', id: 'x', accessKeyId: 'A', secretAccessKey: SECRET }),
    );
    expect(e).toMatchObject({ reason: 'server', status: 503 });
    queue.push(send(502));
    await jenkinsFailure(client().runJob('canary', {}, { timeoutMs: 2000 }));
    expect(seen).toHaveLength(2);
  });

  it('times out a silent server, retrying reads', async () => {
    queue.push(hang, hang);
    const e = await jenkinsFailure(
      client({ timeoutMs: 150, retries: 1 }).getCredential(SYSTEM, 'aws-deploy'),
    );
    expect(e).toMatchObject({ reason: 'timeout', method: 'GET' });
    expect(e.status).toBeUndefined();
    expect(seen).toHaveLength(2);
  });

  it('reports network errors without the axios error', async () => {
    const c = new JenkinsClient({
      baseUrl: 'http://127.0.0.1:1',
      auth: { username: 'u', apiToken: TOKEN },
      retries: 0,
    });
    const e = await jenkinsFailure(c.getCredential(SYSTEM, 'x'));
    expect(e.reason).toBe('network');
    expect(e.cause).toMatchObject({ name: 'JenkinsTransportError', code: 'ECONNREFUSED' });
    expect(JSON.stringify(e)).not.toContain(TOKEN);
    expect(Object.keys(e.cause as object)).not.toContain('config');
  });

  it('scrubs secrets that a server echoes into an error message', async () => {
    queue.push(
      xml,
      send(409, JSON.stringify({ message: `conflict on ${SECRET} for ${TOKEN}` }), {
        'content-type': 'application/json',
      }),
    );
    const e = await jenkinsFailure(
      client().putKey(SYSTEM, 'aws-deploy', { accessKeyId: 'AKIAX', secretAccessKey: SECRET }),
    );
    expect(e.message).toContain('[REDACTED]');
    expect(e.message).not.toContain(SECRET);
    expect(e.message).not.toContain(TOKEN);
  });

  it('follows a 303 to an already queued item and reports a cancelled item', async () => {
    queue.push(send(303, '', { location: 'https://proxy.example/queue/item/9/' }), json({ cancelled: true }));
    await expect(client().runJob('canary', { X: '1' }, { timeoutMs: 2000, pollMs: 10 })).resolves.toEqual({
      number: 0,
      result: 'CANCELLED',
    });
    expect(seen[1]!.url).toBe('/jenkins/queue/item/9/api/json');
  });

  it('stops runJob at its deadline and on the caller signal', async () => {
    const waiting = json({ _class: 'hudson.model.Queue$WaitingItem', why: 'quiet period' });
    // Enough queued answers to outlast the deadline even on a loaded machine.
    queue.push(send(201, '', { location: '/queue/item/1/' }), ...Array<Handler>(500).fill(waiting));
    const e = await jenkinsFailure(client().runJob('canary', {}, { timeoutMs: 1_000, pollMs: 20 }));
    expect(e.reason).toBe('timeout');
    expect(e.message).toMatch(/leave the queue: not done within 1000 ms/);

    queue = [send(201, '', { location: '/queue/item/2/' }), ...Array<Handler>(500).fill(waiting)];
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 300);
    const aborted = await jenkinsFailure(
      client().runJob('canary', {}, { timeoutMs: 10_000, pollMs: 20, signal: ctl.signal }),
    );
    expect(aborted.message).toMatch(/aborted by the caller/);
  });

  it('refuses a credential of another kind', async () => {
    queue.push(
      send(
        200,
        '<org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl><id>aws-deploy</id></org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl>',
        {
          'content-type': 'application/xml',
        },
      ),
    );
    const e = await jenkinsFailure(
      client().putKey(SYSTEM, 'aws-deploy', { accessKeyId: 'AKIAX', secretAccessKey: SECRET }),
    );
    expect(e).toMatchObject({ reason: 'bad-response' });
    expect(e.message).toMatch(/StringCredentialsImpl, not an AWS/);
    expect(seen).toHaveLength(1);
  });

  it('validates options without echoing them', () => {
    expect(() => new JenkinsClient({ baseUrl: 'ftp://x', auth: { username: 'u', apiToken: TOKEN } })).toThrow(
      /baseUrl/,
    );
    let urlMessage = '';
    try {
      new JenkinsClient({
        baseUrl: `http://u:${PASSWORD}@ci.example`,
        auth: { username: 'u', apiToken: TOKEN },
      });
    } catch (e) {
      urlMessage = (e as Error).message;
    }
    expect(urlMessage).toMatch(/baseUrl/);
    expect(urlMessage).not.toContain(PASSWORD);
    let message = '';
    try {
      new JenkinsClient({ baseUrl: 'http://x', auth: { username: '', password: PASSWORD } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/auth/);
    expect(message).not.toContain(PASSWORD);
  });
});
