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
