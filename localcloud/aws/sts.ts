import { randomBytes } from 'node:crypto';
import { accessDenied, type RequestContext, type ServiceModule } from './context';
import { AwsError, validationError } from './errors';
import { ensure, ensureLength, intParam, requiredParam } from './iam-common';
import { providerForIssuer, providerKey } from './iam-oidc';
import { queryStructList } from './protocols';
import { randomId, randomSecret, type RoleRecord, type SessionRecord } from './state';
import { trailExpiration } from './trail-events';
import { evaluateTrust } from './trust';
import { checkTimes, decodeToken, invalidToken, verifySignature } from './web-identity';

const SESSION_NAME = '[\\w+=,.@-]*';

function roleArnParam(ctx: RequestContext): string {
  const roleArn = requiredParam(ctx.params, 'RoleArn');
  ensureLength(roleArn, 'RoleArn', 20, 2048);
  return roleArn;
}

function sessionNameParam(ctx: RequestContext): string {
  const name = requiredParam(ctx.params, 'RoleSessionName');
  ensureLength(name, 'RoleSessionName', 2, 64);
  ensure(
    new RegExp(`^${SESSION_NAME}$`).test(name),
    'RoleSessionName',
    name,
    `satisfy regular expression pattern: ${SESSION_NAME}`,
  );
  return name;
}

const durationParam = (ctx: RequestContext) => intParam(ctx.params, 'DurationSeconds', 900, 43200);

/** Session policies would narrow the session's permissions; the emulator does not evaluate them, so refuses them. */
function refuseSessionPolicies(ctx: RequestContext): void {
  const given = ['Policy', 'ProviderId'].find((p) => ctx.params[p] !== undefined);
  const arns = queryStructList(ctx.params, 'PolicyArns', ['arn'] as const);
  if (given === 'ProviderId')
    throw validationError(
      'ProviderId is for OAuth 2.0 access tokens of Login with Amazon and Facebook; the localcloud emulator ' +
        'federates OpenID Connect ID tokens only: leave it out.',
    );
  if (given || arns.length > 0)
    throw validationError(
      `${given ?? 'PolicyArns'}: session policies are not evaluated by the localcloud emulator: leave them out.`,
    );
}

/** Creates a session of `role` lasting `durationSeconds` (within the role's MaxSessionDuration). */
function issueSession(
  ctx: RequestContext,
  role: RoleRecord,
  sessionName: string,
  durationSeconds: number,
  webIdentity?: SessionRecord['webIdentity'],
): SessionRecord {
  if (durationSeconds > role.maxSessionDuration)
    throw validationError('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  const session: SessionRecord = {
    accessKeyId: randomId('ASIA', 16),
    secretAccessKey: randomSecret(),
    sessionToken: randomBytes(192).toString('base64'),
    roleArn: role.arn,
    // The role's path is not part of the assumed-role ARN.
    assumedRoleArn: `arn:aws:sts::${role.accountId}:assumed-role/${role.roleName}/${sessionName}`,
    assumedRoleId: `${role.roleId}:${sessionName}`,
    sessionName,
    accountId: role.accountId,
    creationDate: ctx.now,
    expiration: ctx.now + durationSeconds * 1000,
    ...(webIdentity ? { webIdentity } : {}),
  };
  ctx.state.sessions.set(session.accessKeyId, session);
  role.lastUsed = { date: ctx.now, region: ctx.region };
  // CloudTrail: the session's key id and expiry, never its secret or token; the role as the event's resource,
  // the key and session too in the event history.
  ctx.trail.accountId = role.accountId;
  ctx.trail.responseElements = {
    credentials: { accessKeyId: session.accessKeyId, expiration: trailExpiration(session.expiration) },
    assumedRoleUser: { assumedRoleId: session.assumedRoleId, arn: session.assumedRoleArn },
  };
  ctx.trail.resources = [
    { type: 'AWS::IAM::Role', name: role.arn, accountId: role.accountId },
    { type: 'AWS::IAM::AccessKey', name: session.accessKeyId, accountId: role.accountId, historyOnly: true },
    {
      type: 'AWS::STS::AssumedRole',
      name: session.assumedRoleArn,
      accountId: role.accountId,
      historyOnly: true,
    },
  ];
  return session;
}

const sessionView = (s: SessionRecord) => ({
  Credentials: {
    AccessKeyId: s.accessKeyId,
    SecretAccessKey: s.secretAccessKey,
    SessionToken: s.sessionToken,
    Expiration: new Date(s.expiration),
  },
  AssumedRoleUser: { AssumedRoleId: s.assumedRoleId, Arn: s.assumedRoleArn },
});

