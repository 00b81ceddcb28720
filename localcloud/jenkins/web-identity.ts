/**
 * The `web-identity` canary check: what a keyless Jenkinsfile does, step by step, each failure naming its step.
 *
 * ```groovy
 * withCredentials([string(credentialsId: 'aws-oidc', variable: 'TOKEN')]) {   // or file(…, variable: 'AWS_WEB_IDENTITY_TOKEN_FILE')
 *   sh 'aws sts assume-role-with-web-identity --role-arn $AWS_ROLE_ARN --role-session-name $BUILD_TAG --web-identity-token $TOKEN'
 *   sh 'aws sts get-caller-identity && aws ecr get-login-password | docker login …'   // with the temporary credentials
 * }
 * ```
 *
 * The token, the temporary secret key and session token, and the registry password are masked from the console.
 */
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { checkSignal, clientConfig, ecrLogin, failStep, markBuildOrigin, type AwsTarget } from './canary-aws';
import type { Credential } from './credentials';
import { OIDC_PLUGIN, buildIdToken, isIdTokenCredential, issuerForBuild, type IdToken } from './oidc';
import { fullName, itemUrl, type Build, type BuildResult, type Folder, type JenkinsState } from './state';

/**
 * The variables an ID token's claim templates see: the build's characteristic variables, the global ones, and a
 * pipeline's parameters. A name two sources give different values is left out (the plugin refuses conflicting values,
 * so a parameter cannot pose as JOB_URL); the console names it, not the values.
 */
function claimEnvironment(
  state: JenkinsState,
  build: Build,
  log: (line: string) => void,
): Record<string, string> {
  const job = build.job;
  const name = fullName(job);
  const jobUrl = state.absoluteUrl(itemUrl(job));
  const n = String(build.number);
  const sources: Record<string, string>[] = [
    {
      JENKINS_URL: state.rootUrl,
      JOB_NAME: name,
      JOB_BASE_NAME: job.name,
      JOB_URL: jobUrl,
      BUILD_NUMBER: n,
      BUILD_ID: n,
      BUILD_DISPLAY_NAME: `#${n}`,
      BUILD_TAG: `jenkins-${name.replace(/\//g, '-')}-${n}`,
      BUILD_URL: `${jobUrl}${n}/`,
    },
    state.globalEnv,
    // ParametersAction contributes only to non-AbstractBuild runs in the plugin's environment (Pipeline).
    job.spec.type === 'pipeline' ? Object.fromEntries(build.parameters) : {},
  ];
  const values = new Map<string, Set<string>>();
  for (const source of sources)
    for (const [k, v] of Object.entries(source)) values.set(k, (values.get(k) ?? new Set()).add(v));
  const env: Record<string, string> = {};
  for (const [k, vs] of values) {
    const [only] = vs;
    if (vs.size === 1 && only !== undefined) env[k] = only;
    else log(`ERROR: Refusing to consider conflicting values of ${k} for ${name} #${n}`);
  }
  return env;
}

/** The binding a Jenkinsfile would use for this credential. */
const bindingOf = (c: Credential, id: string): string =>
  c.cls.kind === 'idTokenFile'
    ? `file(credentialsId: '${id}', variable: 'AWS_WEB_IDENTITY_TOKEN_FILE')`
    : `string(credentialsId: '${id}', variable: 'TOKEN')`;

/** `--role-session-name`: 2–64 of `[\w+=,.@-]`. */
const sessionNameFrom = (tag: string): string => tag.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);

