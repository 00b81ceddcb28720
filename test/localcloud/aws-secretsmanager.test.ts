import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
  type Filter,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws } from '../support/aws';

let emu: AwsEmulator;
let sm: SecretsManagerClient;
let seq = 0;
const uniq = (prefix: string) => `${prefix}-${++seq}`;
const token = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

beforeAll(async () => {
  emu = await startAws();
  sm = new SecretsManagerClient(clientConfig(emu.url, emu.admin));
});

afterAll(async () => {
  sm.destroy();
  await emu.close();
});

async function create(
  name: string,
  value = 'synthetic-value-1',
  extra: Partial<{ Description: string }> = {},
) {
  return sm.send(new CreateSecretCommand({ Name: name, SecretString: value, ...extra }));
}

async function stagesOf(secretId: string): Promise<Record<string, string[]>> {
  return (await sm.send(new DescribeSecretCommand({ SecretId: secretId }))).VersionIdsToStages ?? {};
}

function clientFor(permissions: { effect: 'Allow' | 'Deny'; actions: string[]; resources?: string[] }[]) {
  const user = emu.state.createUser(emu.state.defaultAccountId, uniq('sm-user'), { permissions });
  const key = emu.state.createAccessKey(user, { established: true });
  return new SecretsManagerClient(clientConfig(emu.url, key));
}

