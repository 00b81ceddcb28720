import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { Statement } from '../../localcloud/aws/state';
import { clientConfig, startAws } from '../support/aws';

const HOUR = 3_600_000;
let emu: AwsEmulator;
let ecr: ECRClient;
let seq = 0;

beforeAll(async () => {
  emu = await startAws();
  ecr = new ECRClient(clientConfig(emu.url, emu.admin));
});

afterEach(() => {
  emu.state.clockOffsetMs = 0;
});

afterAll(async () => {
  ecr.destroy();
  await emu.close();
});

function clientFor(permissions: Statement[]): { client: ECRClient; arn: string } {
  const user = emu.state.createUser(emu.state.defaultAccountId, `ecr-user-${++seq}`, { permissions });
  const key = emu.state.createAccessKey(user, { established: true });
  return { client: new ECRClient(clientConfig(emu.url, key)), arn: user.arn };
}

async function login(client = ecr) {
  const out = await client.send(new GetAuthorizationTokenCommand({}));
  expect(out.authorizationData).toHaveLength(1);
  return out.authorizationData![0]!;
}

const registryGet = (path: string, authorization?: string) =>
  fetch(`${emu.url}${path}`, { headers: authorization ? { authorization } : {} });

describe('GetAuthorizationToken', () => {
  it('issues a 12-hour Basic token for user AWS, pointing at the emulator as registry', async () => {
    const before = emu.state.now();
    const data = await login();
    const after = emu.state.now();
    const decoded = Buffer.from(data.authorizationToken!, 'base64').toString('utf8');
    expect(decoded).toMatch(/^AWS:.{20,}$/);
    expect(data.proxyEndpoint).toBe(emu.url);
    expect(data.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 12 * HOUR - 1000);
    expect(data.expiresAt!.getTime()).toBeLessThanOrEqual(after + 12 * HOUR);

    const record = emu.state.ecrTokens.get(decoded.slice(4));
    expect(record).toMatchObject({
      principalArn: /:user\/localcloud-admin$/,
      region: 'us-east-1',
    });
  });

  it('follows the emulated clock for expiresAt', async () => {
    emu.state.clockOffsetMs = 5 * 24 * HOUR;
    const data = await login();
    expect(data.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 5 * 24 * HOUR);
  });

  it('denies a caller without ecr:GetAuthorizationToken', async () => {
    const { client, arn } = clientFor([{ effect: 'Allow', actions: ['sts:*'] }]);
    await expect(client.send(new GetAuthorizationTokenCommand({}))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: `User: ${arn} is not authorized to perform: ecr:GetAuthorizationToken on resource: *`,
    });
    client.destroy();
  });

  it('serves a caller holding only ecr:GetAuthorizationToken', async () => {
    const { client, arn } = clientFor([{ effect: 'Allow', actions: ['ecr:GetAuthorizationToken'] }]);
    const data = await login(client);
    const password = Buffer.from(data.authorizationToken!, 'base64').toString('utf8').slice(4);
    expect(emu.state.ecrTokens.get(password)?.principalArn).toBe(arn);
    expect((await registryGet('/v2/', `Basic ${data.authorizationToken}`)).status).toBe(200);
    client.destroy();
  });
});

describe('registry /v2/', () => {
  it('accepts an issued token', async () => {
    const { authorizationToken } = await login();
    const r = await registryGet('/v2/', `Basic ${authorizationToken}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await r.json()).toEqual({});
  });

  it('asks for Basic credentials when none are sent', async () => {
    const r = await registryGet('/v2/');
    expect(r.status).toBe(401);
    expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const host = new URL(emu.url).host;
    expect(r.headers.get('www-authenticate')).toBe(
      `Basic realm="https://${host}/",service="ecr.amazonaws.com"`,
    );
    expect(await r.json()).toEqual({
      errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }],
    });
  });

  it('refuses garbage, unknown and non-Basic tokens', async () => {
    const { authorizationToken } = await login();
    for (const auth of [
      'Basic not-base64-at-all!!',
      `Basic ${Buffer.from('AWS:made-up-password').toString('base64')}`,
      `Basic ${Buffer.from(`docker:${Buffer.from(authorizationToken!, 'base64').toString().slice(4)}`).toString('base64')}`,
      `Bearer ${authorizationToken}`,
    ]) {
      const r = await registryGet('/v2/', auth);
      expect(r.status, auth).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
  });

  it('refuses a token once the emulated clock passes its 12 hours', async () => {
    const { authorizationToken } = await login();
    emu.state.clockOffsetMs += 12 * HOUR - 60_000;
    expect((await registryGet('/v2/', `Basic ${authorizationToken}`)).status).toBe(200);
    emu.state.clockOffsetMs += 2 * 60_000;
    const r = await registryGet('/v2/', `Basic ${authorizationToken}`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/expired/);
  });

  it('moves with the clock set through the admin API too', async () => {
    const { authorizationToken } = await login();
    const r = await fetch(`${emu.url}/_localcloud/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMs: 13 * HOUR }),
    });
    expect(r.status).toBe(200);
    expect((await registryGet('/v2/', `Basic ${authorizationToken}`)).status).toBe(401);
  });

  it('leaves the AWS API alone', async () => {
    // A signed ECR call still reaches the API even though the registry route sees every request first.
    expect((await login()).proxyEndpoint).toBe(emu.url);
    const r = await fetch(`${emu.url}/not-the-registry`);
    expect(r.headers.get('docker-distribution-api-version')).toBeNull();
  });
});

describe('repositories', () => {
  it('creates and describes repositories, and lists their tags through the registry', async () => {
    const created = await ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/app' }));
    expect(created.repository).toMatchObject({
      repositoryName: 'team/app',
      registryId: '111122223333',
      repositoryArn: 'arn:aws:ecr:us-east-1:111122223333:repository/team/app',
      repositoryUri: '111122223333.dkr.ecr.us-east-1.amazonaws.com/team/app',
    });
    expect(created.repository!.createdAt).toBeInstanceOf(Date);
    await expect(ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/app' }))).rejects.toMatchObject(
      {
        name: 'RepositoryAlreadyExistsException',
      },
    );
    await expect(
      ecr.send(new CreateRepositoryCommand({ repositoryName: 'Upper/Case' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });

    const described = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['team/app'] }));
    expect(described.repositories!.map((r) => r.repositoryName)).toEqual(['team/app']);
    await expect(
      ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['nope'] })),
    ).rejects.toMatchObject({
      name: 'RepositoryNotFoundException',
      message: "The repository with name 'nope' does not exist in the registry with id '111122223333'",
    });

    const { authorizationToken } = await login();
    const tags = await registryGet('/v2/team/app/tags/list', `Basic ${authorizationToken}`);
    expect(tags.status).toBe(200);
    expect(await tags.json()).toEqual({ name: 'team/app', tags: [] });
    const unknown = await registryGet('/v2/missing/tags/list', `Basic ${authorizationToken}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ errors: [{ code: 'NAME_UNKNOWN' }] });
    expect((await registryGet('/v2/team/app/tags/list')).status).toBe(401);
  });
});
