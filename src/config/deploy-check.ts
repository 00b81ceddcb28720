import { access } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from './errors';
import { loadConfigFile } from './load';
import { examplePlaceholders, placeholderWarnings } from './placeholders';
import { stackIssues, stageParams } from './stack';

/**
 * What `serverless package` and `deploy` check before building anything (serverless/check-config.js): the
 * stage's configuration file exists, is valid, and fits the stage's parameters. Without it every function
 * would fail at its first cold start, or be denied access in production.
 */
export interface DeployCheckInput {
  /** The service directory (where serverless.yml is). */
  serviceDir: string;
  stage: string;
  region?: string | undefined;
  /** serverless.yml's `params:`, variables resolved. */
  declaredParams: unknown;
  /** `--param name=value` options. */
  cliParams?: readonly string[] | undefined;
}

export interface DeployCheck {
  /** Undefined when the deployment may go ahead; otherwise everything that is wrong, for the error message. */
  error?: string;
  /** Lines to show either way: values left from config/example.json. */
  warnings: string[];
}

const line = (i: ConfigIssue) => `  ${i.path || '(file)'}: ${i.message}`;

export async function checkDeployConfig(input: DeployCheckInput): Promise<DeployCheck> {
  const { stage } = input;
  const { params } = stageParams(input.declaredParams, stage, input.cliParams);
  const configFile = params.configFile;
  if (!configFile)
    return {
      error: `stage ${stage} has no configFile parameter: set it in serverless.yml's params`,
      warnings: [],
    };
  const file = resolve(input.serviceDir, configFile);
  const shown = relative(input.serviceDir, file) || configFile;
  const validate = `npx key-rotator validate-config ${shown} --stage ${stage}`;
  const exists = await access(file).then(
    () => true,
    () => false,
  );
  if (!exists)
    return {
      error: [
        `The configuration file ${shown} (parameter configFile of stage ${stage}) does not exist.`,
        `Every function would fail at its first cold start without it. Create it from the example, edit it, then check it:`,
        `  cp config/example.json ${shown}`,
        `  ${validate}`,
        `(or name another file: --param="configFile=path/to/config.json")`,
      ].join('\n'),
      warnings: [],
    };
  let config;
  try {
    config = await loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return {
      error: [
        `The configuration file ${shown} (stage ${stage}) is invalid; every function would fail at its first cold start:`,
        ...err.issues.map(line),
        `Fix it, then check it: ${validate}`,
      ].join('\n'),
      warnings: [],
    };
  }
  const errors = stackIssues(config, { params, region: input.region });
  const warnings = placeholderWarnings(config, await examplePlaceholders()).map(
    (w) => `${shown}: ${w.path}: ${w.message}`,
  );
  if (errors.length === 0) return { warnings };
  return {
    error: [
      `The configuration file ${shown} does not fit the parameters of stage ${stage}; the deployed functions would be denied access:`,
      ...errors.map(line),
      `Fix it, then check it: ${validate}`,
    ].join('\n'),
    warnings,
  };
}
