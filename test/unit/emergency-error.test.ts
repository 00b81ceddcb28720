import { describe, expect, it } from 'vitest';
import { EmergencyFailedError, MAX_ERROR_MESSAGE_BYTES } from '../../handlers/emergency';
import type { EmergencyReport, HealthCounts, HealthReport } from '../../src/engine/emergency';

const counts: HealthCounts = {
  exposed: 40,
  managed: 40,
  rotated: 0,
  revoked: 0,
  contained: 40,
  failed: 0,
  unmanaged: 0,
  errors: 0,
  ownersNotLookedUp: 0,
  omitted: 0,
};

const keyReport = (i: number, extra = ''): EmergencyReport => ({
  reason: 'AWS Health: credentials exposed',
  key: `key-${i}`,
  user: `jenkins-${i}`,
  target: { accessKeyId: `AKIA${String(i).padStart(16, '0')}` },
  compromisedKey: {
    accessKeyId: `AKIA${String(i).padStart(16, '0')}`,
    wasCurrent: true,
    before: 'Active',
    after: 'Inactive',
  },
  outcome: 'contained',
  summary: `Compromised key ${i} is DEACTIVATED, BUT: Jenkins answered 503${extra}`,
  actions: [],
  failures: ['the rotation failed at setSecret: Jenkins answered 503'],
  warnings: ['x'.repeat(2000)],
  durationMs: 1,
});

const health = (n: number): HealthReport => ({
  source: 'aws.health',
  reason: 'AWS Health: credentials exposed',
  results: Array.from({ length: n }, (_, i) => ({
    accessKeyId: `AKIA${String(i).padStart(16, '0')}`,
    outcome: 'contained' as const,
    report: keyReport(i),
  })),
  counts: { ...counts, exposed: n, managed: n, contained: n },
  outcome: 'failed',
  summary: `${n} exposed keys: ${n} contained (revoked, but something failed). …`,
});

describe('EmergencyFailedError: the message the caller and CloudWatch get', () => {
  it('is the summary and the whole report as JSON when that fits', () => {
    const report = health(2);
    const err = new EmergencyFailedError(report);
    expect(err.message).toBe(`${report.summary}\nReport: ${JSON.stringify(report)}`);
    expect(err.report).toBe(report);
  });

  it('is the summary, the counts and where the report is when the report is too large', () => {
    const report = health(40);
    expect(Buffer.byteLength(JSON.stringify(report))).toBeGreaterThan(MAX_ERROR_MESSAGE_BYTES);
    const err = new EmergencyFailedError(report);
    expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    expect(err.message).toMatch(/^40 exposed keys: 40 contained/);
    expect(err.message).toContain(`\nCounts: ${JSON.stringify(report.counts)}\n`);
    expect(err.message).toMatch(
      /The full report \(\d+ bytes as JSON\) is too large for this message: it is in the function's log/,
    );
    expect(err.report.outcome).toBe('failed');
  });

  it('cuts a summary too long for it, and redacts what looks like a secret (defence in depth)', () => {
    const long = keyReport(1, ` ${'detail '.repeat(10_000)}`);
    expect(Buffer.byteLength(new EmergencyFailedError(long).message)).toBeLessThanOrEqual(
      MAX_ERROR_MESSAGE_BYTES,
    );
    const leaky = keyReport(2, ' (proxy said password=Fake-pw-42)');
    const message = new EmergencyFailedError(leaky).message;
    expect(message).not.toContain('Fake-pw-42');
    expect(message).toContain('password=[redacted]');
  });
});
