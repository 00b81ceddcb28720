import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { LocalCloud } from '../../localcloud/index';
import { startAwsEmulator, type AwsEmulator } from '../../localcloud/aws/server';
import { startJenkinsEmulator, type JenkinsEmulator } from '../../localcloud/jenkins/server';
import type { AwsSetup } from '../../src/aws/clients';
import { JenkinsClient } from '../../src/jenkins/client';
import { itemPath } from '../../src/jenkins/paths';

/**
 * Where the portable integration suite runs: the local cloud (both emulators) by default, or external endpoints
 * named by environment variables. Everything endpoint-specific is decided here, once, from the environment.
 */
export const TARGET_ENV = {
  awsEndpoint: 'JKR_IT_AWS_ENDPOINT',
  awsRegion: 'JKR_IT_AWS_REGION',
  jenkinsUrl: 'JKR_IT_JENKINS_URL',
  jenkinsUser: 'JKR_IT_JENKINS_USER',
  jenkinsToken: 'JKR_IT_JENKINS_TOKEN',
  jenkinsFolder: 'JKR_IT_JENKINS_FOLDER',
  canaryJob: 'JKR_IT_CANARY_JOB',
  registryLogin: 'JKR_IT_ECR_REGISTRY_LOGIN',
  refusesInactiveKeys: 'JKR_IT_AWS_REFUSES_INACTIVE_KEYS',
} as const;

/** The local AWS emulator accepts a new key only after this long, so the rotator's propagation wait is exercised. */
export const LOCAL_PROPAGATION_DELAY_MS = 500;

/** A variable is missing, malformed or contradicts another; the message names it (never its secret value). */
export class TargetEnvError extends Error {
  override readonly name = 'TargetEnvError';
}

export interface TargetPlan {
  /** `local`: both emulators. `external`: at least one endpoint is external. */
  mode: 'local' | 'external';
  region: string;
  /** Undefined: the AWS emulator. `aws`: the SDK's default endpoints. Otherwise one endpoint URL for every service. */
  awsEndpoint: string | undefined;
  /** Undefined: the Jenkins emulator. */
  jenkins: { url: string; user: string; token: string } | undefined;
  /** An existing folder of the external Jenkins for the folder-store case; the emulator gets a fresh one per seed. */
  jenkinsFolder: string | undefined;
  /** An existing job of the external Jenkins that logs in to ECR with the credential id in its CRED_ID parameter. */
  canaryJob: string | undefined;
  /** Whether a folder store can be used (always with the Jenkins emulator). */
  hasFolder: boolean;
  /** Whether a canary job can be run (always in local mode). */
  hasCanary: boolean;
  /** Whether ECR's registry answers `/v2/` to the token (config `registryLogin` and the suite's own check). */
  registryLogin: boolean;
  /** Whether STS refuses a deactivated key (the emulator and AWS do; moto and LocalStack without IAM enforcement don't). */
  refusesInactiveKeys: boolean;
  /** Why a capability is missing, for skipped cases' titles. */
  why: { noFolder: string; noCanary: string; noRegistryLogin: string; noRefusal: string };
  timeouts: {
    /** Per test case and per hook. */
    testMs: number;
    hookMs: number;
    /** How long an IAM change (new key accepted, old key refused) may take to show. */
    propagationMs: number;
    /** Rotator policy: propagationTimeoutSeconds, jenkinsTimeoutSeconds, canary timeoutSeconds. */
    rotator: { propagationSeconds: number; jenkinsSeconds: number; canarySeconds: number };
  };
}

export interface Target {
  mode: 'local' | 'external';
  plan: TargetPlan;
  /** The AWS setup for the rotator and the suite's own clients (no credentials: the SDK's default chain). */
  aws: AwsSetup;
  /** A Jenkins user allowed to create, read and delete credentials (the emulator's administrator locally). */
  jenkins: { url: string; user: string; token: string };
  /** Both emulators, when both run: access to the controls (the portable suite itself never uses them). */
  local?: LocalCloud;
  /** Whichever emulators run (one of them in a mixed setup). */
  emulators: { aws?: AwsEmulator; jenkins?: JenkinsEmulator };
  /** The external canary job (JKR_IT_CANARY_JOB); with the Jenkins emulator, seeding creates one per seed. */
  canaryJob?: string;
  close(): Promise<void>;
}

const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

function httpUrl(name: string, value: string, example: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new TargetEnvError(`${name} must be an absolute http(s) URL such as ${example}`);
  if (url.username || url.password)
    throw new TargetEnvError(`${name} must not embed credentials (user:password@)`);
  if (url.search || url.hash) throw new TargetEnvError(`${name} must not have a query string or fragment`);
  return value.replace(/\/+$/, '');
}

