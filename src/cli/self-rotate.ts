import { GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { credentialsFileOf, readProfileKey, type CredentialsFile } from '../aws/credentials-file';
import { parseSecretArn, type ManagedKey } from '../config';
import type { Credentials } from '../domain/keys';
import { selfRotate, selfRotationPolicy, type SelfRotateReport } from '../engine/self-rotate';
import type { GlobalOptions } from './args';
import { awsSetup } from './context';
import { CliError } from './errors';
import type { CliIo } from './io';
import { progressReporter } from './rotate';

/** The credentials of the environment, as the SDK's default chain resolves them, and where they came from. */
async function environmentCredentials(
  region: string,
  endpoint: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<{ creds: Credentials; file?: CredentialsFile }> {
  const sts = new STSClient({ region, ...(endpoint ? { endpoint } : {}) });
  let resolved;
  try {
    resolved = await sts.config.credentials();
  } catch (err) {
    throw new CliError(
      `no AWS credentials in this environment: a self-rotation signs in with the key it rotates (in a Jenkins job: withCredentials with the AWS credential; from cron: a profile of the shared credentials file). ${err instanceof Error ? err.message : ''}`,
    );
  } finally {
    sts.destroy();
  }
  if (resolved.sessionToken)
    throw new CliError(
      'the AWS credentials of this environment are temporary (a role session): a self-rotation signs in with the IAM user key it rotates; bind the credential without its role',
    );
  const creds = { accessKeyId: resolved.accessKeyId, secretAccessKey: resolved.secretAccessKey };
  // From the shared credentials file (no key in the environment variables): each new key must be written back.
  if (env['AWS_ACCESS_KEY_ID']) return { creds };
  const file = credentialsFileOf(env);
  const fromFile = await readProfileKey(file);
  return fromFile?.accessKeyId === creds.accessKeyId ? { creds, file } : { creds };
}

/** `self-rotate --print-policy`: the account and IAM path of the user, from AWS when it answers, else from options. */
async function printPolicy(
  key: ManagedKey,
  region: string,
  endpoint: string | undefined,
  opts: { userPath?: string; accountId?: string },
): Promise<string> {
  let accountId = opts.accountId;
  let userPath = opts.userPath;
  const notes: string[] = [];
  if (!accountId || !userPath) {
    const sts = new STSClient({ region, ...(endpoint ? { endpoint } : {}) });
    const iam = new IAMClient({ region, ...(endpoint ? { endpoint } : {}) });
    try {
      const me = await sts.send(new GetCallerIdentityCommand({}));
      accountId ??= me.Account;
      const ownArn = new RegExp(`^arn:aws[\\w-]*:iam::\\d{12}:user(/.*/|/)${key.iamUser}$`).exec(
        me.Arn ?? '',
      );
      if (!userPath && ownArn?.[1]) userPath = ownArn[1];
      if (!userPath) {
        const u = await iam.send(new GetUserCommand({ UserName: key.iamUser }));
        userPath = u.User?.Path;
      }
    } catch (err) {
      notes.push(`could not read it from AWS (${err instanceof Error ? err.name : 'error'})`);
    } finally {
      sts.destroy();
      iam.destroy();
    }
  }
  if (!accountId || !userPath)
    throw new CliError(
      `the policy needs the account and the IAM path of user ${key.iamUser}${notes.length ? `; ${notes.join('; ')}` : ''}: give --account-id and --user-path`,
    );
  const parsed = parseSecretArn(key.secretId);
  const secretArn = parsed
    ? `arn:aws:secretsmanager:${parsed.region}:${parsed.accountId}:secret:${parsed.name}-??????`
    : `arn:aws:secretsmanager:${region}:${accountId}:secret:${key.secretId}-??????`;
  return `${JSON.stringify(selfRotationPolicy({ accountId, userPath, secretArn }), null, 2)}\n`;
}

export function formatSelfRotateReport(r: SelfRotateReport): string {
  const head: Record<SelfRotateReport['outcome'], string> = {
    rotated: `Rotated ${r.key} (IAM user ${r.user}) from next to Jenkins: new key ${r.endedWith} is current, in Jenkins and verified; the old key ${r.signedInWith} is inactive`,
    resumed: `Completed the rotation of ${r.key} that an earlier run left: key ${r.endedWith} is current`,
    finished: `Finished the last rotation of ${r.key}: the old key is inactive and recorded`,
    'not-due': `Nothing to do for ${r.key}: its key is ${r.ageDays ?? '?'} days old, rotated at ${r.maxAgeDays} days`,
    failed: `Self-rotation of ${r.key} (IAM user ${r.user}) FAILED`,
  };
  let text = `${head[r.outcome]}\n`;
  if (r.error) text += `  error: ${r.error.code ?? r.error.name}: ${r.error.message}\n`;
  text += `  signed in with ${r.signedInWith}; ended with ${r.endedWith}\n`;
  const list = (title: string, items: readonly string[]) =>
    items.length ? `${title}:\n${items.map((i) => `  - ${i}`).join('\n')}\n` : '';
  text += list('Actions', [
    ...r.actions,
    ...(r.rotation?.steps.flatMap((s) => s.actions.map((a) => `${s.step}: ${a}`)) ?? []),
  ]);
  text += list('Warnings', r.warnings);
  return text;
}

export interface SelfRotateArgs {
  command: 'self-rotate';
  target: string;
  json: boolean;
  force: boolean;
  takeOver: boolean;
  printPolicy: boolean;
  userPath?: string;
  accountId?: string;
}

/** `key-rotator self-rotate <key>`: see {@link selfRotate}. */
export async function selfRotateCommand(
  args: SelfRotateArgs,
  global: GlobalOptions,
  io: CliIo,
  config: { key: ManagedKey; all: Parameters<typeof selfRotate>[0]['config'] },
  log: Parameters<typeof selfRotate>[0]['log'],
): Promise<0 | 1> {
  const aws = await awsSetup(global, io);
  if (args.printPolicy) {
    io.out(
      await printPolicy(config.key, aws.region, aws.endpoint, {
        ...(args.userPath ? { userPath: args.userPath } : {}),
        ...(args.accountId ? { accountId: args.accountId } : {}),
      }),
    );
    return 0;
  }
  const { creds, file } = await environmentCredentials(aws.region, aws.endpoint, io.env);
  const progress = progressReporter(io);
  io.err(
    `key-rotator: self-rotation of ${config.key.name} (IAM user ${config.key.iamUser}), signed in with ${creds.accessKeyId}\n`,
  );
  try {
    const report = await selfRotate({
      config: config.all,
      key: config.key,
      aws: { region: aws.region, ...(aws.endpoint ? { endpoint: aws.endpoint } : {}) },
      initial: creds,
      log,
      env: io.env,
      force: args.force,
      takeOverRunning: args.takeOver,
      ...(file ? { credentialsFile: file } : {}),
      rotate: { onStep: progress.onStep, onProgress: progress.onProgress },
    });
    progress.done();
    io.out(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatSelfRotateReport(report));
    if (report.outcome !== 'failed') return 0;
    io.err(
      `key-rotator: error: the self-rotation of ${config.key.name} failed: ${report.error?.message.split('\n')[0] ?? 'unknown error'}\n`,
    );
    return 1;
  } finally {
    progress.done();
  }
}
