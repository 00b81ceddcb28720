import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JenkinsClient } from '../../src/jenkins/client';
import { ConcurrencyGate, controllerGate, controllerKey } from '../../src/jenkins/limit';

describe('ConcurrencyGate', () => {
  it('runs at most `max` at once, in the order they came', async () => {
    const gate = new ConcurrencyGate(2);
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const runs = Array.from({ length: 5 }, (_, i) =>
      gate.run(
        () =>
          new Promise<void>((resolve) => {
            order.push(i);
            releases.push(resolve);
          }),
      ),
    );
    await Promise.resolve();
    expect(gate.active).toBe(2);
    expect(order).toEqual([0, 1]);
    while (releases.length) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(runs);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(gate.peak).toBe(2);
    expect(gate.active).toBe(0);
  });

  it('frees its slot when the call fails', async () => {
    const gate = new ConcurrencyGate(1);
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(gate.run(() => Promise.resolve(7))).resolves.toBe(7);
  });

  it('is one per controller, whatever the spelling of its URL, and refuses a limit below 1', () => {
    expect(controllerKey('https://CI.example.com:443/jenkins/')).toBe(
      controllerKey('https://ci.example.com/jenkins'),
    );
    expect(controllerGate('https://ci.example.com/jenkins/', 3)).toBe(
      controllerGate('https://CI.example.com/jenkins', 3),
    );
    expect(controllerGate('https://ci.example.com/other', 3)).not.toBe(
      controllerGate('https://ci.example.com/jenkins', 3),
    );
    expect(() => new ConcurrencyGate(0)).toThrow(/whole number of at least 1, got 0/);
  });
});

describe('JenkinsClient maxConcurrent, over HTTP', () => {
  let server: Server;
  let url: string;
  let inFlight = 0;
  let peak = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"jobs":[]}');
      }, 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('the clients of one controller share its limit: the controller never sees more at once', async () => {
    // Three clients (as three managed keys would have), twelve requests at once.
    const clients = Array.from(
      { length: 3 },
      () =>
        new JenkinsClient({
          baseUrl: url,
          auth: { username: 'key-rotator', apiToken: 'synthetic-token-0001' },
          maxConcurrent: 2,
        }),
    );
    await Promise.all(Array.from({ length: 12 }, (_, i) => clients[i % 3]!.whoAmI().catch(() => undefined)));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2);
  });
});
