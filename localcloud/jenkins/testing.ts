/** Helpers for tests and demos that drive the Jenkins emulator over HTTP. Not part of the emulator itself. */
import { request } from 'node:http';
import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { startJenkinsEmulator, type JenkinsEmulator, type JenkinsEmulatorOptions } from './server';

/** axios as the project's client uses it: every status is a result, redirects are not followed. */
export function jenkinsHttp(jenkins: JenkinsEmulator): AxiosInstance {
  return axios.create({ baseURL: jenkins.url, validateStatus: () => true, maxRedirects: 0, timeout: 10_000 });
}

/** A started emulator with the axios instance and the admin's API-token auth a test file uses. */
export async function startForTest(opts: JenkinsEmulatorOptions = {}): Promise<{
  jenkins: JenkinsEmulator;
  http: AxiosInstance;
  admin: { auth: { username: string; password: string } };
}> {
  const jenkins = await startJenkinsEmulator(opts);
  return {
    jenkins,
    http: jenkinsHttp(jenkins),
    admin: { auth: { username: jenkins.admin.username, password: jenkins.admin.apiToken } },
  };
}

export const basic = (username: string, password: string): AxiosRequestConfig['auth'] => ({
  username,
  password,
});

export const XML = { 'Content-Type': 'application/xml; charset=utf-8' };

/** Obviously synthetic key material (too short to look like a real AWS key). */
export const FAKE = {
  accessKey: 'AKIAFAKEKEY0001',
  secretKey: 'fake-secret-0001-not-a-real-key',
  accessKey2: 'AKIAFAKEKEY0002',
  secretKey2: 'fake-secret-0002-not-a-real-key',
};

export function awsXml(id: string, accessKey: string, secretKey: string, description = 'deploy key'): string {
  return [
    '<com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl>',
    '  <scope>GLOBAL</scope>',
    `  <id>${id}</id>`,
    `  <description>${description}</description>`,
    `  <accessKey>${accessKey}</accessKey>`,
    `  <secretKey>${secretKey}</secretKey>`,
    '  <iamRoleArn></iamRoleArn>',
    '  <iamExternalId></iamExternalId>',
    '  <iamMfaSerialNumber></iamMfaSerialNumber>',
    '</com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl>',
  ].join('\n');
}

export function userPassXml(
  id: string,
  username: string,
  password: string,
  description = 'as user/pass',
): string {
  return [
    '<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>',
    '  <scope>GLOBAL</scope>',
    `  <id>${id}</id>`,
    `  <description>${description}</description>`,
    `  <username>${username}</username>`,
    `  <password>${password}</password>`,
    '  <usernameSecret>false</usernameSecret>',
    '</com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>',
  ].join('\n');
}

/** A request with exactly the given headers (no default Accept or Content-Type), for what axios always adds. */
export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('latin1'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const basicHeader = (user: string, secret: string): string =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** Polls `probe` until it returns a value, within a bounded number of attempts. */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  attempts = 400,
  intervalMs = 25,
): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not reached after ${attempts} attempts`);
}

/**
 * Triggers a build (`buildWithParameters` when `params` are given, else `build`) and follows Location → queue item →
 * executable → the finished build, as a client would. Throws when Jenkins answers otherwise than expected.
 */
export async function runBuildOverHttp(
  http: AxiosInstance,
  auth: AxiosRequestConfig['auth'],
  jobPath: string,
  params?: Record<string, string>,
): Promise<{ number: number; result: string | null; buildPath: string; console: string }> {
  const trigger = await http.post(`${jobPath}/${params ? 'buildWithParameters' : 'build'}`, null, {
    auth,
    ...(params ? { params } : {}),
  });
  if (trigger.status !== 201) throw new Error(`trigger of ${jobPath} answered ${trigger.status}`);
  const itemPath = new URL(String(trigger.headers['location'])).pathname;
  const executable = await pollUntil(async () => {
    const q = await http.get<{ _class: string; executable?: { url: string } }>(`${itemPath}api/json`, {
      auth,
    });
    return q.data._class === 'hudson.model.Queue$LeftItem' ? q.data.executable : undefined;
  });
  const buildPath = new URL(executable.url).pathname;
  const build = await pollUntil(async () => {
    const b = await http.get<{ building: boolean; result: string | null; number: number }>(
      `${buildPath}api/json?tree=building,result,number`,
      { auth },
    );
    return b.data.building ? undefined : b.data;
  });
  const console = await http.get<string>(`${buildPath}consoleText`, { auth, responseType: 'text' });
  return { number: build.number, result: build.result, buildPath, console: console.data };
}
