import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  IAMClient,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AxiosInstance } from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyEvent } from '../../localcloud/aws/state';
import type { CallRecord } from '../../localcloud/calls';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { jenkinsPoint } from '../../localcloud/jenkins/server';
import { awsXml, jenkinsHttp, pollUntil } from '../../localcloud/jenkins/testing';
import { clientConfig } from '../support/aws';

let cloud: LocalCloud;
let iam: IAMClient;
let http: AxiosInstance;
let admin: { auth: { username: string; password: string } };
let adminArn: string;

beforeAll(async () => {
  cloud = await startLocalCloud();
  iam = new IAMClient(clientConfig(cloud.aws.url, cloud.aws.admin));
  http = jenkinsHttp(cloud.jenkins);
  admin = { auth: { username: 'admin', password: cloud.jenkins.admin.apiToken } };
  adminArn = `arn:aws:iam::${cloud.aws.state.defaultAccountId}:user/localcloud-admin`;
});

afterEach(() => {
  cloud.aws.state.faults = [];
  cloud.aws.state.onKeyEvent = undefined;
});

afterAll(async () => {
  iam.destroy();
  await cloud.close();
});

const log = () => cloud.aws.state.calls;
const lastSeq = () => log().lastSeq;
const summary = (c: CallRecord) => `${c.origin} ${c.point} ${c.status ?? '-'}`;

async function getCalls(base: string, since?: number): Promise<CallRecord[]> {
  const r = await fetch(`${base}/_localcloud/calls${since === undefined ? '' : `?since=${since}`}`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { calls: CallRecord[] }).calls;
}

describe('point names', () => {
  it('jenkins: the path without query, queue item ids and build numbers as *, names and ids kept', () => {
    expect(jenkinsPoint('GET', '/queue/item/17/api/json')).toBe('jenkins:GET /queue/item/*/api/json');
    expect(jenkinsPoint('GET', '/job/2024/job/canary/42/api/json')).toBe(
      'jenkins:GET /job/2024/job/canary/*/api/json',
    );
    expect(jenkinsPoint('GET', '/job/canary/lastBuild/api/json')).toBe(
      'jenkins:GET /job/canary/lastBuild/api/json',
    );
    expect(jenkinsPoint('POST', '/job/team%20a/job/7/buildWithParameters')).toBe(
      'jenkins:POST /job/team%20a/job/7/buildWithParameters',
    );
    expect(jenkinsPoint('POST', '/job/dev/credentials/store/folder/domain/_/credential/123/config.xml')).toBe(
      'jenkins:POST /job/dev/credentials/store/folder/domain/_/credential/123/config.xml',
    );
    expect(jenkinsPoint('GET', '/crumbIssuer/api/json')).toBe('jenkins:GET /crumbIssuer/api/json');
    expect(jenkinsPoint('GET', '/queue/item/x/api/json')).toBe('jenkins:GET /queue/item/x/api/json');
  });
});

describe('one ordered record across both emulators', () => {
  it('numbers AWS and Jenkins calls in arrival order, with point, caller, status and origin', async () => {
    const start = lastSeq();
    const sts = new STSClient(clientConfig(cloud.aws.url, cloud.aws.admin));
    await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect((await http.get('/whoAmI/api/json', admin)).status).toBe(200);
    expect(
      (await http.get('/whoAmI/api/json', { auth: { username: 'admin', password: 'wrong' } })).status,
    ).toBe(401);
    await iam.send(new CreateUserCommand({ UserName: 'record-user' }));
    await expect(iam.send(new CreateUserCommand({ UserName: 'record-user' }))).rejects.toThrow();

    const made = log().since(start);
    expect(made.map((c) => c.seq)).toEqual([...made.map((c) => c.seq)].sort((a, b) => a - b));
    expect(made).toMatchObject([
      { emulator: 'aws', point: 'sts:GetCallerIdentity', caller: adminArn, ok: true, status: 200 },
      { emulator: 'jenkins', point: 'jenkins:GET /whoAmI/api/json', caller: 'admin', ok: true },
      { emulator: 'jenkins', point: 'jenkins:GET /whoAmI/api/json', caller: null, ok: false, status: 401 },
      { emulator: 'aws', point: 'iam:CreateUser', accessKeyId: cloud.aws.admin.accessKeyId, ok: true },
      { emulator: 'aws', point: 'iam:CreateUser', ok: false, status: 409, error: 'EntityAlreadyExists' },
    ]);
    expect(made.every((c) => c.origin === 'client' && c.response === 'sent')).toBe(true);
    // The admin controls are not outside calls.
    expect(made.some((c) => c.point.includes('_localcloud'))).toBe(false);
  });

  it('serves the same record on both emulators, filtered by since; DELETE clears it, the sequence goes on', async () => {
    await http.get('/whoAmI/api/json', admin);
    const fromAws = await getCalls(cloud.aws.url);
    expect(await getCalls(cloud.jenkins.url)).toEqual(fromAws);
    const last = fromAws.at(-1)!;
    expect(await getCalls(cloud.aws.url, last.seq - 1)).toEqual([last]);

    const cleared = await fetch(`${cloud.jenkins.url}/_localcloud/calls`, { method: 'DELETE' });
    expect(cleared.status).toBe(200);
    expect(await getCalls(cloud.aws.url)).toEqual([]);
    await http.get('/whoAmI/api/json', admin);
    expect((await getCalls(cloud.aws.url)).map((c) => c.seq)).toEqual([last.seq + 1]);
  });
});

