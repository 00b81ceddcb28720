import {
  CloudTrailClient,
  LookupEventsCommand,
  type Event as TrailEvent,
  type LookupAttributeKey,
  type LookupEventsCommandInput,
} from '@aws-sdk/client-cloudtrail';
import {
  CreateRepositoryCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  PutImageCommand,
} from '@aws-sdk/client-ecr';
import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, STSClient, type Credentials } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws, type Creds } from '../support/aws';
import { pushImage } from './images';
import { signJwt, startIssuer, type TestIssuer } from './oidc-issuer';
import { policyDoc, userClients } from './users';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const ROLE = 'jenkins-push';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/${ROLE}`;
const SUB = 'job/team-a/deploy';

let aws: AwsEmulator;
let issuer: TestIssuer;
let trail: CloudTrailClient;
let providerArn: string;
let jwt: string;
let session: Creds & { sessionToken: string; expiration: Date };

/** The emulator-issued session of the last successful web identity call, and the AssumeRole output. */
async function assumeWithWebIdentity(sub = SUB) {
  const anonymous = new STSClient({ region: REGION, endpoint: aws.url, maxAttempts: 1 });
  jwt = signJwt(issuer.keys[0]!, issuer.claims(aws.state.now(), { sub }));
  try {
    return await anonymous.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: ROLE_ARN,
        RoleSessionName: 'build-42',
        WebIdentityToken: jwt,
      }),
    );
  } finally {
    anonymous.destroy();
  }
}

const credsOf = (c: Credentials | undefined) => ({
  accessKeyId: c!.AccessKeyId!,
  secretAccessKey: c!.SecretAccessKey!,
  sessionToken: c!.SessionToken!,
  expiration: c!.Expiration!,
});

const lookup = async (input: LookupEventsCommandInput = {}, client = trail) =>
  (await client.send(new LookupEventsCommand(input))).Events ?? [];

const byAttribute = (AttributeKey: LookupAttributeKey, AttributeValue: string) =>
  lookup({ LookupAttributes: [{ AttributeKey, AttributeValue }] });

/** The CloudTrailEvent document of an event. */
const detail = (e: TrailEvent | undefined) => JSON.parse(e!.CloudTrailEvent!) as Record<string, unknown>;

beforeAll(async () => {
  aws = await startAws();
  issuer = await startIssuer();
  const iam = new IAMClient(clientConfig(aws.url, aws.admin));
  trail = new CloudTrailClient(clientConfig(aws.url, aws.admin));
  providerArn = (
    await iam.send(
      new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: ['sts.amazonaws.com'] }),
    )
  ).OpenIDConnectProviderArn!;
  const key = issuer.url.slice('http://'.length);
  await iam.send(
    new CreateRoleCommand({
      RoleName: ROLE,
      AssumeRolePolicyDocument: JSON.stringify({
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Federated: providerArn },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: { StringEquals: { [`${key}:sub`]: SUB } },
          },
        ],
      }),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: ROLE,
      PolicyName: 'push',
      PolicyDocument: policyDoc(
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Effect: 'Allow', Action: 'ecr:*', Resource: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/app` },
      ),
    }),
  );
  iam.destroy();
  const admin = new ECRClient(clientConfig(aws.url, aws.admin));
  await admin.send(new CreateRepositoryCommand({ repositoryName: 'app' }));
  admin.destroy();

  // A refused attempt, then a session that logs in to ECR and pushes an image.
  await expect(assumeWithWebIdentity('job/team-b/deploy')).rejects.toMatchObject({ Code: 'AccessDenied' });
  session = credsOf((await assumeWithWebIdentity()).Credentials);
  const ecr = new ECRClient(clientConfig(aws.url, session));
  await ecr.send(new GetAuthorizationTokenCommand({}));
  await pushImage(ecr, 'app', 'v1');
  await expect(
    ecr.send(new PutImageCommand({ repositoryName: 'other', imageManifest: '{}' })),
  ).rejects.toMatchObject({
    name: 'AccessDeniedException',
  });
  ecr.destroy();
});
afterAll(async () => {
  trail.destroy();
  await issuer.close();
  await aws.close();
});

