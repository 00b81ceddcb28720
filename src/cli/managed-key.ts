import { findKey, type ManagedKey, type RotatorConfig } from '../config';
import { CliError } from './errors';

/** The managed key a command names: by its IAM user, else by its name; else a CliError listing them. */
export function managedKeyFor(config: RotatorConfig, target: string): ManagedKey {
  const byUser = findKey(config, { iamUser: target });
  const key = byUser ?? findKey(config, { name: target });
  if (!key)
    throw new CliError(
      `"${target}" is not a managed IAM user or key name in the configuration (managed: ${config.keys
        .map((k) => `${k.iamUser} (${k.name})`)
        .join(', ')})`,
    );
  return key;
}