describe('CreateSecret and DescribeSecret', () => {
  it('creates a secret with an AWSCURRENT version named by the ClientRequestToken', async () => {
    const name = uniq('jenkins/aws-key');
    const out = await sm.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: '{"AccessKeyId":"AKIAEXAMPLESYNTHETIC"}',
        ClientRequestToken: token(1),
        Description: 'synthetic key for tests',
        KmsKeyId: 'alias/synthetic',
        Tags: [{ Key: 'team', Value: 'ci' }],
      }),
    );
    expect(out.Name).toBe(name);
    expect(out.VersionId).toBe(token(1));
    expect(out.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:us-east-1:111122223333:secret:${name}-[A-Za-z0-9]{6}$`),
    );

    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d).toMatchObject({
      ARN: out.ARN,
      Name: name,
      Description: 'synthetic key for tests',
      KmsKeyId: 'alias/synthetic',
      Tags: [{ Key: 'team', Value: 'ci' }],
      VersionIdsToStages: { [token(1)]: ['AWSCURRENT'] },
    });
    expect(d.CreatedDate).toBeInstanceOf(Date);
    expect(d.LastChangedDate).toBeInstanceOf(Date);
    expect(d.RotationEnabled).toBeUndefined();
    expect(d.LastRotatedDate).toBeUndefined();
    expect(d.LastAccessedDate).toBeUndefined();
  });

  it('creates a secret without a value: no version, nothing to get', async () => {
    const name = uniq('empty');
    const out = await sm.send(new CreateSecretCommand({ Name: name }));
    expect(out.VersionId).toBeUndefined();
    expect(await stagesOf(name)).toEqual({});
    await expect(sm.send(new GetSecretValueCommand({ SecretId: name }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    });
  });

  it('refuses a second secret with the same name, but answers a retried request as the original', async () => {
    const name = uniq('dup');
    const first = await sm.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v', ClientRequestToken: token(2) }),
    );
    const retry = await sm.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v', ClientRequestToken: token(2) }),
    );
    expect(retry).toMatchObject({ ARN: first.ARN, VersionId: token(2) });
    await expect(create(name, 'other')).rejects.toMatchObject({
      name: 'ResourceExistsException',
      message: `The operation failed because the secret ${name} already exists.`,
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('validates names, tokens and values', async () => {
    await expect(create('bad name with spaces')).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      sm.send(new CreateSecretCommand({ Name: uniq('tok'), SecretString: 'v', ClientRequestToken: 'short' })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException', message: /32-64 characters/ });
    await expect(
      sm.send(
        new CreateSecretCommand({ Name: uniq('both'), SecretString: 'v', SecretBinary: Buffer.from('b') }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException', message: /both a binary secret value/ });
    await expect(sm.send(new DescribeSecretCommand({} as never))).rejects.toMatchObject({
      name: 'ValidationException',
      message: /'secretId' failed to satisfy constraint: Member must not be null/,
    });
  });

  it('reports an unknown secret as ResourceNotFoundException', async () => {
    for (const cmd of [
      new DescribeSecretCommand({ SecretId: 'no-such-secret' }),
      new GetSecretValueCommand({ SecretId: 'no-such-secret' }),
      new PutSecretValueCommand({ SecretId: 'no-such-secret', SecretString: 'x' }),
      new ListSecretVersionIdsCommand({ SecretId: 'no-such-secret' }),
      new TagResourceCommand({ SecretId: 'no-such-secret', Tags: [] }),
    ])
      await expect(sm.send(cmd as never)).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
        $metadata: { httpStatusCode: 400 },
      });
  });
});

describe('GetSecretValue', () => {
  it('finds a secret by name, full ARN and partial ARN, and records the access day', async () => {
    const name = uniq('lookup');
    const { ARN } = await create(name, 'by-any-id');
    for (const id of [name, ARN!, ARN!.slice(0, -7)]) {
      const v = await sm.send(new GetSecretValueCommand({ SecretId: id }));
      expect(v).toMatchObject({ ARN, Name: name, SecretString: 'by-any-id', VersionStages: ['AWSCURRENT'] });
      expect(v.CreatedDate).toBeInstanceOf(Date);
    }
    const accessed = (await sm.send(new DescribeSecretCommand({ SecretId: name }))).LastAccessedDate!;
    expect(accessed.getTime() % 86_400_000).toBe(0);
    expect(Math.abs(accessed.getTime() - emu.state.now())).toBeLessThan(86_400_000);
  });

  it('selects versions by VersionId and VersionStage and refuses mismatches', async () => {
    const name = uniq('versions');
    await sm.send(
      new CreateSecretCommand({ Name: name, SecretString: 'one', ClientRequestToken: token(10) }),
    );
    await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'two', ClientRequestToken: token(11) }),
    );
    expect(
      (await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: token(10) }))).SecretString,
    ).toBe('one');
    expect(
      (await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' })))
        .SecretString,
    ).toBe('one');
    await expect(
      sm.send(
        new GetSecretValueCommand({ SecretId: name, VersionId: token(10), VersionStage: 'AWSCURRENT' }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    });
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: token(99) })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: `Secrets Manager can't find the specified secret value for VersionId: ${token(99)}`,
    });
  });

  it('round-trips binary secrets', async () => {
    const name = uniq('binary');
    const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
    await sm.send(new CreateSecretCommand({ Name: name, SecretBinary: bytes }));
    const v = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(v.SecretString).toBeUndefined();
    expect(Buffer.from(v.SecretBinary!).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps secrets in their region', async () => {
    const name = uniq('regional');
    await create(name);
    const west = new SecretsManagerClient(clientConfig(emu.url, emu.admin, 'eu-west-1'));
    await expect(west.send(new GetSecretValueCommand({ SecretId: name }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    west.destroy();
  });
});

describe('PutSecretValue', () => {
  it('makes the new version AWSCURRENT and moves AWSPREVIOUS to the former current', async () => {
    const name = uniq('put');
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token(20) }));
    const put = await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token(21) }),
    );
    expect(put).toMatchObject({ Name: name, VersionId: token(21), VersionStages: ['AWSCURRENT'] });
    expect(await stagesOf(name)).toEqual({ [token(20)]: ['AWSPREVIOUS'], [token(21)]: ['AWSCURRENT'] });

    await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v3', ClientRequestToken: token(22) }),
    );
    // v1 lost its last label: it is deprecated, listed only on request.
    expect(await stagesOf(name)).toEqual({ [token(21)]: ['AWSPREVIOUS'], [token(22)]: ['AWSCURRENT'] });
    const listed = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    expect(listed.Versions!.map((v) => v.VersionId).sort()).toEqual([token(21), token(22)]);
    const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    expect(all.Versions!.find((v) => v.VersionId === token(20))).toMatchObject({ VersionStages: [] });
    expect(all.Versions!.every((v) => v.CreatedDate instanceof Date)).toBe(true);
  });

  it('is idempotent per ClientRequestToken: same value is a no-op, another value is refused', async () => {
    const name = uniq('idem');
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token(30) }));
    const put = () =>
      sm.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token(31) }),
      );
    const first = await put();
    const again = await put();
    expect(again.VersionId).toBe(first.VersionId);
    expect(await stagesOf(name)).toEqual({ [token(30)]: ['AWSPREVIOUS'], [token(31)]: ['AWSCURRENT'] });
    await expect(
      sm.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: 'v3', ClientRequestToken: token(31) }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceExistsException', message: new RegExp(token(31)) });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v2');
  });

  it('attaches custom stages without touching AWSCURRENT, taking them from other versions', async () => {
    const name = uniq('stages');
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token(40) }));
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'pending-a',
        ClientRequestToken: token(41),
        VersionStages: ['AWSPENDING', 'blue'],
        RotationToken: 'synthetic-rotation-token',
      }),
    );
    expect(await stagesOf(name)).toEqual({
      [token(40)]: ['AWSCURRENT'],
      [token(41)]: ['AWSPENDING', 'blue'],
    });
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'pending-b',
        ClientRequestToken: token(42),
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(await stagesOf(name)).toEqual({
      [token(40)]: ['AWSCURRENT'],
      [token(41)]: ['blue'],
      [token(42)]: ['AWSPENDING'],
    });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v1');
  });

  it('requires a value', async () => {
    const name = uniq('novalue');
    await create(name);
    await expect(sm.send(new PutSecretValueCommand({ SecretId: name }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });
});

describe('UpdateSecretVersionStage', () => {
  async function threeVersions() {
    const name = uniq('usvs');
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token(50) }));
    await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token(51) }),
    );
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'v3',
        ClientRequestToken: token(52),
        VersionStages: ['AWSPENDING'],
      }),
    );
    return name;
  }

  it('moves AWSCURRENT and moves AWSPREVIOUS to the version it left', async () => {
    const name = await threeVersions();
    const out = await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token(52),
        RemoveFromVersionId: token(51),
      }),
    );
    expect(out.Name).toBe(name);
    expect(await stagesOf(name)).toEqual({
      [token(51)]: ['AWSPREVIOUS'],
      [token(52)]: ['AWSPENDING', 'AWSCURRENT'],
    });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v3');
  });

  it('rolls back: moving AWSCURRENT onto AWSPREVIOUS swaps the two', async () => {
    const name = await threeVersions();
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token(50),
        RemoveFromVersionId: token(51),
      }),
    );
    expect(await stagesOf(name)).toEqual({
      [token(50)]: ['AWSCURRENT'],
      [token(51)]: ['AWSPREVIOUS'],
      [token(52)]: ['AWSPENDING'],
    });
  });

  it('insists on RemoveFromVersionId naming the version that holds the stage', async () => {
    const name = await threeVersions();
    await expect(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token(52),
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message:
        "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version " +
        `${token(51)}, so you must explicitly reference that version in RemoveFromVersionId.`,
    });
    await expect(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token(52),
          RemoveFromVersionId: token(50),
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token(98),
          RemoveFromVersionId: token(51),
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: `Not a valid version: ${token(98)}`,
    });
    expect((await stagesOf(name))[token(51)]).toEqual(['AWSCURRENT']);
  });

  it('removes a stage with RemoveFromVersionId alone, but never AWSCURRENT', async () => {
    const name = await threeVersions();
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: token(52),
      }),
    );
    expect(await stagesOf(name)).toEqual({ [token(50)]: ['AWSPREVIOUS'], [token(51)]: ['AWSCURRENT'] });
    await expect(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          RemoveFromVersionId: token(51),
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });
});

