import type { RequestContext, ServiceModule } from './context';
import { AwsError } from './errors';
import type { EventSelectorRecord, Tag, TrailRecord } from './state';
import { lookupEvents } from './trail-events';

/**
 * CloudTrail, JSON 1.1: trails per account and region (multi-Region trails appear in every other region as shadow
 * trails), logging on or off, and classic event selectors (management events read/write, on or off). Nothing is
 * delivered anywhere: no S3 bucket, SNS topic or log group is checked or written. Advanced event selectors are
 * stored and answered as they were put, not interpreted. LookupEvents reads the event history (trail-events.ts),
 * which, as in AWS, needs no trail.
 */

const TARGET_PREFIX = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101';
const TRAILS_PER_REGION_MAX = 5;
const EVENT_SELECTORS_MAX = 5;
const READ_WRITE_TYPES = ['ReadOnly', 'WriteOnly', 'All'];
const EXCLUDABLE_SOURCES = ['kms.amazonaws.com', 'rdsdata.amazonaws.com'];
const TRAIL_ARN_RE = /^arn:aws:cloudtrail:([a-z0-9-]+):(\d{12}):trail\/(.+)$/;

const error = (code: string, message: string) => new AwsError(code, message);

// ---- input -----------------------------------------------------------------------------------------------------

function optString(ctx: RequestContext, key: string): string | undefined {
  const v = ctx.input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AwsError('SerializationException', `${key} must be a string`);
  return v;
}

function optBoolean(ctx: RequestContext, key: string): boolean | undefined {
  const v = ctx.input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new AwsError('SerializationException', `${key} must be a boolean`);
  return v;
}

/** CloudTrail's trail name rules, each refused with its own InvalidTrailNameException message. */
export function checkTrailName(name: string): void {
  const invalid = (message: string) => error('InvalidTrailNameException', message);
  if (name.length < 3)
    throw invalid(
      `Trail name too short. Minimum allowed length: 3 characters. Specified name length: ${name.length} characters.`,
    );
  if (name.length > 128)
    throw invalid(
      `Trail name too long. Maximum allowed length: 128 characters. Specified name length: ${name.length} characters.`,
    );
  if (!/^[A-Za-z0-9._-]+$/.test(name))
    throw invalid(
      'Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_).',
    );
  if (!/^[A-Za-z0-9]/.test(name)) throw invalid('Trail name must starts with a letter or number.');
  if (!/[A-Za-z0-9]$/.test(name)) throw invalid('Trail name must ends with a letter or number.');
  if (/[._-]{2}/.test(name)) throw invalid('Trail name cannot have adjacent periods, underscores or dashes.');
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) throw invalid('Trail name cannot be formatted as an IP address.');
}

/** The `Name` / `TrailName` of a request. */
function nameParam(ctx: RequestContext, key: 'Name' | 'TrailName'): string {
  const name = optString(ctx, key);
  if (name === undefined || name === '')
    throw error('InvalidTrailNameException', 'Trail name cannot be blank.');
  return name;
}

// ---- lookup ----------------------------------------------------------------------------------------------------

