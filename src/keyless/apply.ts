import { CloudTrailClient, LookupEventsCommand, type LookupAttribute } from '@aws-sdk/client-cloudtrail';
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  GetAccessKeyLastUsedCommand,
  GetRoleCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { CancelRotateSecretCommand, DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { clientsForKey } from '../aws/clients';
import type { Composition } from '../compose';
import type { ManagedKey } from '../config';
import { awsErrorName, InputError, messageOf, RotationError } from '../domain/errors';
import { parseKeySecret } from '../domain/keys';
import { deactivatedTag } from '../engine/engine';
import { systemClock, type Clock, type Log } from '../engine/ports';
import { planKeyless, type KeylessOptions } from './discover';
import { ID_TOKEN_FILE_CLASS, ROLE_POLICY_NAME, itemUrl, type KeylessPlan, type PlannedRole } from './plan';
import { KEYLESS_TAG, PROVEN_TAG, TRUST_SET_TAG, parseProven } from './state';

export interface ApplyOptions extends KeylessOptions {
  /** Jobs to run as proof (full names), each inside a planned scope; default the key's canary job. */
  canaries?: readonly string[];
  /** After the proof: retire the long-lived key. */
  retireKey?: boolean;
  /** With `retireKey`: what becomes of the Jenkins AWS credential (default keep: it points at a dead key). */
  credential?: 'keep' | 'delete';
  /** How long to wait for CloudTrail to show the proof (default 15 minutes: its event history lags). */
  proofTimeoutMs?: number;
  /** How long a canary build may take (default the key's canary timeout, else 10 minutes). */
  canaryTimeoutMs?: number;
  clock?: Clock;
  log?: Log;
  /** Progress lines for a person (stderr). */
  progress?: (line: string) => void;
}

export type StepStatus = 'done' | 'already' | 'skipped' | 'failed';

export interface ApplyStep {
  step: string;
  status: StepStatus;
  detail: string;
}

export interface ApplyReport {
  key: string;
  plan: KeylessPlan;
  steps: ApplyStep[];
  /** Roles with their proof (when and by which job), or why not proven yet. */
  proofs: { role: string; proven: boolean; at?: string; by?: string; detail: string }[];
  retired: boolean;
  keyless: boolean;
}

/** A step that cannot go on: the key stays as it is. */
export class KeylessError extends RotationError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, 'KeylessApplyFailed', details);
    this.name = 'KeylessError';
  }
}

const MINUTE = 60_000;

/** The role among `roles` whose scope holds job `path` (the job itself, or a folder above it). */
export function roleForJob(roles: readonly PlannedRole[], path: string): PlannedRole | undefined {
  return (
    roles.find((r) => r.scope.kind === 'job' && r.scope.path === path) ??
    roles.find((r) => r.scope.kind === 'folder' && path.startsWith(`${r.scope.path}/`))
  );
}