describe("a canary build's own calls", () => {
  let userArn: string;
  let keyId: string;

  beforeAll(() => {
    const user = cloud.aws.state.createUser(cloud.aws.state.defaultAccountId, 'canary-ci');
    const key = cloud.aws.state.createAccessKey(user, { established: true });
    userArn = user.arn;
    keyId = key.accessKeyId;
    cloud.jenkins.state.seed({
      credentials: [
        { store: { folder: 'team' }, xml: awsXml('aws-ci', key.accessKeyId, key.secretAccessKey) },
      ],
      jobs: [
        {
          path: 'team/canary',
          parameters: ['REASON'],
          check: 'ecr-login',
          credentialId: 'aws-ci',
          quietPeriodMs: 0,
        },
      ],
    });
  });

  /** Triggers the canary and follows queue item → build to its end, as a client would. */
  async function runCanary(): Promise<string | null> {
    const trigger = await http.post('/job/team/job/canary/buildWithParameters', null, {
      ...admin,
      params: { REASON: 'calls' },
    });
    expect(trigger.status).toBe(201);
    const item = new URL(String(trigger.headers['location'])).pathname;
    const build = await pollUntil(async () => {
      const q = await http.get<{ executable?: { url: string } }>(`${item}api/json`, admin);
      return q.data.executable;
    });
    const path = new URL(build.url).pathname;
    return pollUntil(async () => {
      const b = await http.get<{ building: boolean; result: string | null }>(`${path}api/json`, admin);
      return b.data.building ? undefined : b.data.result;
    });
  }

  it('records them with origin jenkins-build and the key they used, between the trigger and the end', async () => {
    const start = lastSeq();
    expect(await runCanary()).toBe('SUCCESS');
    const made = log().since(start);
    const own = made.filter((c) => c.origin === 'jenkins-build');
    expect(own).toMatchObject([
      { emulator: 'aws', point: 'ecr:GetAuthorizationToken', caller: userArn, accessKeyId: keyId, ok: true },
      { emulator: 'aws', point: 'ecr-registry:GET /v2/', caller: userArn, status: 200 },
    ]);
    const client = made.filter((c) => c.origin === 'client');
    expect(client[0]).toMatchObject({
      point: 'jenkins:POST /job/team/job/canary/buildWithParameters',
      status: 201,
      caller: 'admin',
    });
    expect(own[0]!.seq).toBeGreaterThan(client[0]!.seq);
    expect(new Set(client.map((c) => c.point))).toEqual(
      new Set([
        'jenkins:POST /job/team/job/canary/buildWithParameters',
        'jenkins:GET /queue/item/*/api/json',
        'jenkins:GET /job/team/job/canary/*/api/json',
      ]),
    );
    expect(made.map(summary).filter((s) => s.startsWith('client jenkins:GET /job'))).toContain(
      'client jenkins:GET /job/team/job/canary/*/api/json 200',
    );
  });

  it('a fault limited to one origin neither hits nor counts the calls of the other', async () => {
    cloud.aws.state.faults.push({
      id: 'rotator-only',
      action: 'ecr:GetAuthorizationToken',
      origin: 'client',
      remaining: 1,
      error: { code: 'InternalFailure' },
    });
    expect(await runCanary()).toBe('SUCCESS');
    expect(cloud.aws.state.faults).toMatchObject([{ id: 'rotator-only', remaining: 1 }]);

    cloud.aws.state.faults = [
      {
        id: 'build-only',
        action: 'ecr-registry:*',
        origin: 'jenkins-build',
        remaining: 1,
        error: { code: 'Throttling' },
      },
    ];
    const start = lastSeq();
    expect(await runCanary()).toBe('FAILURE');
    expect(cloud.aws.state.faults).toEqual([]);
    expect(
      log()
        .since(start)
        .find((c) => c.point === 'ecr-registry:GET /v2/'),
    ).toMatchObject({
      origin: 'jenkins-build',
      status: 429,
      fault: { id: 'build-only', kind: 'error' },
    });
  });
});

