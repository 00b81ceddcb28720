import { GetOpenIDConnectProviderCommand, GetRoleCommand } from '@aws-sdk/client-iam';
import { readIamUserFacts } from '../checks/iam-facts';
import { walkItems } from '../checks/jenkins';
import { emitPushPolicy } from '../checks/least-privilege';
import type { Composition } from '../compose';
import type { JenkinsTarget, ManagedKey } from '../config';
import { awsErrorName, messageOf } from '../domain/errors';
import type { JenkinsClient } from '../jenkins/client';
import {
  checkIssuer,
  checkSubCondition,
  DEFAULT_AUDIENCE,
  ID_TOKEN_FILE_CLASS,
  issuerUrl,
  providerArn,
  pushPolicy,
  ROLE_PATH,
  roleNameFor,
  subCondition,
  tokenCredentialId,
  trustPolicy,
  type KeylessPlan,
  type KeylessScope,
  type PlannedCredential,
  type PlannedProvider,
  type PlannedRole,
} from './plan';

export interface KeylessOptions {
  /** Jobs (full names) whose builds the roles admit, instead of those found: for credentials in the system store. */
  jobs?: readonly string[];
  /** Folders whose jobs the roles admit, instead of those found (system store). */
  folders?: readonly string[];
  /** The `aud` the ID-token credential sets and the provider accepts (default sts.amazonaws.com). */
  audience?: string;
}

/** What the plan must know about one Jenkins target. */
interface TargetFacts {
  target: JenkinsTarget;
  client?: JenkinsClient;
  root?: string;
  plugin: 'installed' | 'missing' | 'unknown';
  scopes: { scope: KeylessScope; from: string }[];
  credentialExists: boolean;
}

/** `<credentialsId>X</credentialsId>`, `credentialsId: 'X'`, `credentialsId("X")`… in a job's configuration. */
export function referencesCredential(configXml: string, id: string): boolean {
  const esc = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `<credentialsId>\\s*${esc}\\s*</credentialsId>|credentialsId\\s*[:=(]\\s*(?:&apos;|&quot;|['"])${esc}(?:&apos;|&quot;|['"])`,
  ).test(configXml);
}

async function targetFacts(
  composition: Composition,
  key: ManagedKey,
  target: JenkinsTarget,
  opts: KeylessOptions,
  blockers: string[],
  warnings: string[],
): Promise<TargetFacts> {
  const facts: TargetFacts = { target, plugin: 'unknown', scopes: [], credentialExists: false };
  const where = `Jenkins target ${target.name} (${target.url})`;
  let client: JenkinsClient;
  try {
    client = await composition.jenkinsClient(key, target);
    facts.client = client;
    facts.root = await client.rootUrl();
  } catch (err) {
    blockers.push(`${where}: cannot be read: ${messageOf(err)}`);
    return facts;
  }
  const plugins = await client.plugins().catch((err: unknown) => {
    warnings.push(`${where}: the plugin manager could not be read (${messageOf(err)})`);
    return 'forbidden' as const;
  });
  if (plugins === 'forbidden') {
    facts.plugin = 'unknown';
    warnings.push(
      `${where}: whether the oidc-provider plugin is installed is unknown (the plugin manager needs Overall/SystemRead): apply finds out when it creates the ID-token credential`,
    );
  } else {
    facts.plugin = plugins.some((p) => p.shortName === 'oidc-provider' && p.active) ? 'installed' : 'missing';
    if (facts.plugin === 'missing')
      blockers.push(
        `${where}: the OpenID Connect Provider plugin (oidc-provider) is not installed: install it (Manage Jenkins » Plugins), then plan again`,
      );
  }
  const id = tokenCredentialId(target.credentialId);
  facts.credentialExists = await client
    .describeAccess(target.store, id)
    .then((a) => a.exists)
    .catch(() => false);

  if (target.store.kind === 'folder') {
    facts.scopes.push({
      scope: { kind: 'folder', path: target.store.path },
      from: `credential ${target.credentialId} lives in folder ${target.store.path}'s store: only its jobs can use it`,
    });
    return facts;
  }
  const given = [
    ...(opts.jobs ?? []).map((path): KeylessScope => ({ kind: 'job', path })),
    ...(opts.folders ?? []).map((path): KeylessScope => ({ kind: 'folder', path })),
  ];
  if (given.length) {
    facts.scopes.push(...given.map((scope) => ({ scope, from: `--${scope.kind} ${scope.path}` })));
    return facts;
  }
  // A system-store credential: the jobs whose configuration names it, and the canary job.
  try {
    const walk = await walkItems(client, (full, xml, className) => {
      if (/Folder|MultiBranch|OrganizationFolder/.test(className)) return;
      if (referencesCredential(xml, target.credentialId))
        facts.scopes.push({
          scope: { kind: 'job', path: full },
          from: `job ${full} names credential ${target.credentialId} in its configuration`,
        });
    });
    if (walk.forbidden.length)
      warnings.push(
        `${where}: ${walk.forbidden.length} job configuration(s) could not be read (Job/ExtendedRead): jobs there that use ${target.credentialId} are not in the plan; name them with --job or --folder`,
      );
  } catch (err) {
    warnings.push(`${where}: the jobs could not be listed (${messageOf(err)})`);
  }
  const canary = key.verify.canary;
  if (canary && canary.jenkins === target.name && !facts.scopes.some((s) => s.scope.path === canary.job))
    facts.scopes.push({ scope: { kind: 'job', path: canary.job }, from: `the key's canary job` });
  if (!facts.scopes.length)
    blockers.push(
      `${where}: no job was found that uses credential ${target.credentialId} (a Pipeline from SCM does not show it): name the jobs or folders whose builds push with it, --job PATH or --folder PATH`,
    );
  return facts;
}

