/**
 * The sandbox's "done when" check: `npm run sandbox | npx tsx scripts/sandbox-check.ts`, or with the sandbox's
 * JSON line saved in a file, `npx tsx scripts/sandbox-check.ts sandbox.json`.
 *
 * Using only the public AWS SDK v3 clients and fetch, against the sandbox's endpoint and admin credentials:
 * creates a user and a key; shows the key refused (InvalidClientTokenId) until IAM propagation, then accepted;
 * deactivates it and shows it refused; reactivates it and waits again; grants it ECR login with PutUserPolicy;
 * gets an ECR token with it and shows the registry's `GET /v2/` answer 200 with `Authorization: Basic <token>`
 * and 401 without.
 *
 * Prints one JSON line per step, `{"step","ok","detail"}`, stops at the first step that does not hold and exits
 * 0 only if all held (the last line is then step `done`). Never prints a secret access key or an ECR token.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  ListUsersCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import * as z from 'zod';

const sandboxLineSchema = z.object({
  aws: z.object({
    endpoint: z.url(),
    region: z.string().min(1),
    accessKeyId: z.string().min(16),
    secretAccessKey: z.string().min(16),
    propagationDelayMs: z.number().nonnegative().optional(),
  }),
});

type Sandbox = z.infer<typeof sandboxLineSchema>['aws'];

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What a call answered: its value, or the name of the error that refused it. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

const POLL_INTERVAL_MS = 250;
/** How long a change may take to show beyond the sandbox's announced propagation delay. */
const POLL_SLACK_MS = 30_000;
const POLICY_NAME = 'sandbox-check-ecr-login';

/** Thrown once a step has reported its own failure. */
class StepFailed extends Error {}

let failed = false;

function report(step: string, ok: boolean, detail: unknown): void {
  console.log(JSON.stringify({ step, ok, detail }));
  if (!ok) failed = true;
}

/** An error's name and message (SDK errors carry no credentials), with the HTTP status when there is one. */
function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return { error: err.name, message: err.message, ...(status === undefined ? {} : { httpStatus: status }) };
}

/** Runs a step: what it returns is the detail of its line; what it throws is the detail of a failed one. */
async function step<T extends Record<string, unknown>>(name: string, run: () => Promise<T>): Promise<T> {
  let detail: T;
  try {
    detail = await run();
  } catch (err) {
    report(name, false, describeError(err));
    throw new StepFailed(name);
  }
  report(name, true, detail);
  return detail;
}

async function attempt<T>(call: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.name : String(err) };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `probe` until `done` holds for its outcome or `deadlineMs` has passed. */
async function poll<T>(
  deadlineMs: number,
  probe: () => Promise<T>,
  done: (outcome: T) => boolean,
): Promise<{ done: boolean; last: T; attempts: number; waitedMs: number }> {
  const start = Date.now();
  for (let attempts = 1; ; attempts++) {
    const last = await probe();
    const waitedMs = Date.now() - start;
    if (done(last)) return { done: true, last, attempts, waitedMs };
    if (waitedMs >= deadlineMs) return { done: false, last, attempts, waitedMs };
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * The first line of the input that holds a JSON object. From stdin it stops reading there: `npm run sandbox`
 * never closes its output, and npm prints its own banner lines before the sandbox's.
 */
async function firstJsonLine(): Promise<string | undefined> {
  const file = process.argv[2];
  const input = file ? createReadStream(file) : process.stdin;
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (line.trim().startsWith('{')) return line;
    return undefined;
  } finally {
    lines.close();
    if (file) input.destroy();
  }
}

async function readSandboxLine(): Promise<Sandbox> {
  const line = await firstJsonLine();
  if (line === undefined)
    throw new Error('no input: pass the JSON line `npm run sandbox` prints, on stdin or as a file argument');
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new Error('the input line is not JSON');
  }
  const parsed = sandboxLineSchema.safeParse(json);
  if (!parsed.success) throw new Error(`not a sandbox line: ${z.prettifyError(parsed.error)}`);
  return parsed.data.aws;
}