describe('AssumeRoleWithWebIdentity in the event history', () => {
  it('is recorded as CloudTrail records it: a WebIdentityUser of the provider, never a credential', async () => {
    const events = await byAttribute('EventName', 'AssumeRoleWithWebIdentity');
    expect(events).toHaveLength(2);
    const [ok, refused] = events;
    expect(ok).toMatchObject({
      EventName: 'AssumeRoleWithWebIdentity',
      EventSource: 'sts.amazonaws.com',
      ReadOnly: 'true',
      Username: SUB,
      Resources: [
        { ResourceType: 'AWS::IAM::Role', ResourceName: ROLE_ARN },
        { ResourceType: 'AWS::IAM::AccessKey', ResourceName: session.accessKeyId },
        {
          ResourceType: 'AWS::STS::AssumedRole',
          ResourceName: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/build-42`,
        },
      ],
    });
    expect(ok?.EventTime).toBeInstanceOf(Date);
    const event = detail(ok);
    expect(event).toMatchObject({
      eventVersion: '1.08',
      userIdentity: {
        type: 'WebIdentityUser',
        principalId: `${providerArn}:sts.amazonaws.com:${SUB}`,
        userName: SUB,
        identityProvider: providerArn,
      },
      eventSource: 'sts.amazonaws.com',
      eventName: 'AssumeRoleWithWebIdentity',
      awsRegion: REGION,
      requestParameters: { roleArn: ROLE_ARN, roleSessionName: 'build-42' },
      responseElements: {
        credentials: { accessKeyId: session.accessKeyId },
        subjectFromWebIdentityToken: SUB,
        assumedRoleUser: { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/build-42` },
        provider: providerArn,
        audience: 'sts.amazonaws.com',
      },
      additionalEventData: { identityProviderConnectionVerificationMethod: 'IAMTrustStore' },
      readOnly: true,
      resources: [{ accountId: ACCOUNT, type: 'AWS::IAM::Role', ARN: ROLE_ARN }],
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: ACCOUNT,
      eventCategory: 'Management',
    });
    // CloudTrail's own format for the expiration.
    const { credentials } = event['responseElements'] as { credentials: Record<string, unknown> };
    expect(credentials['expiration']).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$/);
    const text = ok!.CloudTrailEvent!;
    for (const secret of [session.secretAccessKey, session.sessionToken, jwt])
      expect(text).not.toContain(secret);
    expect(credentials).not.toHaveProperty('sessionToken');

    expect(detail(refused)).toMatchObject({
      userIdentity: { type: 'WebIdentityUser', userName: 'job/team-b/deploy' },
      errorCode: 'AccessDenied',
      errorMessage: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
      responseElements: null,
    });
  });
});

describe('ECR calls of a web identity session', () => {
  it('show an AssumedRole identity whose session came from the provider', async () => {
    const events = await byAttribute('AccessKeyId', session.accessKeyId);
    expect(events.map((e) => e.EventName)).toEqual(['PutImage', 'PutImage', 'GetAuthorizationToken']);
    const [denied, pushed, login] = events;
    const identity = {
      type: 'AssumedRole',
      principalId: expect.stringMatching(/^AROA[A-Z2-7]{17}:build-42$/) as unknown,
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/build-42`,
      accountId: ACCOUNT,
      accessKeyId: session.accessKeyId,
      sessionContext: {
        sessionIssuer: { type: 'Role', arn: ROLE_ARN, accountId: ACCOUNT, userName: ROLE },
        webIdFederationData: { federatedProvider: providerArn, attributes: {} },
        attributes: { mfaAuthenticated: 'false' },
      },
    };
    expect(login).toMatchObject({ EventSource: 'ecr.amazonaws.com', Username: 'build-42', ReadOnly: 'true' });
    expect(detail(login)).toMatchObject({
      userIdentity: identity,
      requestParameters: null,
      responseElements: null,
    });
    expect(pushed).toMatchObject({
      ReadOnly: 'false',
      Resources: [
        {
          ResourceType: 'AWS::ECR::Repository',
          ResourceName: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/app`,
        },
      ],
    });
    expect(detail(pushed)).toMatchObject({
      userIdentity: identity,
      requestParameters: { repositoryName: 'app', imageTag: 'v1' },
      responseElements: { image: { repositoryName: 'app', imageId: { imageTag: 'v1' } } },
    });
    expect(detail(denied)).toMatchObject({
      errorCode: 'AccessDeniedException',
      requestParameters: { repositoryName: 'other' },
      responseElements: null,
    });
    // The role session ARN's resource finds the STS event that created it.
    const created = await byAttribute(
      'ResourceName',
      `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/build-42`,
    );
    expect(created.map((e) => e.EventName)).toEqual(['AssumeRoleWithWebIdentity']);
  });

  it('an IAM user appears as IAMUser', async () => {
    const { ecr, user, creds } = userClients(aws, 'plain-user', {
      permissions: [{ effect: 'Allow', actions: ['ecr:GetAuthorizationToken'] }],
    });
    await ecr.send(new GetAuthorizationTokenCommand({}));
    const [event] = await byAttribute('Username', 'plain-user');
    expect(detail(event).userIdentity).toEqual({
      type: 'IAMUser',
      principalId: user.userId,
      arn: user.arn,
      accountId: ACCOUNT,
      accessKeyId: creds.accessKeyId,
      userName: 'plain-user',
    });
    ecr.destroy();
  });
});

