import {
  CreateAccessKeyCommand,
  IAMClient,
  ListAccessKeysCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AxiosInstance } from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import type { CallRecord } from '../../localcloud/calls';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { FAKE, XML, awsXml, jenkinsHttp } from '../../localcloud/jenkins/testing';
import { clientConfig } from '../support/aws';

const SYSTEM = '/credentials/store/system/domain/_';
const CONFIG_XML = `${SYSTEM}/credential/aws-ci/config.xml`;

let cloud: LocalCloud;
let iam: IAMClient;
let sts: STSClient;
let http: AxiosInstance;
let admin: { auth: { username: string; password: string } };
let userSeq = 0;

beforeAll(async () => {
  cloud = await startLocalCloud();
  iam = new IAMClient(clientConfig(cloud.aws.url, cloud.aws.admin));
  sts = new STSClient(clientConfig(cloud.aws.url, cloud.aws.admin));
  http = jenkinsHttp(cloud.jenkins);
  admin = { auth: { username: 'admin', password: cloud.jenkins.admin.apiToken } };
});

afterEach(async () => {
  cloud.aws.state.faults = [];
  cloud.jenkins.state.faults = [];
  cloud.aws.state.calls.onCrash = undefined;
  await waitForRotations(cloud.aws.state);
});

afterAll(async () => {
  iam.destroy();
  sts.destroy();
  await cloud.close();
});

const calls = () => cloud.aws.state.calls;
const lastCall = (point: string): CallRecord | undefined => calls().calls.findLast((c) => c.point === point);

function newUser(): string {
  const name = `fault-user-${++userSeq}`;
  cloud.aws.state.createUser(cloud.aws.state.defaultAccountId, name);
  return name;
}

const keysOf = (userName: string) =>
  cloud.aws.state.keysOf(cloud.aws.state.defaultAccountId, userName).map((k) => k.accessKeyId);

/** The call fails the way a dropped connection fails: no HTTP status, a reset socket. */
async function expectNoAnswer(call: Promise<unknown>): Promise<void> {
  const err = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code?: string; $metadata?: { httpStatusCode?: number }; response?: unknown } | undefined;
  expect(err, 'the call was answered').toBeDefined();
  expect(err?.code).toBe('ECONNRESET');
  expect(err?.$metadata?.httpStatusCode).toBeUndefined();
  expect(err?.response).toBeUndefined();
}

