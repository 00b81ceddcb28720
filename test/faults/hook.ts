import { createRotateHandler } from '../../handlers/rotate';
import { lambdaContext } from '../../localcloud/wire';
import { compose } from '../../src/compose';
import { parseConfig } from '../../src/config';
import { STEPS } from '../../src/engine/engine';
import { selfRotate } from '../../src/engine/self-rotate';
import { createLogger } from '../../src/observability/logger';

/** What a process needs to run the rotation hook against a fault-matrix world. */
export interface ChildSpec {
  awsUrl: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  config: unknown;
  secretId: string;
  token: string;
  markerUrl: string;
  remainingMs: number;
  clockSkewMs: number;
  /** `self`: a self-rotation signing in with `initial`, its Jenkins token in `tokenEnv`. */
  mode: 'hook' | 'self';
  initial?: { accessKeyId: string; secretAccessKey: string };
  tokenEnv?: { name: string; value: string };
  /** A self-rotation whose earlier run died: take its rotation over although its lease has not run out. */
  takeOverRunning?: boolean;
}

export interface StepOutcome {
  step: string;
  ok: boolean;
  error?: string;
}

/**
 * The real rotation hook (middy handler, composition, SDK clients, Jenkins client) over HTTP, as a function that
 * runs the four steps of one token in order and stops at the first failure, as Secrets Manager does; each step
 * gets its own Lambda deadline. `passed` is awaited after a successful testSecret, before finishSecret.
 */
export function hookInvoker(spec: ChildSpec, passed: (token: string) => Promise<void>) {
  const logger = createLogger('fault-matrix', 'SILENT');
  const composition = compose(
    parseConfig(spec.config),
    { region: spec.region, endpoint: spec.awsUrl, credentials: spec.credentials },
    logger,
    undefined,
    { clockSkewMs: spec.clockSkewMs },
  );
  const handler = createRotateHandler({ composition: () => Promise.resolve(composition), logger });
  return async (): Promise<StepOutcome[]> => {
    const out: StepOutcome[] = [];
    try {
      for (const step of STEPS) {
        try {
          await handler(
            { Step: step, SecretId: spec.secretId, ClientRequestToken: spec.token },
            lambdaContext(spec.remainingMs),
          );
        } catch (err) {
          out.push({
            step,
            ok: false,
            error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
          });
          return out;
        }
        out.push({ step, ok: true });
        if (step === 'testSecret') await passed(spec.token);
      }
      return out;
    } finally {
      composition.clients.iam.destroy();
      composition.clients.iamOnce.destroy();
      composition.clients.secrets.destroy();
      composition.clients.sts.destroy();
    }
  };
}

/**
 * One self-rotation run (`key-rotator self-rotate`): signs in with `spec.initial`, resumes or rotates. Reported as
 * a single step; `passed` is awaited once the new key is verified, before the old one can be deactivated.
 */
export async function selfRun(
  spec: ChildSpec,
  passed: (token: string) => Promise<void>,
): Promise<StepOutcome[]> {
  if (!spec.initial || !spec.tokenEnv)
    throw new Error('a self-rotation needs initial credentials and a token');
  const config = parseConfig(spec.config);
  const key = config.keys[0];
  if (!key) throw new Error('no key');
  const r = await selfRotate({
    config,
    key,
    aws: { region: spec.region, endpoint: spec.awsUrl },
    initial: spec.initial,
    log: createLogger('fault-matrix', 'SILENT'),
    env: { [spec.tokenEnv.name]: spec.tokenEnv.value },
    takeOverRunning: spec.takeOverRunning === true,
    clockSkewMs: spec.clockSkewMs,
    rotate: { deadline: Date.now() + spec.remainingMs - 15_000 },
    afterVerified: passed,
  });
  // The next run after a finished rotation finds the new key not due: that is a success too.
  const ok = r.outcome !== 'failed';
  return [{ step: 'self-rotate', ok, ...(ok ? {} : { error: `${r.outcome}: ${r.error?.message ?? '?'}` }) }];
}
