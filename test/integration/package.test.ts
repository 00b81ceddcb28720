import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actionsByRole,
  attOf,
  policyViolations,
  readZip,
  refOf,
  resourcePolicyViolations,
  resourcesOfType,
  Resolver,
  roleStatements,
  type CfnResource,
  type CfnTemplate,
  type Json,
  type JsonObject,
  type PolicyRules,
} from '../support/cfn';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { startLocalCloud } from '../../localcloud/index';
import { seedScenario } from '../../localcloud/scenario';
import { jenkinsCredential } from '../support/jenkins';
import { oneRotationKey } from '../support/one-rotation';

/**
 * Packages the stack the way CI does (`serverless package --stage ci`, offline) and checks the CloudFormation
 * it would deploy: functions, events, notifications, failure handling and, above all, the roles.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The `ci` stage's parameters in serverless.yml (its own values, else `params.default`). */
const CI: PolicyRules = {
  userPath: '/jenkins/',
  secretPrefix: 'jenkins/',
  tokenSecretPrefix: 'key-rotator/',
  crossAccountRoleName: 'jenkins-key-rotator-target',
};
const CONFIG_FILE = 'config/example.json';
const CONFIG = JSON.parse(
  await readFile(fileURLToPath(new URL(`../../${CONFIG_FILE}`, import.meta.url)), 'utf8'),
) as { notifications: { snsTopicArn: string; slackWebhookSecretId: string } };
const SERVICE = 'jenkins-key-rotator-ci';
const FUNCTIONS = ['rotate', 'scan', 'emergency'] as const;
type FunctionName = (typeof FUNCTIONS)[number];
const logicalId = (fn: FunctionName) => `${fn[0]?.toUpperCase()}${fn.slice(1)}LambdaFunction`;
const roleId = (fn: FunctionName) => `${fn[0]?.toUpperCase()}${fn.slice(1)}Role`;

/**
 * The permission table (docs/permissions.md): every action each function's role holds.
 * Adding an action to serverless.yml means adding it here and to docs/permissions.md.
 */
const EXPECTED_ACTIONS: Record<FunctionName, string[]> = {
  rotate: [
    'iam:CreateAccessKey',
    'iam:DeleteAccessKey',
    'iam:ListAccessKeys',
    'iam:ListUserTags',
    'iam:TagUser',
    'iam:UntagUser',
    'iam:UpdateAccessKey',
    'logs:CreateLogStream',
    'logs:PutLogEvents',
    'secretsmanager:DescribeSecret',
    'secretsmanager:GetSecretValue',
    'secretsmanager:PutSecretValue',
    'secretsmanager:UpdateSecretVersionStage',
    'sts:AssumeRole',
  ],
  scan: [
    'cloudtrail:DescribeTrails',
    'cloudtrail:GetEventSelectors',
    'cloudtrail:GetTrailStatus',
    'iam:DeleteAccessKey',
    'iam:GenerateCredentialReport',
    'iam:GetAccessKeyLastUsed',
    'iam:GetCredentialReport',
    'iam:GetGroupPolicy',
    'iam:GetLoginProfile',
    'iam:GetPolicy',
    'iam:GetPolicyVersion',
    'iam:GetUser',
    'iam:GetUserPolicy',
    'iam:ListAccessKeys',
    'iam:ListAttachedGroupPolicies',
    'iam:ListAttachedUserPolicies',
    'iam:ListGroupPolicies',
    'iam:ListGroupsForUser',
    'iam:ListMFADevices',
    'iam:ListUserPolicies',
    'iam:ListUserTags',
    'iam:ListUsers',
    'iam:TagUser',
    'iam:UntagUser',
    'iam:UpdateAccessKey',
    'lambda:InvokeFunction',
    'logs:CreateLogStream',
    'logs:PutLogEvents',
    's3:PutObject',
    'secretsmanager:DescribeSecret',
    'secretsmanager:GetSecretValue',
    'secretsmanager:ListSecretVersionIds',
    'secretsmanager:RotateSecret',
    'secretsmanager:UpdateSecretVersionStage',
    'sns:Publish',
    'sqs:SendMessage',
    'ssm:GetParameter',
    'ssm:PutParameter',
    'sts:AssumeRole',
  ],
  emergency: [
    'iam:CreateAccessKey',
    'iam:DeleteAccessKey',
    'iam:GetAccessKeyLastUsed',
    'iam:ListAccessKeys',
    'iam:ListUserTags',
    'iam:TagUser',
    'iam:UntagUser',
    'iam:UpdateAccessKey',
    'logs:CreateLogStream',
    'logs:PutLogEvents',
    'secretsmanager:DescribeSecret',
    'secretsmanager:GetSecretValue',
    'secretsmanager:PutSecretValue',
    'secretsmanager:UpdateSecretVersionStage',
    'sqs:SendMessage',
    'sts:AssumeRole',
  ],
};

const execFileP = promisify(execFile);
let dir = '';
let template: CfnTemplate;
let all: Resolver;
let exact: Resolver;