export async function runWebIdentityCheck(
  state: JenkinsState,
  build: Build,
  found: { credential: Credential; store: string; folder: Folder },
  log: (line: string) => void,
  masks: string[],
): Promise<BuildResult> {
  const spec = build.job.spec;
  const id = spec.credentialId ?? '';
  const c = found.credential;
  if (!state.hasPlugin(OIDC_PLUGIN) && isIdTokenCredential(c)) {
    // Without the plugin Jenkins cannot load the credential at all.
    log(`ERROR: Could not find credentials entry with ID '${id}'`);
    return 'FAILURE';
  }
  if (!isIdTokenCredential(c)) {
    log(
      `ERROR: Credentials '${id}' is of type '${c.cls.typeName}' where 'org.jenkinsci.plugins.plaincredentials.StringCredentials' was expected`,
    );
    return 'FAILURE';
  }
  const step = (name: string, err: unknown): BuildResult => failStep(log, name, err);
  log(`[localcloud] web-identity: withCredentials([${bindingOf(c, id)}]) from the ${found.store} store`);

  // 1. The ID token the binding gives the build.
  const env = claimEnvironment(state, build, log);
  let idToken: IdToken;
  try {
    const issuer = issuerForBuild(state, c, found.folder, { job: fullName(build.job), number: build.number });
    idToken = buildIdToken({ credential: c, issuer, env, config: state.idTokenConfig });
  } catch (err) {
    return step('id token', err);
  }
  masks.push(idToken.token);
  build.idToken = { header: idToken.header, claims: idToken.claims };
  const { iss, aud, sub, exp } = idToken.claims;
  log(
    `[localcloud] id token (kid ${idToken.header['kid'] ?? '?'}): iss ${String(iss)}, aud ${aud === undefined ? '(none)' : String(aud)}, sub ${String(sub)}, expires ${new Date(Number(exp) * 1000).toISOString()}`,
  );

  const endpoint = state.awsEndpoint;
  if (!endpoint) {
    log('ERROR: no AWS endpoint is configured for this emulator (awsEndpoint)');
    return 'FAILURE';
  }
  const roleArn = build.parameters.find(([k]) => k === 'AWS_ROLE_ARN')?.[1] || spec.roleArn;
  if (!roleArn) {
    log('ERROR: no role to assume: set roleArn on the job or pass AWS_ROLE_ARN');
    return 'FAILURE';
  }
  const sessionName = spec.roleSessionName ?? sessionNameFrom(env['BUILD_TAG'] ?? `jenkins-${build.number}`);
  const region = spec.region ?? 'us-east-1';
  const abortSignal = checkSignal(state);

  // 2. sts:AssumeRoleWithWebIdentity: unsigned, the token is the proof.
  let target: AwsTarget;
  const sts = new STSClient(clientConfig({ endpoint, region }));
  markBuildOrigin(sts);
  try {
    const out = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn,
        RoleSessionName: sessionName,
        WebIdentityToken: idToken.token,
      }),
      { abortSignal },
    );
    const creds = out.Credentials;
    if (!creds?.AccessKeyId || !creds.SecretAccessKey || !creds.SessionToken)
      return step('sts:AssumeRoleWithWebIdentity', new Error('the answer holds no credentials'));
    masks.push(creds.SecretAccessKey, creds.SessionToken);
    build.accessKeyId = creds.AccessKeyId;
    target = {
      endpoint,
      region,
      credentials: {
        accessKeyId: creds.AccessKeyId,
        secretAccessKey: creds.SecretAccessKey,
        sessionToken: creds.SessionToken,
      },
    };
    log(
      `[localcloud] sts:AssumeRoleWithWebIdentity (role ${roleArn}, session ${sessionName}) → ${out.AssumedRoleUser?.Arn ?? '(no ARN)'}, temporary key ${creds.AccessKeyId}, expires ${creds.Expiration?.toISOString() ?? '?'}`,
    );
  } catch (err) {
    return step('sts:AssumeRoleWithWebIdentity', err);
  } finally {
    sts.destroy();
  }

  // 3. sts:GetCallerIdentity with the temporary credentials.
  const whoami = new STSClient(clientConfig(target));
  markBuildOrigin(whoami);
  try {
    const out = await whoami.send(new GetCallerIdentityCommand({}), { abortSignal });
    const arn = out.Arn ?? '';
    log(`[localcloud] sts:GetCallerIdentity → ${arn || '(no ARN)'} (account ${out.Account ?? '?'})`);
    const expected = spec.expectedArn;
    if (expected && arn !== expected && !arn.startsWith(`${expected}/`)) {
      log(`ERROR: expected to authenticate as ${expected}`);
      return 'FAILURE';
    }
  } catch (err) {
    return step('sts:GetCallerIdentity', err);
  } finally {
    whoami.destroy();
  }

  // 4. The ECR login with the temporary credentials.
  return ecrLogin(target, log, masks, abortSignal);
}