/** Whether a token's `sub` is admitted by the role's condition (StringEquals, or StringLike with `*`/`?`). */
export function subMatches(role: Pick<PlannedRole, 'sub'>, sub: string): boolean {
  if (role.sub.operator === 'StringEquals') return sub === role.sub.value;
  const re = new RegExp(
    `^${role.sub.value
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(sub);
}

interface TrailEvent {
  id: string;
  time: Date;
  body: {
    errorCode?: string;
    userIdentity?: {
      type?: string;
      userName?: string;
      accessKeyId?: string;
      sessionContext?: {
        sessionIssuer?: { arn?: string };
        webIdFederationData?: { federatedProvider?: string };
      };
    };
    requestParameters?: { roleArn?: string } | null;
    responseElements?: {
      credentials?: { accessKeyId?: string };
      subjectFromWebIdentityToken?: string;
    } | null;
  };
}

async function lookup(ct: CloudTrailClient, attr: LookupAttribute, since: Date): Promise<TrailEvent[]> {
  const out: TrailEvent[] = [];
  let token: string | undefined;
  do {
    const r = await ct.send(
      new LookupEventsCommand({
        LookupAttributes: [attr],
        StartTime: since,
        NextToken: token,
        MaxResults: 50,
      }),
    );
    for (const e of r.Events ?? [])
      out.push({
        id: e.EventId ?? '',
        time: e.EventTime ?? new Date(0),
        body: JSON.parse(e.CloudTrailEvent ?? '{}') as TrailEvent['body'],
      });
    token = r.NextToken;
  } while (token && out.length < 500);
  return out;
}

/**
 * The proof in CloudTrail that a web-identity session of `role` logged in to ECR since `since`: a successful
 * AssumeRoleWithWebIdentity of the role whose subject the role admits (and, for a canary, is that job), and an
 * ecr:GetAuthorizationToken signed with that session's key.
 */
export async function findProof(
  ct: CloudTrailClient,
  role: PlannedRole,
  since: Date,
  subject?: string,
): Promise<{ at: Date; sub: string; eventId: string } | undefined> {
  const assumed = (
    await lookup(ct, { AttributeKey: 'ResourceName', AttributeValue: role.arn }, since)
  ).filter(
    (e) =>
      e.body.userIdentity?.type === 'WebIdentityUser' &&
      !e.body.errorCode &&
      e.body.requestParameters?.roleArn === role.arn,
  );
  for (const a of assumed) {
    const sub = a.body.responseElements?.subjectFromWebIdentityToken ?? a.body.userIdentity?.userName ?? '';
    if (!subMatches(role, sub) || (subject !== undefined && sub !== subject)) continue;
    const sessionKey = a.body.responseElements?.credentials?.accessKeyId;
    if (!sessionKey) continue;
    const used = await lookup(ct, { AttributeKey: 'AccessKeyId', AttributeValue: sessionKey }, since);
    const login = used.find(
      (e) =>
        !e.body.errorCode &&
        e.body.userIdentity?.type === 'AssumedRole' &&
        e.body.userIdentity.sessionContext?.sessionIssuer?.arn === role.arn &&
        e.body.userIdentity.sessionContext.webIdFederationData?.federatedProvider === role.providerArn &&
        /GetAuthorizationToken|PutImage/.test(JSON.stringify(e.body)),
    );
    if (login) return { at: login.time, sub, eventId: login.id };
  }
  return undefined;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The role's trust policy as IAM returns it (URL-encoded JSON). */
function decodePolicy(raw: string | undefined): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(decodeURIComponent(raw)) as unknown;
  } catch {
    return JSON.parse(raw) as unknown;
  }
}

async function roleTags(iam: IAMClient, name: string): Promise<Record<string, string>> {
  const r = await iam.send(new ListRoleTagsCommand({ RoleName: name }));
  return Object.fromEntries((r.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/**
 * `keyless apply`: makes what the plan says exist (the ID-token credentials in Jenkins, the providers and roles in
 * IAM), proves each role (a canary build of its scope, or a build found in CloudTrail), and only then, with
 * `retireKey`, retires the long-lived key. Every step reads before it writes, so running it again after any failure
 * or interruption picks up where it stopped; nothing is retired while a role is unproven.
 */
export async function applyKeyless(
  composition: Composition,
  key: ManagedKey,
  opts: ApplyOptions = {},
): Promise<ApplyReport> {
  const clock = opts.clock ?? systemClock;
  const say = opts.progress ?? (() => {});
  const plan = await planKeyless(composition, key, opts);
  if (plan.blockers.length)
    throw new InputError(
      `keyless apply ${key.name}: nothing was changed, because ${plan.blockers.join('; ')}`,
      { blockers: plan.blockers },
    );
  const steps: ApplyStep[] = [];
  const step = (s: ApplyStep) => {
    steps.push(s);
    say(`  ${s.status === 'failed' ? '✗' : s.status === 'skipped' ? '·' : '✓'} ${s.step}: ${s.detail}`);
  };
  const iam = composition.iamFor(key);

  // 1. Jenkins: the ID-token credentials, made by Jenkins itself (form mode: the plugin's constructor makes the key).
  for (const c of plan.credentials) {
    const target = key.jenkins.find((t) => t.name === c.target);
    if (!target) continue;
    const client = await composition.jenkinsClient(key, target);
    const r = await client.createCredentialForm(c.store, {
      $class: ID_TOKEN_FILE_CLASS,
      id: c.id,
      description: `ID token for AWS (jenkins-key-rotator keyless, key ${key.name})`,
      audience: c.audience,
    });
    const doc = await client.getCredential(c.store, c.id);
    const audience = /<audience>([^<]*)<\/audience>/.exec(doc?.xml ?? '')?.[1];
    if (!doc || !/IdToken(File|String)Credentials/.test(doc.className ?? doc.xml))
      throw new KeylessError(
        `credential ${c.id} in ${c.target} is not an ID-token credential: rename or remove it, then apply again`,
      );
    if (audience !== c.audience)
      throw new KeylessError(
        `ID-token credential ${c.id} in ${c.target} has audience ${audience ?? '(none)'}, not ${c.audience}: AWS would refuse its tokens; set its audience to ${c.audience} (or remove it), then apply again`,
      );
    step({
      step: `Jenkins credential ${c.id}`,
      status: r === 'created' ? 'done' : 'already',
      detail: `${r === 'created' ? 'created' : 'already there'} in the ${c.store.kind === 'system' ? 'system store' : `folder store ${c.store.kind === 'folder' ? c.store.path : ''}`} of ${c.target}; tokens from issuer ${c.issuer}, audience ${c.audience}`,
    });
  }

  // 2. IAM: one provider per issuer, then the roles.
  for (const p of plan.providers) {
    if (!p.exists) {
      try {
        await iam.send(
          new CreateOpenIDConnectProviderCommand({
            Url: p.issuer,
            ClientIDList: [p.audience],
            Tags: [{ Key: 'managed-by', Value: 'jenkins-key-rotator' }],
          }),
        );
      } catch (err) {
        if (!/^EntityAlreadyExists/.test(awsErrorName(err) ?? '')) throw err;
      }
      step({
        step: 'IAM OIDC provider',
        status: 'done',
        detail: `created ${p.arn} (audience ${p.audience})`,
      });
    } else if (p.addAudience) {
      await iam.send(
        new AddClientIDToOpenIDConnectProviderCommand({
          OpenIDConnectProviderArn: p.arn,
          ClientID: p.audience,
        }),
      );
      step({ step: 'IAM OIDC provider', status: 'done', detail: `${p.arn}: audience ${p.audience} added` });
    } else step({ step: 'IAM OIDC provider', status: 'already', detail: `${p.arn} already there` });
  }
  for (const r of plan.roles) {
    const trust = JSON.stringify(r.trustPolicy);
    let changedTrust = false;
    if (!r.exists) {
      try {
        await iam.send(
          new CreateRoleCommand({
            RoleName: r.name,
            Path: r.path,
            AssumeRolePolicyDocument: trust,
            MaxSessionDuration: 3600,
            Description: `Jenkins builds of ${r.scope.kind} ${r.scope.path} push to ECR (jenkins-key-rotator keyless, key ${key.name})`,
            Tags: [
              { Key: 'managed-by', Value: 'jenkins-key-rotator' },
              { Key: 'key-rotator:keyless-for', Value: key.name },
            ],
          }),
        );
        changedTrust = true;
      } catch (err) {
        if (!/^EntityAlreadyExists/.test(awsErrorName(err) ?? '')) throw err;
      }
    }
    if (!changedTrust) {
      const got = await iam.send(new GetRoleCommand({ RoleName: r.name }));
      if (!same(decodePolicy(got.Role?.AssumeRolePolicyDocument), r.trustPolicy)) {
        await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: r.name, PolicyDocument: trust }));
        changedTrust = true;
      }
    }
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: r.name,
        PolicyName: ROLE_POLICY_NAME,
        PolicyDocument: JSON.stringify(r.pushPolicy),
      }),
    );
    if (changedTrust) {
      // A new trust policy voids an earlier proof: it is proven again against what is there now.
      await iam.send(new UntagRoleCommand({ RoleName: r.name, TagKeys: [PROVEN_TAG] }));
      await iam.send(
        new TagRoleCommand({
          RoleName: r.name,
          Tags: [{ Key: TRUST_SET_TAG, Value: clock.now().toISOString() }],
        }),
      );
    }
    step({
      step: `IAM role ${r.name}`,
      status: changedTrust ? 'done' : 'already',
      detail: `${changedTrust ? (r.exists ? 'trust policy updated' : 'created') : 'already as planned'}: admits ${r.sub.operator} ${r.sub.value}; may push to ${plan.repositories.length} repositor${plan.repositories.length === 1 ? 'y' : 'ies'}`,
    });
  }

  // 3. The proof: canary builds, then what CloudTrail shows for every role.
  const ct = new CloudTrailClient(composition.settingsFor(key, plan.region));
  const proofs: ApplyReport['proofs'] = [];
  const canaries = opts.canaries ?? (key.verify.canary ? [key.verify.canary.job] : []);
  const ran = new Map<string, { job: string; sub: string; started: Date }>();
  for (const job of canaries) {
    const role = roleForJob(plan.roles, job);
    if (!role)
      throw new InputError(
        `canary ${job} is outside every planned scope (${plan.roles.map((r) => `${r.scope.kind} ${r.scope.path}`).join(', ')}): its token would be refused`,
        { canary: job },
      );
    const target = key.jenkins.find((t) => t.name === role.target);
    if (!target) continue;
    const client = await composition.jenkinsClient(key, target);
    const root = await client.rootUrl();
    const started = clock.now();
    say(`  … canary ${job}: assuming ${role.name} with its ID token`);
    const timeoutMs = opts.canaryTimeoutMs ?? (key.verify.canary?.timeoutSeconds ?? 600) * 1000;
    let run = await client.runJob(job, { AWS_ROLE_ARN: role.arn }, { timeoutMs });
    // A role or provider IAM has just made may not be usable everywhere yet (seconds): one more try after a pause.
    if (run.result !== 'SUCCESS') {
      await clock.sleep(10_000);
      run = await client.runJob(job, { AWS_ROLE_ARN: role.arn }, { timeoutMs });
    }
    if (run.result !== 'SUCCESS') {
      const tail = await client.consoleTail(job, run.number, 6).catch(() => []);
      const why = tail
        .filter((l) => /ERROR|failed|denied|refused/i.test(l))
        .slice(-2)
        .join(' | ');
      step({
        step: `canary ${job}`,
        status: 'failed',
        detail: `build #${run.number} ended ${run.result}${why ? `: ${why}` : ''}`,
      });
      throw new KeylessError(
        `the canary ${job} (build #${run.number}) ended ${run.result}${why ? ` (${why})` : ''}: the long-lived key was not touched. Fix the cause (the job must bind credential ${plan.credentials.find((c) => c.target === role.target)?.id ?? ''} and use AWS_ROLE_ARN; see the plan's Jenkinsfile), then apply again`,
        { job, build: run.number, result: run.result },
      );
    }
    step({
      step: `canary ${job}`,
      status: 'done',
      detail: `build #${run.number} SUCCESS with role ${role.name}`,
    });
    ran.set(role.name, { job, sub: itemUrl(root, job), started });
  }
  const deadline = clock.now().getTime() + (opts.proofTimeoutMs ?? 15 * MINUTE);
  for (const r of plan.roles) {
    const tags = await roleTags(iam, r.name);
    const earlier = parseProven(tags[PROVEN_TAG]);
    const trustSet = tags[TRUST_SET_TAG] ? new Date(tags[TRUST_SET_TAG]) : new Date(0);
    if (earlier && earlier.at >= trustSet && !ran.has(r.name)) {
      proofs.push({
        role: r.name,
        proven: true,
        at: earlier.at.toISOString(),
        by: earlier.sub,
        detail: 'proven earlier',
      });
      continue;
    }
    const canary = ran.get(r.name);
    // CloudTrail's event history lags (minutes): poll it, for a canary until the deadline.
    let proof: Awaited<ReturnType<typeof findProof>>;
    for (let wait = 2_000; ; wait = Math.min(wait * 2, 30_000)) {
      proof = await findProof(
        ct,
        r,
        canary ? new Date(canary.started.getTime() - MINUTE) : trustSet,
        canary?.sub,
      );
      if (proof || !canary || clock.now().getTime() + wait > deadline) break;
      await clock.sleep(wait);
    }
    if (proof) {
      await iam.send(
        new TagRoleCommand({
          RoleName: r.name,
          Tags: [{ Key: PROVEN_TAG, Value: `${proof.at.toISOString()} ${proof.sub}`.slice(0, 256) }],
        }),
      );
      proofs.push({
        role: r.name,
        proven: true,
        at: proof.at.toISOString(),
        by: proof.sub,
        detail: `CloudTrail event ${proof.eventId}`,
      });
      step({
        step: `proof of ${r.name}`,
        status: 'done',
        detail: `CloudTrail: a web-identity session of the role, from ${proof.sub}, logged in to ECR at ${proof.at.toISOString()}`,
      });
    } else {
      const detail = canary
        ? `the canary succeeded but CloudTrail showed no web-identity session of ${r.name} logging in to ECR within ${Math.round((opts.proofTimeoutMs ?? 15 * MINUTE) / MINUTE)} min`
        : `no build of ${r.scope.kind} ${r.scope.path} has used it yet: run one with the plan's Jenkinsfile (or name a canary there with --canary), then apply again`;
      proofs.push({ role: r.name, proven: false, detail });
      step({ step: `proof of ${r.name}`, status: 'skipped', detail });
    }
  }

  const report: ApplyReport = { key: key.name, plan, steps, proofs, retired: false, keyless: false };
  if (!opts.retireKey) return report;
  const unproven = proofs.filter((p) => !p.proven);
  if (unproven.length)
    throw new KeylessError(
      `the long-lived key of ${key.name} was not retired: ${unproven.length} role(s) not proven (${unproven.map((p) => `${p.role}: ${p.detail}`).join('; ')})`,
      { unproven: unproven.map((p) => p.role) },
    );
  await retire(composition, key, plan, proofs, opts, clock, step);
  return { ...report, retired: true, keyless: true };
}