async function check(): Promise<void> {
  let sandbox: Sandbox | undefined;
  await step('input', async () => {
    sandbox = await readSandboxLine();
    return { endpoint: sandbox.endpoint, region: sandbox.region, adminAccessKeyId: sandbox.accessKeyId };
  });
  if (!sandbox) throw new Error('unreachable: the input step passed without a sandbox');
  const { endpoint, region, propagationDelayMs } = sandbox;
  // One attempt per call: the check observes refusals, it must not retry through them.
  const config = (credentials: Creds) => ({ region, endpoint, credentials, maxAttempts: 1 });
  const iam = new IAMClient(
    config({ accessKeyId: sandbox.accessKeyId, secretAccessKey: sandbox.secretAccessKey }),
  );
  const waitMs = (propagationDelayMs ?? 0) + POLL_SLACK_MS;

  const userName = `sandbox-check-${Date.now().toString(36)}`;
  const user = await step('create-user', async () => {
    const { User } = await iam.send(new CreateUserCommand({ UserName: userName, Path: '/sandbox-check/' }));
    if (!User?.Arn) throw new Error('CreateUser answered no user');
    return { userName, arn: User.Arn };
  });

  let key: Creds | undefined;
  await step('create-key', async () => {
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
    if (!AccessKey?.AccessKeyId || !AccessKey.SecretAccessKey)
      throw new Error('CreateAccessKey answered no key');
    key = { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
    return { accessKeyId: key.accessKeyId, status: AccessKey.Status };
  });
  if (!key) throw new Error('unreachable: the create-key step passed without a key');
  const createdAt = Date.now();
  const { accessKeyId } = key;
  const sts = new STSClient(config(key));
  const keyIam = new IAMClient(config(key));
  const ecr = new ECRClient(config(key));
  const whoAmI = () => attempt(async () => (await sts.send(new GetCallerIdentityCommand({}))).Arn);
  const setStatus = (Status: 'Active' | 'Inactive') =>
    iam.send(new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId, Status }));

  await step('refused-before-propagation', async () => {
    const outcome = await whoAmI();
    const sinceCreateMs = Date.now() - createdAt;
    if (outcome.ok)
      throw new Error(
        `the new key was accepted ${sinceCreateMs} ms after CreateAccessKey, before the announced ` +
          `propagation delay of ${propagationDelayMs ?? '(unknown)'} ms`,
      );
    if (outcome.error !== 'InvalidClientTokenId')
      throw new Error(`refused with ${outcome.error}, expected InvalidClientTokenId`);
    return { accessKeyId, error: outcome.error, sinceCreateMs };
  });

  /** Polls until the key authenticates, as the new user. */
  const waitAccepted = async () => {
    const p = await poll(waitMs, whoAmI, (o) => o.ok);
    if (!p.last.ok) throw new Error(`the key was still refused (${p.last.error}) after ${p.waitedMs} ms`);
    if (p.last.value !== user.arn)
      throw new Error(`the key authenticated as ${p.last.value}, not ${user.arn}`);
    return { arn: p.last.value, attempts: p.attempts, waitedMs: p.waitedMs };
  };

  await step('accepted-after-propagation', waitAccepted);

  await step('deactivated-refused', async () => {
    await setStatus('Inactive');
    const p = await poll(waitMs, whoAmI, (o) => !o.ok);
    if (p.last.ok) throw new Error(`the inactive key was still accepted after ${p.waitedMs} ms`);
    if (p.last.error !== 'InvalidClientTokenId')
      throw new Error(`refused with ${p.last.error}, expected InvalidClientTokenId`);
    return { status: 'Inactive', error: p.last.error, attempts: p.attempts };
  });

  await step('reactivated-accepted', async () => {
    await setStatus('Active');
    return { status: 'Active', ...(await waitAccepted()) };
  });

  await step('grant-ecr', async () => {
    const document = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }],
    };
    await iam.send(
      new PutUserPolicyCommand({
        UserName: userName,
        PolicyName: POLICY_NAME,
        PolicyDocument: JSON.stringify(document),
      }),
    );
    return { policyName: POLICY_NAME, allows: ['ecr:GetAuthorizationToken'] };
  });

  // The grant is now all the key may do: an IAM call outside it is refused.
  await step('policy-limits-key', async () => {
    const p = await poll(
      waitMs,
      () => attempt(() => keyIam.send(new ListUsersCommand({ MaxItems: 1 }))),
      (o) => !o.ok && o.error === 'AccessDenied',
    );
    if (p.last.ok) throw new Error('iam:ListUsers with the key was still allowed');
    if (p.last.error !== 'AccessDenied') throw new Error(`iam:ListUsers failed with ${p.last.error}`);
    return { action: 'iam:ListUsers', error: p.last.error };
  });

  let token = '';
  const login = await step('ecr-token', async () => {
    const p = await poll(
      waitMs,
      () => attempt(() => ecr.send(new GetAuthorizationTokenCommand({}))),
      (o) => o.ok,
    );
    if (!p.last.ok) throw new Error(`GetAuthorizationToken with the key kept failing (${p.last.error})`);
    const data = p.last.value.authorizationData?.[0];
    if (!data?.authorizationToken || !data.proxyEndpoint)
      throw new Error('GetAuthorizationToken answered no token or no proxyEndpoint');
    token = data.authorizationToken;
    const tokenUser = Buffer.from(token, 'base64').toString('utf8').split(':')[0];
    if (tokenUser !== 'AWS') throw new Error(`the token is not for the registry user AWS`);
    return {
      proxyEndpoint: data.proxyEndpoint,
      expiresAt: data.expiresAt?.toISOString(),
      tokenUser,
      attempts: p.attempts,
    };
  });

  const v2 = `${login.proxyEndpoint.replace(/\/$/, '')}/v2/`;
  await step('registry-with-token', async () => {
    const res = await fetch(v2, { headers: { authorization: `Basic ${token}` } });
    await res.body?.cancel();
    if (res.status !== 200) throw new Error(`GET ${v2} with the token answered ${res.status}, expected 200`);
    return { url: v2, status: res.status };
  });

  await step('registry-without-token', async () => {
    const res = await fetch(v2);
    await res.body?.cancel();
    if (res.status !== 401) throw new Error(`GET ${v2} without a token answered ${res.status}, expected 401`);
    return { url: v2, status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') };
  });

  for (const client of [iam, sts, keyIam, ecr]) client.destroy();
}

try {
  await check();
} catch (err) {
  // A failed step has reported itself; anything else is reported here.
  if (!(err instanceof StepFailed)) report('check', false, describeError(err));
}
if (!failed) report('done', true, { message: 'every step held' });
// Exit now rather than when idle keep-alive sockets close (stdout to a pipe or file is synchronous on Linux).
process.exit(failed ? 1 : 0);
