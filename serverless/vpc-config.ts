/**
 * The stack's VPC mode (docs/reaching-jenkins.md, "Jenkins on a private network"). With the stage parameters
 * `vpcSubnetIds` and `vpcSecurityGroupIds`, every function runs in those subnets with those security groups, and
 * each function's role gains the network-interface permissions Lambda needs there, and nothing else. With both
 * empty this changes nothing: the packaged template is the one without a VPC, byte for byte.
 *
 * Pure functions; serverless/vpc.js (a local plugin) applies the result to the service before it is packaged.
 */

/** The two stage parameters as serverless.yml resolves them (`custom.vpc`): comma-separated, or YAML lists. */
export interface VpcParams {
  subnetIds?: unknown;
  securityGroupIds?: unknown;
}

/** The functions' VPC configuration (the framework's `provider.vpc` shape). */
export interface VpcConfig {
  subnetIds: string[];
  securityGroupIds: string[];
}

/** A parameter value that cannot be deployed; its message names the parameter and what to change. */
export class VpcParameterError extends Error {
  override readonly name = 'VpcParameterError';
}

/** Lambda's limits and ID patterns for VpcConfig (Lambda API reference, VpcConfig). */
const PARAMS = {
  subnetIds: {
    param: 'vpcSubnetIds',
    what: 'subnet',
    pattern: /^subnet-[a-z0-9]{8}(?:[a-z0-9]{9})?$/,
    max: 16,
  },
  securityGroupIds: {
    param: 'vpcSecurityGroupIds',
    what: 'security group',
    pattern: /^sg-[a-z0-9]{8}(?:[a-z0-9]{9})?$/,
    max: 5,
  },
} as const;

/**
 * The VPC configuration the parameters ask for, or `undefined` when both are empty (no VPC). Refuses, naming the
 * parameter: one set without the other, an entry that is not an ID of the right kind, an empty entry, a repeated
 * ID, more IDs than Lambda accepts.
 */
export function vpcConfigOf(params: VpcParams): VpcConfig | undefined {
  const subnetIds = idsOf(params.subnetIds, PARAMS.subnetIds);
  const securityGroupIds = idsOf(params.securityGroupIds, PARAMS.securityGroupIds);
  if (subnetIds.length === 0 && securityGroupIds.length === 0) return undefined;
  if (subnetIds.length === 0 || securityGroupIds.length === 0) {
    const [set, missing] =
      subnetIds.length === 0
        ? [PARAMS.securityGroupIds, PARAMS.subnetIds]
        : [PARAMS.subnetIds, PARAMS.securityGroupIds];
    throw new VpcParameterError(
      `${set.param} is set but ${missing.param} is empty: a function in a VPC needs both its subnets and its ` +
        `security groups. Set both, or neither for no VPC.`,
    );
  }
  return { subnetIds, securityGroupIds };
}

function idsOf(value: unknown, spec: (typeof PARAMS)[keyof typeof PARAMS]): string[] {
  if (value === undefined || value === null || value === '') return [];
  const raw =
    typeof value === 'string'
      ? value.split(',')
      : Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? value
        : undefined;
  if (raw === undefined)
    throw new VpcParameterError(
      `${spec.param} must be a comma-separated list of ${spec.what} IDs, not ${JSON.stringify(value)}`,
    );
  const ids = raw.map((id) => id.trim());
  const seen = new Set<string>();
  for (const [i, id] of ids.entries()) {
    if (id === '')
      throw new VpcParameterError(
        `${spec.param} has an empty entry (position ${i + 1} of ${ids.length}): list ${spec.what} IDs separated by single commas`,
      );
    if (!spec.pattern.test(id))
      throw new VpcParameterError(
        `${spec.param}: ${JSON.stringify(id)} is not a ${spec.what} ID (${spec.what === 'subnet' ? 'subnet-' : 'sg-'} followed by 8 or 17 lowercase letters and digits)`,
      );
    if (seen.has(id)) throw new VpcParameterError(`${spec.param} lists ${id} twice`);
    seen.add(id);
  }
  if (ids.length > spec.max)
    throw new VpcParameterError(
      `${spec.param} lists ${ids.length} ${spec.what}s; Lambda accepts at most ${spec.max} per function`,
    );
  return ids;
}

