import type { RawRoute, ServiceModule } from './context';
import { ecr, ecrRegistry } from './ecr';
import { iam } from './iam';
import { secretsmanager } from './secretsmanager';
import { sns } from './sns';
import { ssm } from './ssm';
import { sts } from './sts';

export const SERVICES: ServiceModule[] = [iam, sts, secretsmanager, ecr, sns, ssm];
export const RAW_ROUTES: RawRoute[] = [ecrRegistry];
