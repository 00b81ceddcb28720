import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsSetup } from '../aws/clients';
import { compose, type Composition } from '../compose';
import {
  CONFIG_PATH_VARIABLE,
  DEFAULT_CHECKS,
  DEFAULT_FLEET,
  DEFAULT_POLICY,
  loadConfigFile,
  type RotatorConfig,
} from '../config';
import type { Log } from '../engine/ports';
import type { GlobalOptions } from './args';
import { CliError } from './errors';
import type { CliIo } from './io';
import type { SandboxTarget } from './sandbox';

export const DEFAULT_CONFIG_FILE = 'rotator.config.json';

export interface ConfigChoice {
  /** Absolute path. */
  file: string;
  /** Named by the user (argument, --config or the environment), rather than the default file. */
  explicit: boolean;
}

/**
 * The configuration file: the command's argument, --config, $KEY_ROTATOR_CONFIG, the sandbox's `configFile`, then
 * ./rotator.config.json.
 */
export function configFile(
  global: GlobalOptions,
  io: CliIo,
  opts: { argument?: string; sandboxConfigFile?: string } = {},
): ConfigChoice {
  const named =
    opts.argument ??
    global.config ??
    (io.env[CONFIG_PATH_VARIABLE]?.trim() || undefined) ??
    opts.sandboxConfigFile;
  return { file: resolve(io.cwd, named ?? DEFAULT_CONFIG_FILE), explicit: named !== undefined };
}

/** Reads and validates the configuration; a {@link import('../config').ConfigError} says what is wrong. */
export const loadConfig = (choice: ConfigChoice): Promise<RotatorConfig> => loadConfigFile(choice.file);

/**
 * For `audit`: the configuration, or, when none was named and the default file does not exist, an empty one
 * (every key is then shown as unmanaged) and a note on stderr.
 */
export async function loadConfigOrEmpty(
  choice: ConfigChoice,
  io: CliIo,
): Promise<{ config: RotatorConfig; file?: string }> {
  if (!choice.explicit) {
    const exists = await access(choice.file).then(
      () => true,
      () => false,
    );
    if (!exists) {
      io.err(
        `key-rotator: note: no configuration (${choice.file} does not exist, --config and ${CONFIG_PATH_VARIABLE} are not set): every key is shown as unmanaged\n`,
      );
      return {
        config: {
          version: 1,
          defaults: DEFAULT_POLICY,
          notifications: {},
          checks: DEFAULT_CHECKS,
          fleet: DEFAULT_FLEET,
          keys: [],
        },
      };
    }
  }
  return { config: await loadConfig(choice), file: choice.file };
}

/**
 * Where and as whom to call AWS: --endpoint/--region over the sandbox line over the SDK's own configuration
 * (AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE and the rest of the credential chain).
 */
export async function awsSetup(global: GlobalOptions, io: CliIo, sandbox?: SandboxTarget): Promise<AwsSetup> {
  const endpoint = global.endpoint ?? sandbox?.endpoint;
  const region =
    global.region ??
    sandbox?.region ??
    (io.env['AWS_REGION']?.trim() || undefined) ??
    (io.env['AWS_DEFAULT_REGION']?.trim() || undefined) ??
    (await profileRegion());
  return {
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(sandbox ? { credentials: sandbox.credentials } : {}),
  };
}

/** The region of the AWS profile (~/.aws/config), as the SDK resolves it. */
async function profileRegion(): Promise<string> {
  const sts = new STSClient({});
  try {
    const region = await sts.config.region();
    if (region) return region;
  } catch {
    // reported below
  } finally {
    sts.destroy();
  }
  throw new CliError('no AWS region: pass --region, set AWS_REGION, or set a region in your AWS profile');
}

/** The same composition the Lambdas build (engine, adapters), with the CLI's log. */
export const cliComposition = (config: RotatorConfig, aws: AwsSetup, log: Log): Composition =>
  compose(config, aws, log);

/** Frees the composition's AWS clients (their sockets), so the process can end. */
export function closeComposition(composition: Composition): void {
  composition.clients.iam.destroy();
  composition.clients.iamOnce.destroy();
  composition.clients.secrets.destroy();
  composition.clients.sts.destroy();
}
