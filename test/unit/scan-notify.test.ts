import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  postJson,
  sendNotifications,
  snsMessage,
  webhookUrlOf,
  type NotifyPorts,
} from '../../src/scan/notify';
import type { KeyProblem } from '../../src/scan/problems';
import { countsOf, ScanFailedError, scanFailed, summaryText, summaryTitle } from '../../src/scan/summary';
import type { ScanSummary } from '../../src/scan/types';

/** A Slack-style incoming webhook: the path carries the secret. */
const HOOK_PATH = '/services/T0000/B0000/FAKEhookTOKEN0000000000';

let server: Server;
let base: string;
let received: { method: string; path: string; contentType: string; body: unknown }[] = [];
let answer = 200;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: String(req.headers['content-type']),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
      });
      res.writeHead(answer, { 'content-type': 'text/plain' });
      res.end(answer === 200 ? 'ok' : 'invalid_token');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  received = [];
  answer = 200;
});

function summary(over: Partial<ScanSummary> = {}): ScanSummary {
  const s = {
    startedAt: '2026-06-01T12:00:00.000Z',
    finishedAt: '2026-06-01T12:00:05.000Z',
    accountId: '111122223333',
    inventory: { source: 'credential-report' as const, users: 3, keys: 4 },
    rotated: [],
    started: [
      { key: 'prod', secretId: 'jenkins/prod/aws-key', accessKeyId: 'AKIAPROD000000000001', ageDays: 120 },
    ],
    deferred: [],
    skipped: [{ key: 'dev', reason: 'not due: 10 days old, rotated at 90 days (2026-08-20)' }],
    failed: [
      { key: 'legacy', reason: 'due (100 days old, max 90), but user x has a second active key AKIAX' },
    ],
    deleted: [
      { key: 'prod', user: 'jenkins-prod', accountId: '111122223333', accessKeyId: 'AKIAOLD0000000000001' },
    ],
    inProgress: [],
    unmanagedStale: [
      { user: 'alice', accountId: '111122223333', accessKeyId: 'AKIAALICE00000000001', ageDays: 200 },
    ],
    repaired: [],
    keyless: [],
    problems: [],
    notifications: [],
    ...over,
  };
  return { ...s, counts: countsOf(s) };
}

function ports(over: Partial<NotifyPorts> = {}) {
  const published: { topicArn: string; subject: string; message: string }[] = [];
  const p: NotifyPorts = {
    publish: (topicArn, subject, message) => {
      published.push({ topicArn, subject, message });
      return Promise.resolve();
    },
    readSecret: () => Promise.resolve(base + HOOK_PATH),
    postJson: (url, body) => postJson(url, body, 5_000),
    ...over,
  };
  return { p, published };
}

const TOPIC = 'arn:aws:sns:us-east-1:111122223333:key-rotator';

