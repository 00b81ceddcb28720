import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  DeleteOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  ListOpenIDConnectProviderTagsCommand,
  RemoveClientIDFromOpenIDConnectProviderCommand,
  TagOpenIDConnectProviderCommand,
  UntagOpenIDConnectProviderCommand,
  UpdateOpenIDConnectProviderThumbprintCommand,
  type CreateOpenIDConnectProviderCommandInput,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws } from '../support/aws';
import { userClients } from './users';

const ACCOUNT = '111122223333';
const arnOf = (hostAndPath: string) => `arn:aws:iam::${ACCOUNT}:oidc-provider/${hostAndPath}`;
const PRINT = '990f4193972f2becf12ddeda5237f9c952f20d9e';

let aws: AwsEmulator;
let iam: IAMClient;

beforeAll(async () => {
  aws = await startAws();
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
});
afterAll(async () => {
  iam.destroy();
  await aws.close();
});

const create = (input: Partial<CreateOpenIDConnectProviderCommandInput>) =>
  iam.send(
    new CreateOpenIDConnectProviderCommand({
      ClientIDList: ['sts.amazonaws.com'],
      ...input,
    } as CreateOpenIDConnectProviderCommandInput),
  );
const get = (arn: string) => iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));

const invalidInput = (message: string) => ({
  Code: 'InvalidInput',
  message,
  $metadata: { httpStatusCode: 400 },
});

describe('CreateOpenIDConnectProvider', () => {
  it('names the provider by its URL; GetOpenIDConnectProvider answers the URL without its scheme', async () => {
    const out = await create({
      Url: 'https://jenkins.example.com/oidc',
      ClientIDList: ['sts.amazonaws.com', 'sts.amazonaws.com', 'deploy'],
      Tags: [{ Key: 'owner', Value: 'ci' }],
    });
    expect(out).toMatchObject({
      OpenIDConnectProviderArn: arnOf('jenkins.example.com/oidc'),
      Tags: [{ Key: 'owner', Value: 'ci' }],
    });
    const got = await get(arnOf('jenkins.example.com/oidc'));
    // No thumbprint given: AWS now verifies the issuer through its trusted CAs.
    expect(got).toMatchObject({
      Url: 'jenkins.example.com/oidc',
      ClientIDList: ['sts.amazonaws.com', 'deploy'],
      Tags: [{ Key: 'owner', Value: 'ci' }],
    });
    expect(got.ThumbprintList ?? []).toEqual([]);
    expect(got.CreateDate).toBeInstanceOf(Date);
    const listed = await iam.send(new ListOpenIDConnectProvidersCommand({}));
    expect(listed.OpenIDConnectProviderList).toContainEqual({ Arn: arnOf('jenkins.example.com/oidc') });
  });

  it('refuses the same URL twice: EntityAlreadyExists', async () => {
    await create({ Url: 'https://token.example.org' });
    await expect(create({ Url: 'https://token.example.org' })).rejects.toMatchObject({
      Code: 'EntityAlreadyExists',
      message: 'Provider with url https://token.example.org already exists.',
      $metadata: { httpStatusCode: 409 },
    });
  });

  it('refuses what is not an https URL without port, query or fragment (InvalidInput)', async () => {
    const cases: [string, string][] = [
      [
        'http://issuer.example.com',
        'Invalid Open ID Connect Provider URL. The URL must begin with https://.',
      ],
      ['issuer.example.com', 'Invalid Open ID Connect Provider URL. The URL must begin with https://.'],
      [
        'https://issuer.example.com:8443',
        'Invalid Open ID Connect Provider URL. The URL should not contain a port number.',
      ],
      [
        'https://issuer.example.com/?tenant=1',
        'Invalid Open ID Connect Provider URL. Query parameters and fragments are not allowed.',
      ],
    ];
    for (const [Url, message] of cases)
      await expect(create({ Url })).rejects.toMatchObject(invalidInput(message));
    await expect(create({ Url: `https://${'a'.repeat(250)}.com` })).rejects.toMatchObject({
      Code: 'ValidationError',
      message: expect.stringContaining(
        "at 'url' failed to satisfy constraint: Member must have length less than or equal to 255",
      ) as unknown,
    });
  });

  it('accepts http and a port on 127.0.0.1 and localhost only, for issuers of the local cloud', async () => {
    const { OpenIDConnectProviderArn } = await create({ Url: 'http://127.0.0.1:8080/oidc' });
    expect(OpenIDConnectProviderArn).toBe(arnOf('127.0.0.1:8080/oidc'));
    expect((await get(OpenIDConnectProviderArn!)).Url).toBe('127.0.0.1:8080/oidc');
    await expect(create({ Url: 'http://localhost:9090/oidc' })).resolves.toHaveProperty(
      'OpenIDConnectProviderArn',
    );
  });

  it('checks thumbprints: 40 characters each, 5 at most', async () => {
    await expect(create({ Url: 'https://short.example.com', ThumbprintList: ['abc'] })).rejects.toMatchObject(
      {
        Code: 'ValidationError',
        message: expect.stringContaining('Member must have length greater than or equal to 40') as unknown,
      },
    );
    await expect(
      create({ Url: 'https://many.example.com', ThumbprintList: Array.from({ length: 6 }, () => PRINT) }),
    ).rejects.toMatchObject({
      Code: 'LimitExceeded',
      message: 'Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: 5',
    });
  });

  it('needs iam:CreateOpenIDConnectProvider on the provider ARN', async () => {
    const { iam: limited, user } = userClients(aws, 'oidc-creator', {
      permissions: [
        {
          effect: 'Allow',
          actions: ['iam:CreateOpenIDConnectProvider'],
          resources: [arnOf('allowed.example.com')],
        },
      ],
    });
    await expect(
      limited.send(
        new CreateOpenIDConnectProviderCommand({ Url: 'https://allowed.example.com', ClientIDList: ['x'] }),
      ),
    ).resolves.toHaveProperty('OpenIDConnectProviderArn');
    await expect(
      limited.send(
        new CreateOpenIDConnectProviderCommand({ Url: 'https://denied.example.com', ClientIDList: ['x'] }),
      ),
    ).rejects.toMatchObject({
      Code: 'AccessDenied',
      message: `User: ${user.arn} is not authorized to perform: iam:CreateOpenIDConnectProvider on resource: ${arnOf('denied.example.com')}`,
    });
    limited.destroy();
  });
});

