import { randomUUID } from 'node:crypto';
import type { RequestContext, ServiceModule } from './context';
import { AwsError } from './errors';
import { isAllowed, type SnsTopicRecord } from './state';

/** SNS's limit on a message: 256 KiB of UTF-8. */
const MAX_MESSAGE_BYTES = 262_144;
const PAGE_SIZE = 100;

/** SNS words every parameter problem the same way: `Invalid parameter: <Name>[ Reason: ...]`. */
const invalidParameter = (what: string) =>
  new AwsError('InvalidParameter', `Invalid parameter: ${what}`, 400);

const required = (ctx: RequestContext, name: string): string => {
  const value = ctx.params[name];
  if (value === undefined) {
    const member = name.charAt(0).toLowerCase() + name.slice(1);
    throw new AwsError(
      'ValidationError',
      `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
};

/** SNS answers a denied call with AuthorizationError, not IAM's AccessDenied. */
function authorize(ctx: RequestContext, action: string, resource: string): void {
  if (!isAllowed(ctx.principal.permissions, action, resource, ctx.principal))
    throw new AwsError(
      'AuthorizationError',
      `User: ${ctx.principal.arn} is not authorized to perform: ${action} on resource: ${resource}`,
      403,
    );
}

/** The topic an ARN names; a malformed ARN or one of another region is a parameter error, as in SNS. */
function topicFor(ctx: RequestContext, arn: string): SnsTopicRecord {
  const m = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([\w-]{1,256})$/.exec(arn);
  if (!m || m[1] !== ctx.region) throw invalidParameter('TopicArn');
  authorize(ctx, 'sns:Publish', arn);
  const topic = ctx.state.sns.topics.get(arn);
  if (!topic) throw new AwsError('NotFound', 'Topic does not exist', 404);
  return topic;
}

/**
 * Subject: "ASCII text that begins with a letter, number, or punctuation mark; must not include line breaks or
 * control characters; and must be less than 100 characters long".
 */
const validSubject = (s: string) => s.length > 0 && s.length < 100 && /^[\x21-\x7e][\x20-\x7e]*$/.test(s);

/**
 * SNS, AWS Query protocol (XML): standard topics, Publish to a topic, ListTopics. Published messages are kept in
 * `state.sns.messages` (no subscriptions or delivery): tests and `npm start` read them in-process.
 */
export const sns: ServiceModule = {
  signingName: 'sns',
  protocol: 'query',
  actions: {
    CreateTopic: (ctx) => {
      const name = required(ctx, 'Name');
      if (name.endsWith('.fifo'))
        throw invalidParameter('Topic Name Reason: FIFO topics are not supported by the localcloud emulator');
      if (!/^[\w-]{1,256}$/.test(name)) throw invalidParameter('Topic Name');
      const arn = `arn:aws:sns:${ctx.region}:${ctx.account.accountId}:${name}`;
      authorize(ctx, 'sns:CreateTopic', arn);
      // CreateTopic is idempotent: the same name answers the existing topic.
      if (!ctx.state.sns.topics.has(arn))
        ctx.state.sns.topics.set(arn, {
          arn,
          name,
          accountId: ctx.account.accountId,
          region: ctx.region,
          createdAt: ctx.now,
        });
      return { TopicArn: arn };
    },

    ListTopics: (ctx) => {
      authorize(ctx, 'sns:ListTopics', '*');
      const topics = [...ctx.state.sns.topics.values()]
        .filter((t) => t.accountId === ctx.account.accountId && t.region === ctx.region)
        .sort((a, b) => a.arn.localeCompare(b.arn));
      const token = ctx.params['NextToken'];
      const start = token === undefined ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
      if (!Number.isInteger(start) || start < 0 || start > topics.length) throw invalidParameter('NextToken');
      const end = start + PAGE_SIZE;
      return {
        Topics: topics.slice(start, end).map((t) => ({ TopicArn: t.arn })),
        NextToken: end < topics.length ? Buffer.from(String(end)).toString('base64url') : undefined,
      };
    },

    Publish: (ctx) => {
      const arn = ctx.params['TopicArn'] ?? ctx.params['TargetArn'];
      if (arn === undefined) {
        if (ctx.params['PhoneNumber'] !== undefined)
          throw invalidParameter('PhoneNumber Reason: SMS is not supported by the localcloud emulator');
        throw invalidParameter('TopicArn or TargetArn Reason: no value for required parameter');
      }
      const message = required(ctx, 'Message');
      const subject = ctx.params['Subject'];
      const topic = topicFor(ctx, arn);
      if (message.length === 0) throw invalidParameter('Empty message');
      if (Buffer.byteLength(message, 'utf8') > MAX_MESSAGE_BYTES) throw invalidParameter('Message too long');
      if (subject !== undefined && !validSubject(subject)) throw invalidParameter('Subject');
      const messageId = randomUUID();
      ctx.state.sns.messages.push({
        messageId,
        topicArn: topic.arn,
        ...(subject !== undefined ? { subject } : {}),
        message,
        at: ctx.now,
      });
      return { MessageId: messageId };
    },
  },
};