/** The trails CloudTrail shows in the caller's region: those created here and shadows of multi-Region ones. */
function trailsInRegion(ctx: RequestContext, includeShadowTrails = true): TrailRecord[] {
  return [...ctx.account.trails.values()]
    .filter((t) => t.homeRegion === ctx.region || (includeShadowTrails && t.isMultiRegionTrail))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The trail a name or ARN names, the action authorized on its ARN first. A name finds only a trail created in
 * the caller's region; an ARN finds the account's trail in any region (a shadow trail needs its ARN). Changes
 * (`home`) must be made in the trail's home region.
 */
function trailFor(ctx: RequestContext, key: 'Name' | 'TrailName', home = false): TrailRecord {
  const given = nameParam(ctx, key);
  let arn: string;
  if (given.startsWith('arn:')) {
    const m = TRAIL_ARN_RE.exec(given);
    if (!m) throw error('CloudTrailARNInvalidException', `Invalid trail ARN: ${given}`);
    arn = given;
  } else {
    checkTrailName(given);
    arn = `arn:aws:cloudtrail:${ctx.region}:${ctx.account.accountId}:trail/${given}`;
  }
  ctx.authorize(`cloudtrail:${ctx.action}`, arn);
  const trail = ctx.account.trails.get(arn);
  if (!trail)
    throw error('TrailNotFoundException', `Unknown trail: ${arn} for the user: ${ctx.account.accountId}`);
  if (home && trail.homeRegion !== ctx.region)
    throw error(
      'InvalidHomeRegionException',
      `The trail's home region is ${trail.homeRegion}: make this call in that region.`,
    );
  return trail;
}

// ---- views -----------------------------------------------------------------------------------------------------

function snsTopicArn(t: TrailRecord): string | undefined {
  if (t.snsTopicName === undefined) return undefined;
  return t.snsTopicName.startsWith('arn:')
    ? t.snsTopicName
    : `arn:aws:sns:${t.homeRegion}:${t.accountId}:${t.snsTopicName}`;
}

const trailSettings = (t: TrailRecord) => ({
  Name: t.name,
  S3BucketName: t.s3BucketName,
  S3KeyPrefix: t.s3KeyPrefix,
  SnsTopicName: t.snsTopicName,
  SnsTopicARN: snsTopicArn(t),
  IncludeGlobalServiceEvents: t.includeGlobalServiceEvents,
  IsMultiRegionTrail: t.isMultiRegionTrail,
  TrailARN: t.arn,
  LogFileValidationEnabled: t.logFileValidationEnabled,
  CloudWatchLogsLogGroupArn: t.cloudWatchLogsLogGroupArn,
  CloudWatchLogsRoleArn: t.cloudWatchLogsRoleArn,
  KmsKeyId: t.kmsKeyId,
  IsOrganizationTrail: false,
});

const trailView = (t: TrailRecord) => ({
  ...trailSettings(t),
  HomeRegion: t.homeRegion,
  HasCustomEventSelectors: t.hasCustomEventSelectors,
  HasInsightSelectors: false,
});

const isoSeconds = (ms: number | undefined) =>
  ms === undefined ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const selectorsView = (t: TrailRecord) =>
  t.advancedEventSelectors
    ? { TrailARN: t.arn, AdvancedEventSelectors: t.advancedEventSelectors }
    : { TrailARN: t.arn, EventSelectors: t.eventSelectors };

// ---- event selectors -------------------------------------------------------------------------------------------

function eventSelectorsParam(raw: unknown): EventSelectorRecord[] {
  const invalid = (message: string) => error('InvalidEventSelectorsException', message);
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > EVENT_SELECTORS_MAX)
    throw invalid(`A trail has 1 to ${EVENT_SELECTORS_MAX} event selectors.`);
  return raw.map((s: unknown) => {
    const sel = (s ?? {}) as Record<string, unknown>;
    const readWrite = sel['ReadWriteType'] ?? 'All';
    if (typeof readWrite !== 'string' || !READ_WRITE_TYPES.includes(readWrite))
      throw invalid(`ReadWriteType must be one of ${READ_WRITE_TYPES.join(', ')}.`);
    const management = sel['IncludeManagementEvents'] ?? true;
    if (typeof management !== 'boolean') throw invalid('IncludeManagementEvents must be a boolean.');
    const data = (sel['DataResources'] ?? []) as { Type?: unknown; Values?: unknown }[];
    if (!Array.isArray(data)) throw invalid('DataResources must be a list.');
    const dataResources = data.map((d) => {
      if (
        typeof d?.Type !== 'string' ||
        !Array.isArray(d.Values) ||
        !d.Values.every((v) => typeof v === 'string')
      )
        throw invalid('Each data resource needs a Type and a list of Values.');
      return { Type: d.Type, Values: d.Values };
    });
    const excluded = (sel['ExcludeManagementEventSources'] ?? []) as unknown[];
    if (
      !Array.isArray(excluded) ||
      !excluded.every((x) => typeof x === 'string' && EXCLUDABLE_SOURCES.includes(x))
    )
      throw invalid(`ExcludeManagementEventSources may name only ${EXCLUDABLE_SOURCES.join(' and ')}.`);
    return {
      ReadWriteType: readWrite as EventSelectorRecord['ReadWriteType'],
      IncludeManagementEvents: management,
      DataResources: dataResources,
      ExcludeManagementEventSources: excluded as string[],
    };
  });
}