describe('a provider’s client ids, thumbprints and tags', () => {
  it('adds and removes client ids idempotently, replaces thumbprints', async () => {
    const { OpenIDConnectProviderArn: arn } = await create({ Url: 'https://clients.example.com' });
    const on = { OpenIDConnectProviderArn: arn };
    await iam.send(new AddClientIDToOpenIDConnectProviderCommand({ ...on, ClientID: 'extra' }));
    await iam.send(new AddClientIDToOpenIDConnectProviderCommand({ ...on, ClientID: 'extra' }));
    expect((await get(arn!)).ClientIDList).toEqual(['sts.amazonaws.com', 'extra']);
    await iam.send(
      new RemoveClientIDFromOpenIDConnectProviderCommand({ ...on, ClientID: 'sts.amazonaws.com' }),
    );
    await iam.send(new RemoveClientIDFromOpenIDConnectProviderCommand({ ...on, ClientID: 'never-there' }));
    expect((await get(arn!)).ClientIDList).toEqual(['extra']);
    await iam.send(new UpdateOpenIDConnectProviderThumbprintCommand({ ...on, ThumbprintList: [PRINT] }));
    expect((await get(arn!)).ThumbprintList).toEqual([PRINT]);
    await iam.send(
      new TagOpenIDConnectProviderCommand({
        ...on,
        Tags: [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '2' },
        ],
      }),
    );
    await iam.send(new UntagOpenIDConnectProviderCommand({ ...on, TagKeys: ['a'] }));
    expect((await iam.send(new ListOpenIDConnectProviderTagsCommand(on))).Tags).toEqual([
      { Key: 'b', Value: '2' },
    ]);
  });

  it('answers NoSuchEntity for a provider that does not exist, InvalidInput for what is not its ARN', async () => {
    const missing = arnOf('missing.example.com');
    const notFound = {
      Code: 'NoSuchEntity',
      message: `OpenIDConnect Provider not found for arn ${missing}`,
      $metadata: { httpStatusCode: 404 },
    };
    await expect(get(missing)).rejects.toMatchObject(notFound);
    await expect(
      iam.send(
        new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: missing, ClientID: 'x' }),
      ),
    ).rejects.toMatchObject(notFound);
    await expect(get(`arn:aws:iam::${ACCOUNT}:role/not-a-provider`)).rejects.toMatchObject(
      invalidInput(`ARN arn:aws:iam::${ACCOUNT}:role/not-a-provider is not valid.`),
    );
  });

  it('DeleteOpenIDConnectProvider removes it, and is idempotent as the API reference says', async () => {
    const { OpenIDConnectProviderArn: arn } = await create({ Url: 'https://deleted.example.com' });
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    await expect(get(arn!)).rejects.toMatchObject({ Code: 'NoSuchEntity' });
    await expect(
      iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
    ).resolves.toBeDefined();
    // The URL is free again.
    await expect(create({ Url: 'https://deleted.example.com' })).resolves.toHaveProperty(
      'OpenIDConnectProviderArn',
    );
  });
});