/**
 * Retires the long-lived key after the proof: refuses while something else may still use it, deactivates it and
 * checks AWS refuses it, records the deactivation for the clean-up, handles the Jenkins AWS credential, marks the
 * key keyless and stops Secrets Manager's rotation schedule. Each part is skipped when already done.
 */
async function retire(
  composition: Composition,
  key: ManagedKey,
  plan: KeylessPlan,
  proofs: ApplyReport['proofs'],
  opts: ApplyOptions,
  clock: Clock,
  step: (s: ApplyStep) => void,
): Promise<void> {
  const iam = composition.iamFor(key);
  const store = composition.keyStoreFor(key);
  const raw = await composition.secrets.getValue(key.secretId, { stage: 'AWSCURRENT' });
  const current = raw ? parseKeySecret(raw, `AWSCURRENT of ${key.secretId}`) : undefined;
  const keys = await store.list(key.iamUser);
  const tags = await store.tags(key.iamUser);
  const active = keys.filter((k) => k.status === 'Active');
  const strangers = active.filter((k) => k.accessKeyId !== current?.accessKeyId);
  if (strangers.length)
    throw new KeylessError(
      `user ${key.iamUser} has active key(s) ${strangers.map((k) => k.accessKeyId).join(', ')} that are not ${key.name}'s current key (a rotation in flight, or a key made by hand): finish or abandon the rotation, or find what uses them, then apply --retire-key again`,
    );
  const firstProof = proofs.reduce<Date | undefined>((min, p) => {
    const at = p.at ? new Date(p.at) : undefined;
    return at && (!min || at < min) ? at : min;
  }, undefined);
  if (current && active.length && firstProof) {
    const used = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: current.accessKeyId }));
    const last = used.AccessKeyLastUsed?.LastUsedDate;
    // IAM records the last use coarsely (and may show it hours late): a use within a minute before the proof is
    // the proof's own time, not a sign of a job left behind.
    if (last && last.getTime() > firstProof.getTime() + MINUTE)
      throw new KeylessError(
        `the long-lived key ${current.accessKeyId} was used at ${last.toISOString()} (${used.AccessKeyLastUsed?.ServiceName ?? 'a service'}), after the keyless proof at ${firstProof.toISOString()}: something still pushes with it. Move that job to the keyless Jenkinsfile, then apply --retire-key again`,
        { lastUsed: last.toISOString() },
      );
  }

  // The Jenkins AWS credentials first: a refusal here (no Credentials/Delete) leaves the key as it was.
  for (const t of key.jenkins) {
    const client = await composition.jenkinsClient(key, t);
    if (opts.credential === 'delete') {
      try {
        await client.deleteCredential(t.store, t.credentialId);
      } catch (err) {
        throw new KeylessError(
          `the Jenkins credential ${t.credentialId} of ${t.name} could not be deleted (${messageOf(err)}): the long-lived key was not touched. Give the rotator's Jenkins user Credentials/Delete, or retire with --credential keep`,
        );
      }
      step({
        step: `Jenkins credential ${t.credentialId}`,
        status: 'done',
        detail: `deleted from ${t.name}`,
      });
    } else
      step({
        step: `Jenkins credential ${t.credentialId}`,
        status: 'skipped',
        detail: `kept in ${t.name}, holding the key about to be retired (--credential delete removes it)`,
      });
  }

  if (current && active.some((k) => k.accessKeyId === current.accessKeyId)) {
    await store.setStatus(key.iamUser, current.accessKeyId, 'Inactive');
    step({ step: 'long-lived key', status: 'done', detail: `${current.accessKeyId} deactivated` });
  } else
    step({
      step: 'long-lived key',
      status: 'already',
      detail: `${current?.accessKeyId ?? 'none'}: not active`,
    });
  if (
    current &&
    !tags[deactivatedTag(current.accessKeyId)] &&
    keys.some((k) => k.accessKeyId === current.accessKeyId)
  )
    await store.tag(key.iamUser, deactivatedTag(current.accessKeyId), clock.now().toISOString());

  // AWS must now refuse it (IAM takes seconds to apply a deactivation everywhere).
  if (current && keys.some((k) => k.accessKeyId === current.accessKeyId)) {
    const { sts } = clientsForKey(composition.clients.setup, current, plan.region);
    const until = clock.now().getTime() + key.policy.propagationTimeoutSeconds * 1000;
    let refused: string | undefined;
    for (let wait = 500; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        await sts.send(new GetCallerIdentityCommand({}));
      } catch (err) {
        const name = awsErrorName(err) ?? '';
        if (/InvalidClientTokenId|AccessDenied|SignatureDoesNotMatch/.test(name)) {
          refused = name;
          break;
        }
      }
      if (clock.now().getTime() + wait > until) break;
      await clock.sleep(wait);
    }
    sts.destroy();
    if (!refused)
      throw new KeylessError(
        `${current.accessKeyId} is inactive but AWS still accepted it after ${key.policy.propagationTimeoutSeconds} s: apply --retire-key again in a minute`,
      );
    step({
      step: 'long-lived key refused',
      status: 'done',
      detail: `AWS now refuses ${current.accessKeyId} (${refused})`,
    });
  }

  if (!tags[KEYLESS_TAG]) await store.tag(key.iamUser, KEYLESS_TAG, clock.now().toISOString());
  const described = await composition.clients.secrets.send(
    new DescribeSecretCommand({ SecretId: key.secretId }),
  );
  if (described.RotationEnabled) {
    await composition.clients.secrets.send(new CancelRotateSecretCommand({ SecretId: key.secretId }));
    step({
      step: 'Secrets Manager',
      status: 'done',
      detail: `rotation schedule of ${key.secretId} turned off`,
    });
  }
  step({
    step: 'keyless',
    status: 'done',
    detail: `${key.name} is keyless (tag ${KEYLESS_TAG} on ${key.iamUser}): the scan stops rotating it; the old key is deleted after ${key.policy.deleteAfterDays} days`,
  });
}
