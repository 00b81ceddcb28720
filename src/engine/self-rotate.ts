import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { writeProfileKey, type CredentialsFile } from '../aws/credentials-file';
import { AwsKeyProbe } from '../aws/probe';
import { compose, type Composition } from '../compose';
import type { ManagedKey, RotatorConfig } from '../config';
import { diagnoseRotation } from '../domain/diagnose';
import { InputError, messageOf, RotationError } from '../domain/errors';
import { ageInDays, parseKeySecret, toCredentials, type Credentials } from '../domain/keys';
import { arnIsUser } from './engine';
import { systemClock, type Clock, type Log } from './ports';
import {
  resumeRotation,
  rotateNow,
  type RecoveryReport,
  type RotateNowOptions,
  type RotateNowReport,
} from './rotate-now';

/**
 * Self-rotation, for a Jenkins that AWS cannot reach (behind NAT, no inbound): `key-rotator self-rotate` runs next
 * to Jenkins, signs in to AWS with the very key it rotates, and runs the same engine and the same four steps as
 * the rotation hook. Its AWS credentials switch to the new key once testSecret has passed, before finishSecret
 * deactivates the old one. The key's IAM policy lets it manage only its own keys and read and write only its own
 * secret ({@link selfRotationPolicy}).
 */

/**
 * AWS credentials that can be switched while clients use them. The SDK memoizes an identity without `expiration`
 * for the client's lifetime; one that expires within five minutes is asked for again on every request, so each
 * identity handed out claims to expire in a minute (it does not: it is an IAM user's key).
 */