describe('ListSecrets and ListSecretVersionIds', () => {
  const prefix = 'listing';
  beforeAll(async () => {
    await sm.send(
      new CreateSecretCommand({
        Name: `${prefix}/alpha`,
        SecretString: 'a',
        Description: 'Jenkins deploy credentials',
        Tags: [{ Key: 'owner', Value: 'platform' }],
      }),
    );
    await sm.send(
      new CreateSecretCommand({
        Name: `${prefix}/beta`,
        SecretString: 'b',
        Description: 'database password',
        Tags: [{ Key: 'owner', Value: 'data' }],
      }),
    );
    await sm.send(
      new CreateSecretCommand({
        Name: `${prefix}/gamma`,
        SecretString: 'c',
        Tags: [{ Key: 'rotation', Value: 'auto' }],
      }),
    );
    for (const n of ['delta', 'epsilon']) await create(`${prefix}/${n}`);
  });

  const names = async (Filters: Filter[]) =>
    ((await sm.send(new ListSecretsCommand({ Filters }))).SecretList ?? []).map((s) => s.Name).sort();

  it('pages with MaxResults and NextToken', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let NextToken: string | undefined;
    do {
      const out = await sm.send(
        new ListSecretsCommand({
          MaxResults: 2,
          NextToken,
          Filters: [{ Key: 'name', Values: [`${prefix}/`] }],
        }),
      );
      sizes.push(out.SecretList!.length);
      seen.push(...out.SecretList!.map((s) => s.Name!));
      NextToken = out.NextToken;
    } while (NextToken);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(['alpha', 'beta', 'gamma', 'delta', 'epsilon'].map((n) => `${prefix}/${n}`));
    await expect(sm.send(new ListSecretsCommand({ NextToken: 'garbage!' }))).rejects.toMatchObject({
      name: 'InvalidNextTokenException',
    });
  });

  it('lists entries with SecretVersionsToStages', async () => {
    const out = await sm.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [`${prefix}/alpha`] }] }),
    );
    expect(out.SecretList).toHaveLength(1);
    const entry = out.SecretList![0]!;
    expect(entry).toMatchObject({
      Description: 'Jenkins deploy credentials',
      Tags: [{ Key: 'owner', Value: 'platform' }],
    });
    expect(Object.values(entry.SecretVersionsToStages!)).toEqual([['AWSCURRENT']]);
  });

  it('filters by name, tag-key, tag-value, description and all, with ! negation', async () => {
    expect(await names([{ Key: 'name', Values: [`${prefix}/b`, `${prefix}/g`] }])).toEqual([
      `${prefix}/beta`,
      `${prefix}/gamma`,
    ]);
    expect(await names([{ Key: 'tag-key', Values: ['owner'] }])).toEqual([
      `${prefix}/alpha`,
      `${prefix}/beta`,
    ]);
    expect(await names([{ Key: 'tag-value', Values: ['plat'] }])).toEqual([`${prefix}/alpha`]);
    expect(await names([{ Key: 'description', Values: ['jenkins'] }])).toEqual([`${prefix}/alpha`]);
    expect(await names([{ Key: 'all', Values: ['auto'] }])).toEqual([`${prefix}/gamma`]);
    expect(
      await names([
        { Key: 'name', Values: [`${prefix}/`] },
        { Key: 'tag-key', Values: ['!owner'] },
      ]),
    ).toEqual([`${prefix}/delta`, `${prefix}/epsilon`, `${prefix}/gamma`]);
    await expect(
      sm.send(new ListSecretsCommand({ Filters: [{ Key: 'colour' as never, Values: ['x'] }] })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('pages version ids', async () => {
    const name = uniq('many-versions');
    await create(name, 'v0');
    for (let i = 1; i <= 2; i++)
      await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: `v${i}` }));
    const first = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, MaxResults: 1 }));
    expect(first.Versions).toHaveLength(1);
    const second = await sm.send(
      new ListSecretVersionIdsCommand({ SecretId: name, MaxResults: 1, NextToken: first.NextToken! }),
    );
    expect(second.Versions).toHaveLength(1);
    expect(second.NextToken).toBeUndefined();
    expect(second.Versions![0]!.VersionId).not.toBe(first.Versions![0]!.VersionId);
  });
});

