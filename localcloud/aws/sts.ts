import type { ServiceModule } from './context';

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
  },
};
