import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { clientSettings } from '../aws/clients';
import type { Composition } from '../compose';
import { messageOf } from '../domain/errors';
import { summaryText, summaryTitle } from './summary';
import type { NotificationResult, ScanSummary } from './types';
import { singleSecretValue } from '../domain/secret-value';

/** Where a scan's summary goes. */
export interface NotifyTargets {
  /** SNS topic ARN: `notifications.snsTopicArn` of the config, else NOTIFY_TOPIC_ARN. */
  topicArn?: string;
  /** Secrets Manager secret holding a Slack-compatible incoming-webhook URL (the URL is itself a secret). */
  webhookSecretId?: string;
}

export interface NotifyPorts {
  publish(topicArn: string, subject: string, message: string): Promise<void>;
  readSecret(secretId: string): Promise<string | undefined>;
  /** POSTs JSON; resolves with the HTTP status. */
  postJson(url: string, body: unknown): Promise<number>;
}

/** SNS accepts 256 KiB; a summary of thousands of unmanaged keys is cut down to stay well below it. */
const MAX_SNS_BYTES = 250_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The SNS message: the summary as JSON, its longest lists shortened if it would not fit. */
export function snsMessage(summary: ScanSummary): string {
  const full = JSON.stringify(summary, null, 2);
  if (Buffer.byteLength(full) <= MAX_SNS_BYTES) return full;
  for (const keep of [100, 10, 0]) {
    const short = JSON.stringify({
      ...summary,
      skipped: summary.skipped.slice(0, keep),
      deferred: summary.deferred.slice(0, keep),
      unmanagedStale: summary.unmanagedStale.slice(0, keep),
      truncated: `lists shortened to ${keep} entries; the counts and the function's log line are complete`,
    });
    if (Buffer.byteLength(short) <= MAX_SNS_BYTES) return short;
  }
  return JSON.stringify({
    counts: summary.counts,
    failed: summary.failed.slice(0, 50),
    problems: summary.problems.slice(0, 50),
    truncated: true,
  });
}

/** The webhook URL in a secret: the bare URL, or JSON with `url` or `webhookUrl`. Never echoed in errors. */
export function webhookUrlOf(raw: string | undefined, secretId: string): URL {
  const value = singleSecretValue(raw, ['url', 'webhookUrl']) ?? '';
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname))))
    throw new Error(
      `webhook secret ${secretId} does not hold an https URL (the bare URL, or JSON with "url" or "webhookUrl")`,
    );
  return url;
}

/**
 * Sends the summary to every configured target; each outcome is returned, none throws, so a notification
 * failure never hides the rotation results.
 */
export async function sendNotifications(
  summary: ScanSummary,
  targets: NotifyTargets,
  ports: NotifyPorts,
): Promise<NotificationResult[]> {
  const results: NotificationResult[] = [];
  if (targets.topicArn) {
    try {
      await ports.publish(targets.topicArn, summaryTitle(summary), snsMessage(summary));
      results.push({ channel: 'sns', ok: true });
    } catch (err) {
      results.push({
        channel: 'sns',
        ok: false,
        detail: `publish to ${targets.topicArn} failed: ${messageOf(err)}`,
      });
    }
  }
  if (targets.webhookSecretId) {
    const secretId = targets.webhookSecretId;
    try {
      const url = webhookUrlOf(await ports.readSecret(secretId), secretId);
      const status = await ports
        .postJson(url.toString(), { text: summaryText(summary) })
        .catch((err: unknown) => {
          // fetch's own message ("fetch failed") does not carry the URL; its cause might, so it is not used.
          throw new Error(`webhook request failed: ${messageOf(err)}`);
        });
      if (status < 200 || status > 299) throw new Error(`webhook answered HTTP ${status}`);
      results.push({ channel: 'webhook', ok: true });
    } catch (err) {
      results.push({
        channel: 'webhook',
        ok: false,
        detail: `webhook from secret ${secretId}: ${messageOf(err)}`,
      });
    }
  }
  return results;
}

const snsClients = new WeakMap<Composition, Map<string, SNSClient>>();

/** SNS in the topic's region, built once per composition and region (like the other clients). */
function snsFor(composition: Composition, topicArn: string): SNSClient {
  const region = topicArn.split(':')[3] || composition.clients.setup.region;
  let byRegion = snsClients.get(composition);
  if (!byRegion) snsClients.set(composition, (byRegion = new Map<string, SNSClient>()));
  let client = byRegion.get(region);
  if (!client) {
    client = new SNSClient(clientSettings(composition.clients.setup, { region }));
    byRegion.set(region, client);
  }
  return client;
}

/** POSTs `body` as JSON without following redirects; resolves with the status, the response body unread. */
export async function postJson(url: string, body: unknown, timeoutMs = 10_000): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.body?.cancel();
  return res.status;
}

/** The real ports: SNS through the AWS SDK, the webhook secret from Secrets Manager (cached), the POST with fetch. */
export function notifyPorts(composition: Composition, timeoutMs = 10_000): NotifyPorts {
  return {
    async publish(topicArn, subject, message) {
      await snsFor(composition, topicArn).send(
        new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }),
      );
    },
    readSecret: composition.readSecret,
    postJson: (url, body) => postJson(url, body, timeoutMs),
  };
}

/** Sends a scan summary where the configuration (or NOTIFY_TOPIC_ARN, passed as `topicArn`) says. */
export function notifySummary(
  composition: Composition,
  summary: ScanSummary,
  opts: { topicArn?: string } = {},
): Promise<NotificationResult[]> {
  const n = composition.config.notifications;
  const topicArn = n.snsTopicArn ?? opts.topicArn;
  return sendNotifications(
    summary,
    {
      ...(topicArn ? { topicArn } : {}),
      ...(n.slackWebhookSecretId ? { webhookSecretId: n.slackWebhookSecretId } : {}),
    },
    notifyPorts(composition),
  );
}