/** `serverless package --stage ci …`, offline, as CI runs it. */
const slsPackage = (...args: string[]) =>
  execFileP('npx', ['serverless', 'package', '--stage', 'ci', ...args], {
    cwd: ROOT,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
    timeout: 170_000,
    maxBuffer: 16 * 1024 * 1024,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'key-rotator-package-'));
  await slsPackage('--package', dir);
  template = JSON.parse(
    await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as CfnTemplate;
  all = new Resolver(template, 'all');
  exact = new Resolver(template, 'evaluate');
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const props = (r: CfnResource | undefined): JsonObject => r?.Properties ?? {};
const resource = (id: string): CfnResource => {
  const r = template.Resources[id];
  if (!r) throw new Error(`no resource ${id} in the packaged template`);
  return r;
};
const obj = (v: Json | undefined): JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
const fnArn = (fn: FunctionName) => attOf(logicalId(fn), 'Arn');
/** The rules whose targets include `fn`. */
const rulesTargeting = (fn: FunctionName) =>
  resourcesOfType(template, 'AWS::Events::Rule').filter(([, r]) =>
    all.list(props(r)['Targets']).some((t) => all.strings(obj(t)['Arn']).includes(fnArn(fn))),
  );
const invokePermissions = (fn: FunctionName, principal: string) =>
  resourcesOfType(template, 'AWS::Lambda::Permission').filter(
    ([, r]) =>
      exact.string(props(r)['Principal']) === principal &&
      exact.strings(props(r)['FunctionName']).some((f) => f === fnArn(fn) || f === refOf(logicalId(fn))),
  );
const topic = () => refOf('NotifyTopic');
/** The one element of `xs` (fails the test otherwise). */
function only<T>(xs: T[], what: string): T {
  expect(xs, what).toHaveLength(1);
  const [x] = xs;
  if (x === undefined) throw new Error(`no ${what}`);
  return x;
}
/** The resources `role` is allowed `action` on (in the template `r` reads). */
const grantedOn = (r: Resolver, role: string, action: string): string[] =>
  roleStatements(r.template, r)
    .filter((s) => s.role === role && s.effect === 'Allow' && s.actions.includes(action))
    .flatMap((s) => s.resources);

describe('serverless package --stage ci', () => {
  it('has the three functions on nodejs22.x, each with its handler, its own role and its log group', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id);
    expect(functions.sort()).toEqual(FUNCTIONS.map(logicalId).sort());
    for (const fn of FUNCTIONS) {
      const p = props(resource(logicalId(fn)));
      expect(p['Runtime']).toBe('nodejs22.x');
      expect(p['Handler']).toBe(`handlers/${fn}.handler`);
      expect(p['FunctionName']).toBe(`${SERVICE}-${fn}`);
      expect(p['Role']).toEqual({ 'Fn::GetAtt': [roleId(fn), 'Arn'] });
      expect(obj(obj(p['Environment'])['Variables'])['KEY_ROTATOR_CONFIG']).toBe(`./${CONFIG_FILE}`);
      const logGroups = resourcesOfType(template, 'AWS::Logs::LogGroup').map(
        ([, r]) => props(r)['LogGroupName'],
      );
      expect(logGroups).toContain(`/aws/lambda/${SERVICE}-${fn}`);
      // Only Lambda may assume the role.
      const trust = obj(props(resource(roleId(fn)))['AssumeRolePolicyDocument']);
      expect(trust['Statement']).toEqual([
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ]);
    }
  });

  it('runs the scan on the schedule, daily by default', () => {
    const [id, rule] = only(rulesTargeting('scan'), 'rule targeting the scan');
    expect(props(rule)['ScheduleExpression']).toBe('rate(1 day)');
    expect(props(rule)['State']).toBe('ENABLED');
    const permissions = invokePermissions('scan', 'events.amazonaws.com');
    expect(permissions.map(([, p]) => exact.string(props(p)['SourceArn']))).toEqual([attOf(id, 'Arn')]);
  });

  it('sends AWS Health AWS_RISK_CREDENTIALS_EXPOSED events to the emergency function', () => {
    const [, rule] = only(rulesTargeting('emergency'), 'rule targeting the emergency function');
    expect(props(rule)['EventPattern']).toEqual({
      source: ['aws.health'],
      'detail-type': ['AWS Health Event'],
      detail: { eventTypeCode: ['AWS_RISK_CREDENTIALS_EXPOSED'] },
    });
    expect(props(rule)['State']).toBe('ENABLED');
    const ruleName = exact.string(props(rule)['Name']);
    const permissions = invokePermissions('emergency', 'events.amazonaws.com');
    expect(permissions.map(([, p]) => exact.string(props(p)['SourceArn']))).toEqual([
      `arn:aws:events:us-east-1:123456789012:rule/${ruleName}`,
    ]);
    // Nothing else may invoke the emergency or the scan function.
    expect(invokePermissions('emergency', 'secretsmanager.amazonaws.com')).toEqual([]);
    expect(invokePermissions('scan', 'secretsmanager.amazonaws.com')).toEqual([]);
  });

  it('lets Secrets Manager invoke the rotation hook only on behalf of this account', () => {
    const [, permission] = only(
      invokePermissions('rotate', 'secretsmanager.amazonaws.com'),
      'Secrets Manager permission',
    );
    const p = props(permission);
    expect(exact.string(p['Action'])).toBe('lambda:InvokeFunction');
    expect(exact.string(p['SourceAccount'])).toBe('123456789012');
    expect(
      resourcesOfType(template, 'AWS::Lambda::Permission').map(([, r]) =>
        exact.string(props(r)['Principal']),
      ),
    ).not.toContain('sns.amazonaws.com');
  });

  it('notifies the topic the config names, else a topic of its own, and tells the scan which', () => {
    // config/example.json names a topic: the scan publishes there, so the stack uses it and creates none.
    const env = (fn: FunctionName) => obj(obj(props(resource(logicalId(fn)))['Environment'])['Variables']);
    expect(exact.exists('NotifyTopic')).toBe(false);
    expect(exact.string(env('scan')['NOTIFY_TOPIC_ARN'])).toBe(CONFIG.notifications.snsTopicArn);
    expect(grantedOn(exact, 'ScanRole', 'sns:Publish')).toEqual([CONFIG.notifications.snsTopicArn]);
    // With no topic named (notifyTopicArn parameter empty), the stack creates one and everything points at it.
    const own = new Resolver(template, 'evaluate', { CreateNotifyTopic: true });
    expect(resource('NotifyTopic').Type).toBe('AWS::SNS::Topic');
    expect(own.exists('NotifyTopic')).toBe(true);
    expect(own.string(env('scan')['NOTIFY_TOPIC_ARN'])).toBe(topic());
    expect(grantedOn(own, 'ScanRole', 'sns:Publish')).toEqual([topic()]);

    const scan = env('scan');
    expect(exact.string(scan['ROTATION_LAMBDA_ARN'])).toBe(fnArn('rotate'));
    expect(exact.string(scan['IAM_USER_PATH'])).toBe(CI.userPath);
    // RotateSecret needs lambda:InvokeFunction on the rotation function, and only that function.
    expect(grantedOn(exact, 'ScanRole', 'lambda:InvokeFunction')).toEqual([fnArn('rotate')]);
    // The webhook secret the config names, and only it, besides the managed-key secrets and the Jenkins tokens
    // (the repairs of stuck rotations put Jenkins back on the current key; the doctor action signs in to it).
    expect(grantedOn(exact, 'ScanRole', 'secretsmanager:GetSecretValue').sort()).toEqual(
      [
        `arn:aws:secretsmanager:us-east-1:123456789012:secret:${CI.secretPrefix}*`,
        `arn:aws:secretsmanager:us-east-1:123456789012:secret:${CI.tokenSecretPrefix}*`,
        `arn:aws:secretsmanager:us-east-1:123456789012:secret:${CONFIG.notifications.slackWebhookSecretId}-??????`,
      ].sort(),
    );
  });

  it("lets the scan keep the security checks' state and its checkpoint in their two SSM parameters, and read trails without changing them", () => {
    const env = obj(obj(props(resource(logicalId('scan')))['Environment'])['Variables']);
    const name = exact.string(env['CHECKS_STATE_PARAMETER']);
    expect(name).toBe('/jenkins-key-rotator/ci/checks-state');
    const checkpoint = exact.string(env['SCAN_CHECKPOINT_PARAMETER']);
    expect(checkpoint).toBe('/jenkins-key-rotator/ci/scan-checkpoint');
    for (const action of ['ssm:GetParameter', 'ssm:PutParameter'])
      expect(grantedOn(exact, 'ScanRole', action).sort()).toEqual(
        [
          `arn:aws:ssm:us-east-1:123456789012:parameter${name}`,
          `arn:aws:ssm:us-east-1:123456789012:parameter${checkpoint}`,
        ].sort(),
      );
    expect(grantedOn(exact, 'ScanRole', 'cloudtrail:DescribeTrails')).toEqual(['*']);
    expect(grantedOn(exact, 'ScanRole', 'iam:GetPolicyVersion').sort()).toEqual([
      'arn:aws:iam::123456789012:policy/*',
      'arn:aws:iam::aws:policy/*',
    ]);
  });

  it('reserves concurrency for the rotation hook (rotateReservedConcurrency, default 5), and for nothing else', () => {
    expect(props(resource(logicalId('rotate')))['ReservedConcurrentExecutions']).toBe(5);
    // The scan and each hook instance share the IAM rate by it (src/scan/rate.ts iamShare).
    for (const fn of ['rotate', 'scan'] as const)
      expect(obj(obj(props(resource(logicalId(fn)))['Environment'])['Variables'])['HOOK_CONCURRENCY']).toBe(
        '5',
      );
    for (const fn of ['scan', 'emergency'] as const)
      expect(props(resource(logicalId(fn)))['ReservedConcurrentExecutions']).toBeUndefined();
  });

  it('alarms on failed rotations and on rotate errors, notifying the topic', () => {
    const own = new Resolver(template, 'evaluate', { CreateNotifyTopic: true });
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([id, r]) => {
      const p = props(r);
      const dims = all
        .list(p['Dimensions'])
        .map((d) => `${exact.string(obj(d)['Name'])}=${exact.string(obj(d)['Value'])}`);
      return {
        id,
        metric: `${exact.string(p['Namespace'])}/${exact.string(p['MetricName'])}`,
        dims,
        actions: exact.list(p['AlarmActions']).flatMap((a) => exact.strings(a)),
        ownTopicActions: own.list(p['AlarmActions']).flatMap((a) => own.strings(a)),
      };
    });
    const on = (metric: string, dim?: string) =>
      alarms.filter((a) => a.metric === metric && (dim === undefined || a.dims.includes(dim)));
    const failedRotations = [
      ...on('JenkinsKeyRotator/RotationFailures'),
      ...on('AWS/Lambda/Errors', `FunctionName=${refOf('ScanLambdaFunction')}`),
    ];
    expect(failedRotations.length).toBeGreaterThan(0);
    expect(on('AWS/Lambda/Errors', `FunctionName=${refOf('RotateLambdaFunction')}`)).toHaveLength(1);
    for (const a of alarms) {
      expect(a.actions, a.id).toEqual([CONFIG.notifications.snsTopicArn]);
      expect(a.ownTopicActions, a.id).toEqual([topic()]);
    }
  });

  it('lets the scan write the key report under its prefix in the report bucket, and nowhere without one', () => {
    const env = obj(obj(props(resource(logicalId('scan')))['Environment'])['Variables']);
    // The ci stage names a bucket (serverless.yml); the prefix is the default.
    expect(exact.string(env['REPORT_BUCKET'])).toBe('example-key-reports');
    expect(exact.string(env['REPORT_PREFIX'])).toBe('key-rotator/');
    expect(grantedOn(exact, 'ScanRole', 's3:PutObject')).toEqual([
      'arn:aws:s3:::example-key-reports/key-rotator/*',
    ]);
    for (const fn of ['rotate', 'emergency'] as const)
      expect(grantedOn(all, roleId(fn), 's3:PutObject')).toEqual([]);
    // Without the reportBucket parameter the condition is false: no statement, no S3 permission at all.
    const none = new Resolver(template, 'evaluate', { HasReportBucket: false });
    expect(grantedOn(none, 'ScanRole', 's3:PutObject')).toEqual([]);
    expect(
      roleStatements(template, none).filter((st) => st.actions.some((a) => a.startsWith('s3:'))),
    ).toEqual([]);
  });

  it('parks failed asynchronous scan and emergency invocations in a queue kept 14 days', () => {
    for (const fn of ['scan', 'emergency'] as const) {
      const [, config] = only(
        resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').filter(
          ([, r]) => exact.string(props(r)['FunctionName']) === refOf(logicalId(fn)),
        ),
        `${fn} asynchronous invoke config`,
      );
      const destination = exact.string(
        obj(obj(props(config)['DestinationConfig'])['OnFailure'])['Destination'],
      );
      const queueId = /^«GetAtt:(\w+)\.Arn»$/.exec(destination)?.[1] ?? '';
      expect(resource(queueId).Type).toBe('AWS::SQS::Queue');
      expect(props(resource(queueId))['MessageRetentionPeriod']).toBe(14 * 24 * 3600);
      // Lambda sends to the destination with the function's own role.
      expect(grantedOn(exact, roleId(fn), 'sqs:SendMessage')).toEqual([destination]);
    }
  });

  it('gives each function exactly the permissions in the table', () => {
    const actual = Object.fromEntries(FUNCTIONS.map((fn) => [fn, actionsByRole(template).get(roleId(fn))]));
    expect(actual).toEqual(EXPECTED_ACTIONS);
  });

  it('grants no wildcard action, and IAM and Secrets Manager actions only on the configured path and prefixes', () => {
    expect(policyViolations(template, CI)).toEqual([]);
    expect(resourcePolicyViolations(template)).toEqual([]);
  });

  it('ships each function as its own bundle with the config file and without the local cloud', async () => {
    const zips = (await readdir(dir)).filter((f) => f.endsWith('.zip')).sort();
    expect(zips).toEqual(FUNCTIONS.map((fn) => `${fn}.zip`).sort());
    const config = await readFile(join(ROOT, CONFIG_FILE));
    for (const fn of FUNCTIONS) {
      const entries = readZip(await readFile(join(dir, `${fn}.zip`)));
      expect([...entries.keys()].sort(), fn).toEqual(
        [CONFIG_FILE, `handlers/${fn}.mjs`, `handlers/${fn}.mjs.map`].sort(),
      );
      expect(entries.get(CONFIG_FILE)?.equals(config), `${fn}: ${CONFIG_FILE}`).toBe(true);
      const bundle = entries.get(`handlers/${fn}.mjs`)?.toString('utf8') ?? '';
      expect(bundle).toMatch(/export\s*\{[^}]*\bhandler\b[^}]*\}/);
      expect(emulatorTraces(bundle), fn).toEqual([]);
      const map = JSON.parse(entries.get(`handlers/${fn}.mjs.map`)?.toString('utf8') ?? '{}') as {
        sources?: string[];
      };
      expect(map.sources?.length).toBeGreaterThan(0);
      // The bundle is minified; its source map says which handler it was built from.
      expect(map.sources?.some((s) => s.endsWith(`handlers/${fn}.ts`))).toBe(true);
      expect(
        map.sources?.filter((s) => /localcloud|\/test\/|\/scripts\//.test(s)),
        fn,
      ).toEqual([]);
    }
  });
});