export class SwitchableCredentials {
  #current: Credentials;
  constructor(initial: Credentials) {
    this.#current = initial;
  }
  get current(): Credentials {
    return this.#current;
  }
  use(creds: Credentials): void {
    this.#current = creds;
  }
  readonly provider: AwsCredentialIdentityProvider = () =>
    Promise.resolve<AwsCredentialIdentity>({ ...this.#current, expiration: new Date(Date.now() + 60_000) });
}

export interface SelfRotateInput {
  config: RotatorConfig;
  key: ManagedKey;
  aws: { region: string; endpoint?: string };
  /** The credentials of the environment (a Jenkins job binds them from the credential this rotates). */
  initial: Credentials;
  log: Log;
  clock?: Clock;
  /** Rotate even though the key is not due yet. */
  force?: boolean;
  /** Continue a rotation another run is still marked as running (its process is gone). */
  takeOverRunning?: boolean;
  rotate?: Pick<RotateNowOptions, 'onStep' | 'onProgress' | 'signal' | 'deadline' | 'rollbackKeyDeletion'>;
  /** For tests on one clock (see EngineDeps.clockSkewMs). */
  clockSkewMs?: number;
  /**
   * A run outside Jenkins (cron, a container) signs in with a profile of the shared credentials file: every
   * switch of key is written there first, before the old key can be deactivated, so the next run starts with a
   * key that works.
   */
  credentialsFile?: CredentialsFile;
  /** Where `tokenEnv` variables are read (default: the process environment). */
  env?: NodeJS.ProcessEnv;
  /** Awaited once the new key is verified (testSecret passed), before anything else happens. */
  afterVerified?: (token: string) => Promise<void>;
}

export interface SelfRotateReport {
  key: string;
  user: string;
  /**
   * `rotated`: a new key is current, in Jenkins, verified, the old one inactive; `resumed`: a rotation a
   * previous run left was completed; `finished`: a promoted rotation's finish was completed; `not-due`;
   * `failed`.
   */
  outcome: 'rotated' | 'resumed' | 'finished' | 'not-due' | 'failed';
  /** The key the environment signed in with, and the one the run ended with. Ids only. */
  signedInWith: string;
  endedWith: string;
  ageDays?: number;
  maxAgeDays: number;
  rotation?: RotateNowReport;
  recovery?: RecoveryReport;
  actions: string[];
  warnings: string[];
  error?: { name: string; code?: string; message: string };
}

/** Runs one self-rotation: resumes what an earlier run left, else rotates when the key is due (or forced). */
export async function selfRotate(input: SelfRotateInput): Promise<SelfRotateReport> {
  const { key, log } = input;
  const clock = input.clock ?? systemClock;
  const creds = new SwitchableCredentials(input.initial);
  const switchTo = async (next: Credentials, why: string) => {
    if (input.credentialsFile) {
      await writeProfileKey(input.credentialsFile, next);
      report.actions.push(
        `wrote key ${next.accessKeyId} to profile ${input.credentialsFile.profile} of ${input.credentialsFile.path}`,
      );
    }
    creds.use(next);
    report.actions.push(why);
  };
  const composition = compose(input.config, { ...input.aws, credentials: creds.provider }, log, clock, {
    ...(input.clockSkewMs !== undefined ? { clockSkewMs: input.clockSkewMs } : {}),
    ...(input.env ? { env: input.env } : {}),
  });
  const probe = new AwsKeyProbe({ ...input.aws });
  const report: SelfRotateReport = {
    key: key.name,
    user: key.iamUser,
    outcome: 'failed',
    signedInWith: input.initial.accessKeyId,
    endedWith: input.initial.accessKeyId,
    maxAgeDays: key.policy.maxAgeDays,
    actions: [],
    warnings: [],
  };
  try {
    if (key.rotatedBy !== 'self')
      throw new InputError(
        `key ${key.name} is rotated by the Lambda (rotatedBy "lambda"): set "rotatedBy": "self" in its configuration to rotate it from next to Jenkins`,
        { fields: ['rotatedBy'] },
      );
    const arn = await probe.whoAmI(input.initial).catch((err: unknown) => {
      throw new InputError(
        `AWS refuses the credentials of this environment (key ${input.initial.accessKeyId}): ${messageOf(err)}. If a rotation has just deactivated that key, Jenkins holds its successor: run again from a new build`,
        { fields: ['credentials'] },
      );
    });
    if (!arnIsUser(arn, key.iamUser))
      throw new InputError(
        `the AWS credentials of this environment are those of ${arn}, not of IAM user ${key.iamUser}, whose key ${key.name} this rotates: a self-rotation signs in with the key it rotates`,
        { fields: ['credentials'] },
      );
    await useCurrentKey(composition, key, creds, probe, report, switchTo);
    const beforeFinish = async (token: string) => {
      await input.afterVerified?.(token);
      const raw = await composition.secrets.getValue(key.secretId, { versionId: token, stage: 'AWSPENDING' });
      const pending = parseKeySecret(raw, `AWSPENDING of ${key.secretId}`);
      await switchTo(
        toCredentials(pending),
        `switched this run's AWS credentials to the new key ${pending.accessKeyId}`,
      );
    };
    const opts = { ...input.rotate, beforeFinish };
    const obs = await composition.engine.observeRotation(key);
    const problems = diagnoseRotation(obs, {
      abandonAfterHours: 0,
      ...(input.clockSkewMs !== undefined ? { clockSkewMs: input.clockSkewMs } : {}),
    });
    const current = obs.keys.find((k) => k.accessKeyId === obs.currentKeyId);
    if (current) report.ageDays = ageInDays(current.createDate, clock.now());
    if (obs.pending || problems.some((p) => p.repair === 'finish')) {
      const r = await resumeRotation(composition, key, { ...opts, force: input.takeOverRunning === true });
      report.recovery = r;
      report.warnings.push(...r.warnings);
      if (r.rotation) report.rotation = r.rotation;
      if (r.error) report.error = r.error;
      report.outcome = r.outcome === 'failed' ? 'failed' : r.outcome === 'finished' ? 'finished' : 'resumed';
    } else if (input.force || (report.ageDays !== undefined && report.ageDays >= key.policy.maxAgeDays)) {
      const r = await rotateNow(composition, key, opts);
      report.rotation = r;
      report.warnings.push(...r.warnings);
      if (r.error) report.error = r.error;
      report.outcome = r.outcome === 'rotated' ? 'rotated' : 'failed';
    } else {
      report.outcome = 'not-due';
      report.actions.push(
        `not due: key ${obs.currentKeyId ?? '?'} is ${report.ageDays ?? '?'} days old, rotated at ${key.policy.maxAgeDays} days`,
      );
    }
  } catch (err) {
    report.outcome = 'failed';
    report.error = {
      name: err instanceof Error ? err.name : 'Error',
      ...(err instanceof RotationError ? { code: err.code } : {}),
      message: messageOf(err),
    };
  } finally {
    report.endedWith = creds.current.accessKeyId;
    composition.clients.iam.destroy();
    composition.clients.iamOnce.destroy();
    composition.clients.secrets.destroy();
    composition.clients.sts.destroy();
  }
  return report;
}

/**
 * A run may start with an older key than AWSCURRENT's (a job started before the last rotation moved Jenkins on):
 * while that key still works, it reads AWSCURRENT and, if AWSCURRENT's key works, signs with that instead, so a
 * completion never deactivates the key it signs with.
 */
async function useCurrentKey(
  composition: Composition,
  key: ManagedKey,
  creds: SwitchableCredentials,
  probe: AwsKeyProbe,
  report: SelfRotateReport,
  switchTo: (next: Credentials, why: string) => Promise<void>,
): Promise<void> {
  const raw = await composition.secrets.getValue(key.secretId, { stage: 'AWSCURRENT' });
  const current = parseKeySecret(raw, `AWSCURRENT of ${key.secretId}`);
  if (current.accessKeyId === creds.current.accessKeyId) return;
  const works = await probe.whoAmI(current).then(
    (arn) => arnIsUser(arn, key.iamUser),
    () => false,
  );
  if (works)
    await switchTo(
      toCredentials(current),
      `this environment signed in with key ${report.signedInWith}; AWSCURRENT holds ${current.accessKeyId}, which works: signing with it`,
    );
  else
    report.warnings.push(
      `AWSCURRENT's key ${current.accessKeyId} is not the key of this environment and does not authenticate: continuing with ${creds.current.accessKeyId}`,
    );
}

/** What `self-rotate --print-policy` prints: the one IAM policy a self-rotated key needs, and nothing more. */
export function selfRotationPolicy(input: {
  /** The user's account, or `*`. */
  accountId: string;
  /** The user's IAM path (`/jenkins/`). */
  userPath: string;
  /** The secret: its ARN, or its name (then matched with the 6 random characters Secrets Manager adds). */
  secretArn: string;
}): { Version: string; Statement: Record<string, unknown>[] } {
  const path = input.userPath.endsWith('/') ? input.userPath : `${input.userPath}/`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ManageOwnAccessKeysOnly',
        Effect: 'Allow',
        Action: [
          'iam:ListAccessKeys',
          'iam:CreateAccessKey',
          'iam:UpdateAccessKey',
          'iam:DeleteAccessKey',
          'iam:ListUserTags',
          'iam:TagUser',
          'iam:UntagUser',
        ],
        Resource: `arn:aws:iam::${input.accountId}:user${path}\${aws:username}`,
      },
      {
        Sid: 'ReadAndWriteOwnSecretOnly',
        Effect: 'Allow',
        Action: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        Resource: input.secretArn,
      },
      {
        // The verification logs in to ECR with the new key; GetAuthorizationToken has no resource-level
        // permission (aws-facts.md §1.5). The key's own push permissions stay in its other policy.
        Sid: 'VerifyEcrLogin',
        Effect: 'Allow',
        Action: 'ecr:GetAuthorizationToken',
        Resource: '*',
      },
    ],
  };
}
