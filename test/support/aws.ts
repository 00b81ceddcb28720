import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { startAwsEmulator, type AwsEmulator, type AwsEmulatorOptions } from '../../localcloud/aws/server';

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Client config for any AWS SDK v3 client against the emulator; one attempt so errors surface at once. */
export function clientConfig(endpoint: string, credentials: Creds, region = 'us-east-1') {
  return { region, endpoint, credentials, maxAttempts: 1 };
}

/** Starts an AWS emulator for one test file; call `close()` in afterAll. */
export async function startAws(opts: AwsEmulatorOptions = {}): Promise<AwsEmulator> {
  return startAwsEmulator(opts);
}

/** Whether `creds` authenticate at `endpoint` right now (STS GetCallerIdentity, one attempt). */
export async function authenticates(endpoint: string, creds: Creds): Promise<boolean> {
  const sts = new STSClient(clientConfig(endpoint, creds));
  try {
    await sts.send(new GetCallerIdentityCommand({}));
    return true;
  } catch {
    return false;
  } finally {
    sts.destroy();
  }
}
