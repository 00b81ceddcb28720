import { cloudtrail } from './cloudtrail';
import type { RawRoute, ServiceModule } from './context';
import { ecr } from './ecr';
import { ecrLayerDownload, ecrRegistry } from './ecr-registry';
import { iam } from './iam';
import { s3 } from './s3';
import { secretsmanager } from './secretsmanager';
import { sns } from './sns';
import { ssm } from './ssm';
import { sts } from './sts';

export const SERVICES: ServiceModule[] = [iam, sts, secretsmanager, ecr, sns, cloudtrail, ssm];
export const RAW_ROUTES: RawRoute[] = [ecrRegistry, ecrLayerDownload, s3];