describe('key event log', () => {
  it('records every create, update and delete in the shared sequence, with the call that made it', async () => {
    const start = lastSeq();
    await iam.send(new CreateUserCommand({ UserName: 'evented' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'evented' }));
    const id = AccessKey!.AccessKeyId!;
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'evented', AccessKeyId: id, Status: 'Inactive' }));
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'evented', AccessKeyId: id, Status: 'Active' }));
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'evented', AccessKeyId: id }));

    const events = cloud.aws.state.keyEvents.filter((e) => e.seq > start);
    const base = { accountId: cloud.aws.state.defaultAccountId, userName: 'evented', accessKeyId: id };
    expect(events).toMatchObject([
      { ...base, kind: 'create', statusBefore: null, statusAfter: 'Active' },
      { ...base, kind: 'update', statusBefore: 'Active', statusAfter: 'Inactive' },
      { ...base, kind: 'update', statusBefore: 'Inactive', statusAfter: 'Active' },
      { ...base, kind: 'delete', statusBefore: 'Active', statusAfter: null },
    ]);
    // Each event falls inside its call: after the call's seq, before the next call's.
    const points = events.map((e) => {
      const call = log().calls.find((c) => c.seq === e.callSeq)!;
      const next = log().calls.find((c) => c.seq > call.seq);
      expect(call.seq).toBeLessThan(e.seq);
      expect(next?.seq ?? Infinity).toBeGreaterThan(e.seq);
      return call.point;
    });
    expect(points).toEqual([
      'iam:CreateAccessKey',
      'iam:UpdateAccessKey',
      'iam:UpdateAccessKey',
      'iam:DeleteAccessKey',
    ]);

    const r = await fetch(`${cloud.aws.url}/_localcloud/key-events?since=${start}`);
    expect(((await r.json()) as { keyEvents: KeyEvent[] }).keyEvents).toEqual(events);
  });

  it('records admin seeding (the replaced keys deleted, the new ones created) without a call', async () => {
    const start = lastSeq();
    const seed = (keys: { status: 'Active' | 'Inactive' }[]) =>
      fetch(`${cloud.aws.url}/_localcloud/seed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ users: [{ userName: 'seeded', keys }] }),
      });
    expect((await seed([{ status: 'Inactive' }])).status).toBe(200);
    expect((await seed([{ status: 'Active' }])).status).toBe(200);
    const events = cloud.aws.state.keyEvents.filter((e) => e.seq > start);
    expect(events.map((e) => [e.kind, e.statusBefore, e.statusAfter, e.callSeq])).toEqual([
      ['create', null, 'Inactive', undefined],
      ['delete', 'Inactive', null, undefined],
      ['create', null, 'Active', undefined],
    ]);
  });

  it('calls the listener as each change is applied, before the answer, so both emulators can be checked', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'held' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'held' }));
    const held = AccessKey!.AccessKeyId!;
    cloud.jenkins.state.seed({
      credentials: [{ store: 'system', xml: awsXml('aws-held', held, AccessKey!.SecretAccessKey!) }],
    });
    const heldByJenkins = (accessKeyId: string) =>
      cloud.jenkins.state.credentialView('system', 'aws-held')?.fields['accessKey'] === accessKeyId;
    const violations: string[] = [];
    const seen: { kind: string; inState: boolean; call: string | undefined }[] = [];
    cloud.aws.state.onKeyEvent = (e) => {
      seen.push({
        kind: e.kind,
        inState: cloud.aws.state.accessKeys.has(e.accessKeyId),
        call: log().calls.find((c) => c.seq === e.callSeq)?.response,
      });
      if (e.kind === 'delete' && e.statusBefore === 'Active' && heldByJenkins(e.accessKeyId))
        violations.push(`deleted ${e.accessKeyId} while Active and held by Jenkins`);
    };
    const { AccessKey: second } = await iam.send(new CreateAccessKeyCommand({ UserName: 'held' }));
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'held', AccessKeyId: second!.AccessKeyId! }));
    expect(violations).toEqual([]);
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'held', AccessKeyId: held }));
    expect(violations).toEqual([`deleted ${held} while Active and held by Jenkins`]);
    // The listener ran while the change was in place and its call not yet answered.
    expect(seen).toEqual([
      { kind: 'create', inState: true, call: 'pending' },
      { kind: 'delete', inState: false, call: 'pending' },
      { kind: 'delete', inState: false, call: 'pending' },
    ]);
  });

  it("a listener's exception reaches the API caller as InternalFailure; the change stays applied", async () => {
    await iam.send(new CreateUserCommand({ UserName: 'strict' }));
    cloud.aws.state.onKeyEvent = () => {
      throw new Error('invariant broken');
    };
    await expect(iam.send(new CreateAccessKeyCommand({ UserName: 'strict' }))).rejects.toMatchObject({
      name: 'InternalFailure',
      message: 'invariant broken',
    });
    expect(cloud.aws.state.keysOf(cloud.aws.state.defaultAccountId, 'strict')).toHaveLength(1);
  });
});