/** CloudTrail API, JSON 1.1. */
export const cloudtrail: ServiceModule = {
  signingName: 'cloudtrail',
  protocol: 'json',
  targetPrefix: TARGET_PREFIX,
  actions: {
    CreateTrail: (ctx) => {
      const name = nameParam(ctx, 'Name');
      checkTrailName(name);
      const bucket = optString(ctx, 'S3BucketName');
      if (bucket === undefined || bucket === '')
        throw error('InvalidS3BucketNameException', 'S3 bucket name cannot be blank.');
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
        throw error('InvalidS3BucketNameException', `Bucket name is not valid: ${bucket}`);
      const arn = `arn:aws:cloudtrail:${ctx.region}:${ctx.account.accountId}:trail/${name}`;
      ctx.authorize('cloudtrail:CreateTrail', arn);
      if (optBoolean(ctx, 'IsOrganizationTrail'))
        throw error(
          'OrganizationsNotInUseException',
          'This account is not a member of an organization in the localcloud emulator.',
        );
      const multiRegion = optBoolean(ctx, 'IsMultiRegionTrail') ?? false;
      // A name is taken by any trail seen in this region and, for a multi-Region trail, in every region.
      const taken = [...ctx.account.trails.values()].some(
        (t) => t.name === name && (multiRegion || t.isMultiRegionTrail || t.homeRegion === ctx.region),
      );
      if (taken)
        throw error(
          'TrailAlreadyExistsException',
          `Trail ${name} already exists for customer: ${ctx.account.accountId}`,
        );
      if (trailsInRegion(ctx).length >= TRAILS_PER_REGION_MAX)
        throw error(
          'MaximumNumberOfTrailsExceededException',
          `User: ${ctx.account.accountId} already has ${TRAILS_PER_REGION_MAX} trails in ${ctx.region}.`,
        );
      const tags = ctx.input['TagsList'];
      const trail = ctx.state.createTrail(ctx.account.accountId, ctx.region, name, {
        s3BucketName: bucket,
        ...defined({
          s3KeyPrefix: optString(ctx, 'S3KeyPrefix'),
          snsTopicName: optString(ctx, 'SnsTopicName'),
          includeGlobalServiceEvents: optBoolean(ctx, 'IncludeGlobalServiceEvents'),
          logFileValidationEnabled: optBoolean(ctx, 'EnableLogFileValidation'),
          cloudWatchLogsLogGroupArn: optString(ctx, 'CloudWatchLogsLogGroupArn'),
          cloudWatchLogsRoleArn: optString(ctx, 'CloudWatchLogsRoleArn'),
          kmsKeyId: optString(ctx, 'KmsKeyId'),
        }),
        isMultiRegionTrail: multiRegion,
        tags: Array.isArray(tags) ? (tags as Tag[]) : [],
      });
      return trailSettings(trail);
    },
    DeleteTrail: (ctx) => {
      const trail = trailFor(ctx, 'Name', true);
      ctx.account.trails.delete(trail.arn);
      return {};
    },
    DescribeTrails: (ctx) => {
      const names = ctx.input['trailNameList'];
      const includeShadowTrails = optBoolean(ctx, 'includeShadowTrails') ?? true;
      if (names !== undefined && names !== null && !Array.isArray(names))
        throw new AwsError('SerializationException', 'trailNameList must be a list');
      const wanted = (names as unknown[] | undefined | null) ?? [];
      if (wanted.length === 0) return { trailList: trailsInRegion(ctx, includeShadowTrails).map(trailView) };
      // Named trails: a name matches a trail of this region; an ARN, the account's trail in any region. Unknown
      // names are left out, not refused.
      const found = wanted.flatMap((n) => {
        if (typeof n !== 'string') return [];
        const trail = n.startsWith('arn:')
          ? ctx.account.trails.get(n)
          : [...ctx.account.trails.values()].find((t) => t.name === n && t.homeRegion === ctx.region);
        return trail && (includeShadowTrails || trail.homeRegion === ctx.region) ? [trail] : [];
      });
      return { trailList: [...new Set(found)].map(trailView) };
    },
    GetTrail: (ctx) => ({ Trail: trailView(trailFor(ctx, 'Name')) }),
    ListTrails: (ctx) => ({
      Trails: [...ctx.account.trails.values()]
        .sort((a, b) => a.arn.localeCompare(b.arn))
        .map((t) => ({ TrailARN: t.arn, Name: t.name, HomeRegion: t.homeRegion })),
    }),
    GetTrailStatus: (ctx) => {
      const t = trailFor(ctx, 'Name');
      return {
        IsLogging: t.isLogging,
        StartLoggingTime: t.startLoggingTime === undefined ? undefined : new Date(t.startLoggingTime),
        StopLoggingTime: t.stopLoggingTime === undefined ? undefined : new Date(t.stopLoggingTime),
        TimeLoggingStarted: isoSeconds(t.startLoggingTime),
        TimeLoggingStopped: isoSeconds(t.stopLoggingTime),
      };
    },
    StartLogging: (ctx) => {
      const trail = trailFor(ctx, 'Name', true);
      if (!trail.isLogging) {
        trail.isLogging = true;
        trail.startLoggingTime = ctx.now;
      }
      return {};
    },
    StopLogging: (ctx) => {
      const trail = trailFor(ctx, 'Name', true);
      if (trail.isLogging) {
        trail.isLogging = false;
        trail.stopLoggingTime = ctx.now;
      }
      return {};
    },
    PutEventSelectors: (ctx) => {
      const trail = trailFor(ctx, 'TrailName', true);
      const classic = ctx.input['EventSelectors'];
      const advanced = ctx.input['AdvancedEventSelectors'];
      const given = (v: unknown) => v !== undefined && v !== null;
      if (given(classic) && given(advanced))
        throw error(
          'InvalidParameterCombinationException',
          'Use either EventSelectors or AdvancedEventSelectors, not both.',
        );
      if (given(advanced)) {
        if (!Array.isArray(advanced) || advanced.length === 0)
          throw error('InvalidEventSelectorsException', 'AdvancedEventSelectors must be a non-empty list.');
        trail.advancedEventSelectors = advanced as unknown[];
      } else {
        trail.eventSelectors = eventSelectorsParam(classic);
        delete trail.advancedEventSelectors;
      }
      trail.hasCustomEventSelectors = true;
      return selectorsView(trail);
    },
    GetEventSelectors: (ctx) => selectorsView(trailFor(ctx, 'TrailName')),
    LookupEvents: lookupEvents,
  },
};

/** `obj` without its undefined properties (exactOptionalPropertyTypes-friendly spreading). */
function defined<T extends Record<string, unknown>>(obj: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