async function postAdmin(base: string, path: string, body: unknown) {
  const r = await fetch(`${base}/_localcloud/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** Each fault spec is answered 400 with an error containing its message. */
async function expectRefused(base: string, cases: readonly (readonly [unknown, string])[]): Promise<void> {
  for (const [body, message] of cases) {
    const r = await postAdmin(base, 'faults', body);
    expect(r.status, JSON.stringify(body)).toBe(400);
    expect(String(r.body['error'])).toContain(message);
  }
}

describe('AWS faults', () => {
  it('skip + count target the 2nd and 3rd occurrences; Throttling is spelled per protocol', async () => {
    const set = await postAdmin(cloud.aws.url, 'faults', {
      action: 'sts:GetCallerIdentity',
      skip: 1,
      count: 2,
      error: { code: 'Throttling' },
    });
    expect(set).toMatchObject({ status: 200, body: { skip: 1, remaining: 2 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(
        await sts.send(new GetCallerIdentityCommand({})).then(
          () => 'ok',
          (e: Error & { $metadata: { httpStatusCode?: number } }) =>
            `${e.name} ${e.$metadata.httpStatusCode}`,
        ),
      );
    expect(outcomes).toEqual(['ok', 'Throttling 400', 'Throttling 400', 'ok']);
    expect(cloud.aws.state.faults).toEqual([]);

    const sm = new SecretsManagerClient(clientConfig(cloud.aws.url, cloud.aws.admin));
    cloud.aws.state.faults.push({
      id: 'json',
      action: 'secretsmanager:GetSecretValue',
      remaining: 1,
      error: { code: 'Throttling' },
    });
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    expect(lastCall('secretsmanager:GetSecretValue')).toMatchObject({
      ok: false,
      status: 400,
      error: 'ThrottlingException',
      fault: { id: 'json', kind: 'error' },
    });
    sm.destroy();
  });

  it('a skipping fault counts the matching calls another fault hits, so skip is exactly k - 1', async () => {
    cloud.aws.state.faults.push(
      { id: 'first', action: 'sts:*', remaining: 1, error: { code: 'InternalFailure' } },
      { id: 'third', action: 'sts:GetCallerIdentity', skip: 2, remaining: 1, error: { code: 'Throttling' } },
    );
    const names: string[] = [];
    for (let i = 0; i < 4; i++)
      names.push(
        await sts.send(new GetCallerIdentityCommand({})).then(
          () => 'ok',
          (e: Error) => e.name,
        ),
      );
    expect(names).toEqual(['InternalFailure', 'ok', 'Throttling', 'ok']);
  });

  it('drop before: the SDK sees a reset connection and the call has no effect', async () => {
    const user = newUser();
    cloud.aws.state.faults.push({ id: 'db', action: 'iam:CreateAccessKey', remaining: 1, drop: 'before' });
    await expectNoAnswer(iam.send(new CreateAccessKeyCommand({ UserName: user })));
    expect(keysOf(user)).toEqual([]);
    expect(lastCall('iam:CreateAccessKey')).toMatchObject({
      response: 'dropped',
      status: null,
      ok: false,
      fault: { id: 'db', kind: 'drop-before' },
    });
    // The fault is used up: the next call goes through.
    await iam.send(new CreateAccessKeyCommand({ UserName: user }));
    expect(keysOf(user)).toHaveLength(1);
  });

  it('drop after (set over HTTP): the key is created although the client (one attempt) got an error', async () => {
    const user = newUser();
    const set = await postAdmin(cloud.aws.url, 'faults', { action: 'iam:CreateAccessKey', drop: 'after' });
    expect(set).toMatchObject({ status: 200, body: { action: 'iam:CreateAccessKey', drop: 'after' } });
    await expectNoAnswer(iam.send(new CreateAccessKeyCommand({ UserName: user })));
    const created = keysOf(user);
    expect(created).toHaveLength(1);
    const call = lastCall('iam:CreateAccessKey');
    expect(call).toMatchObject({ response: 'dropped', status: 200, ok: true, fault: { kind: 'drop-after' } });
    expect(cloud.aws.state.keyEvents.at(-1)).toMatchObject({
      kind: 'create',
      accessKeyId: created[0],
      callSeq: call?.seq,
    });
  });

  it('drop after an error answer: the error is lost too, and the record keeps what it would have been', async () => {
    cloud.aws.state.faults.push({ id: 'de', action: 'iam:UpdateAccessKey', remaining: 1, drop: 'after' });
    await expectNoAnswer(
      iam.send(
        new UpdateAccessKeyCommand({
          UserName: newUser(),
          AccessKeyId: 'AKIANOSUCHKEY0000',
          Status: 'Inactive',
        }),
      ),
    );
    expect(lastCall('iam:UpdateAccessKey')).toMatchObject({
      response: 'dropped',
      status: 404,
      ok: false,
      error: 'NoSuchEntity',
    });
  });

  it('crash: the effect is applied, the callback is awaited once, then the client gets no answer', async () => {
    const user = newUser();
    const order: string[] = [];
    const seen: { point: string; keys: string[] }[] = [];
    cloud.aws.state.calls.onCrash = async (call) => {
      order.push('callback start');
      seen.push({ point: call.point, keys: keysOf(user) });
      await new Promise((r) => setImmediate(r));
      order.push('callback end');
    };
    cloud.aws.state.faults.push({ id: 'c', action: 'iam:CreateAccessKey', remaining: 1, crash: true });
    const attempt = iam
      .send(new CreateAccessKeyCommand({ UserName: user }))
      .finally(() => order.push('client'));
    await expectNoAnswer(attempt);
    expect(order).toEqual(['callback start', 'callback end', 'client']);
    expect(seen).toEqual([{ point: 'iam:CreateAccessKey', keys: keysOf(user) }]);
    expect(keysOf(user)).toHaveLength(1);
    expect(lastCall('iam:CreateAccessKey')).toMatchObject({
      response: 'dropped',
      ok: true,
      fault: { id: 'c', kind: 'crash' },
    });
    // Used up: the next call is answered and does not call back.
    await iam.send(new ListAccessKeysCommand({ UserName: user }));
    expect(order).toHaveLength(3);
  });

  it('crash without a callback is a drop after; a throwing callback is recorded and still drops', async () => {
    const user = newUser();
    cloud.aws.state.faults.push({ id: 'c1', action: 'iam:CreateAccessKey', remaining: 1, crash: true });
    await expectNoAnswer(iam.send(new CreateAccessKeyCommand({ UserName: user })));
    expect(keysOf(user)).toHaveLength(1);

    cloud.aws.state.calls.onCrash = () => {
      throw new Error('harness failed to kill the child');
    };
    cloud.aws.state.faults.push({ id: 'c2', action: 'iam:CreateAccessKey', remaining: 1, crash: true });
    await expectNoAnswer(iam.send(new CreateAccessKeyCommand({ UserName: user })));
    expect(keysOf(user)).toHaveLength(2);
    expect(lastCall('iam:CreateAccessKey')).toMatchObject({
      response: 'dropped',
      crashCallbackError: 'harness failed to kill the child',
    });
  });

  it('RotateSecret under crash: the rotation Secrets Manager accepted still runs, after the callback', async () => {
    const sm = new SecretsManagerClient(clientConfig(cloud.aws.url, cloud.aws.admin));
    const arn = 'arn:aws:lambda:us-east-1:111122223333:function:fault-rotator';
    const order: string[] = [];
    cloud.aws.state.rotationFunctions.set(arn, (event) => {
      order.push(event.Step);
      return Promise.resolve();
    });
    const { ARN } = await sm.send(new CreateSecretCommand({ Name: 'fault/rotate', SecretString: 'v1' }));
    cloud.aws.state.calls.onCrash = () => {
      order.push('crash');
    };
    cloud.aws.state.faults.push({
      id: 'rc',
      action: 'secretsmanager:RotateSecret',
      remaining: 1,
      crash: true,
    });
    await expectNoAnswer(sm.send(new RotateSecretCommand({ SecretId: ARN, RotationLambdaARN: arn })));
    await waitForRotations(cloud.aws.state);
    expect(order).toEqual(['crash', 'createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    expect(cloud.aws.state.rotations.at(-1)).toMatchObject({ secretId: ARN, status: 'succeeded' });
    sm.destroy();
  });

  it("the registry's /v2/: error, throttling, latency and drops by point name", async () => {
    const ecr = new ECRClient(clientConfig(cloud.aws.url, cloud.aws.admin));
    const data = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
    ecr.destroy();
    const ping = () =>
      fetch(`${cloud.aws.url}/v2/`, { headers: { authorization: `Basic ${data.authorizationToken!}` } });
    const set = (fault: Record<string, unknown>) =>
      postAdmin(cloud.aws.url, 'faults', { action: 'ecr-registry:GET /v2/', ...fault });

    expect((await set({ error: { code: 'Throttling' } })).status).toBe(200);
    const throttled = await ping();
    expect(throttled.status).toBe(429);
    expect(await throttled.json()).toEqual({
      errors: [{ code: 'TOOMANYREQUESTS', message: 'Rate exceeded', detail: null }],
    });

    await set({ error: { code: 'InternalFailure' }, latencyMs: 20 });
    const failed = await ping();
    expect(failed.status).toBe(500);
    expect(lastCall('ecr-registry:GET /v2/')).toMatchObject({
      status: 500,
      ok: false,
      fault: { kind: 'error' },
    });

    await set({ drop: 'before' });
    await expect(ping()).rejects.toThrow('fetch failed');
    await set({ drop: 'after' });
    await expect(ping()).rejects.toThrow('fetch failed');
    expect(lastCall('ecr-registry:GET /v2/')).toMatchObject({
      response: 'dropped',
      status: 200,
      ok: true,
      caller: `arn:aws:iam::${cloud.aws.state.defaultAccountId}:user/localcloud-admin`,
    });

    expect((await ping()).status).toBe(200);
    // Other registry paths have their own point names.
    await set({ error: { code: 'InternalFailure' } });
    const tags = await fetch(`${cloud.aws.url}/v2/some/repo/tags/list`, {
      headers: { authorization: `Basic ${data.authorizationToken!}` },
    });
    expect(tags.status).toBe(404);
    expect(lastCall('ecr-registry:GET /v2/some/repo/tags/list')).toMatchObject({ status: 404 });
  });

  it('admin: refuses contradictory or empty faults and a bad since, naming the problem', async () => {
    const bad = [
      [{ action: 'iam:CreateAccessKey', error: { code: 'Throttling' }, drop: 'after' }, 'not error and drop'],
      [{ action: 'iam:CreateAccessKey', drop: 'after', crash: true }, 'not drop and crash'],
      [{ action: 'iam:CreateAccessKey' }, 'a fault needs error, latencyMs, drop or crash'],
      [{ action: 'iam:CreateAccessKey', drop: 'sideways' }, 'drop'],
      [{ action: 'iam:CreateAccessKey', drop: 'before', skip: -1 }, 'skip'],
    ] as const;
    await expectRefused(cloud.aws.url, bad);
    expect(cloud.aws.state.faults).toEqual([]);
    const since = await fetch(`${cloud.aws.url}/_localcloud/calls?since=-3`);
    expect(since.status).toBe(400);
    expect(await since.json()).toEqual({ error: 'since must be a non-negative integer (a seq), got "-3"' });
  });
});

describe('Jenkins faults', () => {
  const seedCredential = () =>
    cloud.jenkins.state.seed({
      credentials: [{ store: 'system', xml: awsXml('aws-ci', FAKE.accessKey, FAKE.secretKey) }],
    });
  const storedKey = () => cloud.jenkins.state.credentialView('system', 'aws-ci')?.fields['accessKey'];
  const update = () =>
    http.post(CONFIG_XML, awsXml('aws-ci', FAKE.accessKey2, FAKE.secretKey2), { ...admin, headers: XML });

  it('skip + count by point name and method target the k-th request', async () => {
    const set = await postAdmin(cloud.jenkins.url, 'faults', {
      point: 'jenkins:GET /whoAmI/*',
      skip: 1,
      count: 1,
      status: 503,
    });
    expect(set).toMatchObject({
      status: 200,
      body: { point: 'jenkins:GET /whoAmI/*', skip: 1, remaining: 1 },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await http.get('/whoAmI/api/json', admin)).status);
    expect(statuses).toEqual([200, 503, 200]);
    expect(lastCall('jenkins:GET /whoAmI/api/json')).toMatchObject({ status: 200, caller: 'admin' });

    cloud.jenkins.state.faults.push({ id: 90, method: 'POST', path: '/whoAmI', remaining: 1, status: 429 });
    expect((await http.get('/whoAmI/api/json', admin)).status).toBe(200);
    expect(cloud.jenkins.state.faults).toHaveLength(1);
  });

  it('drop before: POST config.xml has no effect and the client sees a reset connection', async () => {
    seedCredential();
    cloud.jenkins.state.faults.push({
      id: 91,
      point: `jenkins:POST ${CONFIG_XML}`,
      remaining: 1,
      drop: 'before',
    });
    await expectNoAnswer(update());
    expect(storedKey()).toBe(FAKE.accessKey);
    expect(cloud.jenkins.state.requests.at(-1)).toMatchObject({ path: CONFIG_XML, status: 0, fault: true });
  });

  it('drop after: POST config.xml changes the credential, but the client gets no answer', async () => {
    seedCredential();
    const set = await postAdmin(cloud.jenkins.url, 'faults', {
      point: `jenkins:POST ${CONFIG_XML}`,
      drop: 'after',
    });
    expect(set.status).toBe(200);
    await expectNoAnswer(update());
    expect(storedKey()).toBe(FAKE.accessKey2);
    expect(lastCall(`jenkins:POST ${CONFIG_XML}`)).toMatchObject({
      response: 'dropped',
      status: 200,
      ok: true,
      caller: 'admin',
      fault: { kind: 'drop-after' },
    });
    expect(cloud.jenkins.state.requests.at(-1)).toMatchObject({ path: CONFIG_XML, status: 0, fault: true });
  });

  it('crash: the callback sees the credential already changed, then the connection is dropped', async () => {
    seedCredential();
    const seen: unknown[] = [];
    cloud.jenkins.state.calls.onCrash = (call) => {
      seen.push([call.emulator, call.point, storedKey()]);
    };
    cloud.jenkins.state.faults.push({
      id: 92,
      path: '/credential/aws-ci/config.xml',
      remaining: 1,
      crash: true,
    });
    await expectNoAnswer(update());
    expect(seen).toEqual([['jenkins', `jenkins:POST ${CONFIG_XML}`, FAKE.accessKey2]]);
    // The crash is used up: the next update is answered.
    seedCredential();
    expect((await update()).status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('admin: a fault needs path or point, and one of status, drop or crash at most', async () => {
    const bad = [
      [{ status: 500 }, 'a fault needs path or point'],
      [{ point: 'jenkins:GET *', status: 500, drop: 'before' }, 'not status and drop'],
      [{ point: 'GET /whoAmI', drop: 'before' }, 'jenkins:'],
      [{ path: '/whoAmI' }, 'a fault needs status, latencyMs, drop or crash'],
    ] as const;
    await expectRefused(cloud.jenkins.url, bad);
    expect(cloud.jenkins.state.faults).toEqual([]);
  });
});
