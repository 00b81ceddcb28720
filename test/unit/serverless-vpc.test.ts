import { describe, expect, it } from 'vitest';
import {
  applyVpc,
  networkInterfacePolicy,
  VPC_POLICY_NAME,
  VpcParameterError,
  vpcConfigOf,
  vpcWarnings,
  type ServiceShape,
} from '../../serverless/vpc-config';

/** The VPC parameters (serverless.yml's vpcSubnetIds and vpcSecurityGroupIds, through custom.vpc). */

const SUBNET_A = 'subnet-0123456789abcdef0';
const SUBNET_B = 'subnet-0fedcba9876543210';
const SG = 'sg-0123456789abcdef0';

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(VpcParameterError);
    return (e as Error).message;
  }
  throw new Error('expected a VpcParameterError');
};

describe('vpcConfigOf', () => {
  it.each<[string, unknown, unknown]>([
    ['empty strings (the defaults)', '', ''],
    ['absent', undefined, undefined],
    ['null', null, null],
  ])('means no VPC when both are %s', (_what, subnetIds, securityGroupIds) => {
    expect(vpcConfigOf({ subnetIds, securityGroupIds })).toBeUndefined();
  });

  it('reads comma-separated IDs, spaces allowed, and YAML lists', () => {
    expect(vpcConfigOf({ subnetIds: ` ${SUBNET_A} , ${SUBNET_B}`, securityGroupIds: SG })).toEqual({
      subnetIds: [SUBNET_A, SUBNET_B],
      securityGroupIds: [SG],
    });
    expect(vpcConfigOf({ subnetIds: [SUBNET_A], securityGroupIds: [SG, 'sg-12345678'] })).toEqual({
      subnetIds: [SUBNET_A],
      securityGroupIds: [SG, 'sg-12345678'],
    });
  });

  it('refuses one without the other, naming both parameters', () => {
    expect(refusal(() => vpcConfigOf({ subnetIds: SUBNET_A, securityGroupIds: '' }))).toBe(
      'vpcSubnetIds is set but vpcSecurityGroupIds is empty: a function in a VPC needs both its subnets and its ' +
        'security groups. Set both, or neither for no VPC.',
    );
    expect(refusal(() => vpcConfigOf({ subnetIds: '', securityGroupIds: SG }))).toMatch(
      /^vpcSecurityGroupIds is set but vpcSubnetIds is empty/,
    );
  });

  it.each<[string, { subnetIds: unknown; securityGroupIds: unknown }, RegExp]>([
    [
      'a VPC ID where a subnet belongs',
      { subnetIds: `${SUBNET_A},vpc-0123456789abcdef0`, securityGroupIds: SG },
      /^vpcSubnetIds: "vpc-0123456789abcdef0" is not a subnet ID/,
    ],
    [
      'a security group name',
      { subnetIds: SUBNET_A, securityGroupIds: 'jenkins-egress' },
      /^vpcSecurityGroupIds: "jenkins-egress" is not a security group ID/,
    ],
    [
      'an ID of the wrong length',
      { subnetIds: 'subnet-0123456', securityGroupIds: SG },
      /"subnet-0123456" is not a subnet ID/,
    ],
    ['upper case', { subnetIds: SUBNET_A.toUpperCase(), securityGroupIds: SG }, /is not a subnet ID/],
    [
      'a trailing comma',
      { subnetIds: `${SUBNET_A},`, securityGroupIds: SG },
      /^vpcSubnetIds has an empty entry \(position 2 of 2\)/,
    ],
    [
      'a repeated ID',
      { subnetIds: `${SUBNET_A},${SUBNET_A}`, securityGroupIds: SG },
      /lists subnet-\w+ twice/,
    ],
    [
      'more subnets than Lambda accepts',
      {
        subnetIds: Array.from({ length: 17 }, (_, i) => `subnet-${String(i).padStart(8, '0')}`).join(','),
        securityGroupIds: SG,
      },
      /^vpcSubnetIds lists 17 subnets; Lambda accepts at most 16 per function$/,
    ],
    [
      'more security groups than Lambda accepts',
      { subnetIds: SUBNET_A, securityGroupIds: Array.from({ length: 6 }, (_, i) => `sg-0000000${i}`) },
      /^vpcSecurityGroupIds lists 6 security groups; Lambda accepts at most 5 per function$/,
    ],
    [
      'a value that is neither a string nor a list of strings',
      { subnetIds: { id: SUBNET_A }, securityGroupIds: SG },
      /^vpcSubnetIds must be a comma-separated list of subnet IDs, not \{"id":/,
    ],
  ])('refuses %s, naming the parameter', (_what, params, message) => {
    expect(refusal(() => vpcConfigOf(params))).toMatch(message);
  });
});

describe('vpcWarnings', () => {
  it('warns about a single subnet, which makes one Availability Zone a single point of failure', () => {
    expect(vpcWarnings({ subnetIds: [SUBNET_A], securityGroupIds: [SG] })).toEqual([
      expect.stringMatching(/^vpcSubnetIds names one subnet: .* at least two Availability Zones\.$/),
    ]);
    expect(vpcWarnings({ subnetIds: [SUBNET_A, SUBNET_B], securityGroupIds: [SG] })).toEqual([]);
  });
});

describe('applyVpc', () => {
  const role = (policies: unknown = [{ PolicyName: 'own', PolicyDocument: {} }]) => ({
    Type: 'AWS::IAM::Role',
    Properties: { AssumeRolePolicyDocument: {}, Policies: policies },
  });
  const service = (): ServiceShape => ({
    provider: {},
    functions: {
      rotate: { role: 'RotateRole' },
      scan: { role: 'ScanRole' },
      emergency: { role: 'RotateRole' },
    },
    resources: { Resources: { RotateRole: role(), ScanRole: role(), Queue: { Type: 'AWS::SQS::Queue' } } },
  });
  const vpc = { subnetIds: [SUBNET_A, SUBNET_B], securityGroupIds: [SG] };

  it("sets the provider's VPC and adds the network-interface policy once to each function's role", () => {
    const s = service();
    applyVpc(s, vpc);
    expect(s.provider.vpc).toEqual(vpc);
    const policiesOf = (id: string) => s.resources?.Resources?.[id]?.Properties?.Policies;
    // RotateRole serves two functions and still gets the policy once.
    for (const id of ['RotateRole', 'ScanRole'])
      expect(policiesOf(id), id).toEqual([
        { PolicyName: 'own', PolicyDocument: {} },
        networkInterfacePolicy(vpc),
      ]);
    expect(s.resources?.Resources?.['Queue']).toEqual({ Type: 'AWS::SQS::Queue' });
    expect(s.functions).toEqual(service().functions);
  });

  it('builds the policy from the configured subnets and security groups only', () => {
    const doc = JSON.stringify(networkInterfacePolicy(vpc));
    expect(JSON.parse(doc)).toMatchObject({ PolicyName: VPC_POLICY_NAME });
    const arns = [...doc.matchAll(/:(network-interface|subnet|security-group)\/([\w*-]+)/g)].map((m) => m[0]);
    expect([...new Set(arns)].sort()).toEqual(
      [':network-interface/*', `:subnet/${SUBNET_A}`, `:subnet/${SUBNET_B}`, `:security-group/${SG}`].sort(),
    );
  });

  it.each<[string, (s: ServiceShape) => void, RegExp]>([
    [
      'provider.vpc set by hand',
      (s) => (s.provider.vpc = { subnetIds: [], securityGroupIds: [] }),
      /^provider\.vpc/,
    ],
    [
      'a function with a vpc setting of its own',
      (s) => {
        const scan = s.functions?.['scan'];
        if (scan) scan.vpc = false;
      },
      /^function scan has a vpc setting of its own/,
    ],
    [
      "a function whose role is an ARN, not the stack's",
      (s) => {
        const scan = s.functions?.['scan'];
        if (scan) scan.role = 'arn:aws:iam::123456789012:role/elsewhere';
      },
      /^function scan: its role "arn:aws:iam::123456789012:role\/elsewhere" is not an AWS::IAM::Role/,
    ],
    [
      "a role whose Policies isn't a list",
      (s) => {
        const r = s.resources?.Resources?.['ScanRole'];
        if (r) r.Properties = { Policies: { Ref: 'Somewhere' } };
      },
      /^ScanRole: Properties\.Policies is not a list$/,
    ],
  ])('refuses %s and changes nothing', (_what, spoil, message) => {
    const s = service();
    spoil(s);
    const before = structuredClone(s);
    expect(refusal(() => applyVpc(s, vpc))).toMatch(message);
    expect(s).toEqual(before);
  });
});
