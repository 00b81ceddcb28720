import { join } from 'node:path';
import { parse } from 'yaml';
import { stageParams, type StageParams } from '../config/stack';
import { CliError, readTextFile } from './errors';

/**
 * `--stage NAME`: that stage's deploy parameters from serverless.yml in the working directory (the file
 * `serverless deploy` reads there), `--param` overrides first. Without a stage, the overrides alone.
 */
export async function readStageParams(
  cwd: string,
  stage: string | undefined,
  overrides: readonly string[],
): Promise<StageParams> {
  if (stage === undefined) return stageParams({}, '', overrides);
  const file = join(cwd, 'serverless.yml');
  const text = await readTextFile(file, (code) =>
    code === 'ENOENT'
      ? `--stage reads the stage's parameters from serverless.yml, and there is none in ${cwd}: run from the project's root, or give the parameters with --param name=value`
      : `cannot read ${file} (${code})`,
  );
  let doc: unknown;
  try {
    // CloudFormation tags (!If, !Ref, !GetAtt…) are read as plain values; only params: matters here.
    doc = parse(text, { logLevel: 'error' });
  } catch (err) {
    throw new CliError(`cannot parse ${file}: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  const params = (doc as { params?: unknown } | null)?.params;
  return stageParams(params, stage, overrides);
}
