import { randomBytes } from 'node:crypto';
import { accessDenied, type ServiceModule } from './context';
import { ensure, intParam, requiredParam } from './iam-common';
import { randomId, randomSecret, type SessionRecord } from './state';

/** STS, AWS Query protocol (XML). */
export const sts: ServiceModule = {
  signingName: 'sts',
  protocol: 'query',
  actions: {
    GetCallerIdentity: (ctx) => ({
      UserId: ctx.principal.userId,
      Account: ctx.principal.accountId,
      Arn: ctx.principal.arn,
    }),
    AssumeRole: (ctx) => {
      const roleArn = requiredParam(ctx.params, 'RoleArn');
      const sessionName = requiredParam(ctx.params, 'RoleSessionName');
      const externalId = ctx.params['ExternalId'];
      const durationSeconds = intParam(ctx.params, 'DurationSeconds', 900, 43200) ?? 3600;
      ensure(roleArn.length >= 20, 'RoleArn', roleArn, 'have length greater than or equal to 20');
      ensure(
        sessionName.length >= 2,
        'RoleSessionName',
        sessionName,
        'have length greater than or equal to 2',
      );
      ensure(
        sessionName.length <= 64,
        'RoleSessionName',
        sessionName,
        'have length less than or equal to 64',
      );
      ensure(
        /^[\w+=,.@-]*$/.test(sessionName),
        'RoleSessionName',
        sessionName,
        'satisfy regular expression pattern: [\\w+=,.@-]*',
      );
      if (externalId !== undefined)
        ensure(
          /^[\w+=,.@:/-]{2,1224}$/.test(externalId),
          'ExternalId',
          externalId,
          'satisfy regular expression pattern: [\\w+=,.@:\\/-]*',
        );
      ctx.authorize('sts:AssumeRole', roleArn);
      const caller = ctx.principal;
      const role = [...(ctx.state.accounts.get(roleArn.split(':')[4] ?? '')?.roles.values() ?? [])].find(
        (r) => r.arn === roleArn,
      );
      // A role that does not exist and one that does not trust the caller look the same to the caller.
      const trusted =
        role &&
        (!role.trustedPrincipals ||
          role.trustedPrincipals.some(
            (p) => p === caller.arn || p === `arn:aws:iam::${caller.accountId}:root`,
          ));
      if (!role || !trusted) throw accessDenied('query', caller, 'sts:AssumeRole', roleArn);
      const session: SessionRecord = {
        accessKeyId: randomId('ASIA', 16),
        secretAccessKey: randomSecret(),
        sessionToken: randomBytes(192).toString('base64'),
        roleArn: role.arn,
        assumedRoleArn: `arn:aws:sts::${role.accountId}:assumed-role/${role.roleName}/${sessionName}`,
        assumedRoleId: `${role.roleId}:${sessionName}`,
        sessionName,
        accountId: role.accountId,
        expiration: ctx.now + durationSeconds * 1000,
      };
      ctx.state.sessions.set(session.accessKeyId, session);
      return {
        Credentials: {
          AccessKeyId: session.accessKeyId,
          SecretAccessKey: session.secretAccessKey,
          SessionToken: session.sessionToken,
          Expiration: new Date(session.expiration),
        },
        AssumedRoleUser: { AssumedRoleId: session.assumedRoleId, Arn: session.assumedRoleArn },
      };
    },
  },
};