describe('LookupEvents', () => {
  it('pages newest first with MaxResults and a NextToken bound to the query', async () => {
    const all = await lookup();
    expect(all.length).toBeGreaterThanOrEqual(6);
    const times = all.map((e) => e.EventTime!.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const ids: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await trail.send(
        new LookupEventsCommand({ MaxResults: 2, ...(NextToken ? { NextToken } : {}) }),
      );
      expect(page.Events!.length).toBeLessThanOrEqual(2);
      ids.push(...page.Events!.map((e) => e.EventId!));
      NextToken = page.NextToken;
    } while (NextToken);
    expect(ids).toEqual(all.map((e) => e.EventId));
    const first = await trail.send(new LookupEventsCommand({ MaxResults: 1 }));
    await expect(
      trail.send(
        new LookupEventsCommand({
          MaxResults: 1,
          NextToken: first.NextToken,
          LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'PutImage' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidNextTokenException' });
  });

  it('filters by time range, region and account, and checks its input as CloudTrail does', async () => {
    const now = new Date(aws.state.now());
    expect(await lookup({ EndTime: new Date(now.getTime() - 3_600_000) })).toEqual([]);
    expect((await lookup({ StartTime: new Date(now.getTime() - 3_600_000) })).length).toBeGreaterThan(0);
    const west = new CloudTrailClient(clientConfig(aws.url, aws.admin, 'eu-west-1'));
    expect(await lookup({}, west)).toEqual([]);
    west.destroy();
    const cases: [LookupEventsCommandInput, string][] = [
      [
        {
          LookupAttributes: [
            { AttributeKey: 'EventName', AttributeValue: 'PutImage' },
            { AttributeKey: 'Username', AttributeValue: 'x' },
          ],
        },
        'InvalidLookupAttributesException',
      ],
      [{ StartTime: now, EndTime: new Date(now.getTime() - 1000) }, 'InvalidTimeRangeException'],
      [{ MaxResults: 51 }, 'InvalidMaxResultsException'],
      [{ NextToken: 'garbage' }, 'InvalidNextTokenException'],
    ];
    for (const [input, name] of cases) await expect(lookup(input)).rejects.toMatchObject({ name });
  });

  it('shows an event only once the configured delivery delay has passed', async () => {
    const config = (body: unknown) =>
      fetch(`${aws.url}/_localcloud/config`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await config({ trailDelayMs: 300_000 });
    try {
      const { ecr } = userClients(aws, 'late-user', {
        permissions: [{ effect: 'Allow', actions: ['ecr:GetAuthorizationToken'] }],
      });
      await ecr.send(new GetAuthorizationTokenCommand({}));
      ecr.destroy();
      expect(await byAttribute('Username', 'late-user')).toEqual([]);
      aws.state.clockOffsetMs += 300_000;
      expect(await byAttribute('Username', 'late-user')).toHaveLength(1);
    } finally {
      await config({ trailDelayMs: 0 });
      aws.state.clockOffsetMs = 0;
    }
  });

  it('needs cloudtrail:LookupEvents', async () => {
    const { iam, user, creds } = userClients(aws, 'no-trail-reader', {
      permissions: [{ effect: 'Allow', actions: ['iam:*'] }],
    });
    iam.destroy();
    const client = new CloudTrailClient(clientConfig(aws.url, creds));
    await expect(lookup({}, client)).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: `User: ${user.arn} is not authorized to perform: cloudtrail:LookupEvents on resource: *`,
    });
    client.destroy();
  });
});

it('records nothing for a login denied before its identity is known', async () => {
  const before = aws.state.trailEvents.length;
  const denied = new ECRClient(
    clientConfig(aws.url, { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x'.repeat(40) }),
  );
  await expect(denied.send(new GetAuthorizationTokenCommand({}))).rejects.toMatchObject({
    name: 'UnrecognizedClientException',
  });
  denied.destroy();
  expect(aws.state.trailEvents.length).toBe(before);
});
