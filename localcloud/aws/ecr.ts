import type { RawRoute, ServiceModule } from './context';

/** ECR API, JSON 1.1. */
export const ecr: ServiceModule = {
  signingName: 'ecr',
  protocol: 'json',
  targetPrefix: 'AmazonEC2ContainerRegistry_V20150921',
  actions: {},
};

/** The registry's `GET /v2/`. */
export const ecrRegistry: RawRoute = () => false;