function jenkinsItem(name: string, value: string): string {
  try {
    itemPath(name, value);
  } catch (err) {
    throw new TargetEnvError(
      `${name} must be a Jenkins item path like "team-a/sub": ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return value.replace(/^\/+|\/+$/g, '');
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new TargetEnvError(`${name} must be "true" or "false"`);
}

/**
 * Reads and validates the JKR_IT_* variables, without starting anything (test files call it at collection time to
 * decide skips and timeouts). Throws {@link TargetEnvError} naming the offending variable.
 */
export function readTargetPlan(env: NodeJS.ProcessEnv = process.env): TargetPlan {
  const E = TARGET_ENV;
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };

  const rawEndpoint = get(E.awsEndpoint);
  const awsEndpoint =
    rawEndpoint === undefined
      ? undefined
      : rawEndpoint.toLowerCase() === 'aws'
        ? 'aws'
        : httpUrl(E.awsEndpoint, rawEndpoint, 'http://localhost:4566, or "aws" for the real endpoints');
  const region = get(E.awsRegion) ?? 'us-east-1';
  if (!REGION_RE.test(region))
    throw new TargetEnvError(`${E.awsRegion} must be an AWS region such as us-east-1 (got "${region}")`);

  const jenkinsVars = [E.jenkinsUrl, E.jenkinsUser, E.jenkinsToken] as const;
  const jenkinsSet = jenkinsVars.filter((n) => get(n) !== undefined);
  let jenkins: TargetPlan['jenkins'];
  if (jenkinsSet.length > 0) {
    const missing = jenkinsVars.filter((n) => get(n) === undefined);
    if (missing.length)
      throw new TargetEnvError(
        `an external Jenkins needs ${jenkinsVars.join(', ')}; missing: ${missing.join(', ')}`,
      );
    jenkins = {
      url: httpUrl(E.jenkinsUrl, get(E.jenkinsUrl)!, 'https://jenkins.example.com'),
      user: get(E.jenkinsUser)!,
      token: get(E.jenkinsToken)!,
    };
  }
  const external = (name: string) => {
    if (!jenkins)
      throw new TargetEnvError(`${name} names something in an external Jenkins: set ${E.jenkinsUrl} too`);
  };
  const folderRaw = get(E.jenkinsFolder);
  if (folderRaw !== undefined) external(E.jenkinsFolder);
  const jenkinsFolder = folderRaw === undefined ? undefined : jenkinsItem(E.jenkinsFolder, folderRaw);
  const canaryRaw = get(E.canaryJob);
  if (canaryRaw !== undefined) {
    external(E.canaryJob);
    if (awsEndpoint === undefined)
      throw new TargetEnvError(
        `${E.canaryJob} needs ${E.awsEndpoint}: an external Jenkins job cannot reach the local AWS emulator`,
      );
  }
  const canaryJob = canaryRaw === undefined ? undefined : jenkinsItem(E.canaryJob, canaryRaw);

  for (const name of [E.registryLogin, E.refusesInactiveKeys])
    if (get(name) !== undefined && awsEndpoint === undefined)
      throw new TargetEnvError(`${name} describes an external AWS endpoint: set ${E.awsEndpoint} too`);
  const registryLogin = flag(env, E.registryLogin) ?? true;
  const refusesInactiveKeys = flag(env, E.refusesInactiveKeys) ?? true;

  const mode = awsEndpoint === undefined && jenkins === undefined ? 'local' : 'external';
  // The Jenkins emulator's canary builds call one AWS endpoint URL and always try the registry's /v2/.
  const emulatorCanary = awsEndpoint === undefined || (awsEndpoint !== 'aws' && registryLogin);
  const hasCanary = jenkins ? canaryJob !== undefined : emulatorCanary;
  const why = {
    noFolder: `${E.jenkinsFolder} is not set`,
    noCanary: jenkins
      ? `${E.canaryJob} is not set`
      : awsEndpoint === 'aws'
        ? `the Jenkins emulator's canary cannot call the real AWS endpoints; use an external Jenkins with ${E.canaryJob}`
        : `the Jenkins emulator's canary logs in to the registry, and ${E.registryLogin}=false`,
    noRegistryLogin: `${E.registryLogin}=false`,
    noRefusal: `${E.refusesInactiveKeys}=false`,
  };
  const local = mode === 'local';
  return {
    mode,
    region,
    awsEndpoint,
    jenkins,
    jenkinsFolder,
    canaryJob,
    hasFolder: jenkins ? jenkinsFolder !== undefined : true,
    hasCanary,
    registryLogin,
    refusesInactiveKeys,
    why,
    timeouts: local
      ? {
          testMs: 60_000,
          hookMs: 60_000,
          propagationMs: 15_000,
          rotator: { propagationSeconds: 30, jenkinsSeconds: 10, canarySeconds: 30 },
        }
      : {
          testMs: 10 * 60_000,
          hookMs: 10 * 60_000,
          propagationMs: 3 * 60_000,
          rotator: { propagationSeconds: 300, jenkinsSeconds: 30, canarySeconds: 600 },
        },
  };
}

/** GET a Jenkins JSON API path (relative to the base URL) with Basic auth; undefined on 404. */
export async function jenkinsJson(
  jenkins: Target['jenkins'],
  path: string,
  signal: AbortSignal = AbortSignal.timeout(30_000),
): Promise<unknown> {
  const res = await fetch(`${jenkins.url}${path}`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${jenkins.user}:${jenkins.token}`).toString('base64')}`,
      accept: 'application/json',
    },
    redirect: 'manual',
    signal,
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${jenkins.url}${path.split('?')[0] ?? ''} answered ${res.status}`);
  }
  return res.json();
}

/** Fails early, with the variable to fix, when an external endpoint refuses the suite's credentials. */
async function preflight(plan: TargetPlan, aws: AwsSetup, jenkins: Target['jenkins']): Promise<void> {
  const E = TARGET_ENV;
  if (plan.awsEndpoint !== undefined) {
    const sts = new STSClient({
      region: aws.region,
      ...(aws.endpoint ? { endpoint: aws.endpoint } : {}),
      maxAttempts: 2,
    });
    try {
      await sts.send(new GetCallerIdentityCommand({}));
    } catch (err) {
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new TargetEnvError(
        `AWS (${E.awsEndpoint}=${plan.awsEndpoint}) did not accept the SDK's default credentials ` +
          `(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, …): ${why}`,
      );
    } finally {
      sts.destroy();
    }
  }
  if (!plan.jenkins) return;
  let who: unknown;
  try {
    who = await jenkinsJson(jenkins, '/whoAmI/api/json');
  } catch (err) {
    throw new TargetEnvError(
      `Jenkins at ${E.jenkinsUrl} did not answer /whoAmI/ as ${E.jenkinsUser} with ${E.jenkinsToken}: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  const me = who as { name?: unknown; anonymous?: unknown } | undefined;
  if (typeof me?.name !== 'string' || me.anonymous === true || me.name === 'anonymous')
    throw new TargetEnvError(
      `Jenkins at ${E.jenkinsUrl} did not authenticate ${E.jenkinsUser} with ${E.jenkinsToken} (it answered as anonymous)`,
    );
  const client = new JenkinsClient({
    baseUrl: jenkins.url,
    auth: { username: jenkins.user, apiToken: jenkins.token },
  });
  await client.describeAccess({ kind: 'system' }, 'jenkins-it-preflight').catch((err: unknown) => {
    throw new TargetEnvError(
      `${E.jenkinsUser} cannot see the system credential store (needs Credentials/View): ${String(err)}`,
    );
  });
  if (plan.jenkinsFolder)
    await client
      .describeAccess({ kind: 'folder', path: plan.jenkinsFolder }, 'jenkins-it-preflight')
      .catch((err: unknown) => {
        throw new TargetEnvError(
          `${E.jenkinsFolder}=${plan.jenkinsFolder}: no such folder, or ${E.jenkinsUser} cannot see its credentials: ${String(err)}`,
        );
      });
  if (plan.canaryJob && !(await jenkinsJson(jenkins, `${itemPath('job', plan.canaryJob)}/api/json`)))
    throw new TargetEnvError(`${E.canaryJob}=${plan.canaryJob}: no such job visible to ${E.jenkinsUser}`);
}

/**
 * Starts what the plan needs: both emulators when nothing is set; only the AWS emulator for an external Jenkins;
 * only the Jenkins emulator (its canary jobs calling the external AWS endpoint) for an external AWS. External
 * endpoints are checked once up front.
 */
export async function startTarget(plan: TargetPlan = readTargetPlan()): Promise<Target> {
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    let awsEmu: AwsEmulator | undefined;
    let aws: AwsSetup;
    if (plan.awsEndpoint === undefined) {
      const emu = await startAwsEmulator({
        region: plan.region,
        propagationDelayMs: LOCAL_PROPAGATION_DELAY_MS,
      });
      awsEmu = emu;
      closers.push(() => emu.close());
      aws = {
        region: plan.region,
        endpoint: emu.url,
        credentials: { accessKeyId: emu.admin.accessKeyId, secretAccessKey: emu.admin.secretAccessKey },
      };
    } else {
      aws = { region: plan.region, ...(plan.awsEndpoint === 'aws' ? {} : { endpoint: plan.awsEndpoint }) };
    }

    let jenkinsEmu: JenkinsEmulator | undefined;
    let jenkins: Target['jenkins'];
    if (plan.jenkins) {
      jenkins = { ...plan.jenkins };
    } else {
      const awsEndpoint = awsEmu?.url ?? (plan.awsEndpoint === 'aws' ? undefined : plan.awsEndpoint);
      const emu = await startJenkinsEmulator(awsEndpoint ? { awsEndpoint } : {});
      jenkinsEmu = emu;
      closers.push(() => emu.close());
      jenkins = { url: emu.url, user: emu.admin.username, token: emu.admin.apiToken };
    }

    await preflight(plan, aws, jenkins);

    const target: Target = {
      mode: plan.mode,
      plan,
      aws,
      jenkins,
      emulators: { ...(awsEmu ? { aws: awsEmu } : {}), ...(jenkinsEmu ? { jenkins: jenkinsEmu } : {}) },
      ...(plan.canaryJob ? { canaryJob: plan.canaryJob } : {}),
      close: closeAll,
    };
    if (awsEmu && jenkinsEmu) target.local = { aws: awsEmu, jenkins: jenkinsEmu, close: closeAll };
    return target;
  } catch (err) {
    await closeAll();
    throw err;
  }
}
