import { CallLog } from './calls';
import { startAwsEmulator, type AwsEmulator, type AwsEmulatorOptions } from './aws/server';
import { startJenkinsEmulator, type JenkinsEmulator, type JenkinsEmulatorOptions } from './jenkins/server';

export interface LocalCloud {
  aws: AwsEmulator;
  jenkins: JenkinsEmulator;
  close(): Promise<void>;
}

export interface LocalCloudOptions {
  aws?: Omit<AwsEmulatorOptions, 'calls'>;
  jenkins?: Pick<JenkinsEmulatorOptions, 'port' | 'csrfEnabled' | 'tls'>;
}

/**
 * Starts the AWS and Jenkins emulators on 127.0.0.1 (free ports unless given). Jenkins' canary jobs call
 * the AWS emulator. Both record their calls in one CallLog, `aws.state.calls` (the same object as
 * `jenkins.state.calls`): one sequence, and one `onCrash` callback for `crash` faults of either.
 * Test and demo infrastructure only: never bundled into a Lambda artifact.
 */
export async function startLocalCloud(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
  const calls = new CallLog();
  const aws = await startAwsEmulator({ ...opts.aws, calls });
  try {
    const jenkins = await startJenkinsEmulator({ ...opts.jenkins, awsEndpoint: aws.url, calls });
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
