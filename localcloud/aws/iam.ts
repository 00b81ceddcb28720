import type { ServiceModule } from './context';

/** IAM, AWS Query protocol (XML). */
export const iam: ServiceModule = { signingName: 'iam', protocol: 'query', actions: {} };
