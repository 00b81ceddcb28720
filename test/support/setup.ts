import { afterEach, beforeEach } from 'vitest';

// Shared test setup.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(String(reason));
});

/**
 * Quiet tests: what a test file writes to stdout and stderr (the rotator's structured logs, the SDK's notices) is
 * kept per test and shown only when that test fails, together with what the file wrote outside any test (its
 * beforeAll). TEST_LOGS=show passes everything through as it is written.
 */
const real = {
  out: process.stdout.write.bind(process.stdout),
  err: process.stderr.write.bind(process.stderr),
};
let current: string[] | undefined;
const outside: string[] = [];

if (process.env['TEST_LOGS'] !== 'show') {
  const keep =
    () =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      (current ?? outside).push(text);
      const done = rest.find((r): r is () => void => typeof r === 'function');
      done?.();
      return true;
    };
  process.stdout.write = keep();
  process.stderr.write = keep();
}

beforeEach(() => {
  current = [];
});

afterEach((ctx) => {
  const kept = current ?? [];
  current = undefined;
  if (ctx.task.result?.state !== 'fail' || process.env['TEST_LOGS'] === 'show') return;
  const text = [...outside, ...kept].join('');
  if (text) real.err(`\n── output of the failed test "${ctx.task.name}" ──\n${text}── end of output ──\n`);
});

// A suite's own summary line goes straight to the terminal, past the capture (see report.ts).
(globalThis as Record<symbol, unknown>)[Symbol.for('jenkins-key-rotator.report')] = real.out;
