import { createHash, randomUUID } from 'node:crypto';
import type { ActionHandler, RequestContext, TrailResource } from './context';
import { AwsError } from './errors';
import type { AwsState, Principal } from './state';

/**
 * CloudTrail's event history, as far as the emulator records it: the calls of the actions a service marks
 * `trailed` (STS AssumeRole and AssumeRoleWithWebIdentity, ECR GetAuthorizationToken and PutImage), successful
 * or refused by the service, each in its account and region with the CloudTrailEvent JSON in the shape CloudTrail
 * writes. Trails are not needed for it, as in AWS. Credentials never enter an event: where AWS logs a session
 * token, the event keeps only the access key id and the expiration. LookupEvents reads it.
 */

export interface TrailEventRecord {
  /** The order of recording, to break ties between events of the same time. */
  seq: number;
  eventId: string;
  eventName: string;
  eventSource: string;
  /** Emulated-clock epoch ms. */
  eventTime: number;
  accountId: string;
  region: string;
  readOnly: boolean;
  accessKeyId?: string;
  username?: string;
  resources: TrailResource[];
  /** The CloudTrailEvent document. */
  event: Record<string, unknown>;
}

/** Event history keeps 90 days. */
const RETENTION_MS = 90 * 86_400_000;
/** The emulator keeps at most this many events (oldest dropped first). */
const EVENTS_MAX = 20_000;
const LOOKUP_KEYS = [
  'EventId',
  'EventName',
  'ReadOnly',
  'Username',
  'ResourceType',
  'ResourceName',
  'EventSource',
  'AccessKeyId',
] as const;

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** `Jul 9, 2024, 4:41:37 PM`: how CloudTrail writes the expiration of STS credentials (UTC). */
export function trailExpiration(ms: number): string {
  const d = new Date(ms);
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const h = d.getUTCHours();
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${month} ${d.getUTCDate()}, ${d.getUTCFullYear()}, ${h % 12 === 0 ? 12 : h % 12}:` +
    `${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`
  );
}

/** The `userIdentity` CloudTrail writes for a signed caller: an IAM user, or a role session. */
export function identityOf(state: AwsState, who: Principal): Record<string, unknown> | undefined {
  if (who.kind === 'user')
    return {
      type: 'IAMUser',
      principalId: who.userId,
      arn: who.arn,
      accountId: who.accountId,
      accessKeyId: who.accessKeyId,
      userName: who.arn.slice(who.arn.lastIndexOf('/') + 1),
    };
  const session = who.kind === 'assumed-role' ? state.sessions.get(who.accessKeyId) : undefined;
  if (!session) return undefined;
  const role = state.roleByArn(session.roleArn);
  return {
    type: 'AssumedRole',
    principalId: session.assumedRoleId,
    arn: session.assumedRoleArn,
    accountId: session.accountId,
    accessKeyId: session.accessKeyId,
    sessionContext: {
      sessionIssuer: {
        type: 'Role',
        principalId: role?.roleId ?? session.assumedRoleId.split(':')[0],
        arn: session.roleArn,
        accountId: session.accountId,
        userName: session.roleArn.slice(session.roleArn.lastIndexOf('/') + 1),
      },
      webIdFederationData: session.webIdentity
        ? { federatedProvider: session.webIdentity.providerArn, attributes: {} }
        : {},
      attributes: { creationDate: isoSeconds(session.creationDate), mfaAuthenticated: 'false' },
    },
  };
}

/** Event history's Username: the user's name, a session's name, or a web identity's subject. */
function usernameOf(identity: Record<string, unknown>): string | undefined {
  if (identity['type'] === 'AssumedRole') {
    const arn = String(identity['arn']);
    return arn.slice(arn.lastIndexOf('/') + 1);
  }
  return typeof identity['userName'] === 'string' ? identity['userName'] : undefined;
}

/** Records the call `ctx` served (or refused with `error`) in the event history, if its identity is known. */
export function recordApiEvent(
  state: AwsState,
  ctx: RequestContext,
  readOnly: boolean,
  error?: AwsError,
): void {
  const note = ctx.trail;
  const identity = note.userIdentity ?? identityOf(state, ctx.principal);
  if (!identity) return;
  const accountId = note.accountId ?? ctx.principal.accountId;
  const eventId = randomUUID();
  const eventSource = `${ctx.service}.amazonaws.com`;
  const resources = note.resources ?? [];
  const userAgent = ctx.headers['user-agent'];
  const event: Record<string, unknown> = {
    eventVersion: '1.08',
    userIdentity: identity,
    eventTime: isoSeconds(ctx.now),
    eventSource,
    eventName: ctx.action,
    awsRegion: ctx.region,
    sourceIPAddress: ctx.sourceIp,
    userAgent: typeof userAgent === 'string' ? userAgent : '',
    ...(error ? { errorCode: error.code, errorMessage: error.message } : {}),
    requestParameters: note.requestParameters ?? null,
    responseElements: error ? null : (note.responseElements ?? null),
    ...(note.additionalEventData ? { additionalEventData: note.additionalEventData } : {}),
    requestID: ctx.requestId,
    eventID: eventId,
    readOnly,
    ...(resources.some((r) => !r.historyOnly)
      ? {
          resources: resources
            .filter((r) => !r.historyOnly)
            .map((r) => ({
              accountId: r.accountId ?? accountId,
              type: r.type,
              ARN: r.name,
            })),
        }
      : {}),
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: accountId,
    eventCategory: 'Management',
  };
  const accessKeyId = identity['accessKeyId'];
  const username = note.username ?? usernameOf(identity);
  state.trailEvents.push({
    seq: state.calls.nextSeq(),
    eventId,
    eventName: ctx.action,
    eventSource,
    eventTime: ctx.now,
    accountId,
    region: ctx.region,
    readOnly,
    ...(typeof accessKeyId === 'string' ? { accessKeyId } : {}),
    ...(username === undefined ? {} : { username }),
    resources,
    event,
  });
  if (state.trailEvents.length > EVENTS_MAX)
    state.trailEvents.splice(0, state.trailEvents.length - EVENTS_MAX);
}

// ---- LookupEvents ----------------------------------------------------------------------------------------------

const error = (code: string, message: string) => new AwsError(code, message);

function timeParam(ctx: RequestContext, key: string): number | undefined {
  const v = ctx.input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new AwsError('SerializationException', `${key} must be a timestamp`);
  return v * 1000;
}

function attributeParam(
  ctx: RequestContext,
): { key: (typeof LOOKUP_KEYS)[number]; value: string } | undefined {
  const raw = ctx.input['LookupAttributes'];
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw new AwsError('SerializationException', 'LookupAttributes must be a list');
  if (raw.length === 0) return undefined;
  if (raw.length > 1)
    throw error('InvalidLookupAttributesException', 'You can specify only one lookup attribute.');
  const attr = raw[0] as { AttributeKey?: unknown; AttributeValue?: unknown };
  const key = LOOKUP_KEYS.find((k) => k === attr.AttributeKey);
  if (!key)
    throw error(
      'InvalidLookupAttributesException',
      `AttributeKey must be one of ${LOOKUP_KEYS.join(', ')}; got ${JSON.stringify(attr.AttributeKey)}.`,
    );
  const value = attr.AttributeValue;
  if (typeof value !== 'string' || value.length < 1 || value.length > 2000)
    throw error('InvalidLookupAttributesException', 'AttributeValue must be 1 to 2000 characters long.');
  return { key, value };
}

function matches(e: TrailEventRecord, attr: { key: (typeof LOOKUP_KEYS)[number]; value: string }): boolean {
  switch (attr.key) {
    case 'EventId':
      return e.eventId === attr.value;
    case 'EventName':
      return e.eventName === attr.value;
    case 'ReadOnly':
      return String(e.readOnly) === attr.value;
    case 'Username':
      return e.username === attr.value;
    case 'ResourceType':
      return e.resources.some((r) => r.type === attr.value);
    case 'ResourceName':
      return e.resources.some((r) => r.name === attr.value);
    case 'EventSource':
      return e.eventSource === attr.value;
    case 'AccessKeyId':
      return e.accessKeyId === attr.value;
  }
}

/** Newest first; ties in recording order, latest first. */
const newestFirst = (a: TrailEventRecord, b: TrailEventRecord) => b.eventTime - a.eventTime || b.seq - a.seq;

/**
 * CloudTrail LookupEvents over the caller's account and region: one lookup attribute at most, a time range
 * (default: the 90 days of event history), newest first, `MaxResults` (1 to 50) per page with a `NextToken` bound
 * to the same query. An event appears once `state.trailDelayMs` has passed on the emulated clock (CloudTrail's
 * delivery delay; 0 by default). No Insights events exist, so `EventCategory: insight` finds nothing.
 */
export const lookupEvents: ActionHandler = (ctx) => {
  const attr = attributeParam(ctx);
  const category = ctx.input['EventCategory'];
  if (category !== undefined && category !== null && category !== 'insight')
    throw error('InvalidEventCategoryException', 'EventCategory must be insight.');
  const max = ctx.input['MaxResults'] ?? 50;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 50)
    throw error('InvalidMaxResultsException', 'MaxResults must be an integer from 1 to 50.');
  const visibleUntil = ctx.now - ctx.state.trailDelayMs;
  const startTime = timeParam(ctx, 'StartTime');
  const endTime = timeParam(ctx, 'EndTime');
  const start = startTime ?? ctx.now - RETENTION_MS;
  const end = endTime ?? ctx.now;
  if (start > end) throw error('InvalidTimeRangeException', 'StartTime must not be after EndTime.');
  // A NextToken is good for the same query only (the defaults move with the clock, so are left out).
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([attr ?? null, startTime ?? null, endTime ?? null, category ?? null]))
    .digest('base64url')
    .slice(0, 16);
  const token = ctx.input['NextToken'];
  let after: { t: number; s: number } | undefined;
  if (token !== undefined && token !== null) {
    try {
      if (typeof token !== 'string') throw new Error();
      const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
        t: number;
        s: number;
        f: string;
      };
      if (parsed.f !== fingerprint || typeof parsed.t !== 'number' || typeof parsed.s !== 'number')
        throw new Error();
      after = { t: parsed.t, s: parsed.s };
    } catch {
      throw error(
        'InvalidNextTokenException',
        'Invalid NextToken: use the one the previous call with the same parameters returned.',
      );
    }
  }
  const found =
    category === 'insight'
      ? []
      : ctx.state.trailEvents
          .filter(
            (e) =>
              e.accountId === ctx.account.accountId &&
              e.region === ctx.region &&
              e.eventTime >= start &&
              e.eventTime <= end &&
              e.eventTime >= ctx.now - RETENTION_MS &&
              e.eventTime <= visibleUntil &&
              (!attr || matches(e, attr)),
          )
          .sort(newestFirst)
          .filter((e) => !after || e.eventTime < after.t || (e.eventTime === after.t && e.seq < after.s));
  const page = found.slice(0, max);
  const last = page[page.length - 1];
  return {
    Events: page.map((e) => ({
      EventId: e.eventId,
      EventName: e.eventName,
      ReadOnly: String(e.readOnly),
      AccessKeyId: e.accessKeyId,
      EventTime: new Date(e.eventTime),
      EventSource: e.eventSource,
      Username: e.username,
      Resources: e.resources.map((r) => ({ ResourceType: r.type, ResourceName: r.name })),
      CloudTrailEvent: JSON.stringify(e.event),
    })),
    ...(found.length > max && last
      ? {
          NextToken: Buffer.from(JSON.stringify({ t: last.eventTime, s: last.seq, f: fingerprint })).toString(
            'base64url',
          ),
        }
      : {}),
  };
};
