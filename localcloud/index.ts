import { startAwsEmulator, type AwsEmulator, type AwsEmulatorOptions } from './aws/server';
import { startJenkinsEmulator, type JenkinsEmulator } from './jenkins/server';

export interface LocalCloud {
  aws: AwsEmulator;
  jenkins: JenkinsEmulator;
  close(): Promise<void>;
}

export interface LocalCloudOptions {
  aws?: AwsEmulatorOptions;
  jenkins?: { port?: number; csrfEnabled?: boolean };
}

/**
 * Starts the AWS and Jenkins emulators on 127.0.0.1 (free ports unless given). Jenkins' canary jobs call
 * the AWS emulator. Test and demo infrastructure only: never bundled into a Lambda artifact.
 */
export async function startLocalCloud(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
  const aws = await startAwsEmulator(opts.aws);
  try {
    const jenkins = await startJenkinsEmulator({ ...opts.jenkins, awsEndpoint: aws.url });
    return {
      aws,
      jenkins,
      close: async () => {
        await Promise.all([jenkins.close(), aws.close()]);
      },
    };
  } catch (err) {
    await aws.close();
    throw err;
  }
}
