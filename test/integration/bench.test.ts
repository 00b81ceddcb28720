import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * `npm run bench` runs with nothing outside the repository (tsx bench/run.ts). This checks that it runs and
 * reports its figures, never what they are: speed is measured by the benchmark, not asserted by tests.
 */
function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ['node_modules/tsx/dist/cli.mjs', 'bench/run.ts', ...args],
      { env: { ...process.env, BENCH_RUNS: '1' }, timeout: 300_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

describe('npm run bench', () => {
  it('--only rotation --json: one JSON object with the section’s figures', async () => {
    const r = await bench(['--only', 'rotation', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['rotation']);
    expect(json['rotation']).toMatchObject({ runs: 1, rows: expect.any(Array) as unknown[] });
  }, 300_000);

  it('names the sections it knows when asked for one it does not', async () => {
    const r = await bench(['--only', 'nope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown section nope; known: .*rotation/);
  }, 60_000);
});