describe('TagResource and UntagResource', () => {
  it('adds, replaces and removes tags', async () => {
    const name = uniq('tags');
    await sm.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v', Tags: [{ Key: 'a', Value: '1' }] }),
    );
    await sm.send(
      new TagResourceCommand({
        SecretId: name,
        Tags: [
          { Key: 'a', Value: '2' },
          { Key: 'b', Value: '3' },
        ],
      }),
    );
    const tagged = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(tagged.Tags).toEqual([
      { Key: 'a', Value: '2' },
      { Key: 'b', Value: '3' },
    ]);
    await sm.send(new UntagResourceCommand({ SecretId: name, TagKeys: ['a', 'missing'] }));
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).Tags).toEqual([
      { Key: 'b', Value: '3' },
    ]);
  });
});

describe('authorization', () => {
  it('judges each call against the secret ARN', async () => {
    const { ARN: allowedArn } = await create('team-a/key', 'a-value');
    await create('team-b/key', 'b-value');
    const scoped = clientFor([
      {
        effect: 'Allow',
        actions: ['secretsmanager:GetSecretValue'],
        resources: ['arn:aws:secretsmanager:us-east-1:111122223333:secret:team-a/*'],
      },
    ]);
    expect((await scoped.send(new GetSecretValueCommand({ SecretId: 'team-a/key' }))).ARN).toBe(allowedArn);
    await expect(scoped.send(new GetSecretValueCommand({ SecretId: 'team-b/key' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: /not authorized to perform: secretsmanager:GetSecretValue on resource: .*team-b\/key-/,
    });
    // An unknown secret outside the grant is denied, not reported missing.
    await expect(
      scoped.send(new GetSecretValueCommand({ SecretId: 'team-b/nothing' })),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    await expect(
      scoped.send(new PutSecretValueCommand({ SecretId: 'team-a/key', SecretString: 'x' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    scoped.destroy();
  });
});

describe('admin seed', () => {
  it('creates secrets with an AWSCURRENT value and tags', async () => {
    const r = await fetch(`${emu.url}/_localcloud/seed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        secrets: [
          {
            name: 'seeded/jenkins',
            secretString: '{"k":"synthetic"}',
            tags: [{ Key: 'seeded', Value: 'yes' }],
          },
        ],
      }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { secrets: { name: string; arn: string; versionId: string }[] };
    const seeded = body.secrets[0]!;
    const v = await sm.send(new GetSecretValueCommand({ SecretId: seeded.arn }));
    expect(v).toMatchObject({
      Name: 'seeded/jenkins',
      SecretString: '{"k":"synthetic"}',
      VersionId: seeded.versionId,
    });
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'seeded/jenkins' }))).Tags).toEqual([
      { Key: 'seeded', Value: 'yes' },
    ]);
    const bad = await fetch(`${emu.url}/_localcloud/seed`, {
      method: 'POST',
      body: JSON.stringify({ secrets: [{ name: 'no spaces allowed', secretString: 'x' }] }),
    });
    expect(bad.status).toBe(400);
  });
});

describe('DeleteSecret and RestoreSecret', () => {
  const DAY_MS = 86_400_000;
  const marked = {
    name: 'InvalidRequestException',
    message: "You can't perform this operation on the secret because it was marked for deletion.",
  };
  const listedNames = async (IncludePlannedDeletion?: boolean) =>
    ((await sm.send(new ListSecretsCommand({ IncludePlannedDeletion }))).SecretList ?? []).map((s) => s.Name);

  it('schedules the deletion 30 days out by default; the secret can then only be described or restored', async () => {
    const name = uniq('to-delete');
    const created = await create(name, 'synthetic-value-d1');
    const out = await sm.send(new DeleteSecretCommand({ SecretId: name }));
    expect(out).toMatchObject({ ARN: created.ARN, Name: name });
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.DeletedDate).toBeInstanceOf(Date);
    expect(Math.round((out.DeletionDate!.getTime() - d.DeletedDate!.getTime()) / 1000)).toBe(
      (30 * DAY_MS) / 1000,
    );
    await expect(sm.send(new GetSecretValueCommand({ SecretId: name }))).rejects.toMatchObject(marked);
    await expect(
      sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'synthetic-value-d2' })),
    ).rejects.toMatchObject(marked);
    await expect(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSPENDING',
          MoveToVersionId: created.VersionId,
        }),
      ),
    ).rejects.toMatchObject(marked);
    await expect(
      sm.send(
        new RotateSecretCommand({
          SecretId: name,
          RotationLambdaARN: 'arn:aws:lambda:us-east-1:111122223333:function:x',
        }),
      ),
    ).rejects.toMatchObject(marked);
    await expect(sm.send(new DeleteSecretCommand({ SecretId: name }))).rejects.toMatchObject(marked);
    await expect(create(name, 'synthetic-value-d3')).rejects.toMatchObject({
      name: 'InvalidRequestException',
      message:
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
    });
    expect(await listedNames()).not.toContain(name);
    expect(await listedNames(true)).toContain(name);

    const restored = await sm.send(new RestoreSecretCommand({ SecretId: name }));
    expect(restored).toMatchObject({ ARN: created.ARN, Name: name });
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeUndefined();
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(
      'synthetic-value-d1',
    );
    expect(await listedNames()).toContain(name);
  });

  it('takes a RecoveryWindowInDays of 7 to 30 days, and not together with ForceDeleteWithoutRecovery', async () => {
    const name = uniq('window');
    await create(name);
    for (const days of [6, 31])
      await expect(
        sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: days })),
      ).rejects.toMatchObject({
        name: 'InvalidParameterException',
        message: 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
      });
    await expect(
      sm.send(
        new DeleteSecretCommand({
          SecretId: name,
          RecoveryWindowInDays: 7,
          ForceDeleteWithoutRecovery: true,
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    });
    // The refused calls changed nothing.
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(
      'synthetic-value-1',
    );
    const out = await sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(Math.round((out.DeletionDate!.getTime() - d.DeletedDate!.getTime()) / 1000)).toBe(
      (7 * DAY_MS) / 1000,
    );
  });

  it('ForceDeleteWithoutRecovery removes the secret at once, also one scheduled for deletion', async () => {
    const now = uniq('force-now');
    const scheduled = uniq('force-scheduled');
    await create(now);
    await create(scheduled);
    await sm.send(new DeleteSecretCommand({ SecretId: scheduled }));
    for (const name of [now, scheduled]) {
      const out = await sm.send(
        new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
      );
      expect(out.Name).toBe(name);
      await expect(sm.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
      await expect(sm.send(new RestoreSecretCommand({ SecretId: name }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
      expect(await listedNames(true)).not.toContain(name);
    }
    // The name is free again.
    const again = await create(now, 'synthetic-value-again');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: again.ARN }))).SecretString).toBe(
      'synthetic-value-again',
    );
  });

  it('a forced deletion of a secret that does not exist succeeds; an unforced one is ResourceNotFoundException', async () => {
    const name = uniq('never-existed');
    const out = await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    expect(out.DeletionDate).toBeInstanceOf(Date);
    await expect(sm.send(new DeleteSecretCommand({ SecretId: name }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  });

  it('RestoreSecret of a secret not scheduled for deletion changes nothing', async () => {
    const name = uniq('not-deleted');
    const created = await create(name);
    expect(await sm.send(new RestoreSecretCommand({ SecretId: name }))).toMatchObject({ ARN: created.ARN });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(
      'synthetic-value-1',
    );
  });

  it('authorizes DeleteSecret and RestoreSecret on the secret ARN', async () => {
    const name = uniq('guarded');
    await create(name);
    const reader = clientFor([{ effect: 'Allow', actions: ['secretsmanager:GetSecretValue'] }]);
    for (const cmd of [
      new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
      new RestoreSecretCommand({ SecretId: name }),
    ])
      await expect(reader.send(cmd)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect((await reader.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(
      'synthetic-value-1',
    );
    reader.destroy();
  });
});
