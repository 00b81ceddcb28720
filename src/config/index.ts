export { ConfigError } from './errors';
export type { ConfigIssue } from './errors';
export { CONFIG_PATH_VARIABLE, findKey, loadConfigFile, loadConfigFromEnv, parseConfig } from './load';
export type { KeyQuery } from './load';
export { DEFAULT_CHECKS, DEFAULT_FLEET, DEFAULT_POLICY, configSchema, parseSecretArn } from './schema';
export type { CanaryCheck, JenkinsStore, JenkinsTarget, ManagedKey, Policy, RotatorConfig } from './schema';