/** What to tell the deployer about a valid configuration that works but is fragile. */
export function vpcWarnings(vpc: VpcConfig): string[] {
  return vpc.subnetIds.length < 2
    ? [
        `vpcSubnetIds names one subnet: when its Availability Zone fails, no rotation runs. Lambda recommends ` +
          `subnets in at least two Availability Zones.`,
      ]
    : [];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ec2Arn = (resource: string): Json => ({
  'Fn::Sub': `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:${resource}`,
});

/** The name of the inline policy added to each function's role. */
export const VPC_POLICY_NAME = 'vpc-network-interfaces';

/**
 * The inline policy each function's role gains in a VPC: what Lambda needs to create and manage the function's
 * network interfaces (Lambda developer guide, "Giving Lambda functions access to resources in an Amazon VPC",
 * required IAM permissions; the managed policy AWSLambdaVPCAccessExecutionRole v3 holds the same EC2 actions on
 * "*", plus log actions the roles already have on their own log group).
 *
 * - DescribeNetworkInterfaces and DescribeSubnets offer no resource-level permission: "*" only (the Lambda guide:
 *   DescribeNetworkInterfaces "only works if it's allowed on all resources").
 * - CreateNetworkInterface needs the new interface, the subnet and the security groups: the interface's ID is not
 *   known in advance (network-interface/*), the subnets and security groups are exactly the configured ones, so
 *   an interface can only be created there.
 * - DeleteNetworkInterface, AssignPrivateIpAddresses and UnassignPrivateIpAddresses act on existing interfaces:
 *   every interface of this account and Region, as the Lambda guide asks for DeleteNetworkInterface (a narrower
 *   resource "may" leave the function unable to reach the VPC). No ec2:Subnet condition for the same reason.
 */
export function networkInterfacePolicy(vpc: VpcConfig): Json {
  return {
    PolicyName: VPC_POLICY_NAME,
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'VpcNoResourceLevelPermission',
          Effect: 'Allow',
          Action: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
          Resource: '*',
        },
        {
          Sid: 'VpcCreateInterfacesInTheSubnets',
          Effect: 'Allow',
          Action: ['ec2:CreateNetworkInterface'],
          Resource: [
            ec2Arn('network-interface/*'),
            ...vpc.subnetIds.map((id) => ec2Arn(`subnet/${id}`)),
            ...vpc.securityGroupIds.map((id) => ec2Arn(`security-group/${id}`)),
          ],
        },
        {
          Sid: 'VpcManageInterfaces',
          Effect: 'Allow',
          Action: [
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          Resource: ec2Arn('network-interface/*'),
        },
      ],
    },
  };
}

/** The parts of the Serverless service object this module reads and changes. */
export interface ServiceShape {
  provider: { vpc?: unknown };
  functions?: Record<string, { role?: unknown; vpc?: unknown } | undefined>;
  resources?: { Resources?: Record<string, ResourceShape | undefined> };
}

interface ResourceShape {
  Type?: unknown;
  Properties?: { Policies?: unknown };
}

/**
 * Puts every function of `service` in `vpc` (provider level, so functions added later follow) and adds
 * {@link networkInterfacePolicy} to the role of each function. Refuses a function without a role of this stack
 * (its role could not be given the permissions, and the deployment would fail at CreateFunction) or with a VPC
 * setting of its own.
 */
export function applyVpc(service: ServiceShape, vpc: VpcConfig): void {
  if (service.provider.vpc !== undefined)
    throw new VpcParameterError(
      'provider.vpc is set in serverless.yml: use the vpcSubnetIds and vpcSecurityGroupIds parameters instead',
    );
  const resources = service.resources?.Resources ?? {};
  // Every check first, so that a refusal leaves the service untouched.
  const roles = new Map<string, { resource: ResourceShape; policies: unknown[] }>();
  for (const [name, fn] of Object.entries(service.functions ?? {})) {
    if (fn?.vpc !== undefined)
      throw new VpcParameterError(
        `function ${name} has a vpc setting of its own: remove it, the vpc* parameters apply to every function`,
      );
    const role = fn?.role;
    const resource = typeof role === 'string' ? resources[role] : undefined;
    if (typeof role !== 'string' || resource?.Type !== 'AWS::IAM::Role')
      throw new VpcParameterError(
        `function ${name}: its role ${JSON.stringify(role)} is not an AWS::IAM::Role of serverless.yml's resources, ` +
          `so it cannot be given the network-interface permissions a function in a VPC needs`,
      );
    const policies: unknown = resource.Properties?.Policies ?? [];
    if (!Array.isArray(policies)) throw new VpcParameterError(`${role}: Properties.Policies is not a list`);
    roles.set(role, { resource, policies });
  }
  for (const { resource, policies } of roles.values())
    resource.Properties = { ...resource.Properties, Policies: [...policies, networkInterfacePolicy(vpc)] };
  service.provider.vpc = vpc;
}
