import {
  CloudTrailClient,
  CreateTrailCommand,
  DeleteTrailCommand,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  ListTrailsCommand,
  PutEventSelectorsCommand,
  StartLoggingCommand,
  StopLoggingCommand,
} from '@aws-sdk/client-cloudtrail';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import type { Statement } from '../../localcloud/aws/state';
import { clientConfig, startAws } from '../support/aws';
import { userWithKey } from './users';

const ACCOUNT = '111122223333';
const trailArn = (region: string, name: string) => `arn:aws:cloudtrail:${region}:${ACCOUNT}:trail/${name}`;

let aws: AwsEmulator;
const clients = new Map<string, CloudTrailClient>();
/** The administrator's CloudTrail client in `region`. */
const ct = (region = 'us-east-1') => {
  let c = clients.get(region);
  if (!c) clients.set(region, (c = new CloudTrailClient(clientConfig(aws.url, aws.admin, region))));
  return c;
};

beforeAll(async () => {
  aws = await startAws();
});
afterAll(async () => {
  for (const c of clients.values()) c.destroy();
  await aws.close();
});

const create = (Name: string, region = 'us-east-1', extra: { IsMultiRegionTrail?: boolean } = {}) =>
  ct(region).send(new CreateTrailCommand({ Name, S3BucketName: 'audit-logs-bucket', ...extra }));

const names = async (region: string, input: ConstructorParameters<typeof DescribeTrailsCommand>[0] = {}) =>
  (await ct(region).send(new DescribeTrailsCommand(input))).trailList?.map(
    (t) => `${t.Name}@${t.HomeRegion}`,
  );