describe('serverless package --stage ci with the VPC parameters (Jenkins on a private network)', () => {
  const SUBNETS = ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'];
  const GROUPS = ['sg-0123456789abcdef0', 'sg-0fedcba9876543210'];
  /** What Lambda needs to manage a function's network interfaces (serverless/vpc-config.ts). */
  const EC2_ACTIONS = [
    'ec2:AssignPrivateIpAddresses',
    'ec2:CreateNetworkInterface',
    'ec2:DeleteNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSubnets',
    'ec2:UnassignPrivateIpAddresses',
  ];
  let vpc: CfnTemplate;

  beforeAll(async () => {
    const out = join(dir, 'vpc');
    // Spaces after the commas, as people type them.
    await slsPackage(
      '--param',
      `vpcSubnetIds=${SUBNETS.join(',')}`,
      '--param',
      `vpcSecurityGroupIds=${GROUPS.join(', ')}`,
      '--package',
      out,
    );
    vpc = JSON.parse(
      await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as CfnTemplate;
  }, 180_000);

  const vpcConfig = (t: CfnTemplate, fn: FunctionName) =>
    t.Resources[logicalId(fn)]?.Properties?.['VpcConfig'];

  it('runs every function in the subnets with the security groups; without the parameters, none', () => {
    for (const fn of FUNCTIONS) {
      expect(vpcConfig(vpc, fn), fn).toEqual({ SubnetIds: SUBNETS, SecurityGroupIds: GROUPS });
      expect(vpcConfig(template, fn), fn).toBeUndefined();
    }
    expect(JSON.stringify(template)).not.toMatch(/VpcConfig|ec2:|vpc-network-interfaces/);
  });

  it('changes nothing else: without the VpcConfig and the network-interface policies it is the template without the parameters', () => {
    /** The template without what the parameters add, and without what differs between any two runs. */
    const stripped = (t: CfnTemplate): unknown => {
      const copy = structuredClone(t);
      for (const fn of FUNCTIONS) delete copy.Resources[logicalId(fn)]?.Properties?.['VpcConfig'];
      for (const fn of FUNCTIONS) {
        const p = copy.Resources[roleId(fn)]?.Properties;
        if (p && Array.isArray(p['Policies']))
          p['Policies'] = p['Policies'].filter((x) => obj(x)['PolicyName'] !== 'vpc-network-interfaces');
      }
      return JSON.parse(
        JSON.stringify(copy)
          // The artifacts' S3 folder is named after the time of packaging.
          .replace(/\/\d{13}-[0-9TZ:.-]+\//g, '/<time>/')
          // Version resources are named after a hash of the function's properties, VpcConfig included.
          .replace(/(\w+)LambdaVersion\w+/g, '$1LambdaVersion<hash>'),
      );
    };
    expect(stripped(vpc)).toEqual(stripped(template));
  });

  it('gives each role the network-interface actions Lambda needs, and nothing else', () => {
    const actual = Object.fromEntries(FUNCTIONS.map((fn) => [fn, actionsByRole(vpc).get(roleId(fn))]));
    expect(actual).toEqual(
      Object.fromEntries(FUNCTIONS.map((fn) => [fn, [...EXPECTED_ACTIONS[fn], ...EC2_ACTIONS].sort()])),
    );
    const r = new Resolver(vpc, 'all');
    const ec2 = 'arn:aws:ec2:us-east-1:123456789012:';
    for (const fn of FUNCTIONS) {
      const role = roleId(fn);
      // New interfaces only in the configured subnets, with the configured security groups.
      expect(grantedOn(r, role, 'ec2:CreateNetworkInterface').sort()).toEqual(
        [
          `${ec2}network-interface/*`,
          ...SUBNETS.map((id) => `${ec2}subnet/${id}`),
          ...GROUPS.map((id) => `${ec2}security-group/${id}`),
        ].sort(),
      );
      for (const action of [
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ])
        expect(grantedOn(r, role, action), `${role} ${action}`).toEqual([`${ec2}network-interface/*`]);
      for (const action of ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'])
        expect(grantedOn(r, role, action), `${role} ${action}`).toEqual(['*']);
    }
  });

  it('grants no wildcard action and passes the least-privilege checks', () => {
    expect(policyViolations(vpc, CI)).toEqual([]);
    expect(resourcePolicyViolations(vpc)).toEqual([]);
  });
});

describe('the target-account role (deploy/target-account-role.json)', () => {
  let target: CfnTemplate;
  beforeAll(async () => {
    target = JSON.parse(
      await readFile(
        fileURLToPath(new URL('../../deploy/target-account-role.json', import.meta.url)),
        'utf8',
      ),
    ) as CfnTemplate;
  });
  /**
   * What the functions may do to users, groups, policies and trails: what they may do in another account. The
   * account-wide inventory is not among it: in other accounts the managed users are read directly.
   */
  const ACCOUNT_INVENTORY = new Set([
    'iam:GenerateCredentialReport',
    'iam:GetCredentialReport',
    'iam:ListUsers',
  ]);
  const inAccountActions = (t: CfnTemplate) =>
    new Set(
      [...actionsByRole(t).values()]
        .flat()
        .filter((a) => /^(iam|cloudtrail):/.test(a) && !ACCOUNT_INVENTORY.has(a)),
    );

  it("passes the same least-privilege checks as the stack's roles (it serves no function of its own)", () => {
    expect(
      policyViolations(target, { ...CI, userPath: '/jenkins/' }).filter(
        (v) => !/used by 0 functions/.test(v),
      ),
    ).toEqual([]);
  });

  it('holds exactly the user, group, policy and trail actions the three functions hold, nothing more', () => {
    expect([...inAccountActions(target)].sort()).toEqual([...inAccountActions(template)].sort());
  });

  it("trusts only the stack's roles of that stage, with the external id", () => {
    const doc = obj(props(target.Resources['TargetRole'])['AssumeRolePolicyDocument']);
    const r = new Resolver(target, 'evaluate');
    const [st] = r.list(doc['Statement']).map(obj);
    expect(r.string(obj(st?.['Principal'])['AWS'])).toBe('arn:aws:iam::111122223333:root');
    const cond = obj(st?.['Condition']);
    expect(r.string(obj(cond['StringEquals'])['sts:ExternalId'])).toBe('jenkins-key-rotator');
    const pattern = r.string(obj(cond['ArnLike'])['aws:PrincipalArn']);
    // CloudFormation names a role without RoleName <stack>-<logical id>-<suffix>; the stack is <service>-<stage>.
    const like = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    expect(like.test('arn:aws:iam::111122223333:role/jenkins-key-rotator-prod-ScanRole-1AB2C3D4E5F6')).toBe(
      true,
    );
    expect(like.test('arn:aws:iam::111122223333:role/jenkins-key-rotator-dev-ScanRole-1AB2C3D4E5F6')).toBe(
      false,
    );
    expect(like.test('arn:aws:iam::111122223333:role/admin')).toBe(false);
    for (const id of ['RotateRole', 'ScanRole', 'EmergencyRole'])
      expect(
        template.Resources[id]?.Properties?.['RoleName'],
        `${id} keeps its generated name`,
      ).toBeUndefined();
  });
});

describe('without its configuration', () => {
  it('refuses to package, naming the missing file and the commands that create and check it', async () => {
    const out = join(dir, 'not-packaged');
    const failure = (await slsPackage('--param', 'configFile=config/missing.json', '--package', out).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; stdout?: string; stderr?: string } | undefined;
    expect(failure?.code).toBe(1);
    const said = `${failure?.stdout ?? ''}${failure?.stderr ?? ''}`;
    expect(said).toContain(
      'The configuration file config/missing.json (parameter configFile of stage ci) does not exist.',
    );
    expect(said).toContain('  cp config/example.json config/missing.json\n');
    expect(said).toContain('  npx key-rotator validate-config config/missing.json --stage ci\n');
    // Nothing was built.
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

/** Strings only the local cloud (the AWS and Jenkins emulators) contains. */
function emulatorTraces(code: string): string[] {
  return [/localcloud/i, /no AWS endpoint is configured for this emulator/]
    .filter((re) => re.test(code))
    .map(String);
}

describe('the checks themselves', () => {
  const role = (statements: Json[], name = 'ScanRole'): [string, CfnResource] => [
    name,
    {
      Type: 'AWS::IAM::Role',
      Properties: {
        Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
      },
    },
  ];
  /** A copy of the packaged template with ScanRole's statements replaced. */
  const withScanStatements = (...statements: Json[]): CfnTemplate => {
    const copy = structuredClone(template);
    const [, r] = role(statements);
    copy.Resources['ScanRole'] = r;
    return copy;
  };
  const allow = (Action: Json, Resource: Json): Json => ({ Effect: 'Allow', Action, Resource });
  const sub = (s: string): Json => ({ 'Fn::Sub': s });
  const violations = (t: CfnTemplate) => policyViolations(t, CI);
  /** ScanRole's violations only: the checks below hold whatever the rest of the template is. */
  const scanViolations = (t: CfnTemplate) => violations(t).filter((v) => v.startsWith('ScanRole'));
  const LOGS = sub(
    'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/jenkins-key-rotator-ci-scan:*',
  );

  it('accepts a minimal valid role', () => {
    expect(scanViolations(withScanStatements(allow(['logs:PutLogEvents'], LOGS)))).toEqual([]);
  });

  it.each<[string, Json]>([
    ['a wildcard action', allow('iam:*', sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:user/jenkins/*'))],
    [
      'a partial wildcard action',
      allow(
        'secretsmanager:Get*',
        sub('arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:jenkins/*'),
      ),
    ],
    ['a Deny with a wildcard action', { Effect: 'Deny', Action: 's3:*', Resource: '*' }],
    ['NotAction', { Effect: 'Allow', NotAction: 'iam:DeleteUser', Resource: '*' }],
    ['a key action on "*"', allow('iam:UpdateAccessKey', '*')],
    [
      'a key action on every user',
      allow('iam:CreateAccessKey', sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*')),
    ],
    [
      'a key action in another account',
      allow('iam:DeleteAccessKey', 'arn:aws:iam::999999999999:user/jenkins/*'),
    ],
    [
      'a write on the token secrets',
      allow(
        'secretsmanager:PutSecretValue',
        sub('arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:key-rotator/*'),
      ),
    ],
    [
      'a read on every secret',
      allow(
        'secretsmanager:GetSecretValue',
        sub('arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*'),
      ),
    ],
    ['RotateSecret on "*"', allow('secretsmanager:RotateSecret', '*')],
    ['AssumeRole on any role', allow('sts:AssumeRole', 'arn:aws:iam::*:role/*')],
    [
      'logs of another function',
      allow(
        'logs:PutLogEvents',
        sub(
          'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/jenkins-key-rotator-ci-rotate:*',
        ),
      ),
    ],
    ['publishing to every topic', allow('sns:Publish', 'arn:aws:sns:us-east-1:123456789012:*')],
    [
      'network interfaces in any subnet',
      allow('ec2:CreateNetworkInterface', 'arn:aws:ec2:us-east-1:123456789012:subnet/*'),
    ],
    ['an EC2 action on "*"', allow('ec2:DeleteNetworkInterface', '*')],
    [
      'a write on every group',
      allow('iam:PutGroupPolicy', sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:group/*')),
    ],
    [
      'a read of the checks on every user',
      allow('iam:GetPolicy', sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*')),
    ],
    ['a trail write', allow('cloudtrail:StopLogging', 'arn:aws:cloudtrail:*:*:trail/*')],
    ['report writes in every bucket', allow('s3:PutObject', 'arn:aws:s3:::*/key-rotator/*')],
    ['a read of the report bucket', allow('s3:GetObject', 'arn:aws:s3:::example-key-reports/key-rotator/*')],
    ['report writes on a bucket, not its objects', allow('s3:PutObject', 'arn:aws:s3:::example-key-reports')],
    ['a trail read on "*" that has resource-level permissions', allow('cloudtrail:GetTrailStatus', '*')],
    [
      'network interfaces of another account',
      allow('ec2:DeleteNetworkInterface', 'arn:aws:ec2:us-east-1:999999999999:network-interface/*'),
    ],
    [
      'an EC2 action Lambda does not need',
      allow('ec2:AttachNetworkInterface', 'arn:aws:ec2:us-east-1:123456789012:network-interface/*'),
    ],
    [
      'a wildcard in one branch of Fn::If',
      { 'Fn::If': ['HasSlackWebhook', allow('secretsmanager:*', '*'), { Ref: 'AWS::NoValue' }] },
    ],
    [
      'a wildcard resource in one branch of Fn::Join',
      allow('iam:ListAccessKeys', {
        'Fn::Join': [
          '',
          ['arn:aws:iam::123456789012:user', { 'Fn::If': ['HasSlackWebhook', '/jenkins/', '/'] }, '*'],
        ],
      }),
    ],
  ])('reports %s', (_name, statement) => {
    expect(scanViolations(withScanStatements(allow(['logs:PutLogEvents'], LOGS), statement))).not.toEqual([]);
  });

  it('reports managed policies and a role shared by two functions', () => {
    const managed = structuredClone(template);
    const scanRole = managed.Resources['ScanRole'];
    if (scanRole?.Properties)
      scanRole.Properties['ManagedPolicyArns'] = ['arn:aws:iam::aws:policy/AdministratorAccess'];
    expect(violations(managed).join('\n')).toMatch(/ScanRole: managed policies/);
    const shared = structuredClone(template);
    const emergency = shared.Resources['EmergencyLambdaFunction'];
    if (emergency?.Properties) emergency.Properties['Role'] = { 'Fn::GetAtt': ['ScanRole', 'Arn'] };
    expect(violations(shared).join('\n')).toMatch(/ScanRole: used by 2 functions/);
  });

  it('reports a wildcard in a separate AWS::IAM::Policy attached to a role', () => {
    const t = structuredClone(template);
    t.Resources['Extra'] = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'extra',
        Roles: [{ Ref: 'RotateRole' }],
        PolicyDocument: { Statement: [allow('secretsmanager:*', '*')] },
      },
    };
    expect(violations(t).join('\n')).toMatch(/RotateRole\/Extra: wildcard action secretsmanager:\*/);
  });

  it('reports resource policies that allow anything to anyone', () => {
    const t = structuredClone(template);
    t.Resources['OpenQueuePolicy'] = {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [],
        PolicyDocument: { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sqs:*', Resource: '*' }] },
      },
    };
    t.Resources['OpenPermission'] = {
      Type: 'AWS::Lambda::Permission',
      Properties: { FunctionName: 'x', Action: 'lambda:*', Principal: '*' },
    };
    expect(resourcePolicyViolations(t)).toHaveLength(4);
  });

  it('resolves Fn::Sub, Fn::Join and both branches of Fn::If the way the packaged JSON uses them', () => {
    expect(
      all.strings(
        sub('arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${ScanLambdaFunction.Arn}/${!literal}'),
      ),
    ).toEqual([`arn:aws:x:us-east-1:123456789012:${fnArn('scan')}/\${literal}`]);
    expect(
      all.strings({
        'Fn::Join': [':', ['a', { Ref: 'AWS::Region' }, { 'Fn::If': ['CreateNotifyTopic', 'b', 'c'] }]],
      }),
    ).toEqual(['a:us-east-1:b', 'a:us-east-1:c']);
    // ci's config names a topic, so CreateNotifyTopic is false; an override looks at the other branch.
    expect(exact.strings({ 'Fn::If': ['CreateNotifyTopic', 'b', 'c'] })).toEqual(['c']);
    expect(
      new Resolver(template, 'evaluate', { CreateNotifyTopic: true }).strings({
        'Fn::If': ['CreateNotifyTopic', 'b', 'c'],
      }),
    ).toEqual(['b']);
    // An unset parameter's empty branch grants nothing.
    expect(all.strings({ 'Fn::If': ['HasSlackWebhook', 'x', ''] })).toEqual(['x']);
    expect(() => all.strings({ 'Fn::ImportValue': 'x' })).toThrow(/unsupported/);
  });

  it('finds the local cloud in a bundle that includes it', async () => {
    const out = await build({
      entryPoints: [join(ROOT, 'localcloud/index.ts')],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]?.text ?? '';
    expect(emulatorTraces(code).length).toBeGreaterThan(0);
  });

  it('reads zip entries, and refuses what is not a zip', async () => {
    const entries = readZip(await readFile(join(dir, 'rotate.zip')));
    expect(entries.get(CONFIG_FILE)?.toString('utf8')).toBe(await readFile(join(ROOT, CONFIG_FILE), 'utf8'));
    expect(() => readZip(Buffer.from('not a zip, just some bytes long enough to search'))).toThrow(
      /not a zip/,
    );
  });
});

describe('source maps: shipped always, enabled only by the sourceMaps stage parameter', () => {
  const nodeOptions = (t: CfnTemplate, fn: FunctionName) =>
    new Resolver(t, 'evaluate').strings(
      obj(obj(t.Resources[logicalId(fn)]?.Properties?.['Environment'])['Variables'])['NODE_OPTIONS'],
    );

  it('by default no function has NODE_OPTIONS, and each zip still holds its map', () => {
    for (const fn of FUNCTIONS) expect(nodeOptions(template, fn), fn).toEqual([]);
  });

  it('with --param sourceMaps=true every function runs with --enable-source-maps', async () => {
    const out = join(dir, 'source-maps');
    await slsPackage('--param', 'sourceMaps=true', '--package', out);
    const t = JSON.parse(
      await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as CfnTemplate;
    for (const fn of FUNCTIONS) expect(nodeOptions(t, fn), fn).toEqual(['--enable-source-maps']);
  }, 180_000);
});

describe('the packaged rotate bundle, run as Lambda would run it', () => {
  it('rotates a key on the local cloud: the SDK, zod, axios without form-data, the Jenkins client', async () => {
    const work = await mkdtemp(join(tmpdir(), 'key-rotator-bundle-'));
    const cloud = await startLocalCloud();
    try {
      const entries = readZip(await readFile(join(dir, 'rotate.zip')));
      const bundle = join(work, 'rotate.mjs');
      await writeFile(bundle, entries.get('handlers/rotate.mjs') ?? '');
      const { config } = await seedScenario(cloud, [oneRotationKey('packaged')]);
      const configFile = join(work, 'config.json');
      await writeFile(configFile, JSON.stringify(config));
      const arn = 'arn:aws:lambda:us-east-1:111122223333:function:packaged-rotate';
      // Each step in a fresh process, importing the bundle cold, with nothing but what Lambda would set.
      const env = {
        PATH: process.env['PATH'] ?? '',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL: cloud.aws.url,
        AWS_ACCESS_KEY_ID: cloud.aws.admin.accessKeyId,
        AWS_SECRET_ACCESS_KEY: cloud.aws.admin.secretAccessKey,
        KEY_ROTATOR_CONFIG: configFile,
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      };
      const script = `const { handler } = await import(${JSON.stringify(bundle)});
        const context = { functionName: 'packaged-rotate', awsRequestId: 'r', getRemainingTimeInMillis: () => 300000 };
        await handler(JSON.parse(process.env.EVENT), context);`;
      cloud.aws.state.rotationFunctions.set(arn, async (event: unknown) => {
        await execFileP(process.execPath, ['--input-type=module', '-e', script], {
          env: { ...env, EVENT: JSON.stringify(event) },
          timeout: 60_000,
        });
      });
      const sm = new SecretsManagerClient(cloud.aws.adminClientConfig('us-east-1'));
      try {
        await sm.send(
          new RotateSecretCommand({ SecretId: 'jenkins/packaged/aws-key', RotationLambdaARN: arn }),
        );
      } finally {
        sm.destroy();
      }
      await waitForRotations(cloud.aws.state, 120_000);
      const run = cloud.aws.state.rotations.at(-1);
      expect(run?.steps, JSON.stringify(run?.steps)).toEqual(
        ['createSecret', 'setSecret', 'testSecret', 'finishSecret'].map((step) => ({ step, ok: true })),
      );
      // Jenkins was written through axios: both credentials hold the key the secret now has.
      const keys = cloud.aws.state.keysOf(cloud.aws.admin.accountId, 'jenkins-packaged');
      const active = keys.filter((k) => k.status === 'Active').map((k) => k.accessKeyId);
      expect(keys).toHaveLength(2);
      expect(active).toHaveLength(1);
      expect((await jenkinsCredential(cloud, 'system', 'aws-packaged'))['accessKey']).toBe(active[0]);
    } finally {
      await cloud.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);
});