const notAuthorizedForWebIdentity = () =>
  new AwsError('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403);

/** STS, AWS Query protocol (XML). */
export const sts: ServiceModule = {
  signingName: 'sts',
  protocol: 'query',
  unauthenticated: new Set(['AssumeRoleWithWebIdentity']),
  trailed: {
    AssumeRole: { readOnly: true },
    AssumeRoleWithWebIdentity: { readOnly: true },
  },
  actions: {
    GetCallerIdentity: (ctx) => ({
      UserId: ctx.principal.userId,
      Account: ctx.principal.accountId,
      Arn: ctx.principal.arn,
    }),
    AssumeRole: (ctx) => {
      const roleArn = roleArnParam(ctx);
      const sessionName = sessionNameParam(ctx);
      const externalId = ctx.params['ExternalId'];
      const durationSeconds = durationParam(ctx);
      if (externalId !== undefined)
        ensure(
          /^[\w+=,.@:/-]{2,1224}$/.test(externalId),
          'ExternalId',
          externalId,
          'satisfy regular expression pattern: [\\w+=,.@:\\/-]*',
        );
      refuseSessionPolicies(ctx);
      ctx.trail.requestParameters = {
        roleArn,
        roleSessionName: sessionName,
        ...(externalId === undefined ? {} : { externalId }),
        ...(durationSeconds === undefined ? {} : { durationSeconds }),
      };
      ctx.authorize('sts:AssumeRole', roleArn);
      const caller = ctx.principal;
      const role = ctx.state.roleByArn(roleArn);
      // A session also answers to its role's ARN in a trust policy.
      const callerRole = ctx.state.sessions.get(caller.accessKeyId)?.roleArn;
      const outcome =
        role &&
        evaluateTrust(role.trust, {
          action: 'sts:AssumeRole',
          aws: { arns: callerRole ? [caller.arn, callerRole] : [caller.arn], accountId: caller.accountId },
          context: {
            'aws:PrincipalArn': [caller.arn],
            'aws:PrincipalAccount': [caller.accountId],
            ...(externalId === undefined ? {} : { 'sts:ExternalId': [externalId] }),
          },
        });
      // A role that does not exist and one that does not trust the caller look the same to the caller.
      if (!role || outcome !== 'allow') throw accessDenied('query', caller, 'sts:AssumeRole', roleArn);
      return sessionView(issueSession(ctx, role, sessionName, durationSeconds ?? 3600));
    },
    /**
     * Unsigned, as in AWS. The token is decoded; its issuer must be an OIDC provider of the role's account; its
     * signature must verify with the issuer's JWKS; it must be current; one of its audiences must be a client id of
     * the provider; then the role's trust policy decides, with `<provider>:aud`, `:sub` and `:amr` as condition
     * keys. CloudTrail records every attempt that names a known provider, as a WebIdentityUser.
     */
    AssumeRoleWithWebIdentity: async (ctx) => {
      const roleArn = roleArnParam(ctx);
      const sessionName = sessionNameParam(ctx);
      const tokenText = requiredParam(ctx.params, 'WebIdentityToken');
      ensureLength(tokenText, 'WebIdentityToken', 4, 20000, undefined);
      const durationSeconds = durationParam(ctx);
      refuseSessionPolicies(ctx);
      // The token is a credential: it never enters the event.
      ctx.trail.requestParameters = {
        roleArn,
        roleSessionName: sessionName,
        ...(durationSeconds === undefined ? {} : { durationSeconds }),
      };
      const token = decodeToken(tokenText);
      const { iss, sub, aud, amr } = token.claims;
      const accountId = /^arn:aws:iam::(\d{12}):role\//.exec(roleArn)?.[1];
      if (!accountId) throw notAuthorizedForWebIdentity();
      const account = ctx.state.accounts.get(accountId);
      const provider = account && providerForIssuer(account, iss);
      if (!provider) throw invalidToken(`No OpenIDConnect provider found in your account for ${iss}`);
      const audience = aud.find((a) => provider.clientIds.includes(a));
      ctx.trail.accountId = accountId;
      ctx.trail.userIdentity = {
        type: 'WebIdentityUser',
        principalId: `${provider.arn}:${audience ?? aud[0] ?? ''}:${sub}`,
        userName: sub,
        identityProvider: provider.arn,
      };
      ctx.trail.resources = [{ type: 'AWS::IAM::Role', name: roleArn }];
      ctx.trail.additionalEventData = {
        identityProviderConnectionVerificationMethod: provider.thumbprints.length
          ? 'Thumbprint'
          : 'IAMTrustStore',
      };
      await verifySignature(ctx.state, provider, token);
      checkTimes(token.claims, ctx.now);
      if (!audience) throw invalidToken('Incorrect token audience');
      const role = ctx.state.roleByArn(roleArn);
      const key = providerKey(provider);
      const outcome =
        role &&
        evaluateTrust(role.trust, {
          action: 'sts:AssumeRoleWithWebIdentity',
          federated: provider.arn,
          context: {
            [`${key}:aud`]: [audience],
            [`${key}:sub`]: [sub],
            ...(amr ? { [`${key}:amr`]: amr } : {}),
          },
        });
      // A missing role and one whose trust policy does not admit this token are refused alike.
      if (!role || outcome !== 'allow') throw notAuthorizedForWebIdentity();
      const session = issueSession(ctx, role, sessionName, durationSeconds ?? 3600, {
        providerArn: provider.arn,
        subject: sub,
        audience,
      });
      ctx.trail.responseElements = {
        ...ctx.trail.responseElements,
        subjectFromWebIdentityToken: sub,
        provider: provider.arn,
        audience,
      };
      // Provider: the provider's ARN, as STS answers for IAM OIDC providers (the CloudTrail record agrees).
      return {
        ...sessionView(session),
        SubjectFromWebIdentityToken: sub,
        Provider: provider.arn,
        Audience: audience,
      };
    },
  },
};