describe('sendNotifications', () => {
  it('publishes the whole summary as JSON to SNS, with a one-line subject', async () => {
    const { p, published } = ports();
    const s = summary();
    expect(await sendNotifications(s, { topicArn: TOPIC }, p)).toEqual([{ channel: 'sns', ok: true }]);
    expect(published).toHaveLength(1);
    expect(published[0]?.topicArn).toBe(TOPIC);
    expect(JSON.parse(published[0]?.message ?? '')).toEqual(s);
    expect(published[0]?.subject).toBe(
      'Key rotation scan FAILED: 1 started, 1 failed, 1 deleted, 1 unmanaged stale',
    );
  });

  it('POSTs a Slack-compatible message to the webhook URL read from the secret', async () => {
    const { p } = ports();
    expect(await sendNotifications(summary(), { webhookSecretId: 'key-rotator/slack' }, p)).toEqual([
      { channel: 'webhook', ok: true },
    ]);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'POST', path: HOOK_PATH, contentType: 'application/json' });
    const text = (received[0]?.body as { text: string }).text;
    expect(text).toContain('Key rotation scan FAILED');
    expect(text).toContain('legacy: due (100 days old, max 90)');
    expect(text).toContain('prod: key AKIAPROD000000000001, 120 days old');
    expect(text).toContain('alice: AKIAALICE00000000001, 200 days');
  });

  it('accepts the URL as JSON in the secret', async () => {
    const { p } = ports({ readSecret: () => Promise.resolve(JSON.stringify({ url: base + HOOK_PATH })) });
    expect((await sendNotifications(summary(), { webhookSecretId: 's' }, p))[0]?.ok).toBe(true);
    expect(received).toHaveLength(1);
  });

  it('reports a webhook that answers an error, without revealing its URL', async () => {
    answer = 500;
    const { p } = ports();
    const [r] = await sendNotifications(summary(), { webhookSecretId: 'key-rotator/slack' }, p);
    expect(r).toEqual({
      channel: 'webhook',
      ok: false,
      detail: 'webhook from secret key-rotator/slack: webhook answered HTTP 500',
    });
  });

  it('reports an unreachable webhook without revealing its URL', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}${HOOK_PATH}`;
    await new Promise<void>((r) => closed.close(() => r()));
    const { p } = ports({ readSecret: () => Promise.resolve(url) });
    const [r] = await sendNotifications(summary(), { webhookSecretId: 'key-rotator/slack' }, p);
    expect(r?.ok).toBe(false);
    expect(r?.detail).toMatch(/webhook request failed/);
    expect(r?.detail).not.toContain('FAKEhookTOKEN');
  });

  it('refuses a secret that does not hold an https URL, without echoing it', async () => {
    for (const value of ['http://hooks.example.com/FAKEhookTOKEN', 'FAKEhookTOKEN', '{"url":3}', '']) {
      const { p } = ports({ readSecret: () => Promise.resolve(value) });
      const [r] = await sendNotifications(summary(), { webhookSecretId: 'key-rotator/slack' }, p);
      expect(r?.ok).toBe(false);
      expect(r?.detail).toMatch(/does not hold an https URL/);
      expect(r?.detail).not.toContain('FAKEhookTOKEN');
    }
    expect(received).toEqual([]);
  });

  it('still sends the webhook when SNS fails, and reports both outcomes', async () => {
    const { p } = ports({ publish: () => Promise.reject(new Error('Topic does not exist')) });
    const r = await sendNotifications(
      summary(),
      { topicArn: TOPIC, webhookSecretId: 'key-rotator/slack' },
      p,
    );
    expect(r).toEqual([
      { channel: 'sns', ok: false, detail: `publish to ${TOPIC} failed: Topic does not exist` },
      { channel: 'webhook', ok: true },
    ]);
    expect(received).toHaveLength(1);
  });

  it('sends nothing when no target is configured', async () => {
    const { p, published } = ports();
    expect(await sendNotifications(summary(), {}, p)).toEqual([]);
    expect(published).toEqual([]);
    expect(received).toEqual([]);
  });
});

describe('message limits', () => {
  it('keeps the SNS subject ASCII, on one line and under 100 characters', () => {
    const title = summaryTitle(summary({ started: [] }));
    expect(title).toMatch(/^[\x20-\x7e]{1,99}$/);
  });

  it('shortens the SNS message of a huge summary below 256 KiB, keeping the counts', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({
      user: `user-${i}`,
      accountId: '111122223333',
      accessKeyId: `AKIA${String(i).padStart(16, '0')}`,
      ageDays: 400,
    }));
    const s = summary({ unmanagedStale: many });
    const message = snsMessage(s);
    expect(Buffer.byteLength(message)).toBeLessThan(262_144);
    const parsed = JSON.parse(message) as ScanSummary & { truncated: string };
    expect(parsed.counts.unmanagedStale).toBe(5000);
    expect(parsed.unmanagedStale.length).toBeLessThan(5000);
    expect(parsed.truncated).toMatch(/shortened/);
  });

  it('finds the URL in the forms a webhook secret may take', () => {
    expect(webhookUrlOf(' https://hooks.example.com/x \n', 's').href).toBe('https://hooks.example.com/x');
    expect(webhookUrlOf('{"webhookUrl":"https://hooks.example.com/y"}', 's').href).toBe(
      'https://hooks.example.com/y',
    );
    expect(() => webhookUrlOf(undefined, 's')).toThrow(/secret s/);
  });
});

describe('ScanFailedError', () => {
  it('names every failure and a failed notification, and carries the summary', () => {
    const s = summary({
      notifications: [{ channel: 'sns', ok: false, detail: 'publish failed: Topic does not exist' }],
    });
    const err = new ScanFailedError(s);
    expect(err.name).toBe('ScanFailedError');
    expect(err.summary).toBe(s);
    expect(err.message).toBe(
      'scan finished with 1 failure(s): legacy: due (100 days old, max 90), but user x has a second active key AKIAX; and notification failed: sns: publish failed: Topic does not exist',
    );
  });
});

const problemOf = (severity: KeyProblem['severity'], over: Partial<KeyProblem> = {}): KeyProblem => ({
  key: 'prod',
  user: 'jenkins-prod',
  accountId: '111122223333',
  kind: 'rotation-in-flight',
  severity,
  message: 'a rotation is unfinished (version v1, started 3 h ago)',
  fix: 'key-rotator rotate jenkins-prod --resume',
  ...over,
});

describe('repairs and problems in the summary', () => {
  const clean = { failed: [], notifications: [] };

  it('a problem of severity error fails the scan, a warning does not', () => {
    expect(scanFailed(summary({ ...clean, problems: [problemOf('warning')] }))).toBe(false);
    expect(scanFailed(summary({ ...clean, problems: [problemOf('error')] }))).toBe(true);
    const err = new ScanFailedError(
      summary({ ...clean, problems: [problemOf('error'), problemOf('warning')] }),
    );
    expect(err.message).toBe(
      'scan finished with 1 problem(s) of severity error: prod: a rotation is unfinished (version v1, started 3 h ago) (fix: key-rotator rotate jenkins-prod --resume)',
    );
  });

  it('counts repairs, problems and errors; the title says FAILED for an error and names both', () => {
    const s = summary({
      ...clean,
      repaired: [
        { key: 'dev', kind: 'previous-still-active', action: 'finish', detail: 'deactivated AKIAX' },
      ],
      problems: [problemOf('error'), problemOf('info', { kind: 'rotation-running' })],
    });
    expect(s.counts).toMatchObject({ repaired: 1, problems: 2, problemErrors: 1, failed: 0 });
    expect(summaryTitle(s)).toBe(
      'Key rotation scan FAILED: 1 started, 0 failed, 1 deleted, 1 unmanaged stale, 1 repaired, 2 problems',
    );
    expect(summaryTitle(summary({ ...clean }))).toMatch(/^Key rotation scan ok: .*unmanaged stale$/);
  });

  it('the chat text lists problems with their fix and what was repaired', () => {
    const text = summaryText(
      summary({
        ...clean,
        repaired: [
          {
            key: 'dev',
            kind: 'rotation-in-flight',
            action: 'abandon',
            detail: 'deleted the new key AKIAPENDING000000001',
          },
        ],
        problems: [problemOf('error')],
      }),
    );
    expect(text).toContain(
      'Problems:\n• ERROR prod: a rotation is unfinished (version v1, started 3 h ago). Fix: key-rotator rotate jenkins-prod --resume',
    );
    expect(text).toContain(
      'Repaired:\n• dev (rotation-in-flight, abandon): deleted the new key AKIAPENDING000000001',
    );
  });
});
