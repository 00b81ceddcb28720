import type { ServiceModule } from './context';

/** Secrets Manager, JSON 1.1. */
export const secretsmanager: ServiceModule = {
  signingName: 'secretsmanager',
  protocol: 'json',
  targetPrefix: 'secretsmanager',
  actions: {},
};