describe('trails', () => {
  it('CreateTrail makes a trail that is not logging, with the default management-event selector', async () => {
    const created = await create('org-audit', 'us-east-1', { IsMultiRegionTrail: true });
    expect(created).toMatchObject({
      Name: 'org-audit',
      S3BucketName: 'audit-logs-bucket',
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      LogFileValidationEnabled: false,
      IsOrganizationTrail: false,
      TrailARN: trailArn('us-east-1', 'org-audit'),
    });
    const status = await ct().send(new GetTrailStatusCommand({ Name: 'org-audit' }));
    expect(status.IsLogging).toBe(false);
    expect(status.StartLoggingTime).toBeUndefined();
    const selectors = await ct().send(new GetEventSelectorsCommand({ TrailName: 'org-audit' }));
    expect(selectors).toMatchObject({
      TrailARN: trailArn('us-east-1', 'org-audit'),
      EventSelectors: [
        {
          ReadWriteType: 'All',
          IncludeManagementEvents: true,
          DataResources: [],
          ExcludeManagementEventSources: [],
        },
      ],
    });
    const { Trail } = await ct().send(new GetTrailCommand({ Name: 'org-audit' }));
    expect(Trail).toMatchObject({
      HomeRegion: 'us-east-1',
      HasCustomEventSelectors: false,
      HasInsightSelectors: false,
    });
  });

  it('StartLogging and StopLogging turn logging on and off, with their times', async () => {
    await create('switchable');
    const before = aws.state.now();
    await ct().send(new StartLoggingCommand({ Name: 'switchable' }));
    const on = await ct().send(new GetTrailStatusCommand({ Name: 'switchable' }));
    expect(on.IsLogging).toBe(true);
    expect(on.StartLoggingTime!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(on.TimeLoggingStarted).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await ct().send(new StopLoggingCommand({ Name: trailArn('us-east-1', 'switchable') }));
    const off = await ct().send(new GetTrailStatusCommand({ Name: 'switchable' }));
    expect(off).toMatchObject({ IsLogging: false, StartLoggingTime: on.StartLoggingTime });
    expect(off.StopLoggingTime).toBeInstanceOf(Date);
  });

  it('a multi-Region trail shows as a shadow trail in other regions; a single-Region one does not', async () => {
    await create('home-only', 'eu-west-1');
    await create('everywhere', 'eu-west-1', { IsMultiRegionTrail: true });
    expect(await names('eu-west-1')).toEqual(
      expect.arrayContaining(['home-only@eu-west-1', 'everywhere@eu-west-1']),
    );
    const elsewhere = await names('ap-southeast-2');
    expect(elsewhere).toContain('everywhere@eu-west-1');
    expect(elsewhere).not.toContain('home-only@eu-west-1');
    expect(await names('ap-southeast-2', { includeShadowTrails: false })).toEqual([]);

    // A shadow trail is found by its ARN only, and changed only in its home region.
    const arn = trailArn('eu-west-1', 'everywhere');
    await expect(
      ct('ap-southeast-2').send(new GetTrailStatusCommand({ Name: 'everywhere' })),
    ).rejects.toMatchObject({
      name: 'TrailNotFoundException',
      message: `Unknown trail: ${trailArn('ap-southeast-2', 'everywhere')} for the user: ${ACCOUNT}`,
    });
    await expect(ct('ap-southeast-2').send(new GetTrailStatusCommand({ Name: arn }))).resolves.toMatchObject({
      IsLogging: false,
    });
    await expect(ct('ap-southeast-2').send(new StartLoggingCommand({ Name: arn }))).rejects.toMatchObject({
      name: 'InvalidHomeRegionException',
    });
    await expect(ct('ap-southeast-2').send(new DeleteTrailCommand({ Name: arn }))).rejects.toMatchObject({
      name: 'InvalidHomeRegionException',
    });
    // Named trails: only this region's by name, any region's by ARN; unknown names are left out.
    expect(await names('ap-southeast-2', { trailNameList: ['everywhere', arn, 'no-such-trail'] })).toEqual([
      'everywhere@eu-west-1',
    ]);
    expect(await names('eu-west-1', { trailNameList: ['home-only'] })).toEqual(['home-only@eu-west-1']);
    const listed = (await ct('ap-southeast-2').send(new ListTrailsCommand({}))).Trails;
    expect(listed).toEqual(
      expect.arrayContaining([
        { TrailARN: trailArn('eu-west-1', 'home-only'), Name: 'home-only', HomeRegion: 'eu-west-1' },
      ]),
    );

    await ct('eu-west-1').send(new DeleteTrailCommand({ Name: 'everywhere' }));
    expect(await names('ap-southeast-2')).not.toContain('everywhere@eu-west-1');
  });

  it('event selectors: management events narrowed or turned off, and advanced selectors kept as put', async () => {
    await create('selective');
    const put = await ct().send(
      new PutEventSelectorsCommand({
        TrailName: 'selective',
        EventSelectors: [{ ReadWriteType: 'WriteOnly', IncludeManagementEvents: true }],
      }),
    );
    expect(put.EventSelectors).toEqual([
      {
        ReadWriteType: 'WriteOnly',
        IncludeManagementEvents: true,
        DataResources: [],
        ExcludeManagementEventSources: [],
      },
    ]);
    await ct().send(
      new PutEventSelectorsCommand({
        TrailName: 'selective',
        EventSelectors: [{ IncludeManagementEvents: false }],
      }),
    );
    expect(
      (await ct().send(new GetEventSelectorsCommand({ TrailName: 'selective' }))).EventSelectors,
    ).toMatchObject([{ ReadWriteType: 'All', IncludeManagementEvents: false }]);
    expect((await ct().send(new GetTrailCommand({ Name: 'selective' }))).Trail?.HasCustomEventSelectors).toBe(
      true,
    );

    const advanced = [
      { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
    ];
    await ct().send(
      new PutEventSelectorsCommand({ TrailName: 'selective', AdvancedEventSelectors: advanced }),
    );
    const got = await ct().send(new GetEventSelectorsCommand({ TrailName: 'selective' }));
    expect(got.AdvancedEventSelectors).toEqual(advanced);
    expect(got.EventSelectors).toBeUndefined();

    await expect(
      ct().send(
        new PutEventSelectorsCommand({
          TrailName: 'selective',
          EventSelectors: [{ ReadWriteType: 'Sometimes' as 'All' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidEventSelectorsException' });
    await expect(
      ct().send(
        new PutEventSelectorsCommand({
          TrailName: 'selective',
          EventSelectors: [{}],
          AdvancedEventSelectors: advanced,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterCombinationException' });
  });

  it('answers CloudTrail errors for names, duplicates, unknown trails and the per-region quota', async () => {
    for (const [name, message] of [
      ['ab', /^Trail name too short\. Minimum allowed length: 3 characters/],
      ['-leading', 'Trail name must starts with a letter or number.'],
      ['two--dashes', 'Trail name cannot have adjacent periods, underscores or dashes.'],
      ['has space', /can only contain uppercase letters/],
      ['10.0.0.1', 'Trail name cannot be formatted as an IP address.'],
    ] as const)
      await expect(create(name, 'us-west-1')).rejects.toMatchObject({
        name: 'InvalidTrailNameException',
        message,
      });
    await expect(
      ct('us-west-1').send(new CreateTrailCommand({ Name: 'no-bucket', S3BucketName: '' })),
    ).rejects.toMatchObject({ name: 'InvalidS3BucketNameException' });

    await create('first', 'us-west-1');
    await expect(create('first', 'us-west-1')).rejects.toMatchObject({
      name: 'TrailAlreadyExistsException',
      message: `Trail first already exists for customer: ${ACCOUNT}`,
    });
    await expect(ct('us-west-1').send(new GetTrailStatusCommand({ Name: 'missing' }))).rejects.toMatchObject({
      name: 'TrailNotFoundException',
      message: `Unknown trail: ${trailArn('us-west-1', 'missing')} for the user: ${ACCOUNT}`,
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      ct('us-west-1').send(new GetTrailStatusCommand({ Name: 'arn:aws:nope' })),
    ).rejects.toMatchObject({
      name: 'CloudTrailARNInvalidException',
    });
    // Five trails per region, shadows of multi-Region trails included (us-east-1's org-audit shows here).
    for (const n of ['second', 'third', 'fourth']) await create(n, 'us-west-1');
    await expect(create('sixth', 'us-west-1')).rejects.toMatchObject({
      name: 'MaximumNumberOfTrailsExceededException',
      message: `User: ${ACCOUNT} already has 5 trails in us-west-1.`,
    });
  });

  it('authorizes each call on the trail ARN', async () => {
    await create('guarded', 'ca-central-1');
    const permissions: Statement[] = [
      {
        effect: 'Allow',
        actions: ['cloudtrail:DescribeTrails', 'cloudtrail:GetTrailStatus'],
        resources: [trailArn('ca-central-1', 'guarded')],
      },
    ];
    const { user, creds } = userWithKey(aws, 'auditor', { permissions });
    const auditor = new CloudTrailClient(clientConfig(aws.url, creds, 'ca-central-1'));
    try {
      await expect(auditor.send(new GetTrailStatusCommand({ Name: 'guarded' }))).resolves.toMatchObject({
        IsLogging: false,
      });
      await expect(auditor.send(new StopLoggingCommand({ Name: 'guarded' }))).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: `User: ${user.arn} is not authorized to perform: cloudtrail:StopLogging on resource: *`,
      });
      await create('other', 'ca-central-1');
      await expect(auditor.send(new GetTrailStatusCommand({ Name: 'other' }))).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: `User: ${user.arn} is not authorized to perform: cloudtrail:GetTrailStatus on resource: ${trailArn('ca-central-1', 'other')}`,
      });
    } finally {
      auditor.destroy();
    }
  });
});
