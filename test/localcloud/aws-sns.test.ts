import {
  CreateTopicCommand,
  ListTopicsCommand,
  paginateListTopics,
  PublishCommand,
  SNSClient,
  type PublishCommandInput,
} from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws } from '../support/aws';

const ACCOUNT = '111122223333';

let aws: AwsEmulator;
let sns: SNSClient;

beforeAll(async () => {
  aws = await startAws();
  sns = new SNSClient(clientConfig(aws.url, aws.admin));
});
afterAll(async () => {
  sns.destroy();
  await aws.close();
});

const publish = (input: Partial<PublishCommandInput>, client = sns) =>
  client.send(new PublishCommand(input as PublishCommandInput));

describe('SNS topics', () => {
  it('CreateTopic answers the topic ARN and is idempotent', async () => {
    const a = await sns.send(new CreateTopicCommand({ Name: 'key-rotator-reports' }));
    expect(a.TopicArn).toBe(`arn:aws:sns:us-east-1:${ACCOUNT}:key-rotator-reports`);
    const b = await sns.send(new CreateTopicCommand({ Name: 'key-rotator-reports' }));
    expect(b.TopicArn).toBe(a.TopicArn);
    expect([...aws.state.sns.topics.keys()].filter((k) => k === a.TopicArn)).toHaveLength(1);
  });

  it('CreateTopic refuses an invalid name', async () => {
    await expect(sns.send(new CreateTopicCommand({ Name: 'bad name!' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'Invalid parameter: Topic Name',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('ListTopics pages through every topic of the account and region', async () => {
    for (let i = 0; i < 120; i++) await sns.send(new CreateTopicCommand({ Name: `t-${i}` }));
    const first = await sns.send(new ListTopicsCommand({}));
    expect(first.Topics).toHaveLength(100);
    expect(first.NextToken).toBeDefined();
    const all: string[] = [];
    for await (const page of paginateListTopics({ client: sns }, {}))
      all.push(...(page.Topics ?? []).map((t) => t.TopicArn ?? ''));
    expect(all).toHaveLength(121);
    expect(all).toContain(`arn:aws:sns:us-east-1:${ACCOUNT}:t-119`);
    const west = new SNSClient(clientConfig(aws.url, aws.admin, 'eu-west-1'));
    expect((await west.send(new ListTopicsCommand({}))).Topics ?? []).toEqual([]);
    west.destroy();
  });
});

describe('SNS Publish', () => {
  const topicArn = `arn:aws:sns:us-east-1:${ACCOUNT}:key-rotator-reports`;

  it('stores the message with its subject and answers a message id', async () => {
    const r = await publish({ TopicArn: topicArn, Subject: 'scan: 1 started', Message: '{"ok":true}' });
    expect(r.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(aws.state.sns.messages.at(-1)).toMatchObject({
      messageId: r.MessageId,
      topicArn,
      subject: 'scan: 1 started',
      message: '{"ok":true}',
    });
  });

  it('answers NotFound for a topic that does not exist', async () => {
    const before = aws.state.sns.messages.length;
    await expect(
      publish({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:nope`, Message: 'x' }),
    ).rejects.toMatchObject({
      name: 'NotFoundException',
      message: 'Topic does not exist',
      $metadata: { httpStatusCode: 404 },
    });
    expect(aws.state.sns.messages).toHaveLength(before);
  });

  it.each([
    ['a malformed topic ARN', { TopicArn: 'not-an-arn', Message: 'x' }, 'Invalid parameter: TopicArn'],
    [
      'a topic ARN of another region',
      { TopicArn: `arn:aws:sns:eu-west-1:${ACCOUNT}:key-rotator-reports`, Message: 'x' },
      'Invalid parameter: TopicArn',
    ],
    [
      'no target',
      { Message: 'x' },
      'Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter',
    ],
    ['an empty message', { TopicArn: topicArn, Message: '' }, 'Invalid parameter: Empty message'],
    [
      'a message over 256 KiB',
      { TopicArn: topicArn, Message: 'x'.repeat(262_145) },
      'Invalid parameter: Message too long',
    ],
    [
      'a subject with a line break',
      { TopicArn: topicArn, Subject: 'a\nb', Message: 'x' },
      'Invalid parameter: Subject',
    ],
    [
      'a subject of 100 characters',
      { TopicArn: topicArn, Subject: 's'.repeat(100), Message: 'x' },
      'Invalid parameter: Subject',
    ],
  ])('refuses %s with InvalidParameter', async (_what, input, message) => {
    const before = aws.state.sns.messages.length;
    await expect(publish(input)).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message,
      $metadata: { httpStatusCode: 400 },
    });
    expect(aws.state.sns.messages).toHaveLength(before);
  });

  it('refuses a caller without sns:Publish on the topic with AuthorizationError', async () => {
    const user = aws.state.createUser(ACCOUNT, 'publisher', {
      permissions: [
        { effect: 'Allow', actions: ['sns:Publish'], resources: [`arn:aws:sns:us-east-1:${ACCOUNT}:other`] },
      ],
    });
    const key = aws.state.createAccessKey(user, { established: true });
    const client = new SNSClient(clientConfig(aws.url, key));
    await expect(publish({ TopicArn: topicArn, Message: 'x' }, client)).rejects.toMatchObject({
      name: 'AuthorizationErrorException',
      message: `User: ${user.arn} is not authorized to perform: sns:Publish on resource: ${topicArn}`,
      $metadata: { httpStatusCode: 403 },
    });
    client.destroy();
  });
});
