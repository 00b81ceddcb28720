import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../../localcloud/aws/server';
import { cachedSecretReader } from '../../src/aws/secret-reader';

/** The cached reader of read-only secrets (Jenkins tokens, CA certificates, the webhook URL), over real HTTP. */
describe('cachedSecretReader against the emulated Secrets Manager', () => {
  let aws: AwsEmulator;
  let sm: SecretsManagerClient;
  /** GetSecretValue calls the emulator has served so far. */
  const reads = () => aws.state.callLog.filter((c) => c.action === 'GetSecretValue').length;

  beforeAll(async () => {
    aws = await startAwsEmulator();
    sm = new SecretsManagerClient(aws.adminClientConfig());
  });
  afterAll(() => aws.close());

  it('reads a secret once and serves the value from its cache until it is older than the max age', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'reader/token', SecretString: 'synthetic-token-1' }));
    const read = cachedSecretReader(sm);
    const before = reads();
    expect(await read('reader/token')).toBe('synthetic-token-1');
    await sm.send(new PutSecretValueCommand({ SecretId: 'reader/token', SecretString: 'synthetic-token-2' }));
    expect(await read('reader/token')).toBe('synthetic-token-1');
    expect(reads() - before).toBe(1);
    // With no max age every read goes to Secrets Manager, and sees the new value.
    expect(await cachedSecretReader(sm, 0)('reader/token')).toBe('synthetic-token-2');
    expect(reads() - before).toBe(2);
  });

  it('reads a secret once when several callers ask at the same time (two targets sharing one token)', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'reader/shared', SecretString: 'synthetic-shared' }));
    const read = cachedSecretReader(sm);
    const before = reads();
    const values = await Promise.all([read('reader/shared'), read('reader/shared'), read('reader/shared')]);
    expect(values).toEqual(['synthetic-shared', 'synthetic-shared', 'synthetic-shared']);
    expect(reads() - before).toBe(1);
  });

  it("fails with the SDK's own error, and does not keep the failure", async () => {
    const read = cachedSecretReader(sm);
    const err = await read('reader/missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceNotFoundException);
    expect((err as Error).name).toBe('ResourceNotFoundException');
    await sm.send(new CreateSecretCommand({ Name: 'reader/missing', SecretString: 'synthetic-now-there' }));
    expect(await read('reader/missing')).toBe('synthetic-now-there');
  });

  it('reads a binary secret as no string (the callers then say the secret is empty)', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'reader/binary', SecretBinary: Buffer.from('synthetic') }));
    expect(await cachedSecretReader(sm)('reader/binary')).toBeUndefined();
  });
});