async function found(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (err) {
    if (/^NoSuchEntity/.test(awsErrorName(err) ?? '')) return false;
    throw err;
  }
}

/**
 * The keyless plan of one managed key, read-only: the Jenkins side (the ID-token credential next to each of the
 * key's credentials, its issuer), the AWS side (a provider per issuer, a role per scope that used the key, with its
 * trust policy and the least-privilege push policy), and what happens to the key. `blockers` say what must change
 * before `keyless apply` can run.
 */
export async function planKeyless(
  composition: Composition,
  key: ManagedKey,
  opts: KeylessOptions = {},
): Promise<KeylessPlan & { blockers: string[] }> {
  const blockers: string[] = [];
  const warnings: string[] = [];
  const audience = opts.audience ?? DEFAULT_AUDIENCE;
  const accountId = key.accountId ?? (await composition.ownAccountId());
  const region = key.verify.ecr.region;
  const iam = composition.iamFor(key);

  const facts = await readIamUserFacts(iam, key.iamUser, {
    kind: 'iam-user',
    id: key.iamUser,
    accountId,
    key: key.name,
  });
  const emitted = emitPushPolicy(
    { key: key.name, user: key.iamUser, accountId, region },
    key.ecrRepositories,
    facts.policies ?? [],
  );
  if (emitted.repositoriesFrom === 'unknown')
    warnings.push(
      `the repositories ${key.name} pushes to are not known (name them in keys[].ecrRepositories): the roles would be allowed to push to every repository of the registry`,
    );

  const targets: TargetFacts[] = [];
  for (const t of key.jenkins) targets.push(await targetFacts(composition, key, t, opts, blockers, warnings));

  const providers = new Map<string, PlannedProvider>();
  const roles: PlannedRole[] = [];
  const credentials: PlannedCredential[] = [];
  for (const f of targets) {
    if (!f.root) continue;
    const issuer = issuerUrl(f.root, f.target.store);
    try {
      checkIssuer(issuer);
    } catch (err) {
      blockers.push(`Jenkins target ${f.target.name}: ${messageOf(err)}`);
      continue;
    }
    const arn = providerArn(accountId, issuer);
    if (!providers.has(arn)) {
      let p: PlannedProvider = { issuer, arn, audience, exists: false, addAudience: false };
      try {
        const got = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
        p = { ...p, exists: true, addAudience: !(got.ClientIDList ?? []).includes(audience) };
      } catch (err) {
        if (!/^NoSuchEntity/.test(awsErrorName(err) ?? ''))
          warnings.push(`provider ${arn}: ${messageOf(err)}`);
      }
      providers.set(arn, p);
    }
    credentials.push({
      target: f.target.name,
      jenkinsUrl: f.target.url,
      store: f.target.store,
      id: tokenCredentialId(f.target.credentialId),
      className: ID_TOKEN_FILE_CLASS,
      audience,
      issuer,
      exists: f.credentialExists,
    });
    for (const { scope, from } of f.scopes) {
      const sub = subCondition(f.root, scope);
      try {
        checkSubCondition(f.root, sub);
      } catch (err) {
        blockers.push(`${scope.kind} ${scope.path}: ${messageOf(err)}`);
        continue;
      }
      const name = roleNameFor(key.name, scope);
      if (roles.some((r) => r.name === name)) continue;
      const roleArn = `arn:aws:iam::${accountId}:role${ROLE_PATH}${name}`;
      roles.push({
        name,
        arn: roleArn,
        path: ROLE_PATH,
        scope,
        scopeFrom: from,
        target: f.target.name,
        issuer,
        providerArn: arn,
        sub,
        trustPolicy: trustPolicy({ providerArn: arn, issuer, audience, sub }),
        pushPolicy: pushPolicy(emitted.repositories),
        exists: await found(() => iam.send(new GetRoleCommand({ RoleName: name }))),
      });
    }
  }

  const registry = `${key.verify.ecr.registryId ?? accountId}.dkr.ecr.${region}.amazonaws.com`;
  return {
    key: key.name,
    user: key.iamUser,
    accountId,
    region,
    registry,
    audience,
    repositories: emitted.repositories,
    repositoriesFrom: emitted.repositoriesFrom,
    providers: [...providers.values()],
    roles,
    credentials,
    keyFate: [
      `nothing happens to it until every role is proven: a web-identity session of the role, from a job of its scope, logged in to ECR (CloudTrail shows both)`,
      `with --retire-key, after that proof: deactivated (and checked refused by AWS), recorded for the clean-up, which deletes it after deleteAfterDays (${key.policy.deleteAfterDays}); the Jenkins AWS credential kept (pointing at a dead key) or, with --credential delete, deleted`,
      `${key.name} is then marked keyless on the IAM user (tag key-rotator:keyless): the scan no longer rotates it and reports any access key that appears on ${key.iamUser} as an error`,
      `key-rotator keyless rollback ${key.name} brings the key path back: a new key through the normal rotation`,
    ],
    mustPass: [
      'the oidc-provider plugin is installed on every Jenkins of the key',
      'the issuer is https (AWS fetches its discovery document and keys from it)',
      'no trust policy admits every job: each names a job, or the jobs under a folder',
      'every role proven by a canary build (--canary JOB) or by a build of its scope found in CloudTrail',
      `the old key unused since the proof (IAM's last-used date): nothing still pushes with it`,
    ],
    warnings,
    blockers,
  };
}
