/** The deploy parameters' names alone, without the checks (stack.ts): the CLI's front reads them at start-up. */

/** The deploy parameters of `serverless.yml` (`params.default`; a test keeps the two lists equal). */
export const STACK_PARAMS = [
  'userPath',
  'secretPrefix',
  'tokenSecretPrefix',
  'crossAccountRoleName',
  'configFile',
  'schedule',
  'notifyTopicArn',
  'notifyEmail',
  'slackWebhookSecretId',
  'vpcSubnetIds',
  'vpcSecurityGroupIds',
  'reportBucket',
  'reportPrefix',
  'sourceMaps',
  'rotateReservedConcurrency',
] as const;
export type StackParamName = (typeof STACK_PARAMS)[number];

export const isStackParam = (name: string): name is StackParamName =>
  (STACK_PARAMS as readonly string[]).includes(name);
