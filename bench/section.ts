/**
 * One part of `npm run bench`. Each file in bench/sections exports `section`; bench/run.ts runs them in file-name
 * order, prints each one's lines and, with `--json`, one JSON object keyed by section name.
 *
 * A section measures its subject side by side with a baseline in the same run and reports ratios: absolute times
 * on these machines are noise, ratios are not.
 */
export interface BenchContext {
  /** Runs per measurement (BENCH_RUNS, default 5). */
  readonly runs: number;
  /** The command line after `npm run bench --`, for a section's own options (e.g. `--users 5000`). */
  readonly argv: readonly string[];
}

export interface BenchResult {
  /** Human-readable lines, printed under the section's title. */
  readonly lines: readonly string[];
  /** The figures, as printed with `--json`. */
  readonly json: unknown;
}

export interface BenchSection {
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** A ratio printed as `3.2x`, or `n/a` when the baseline is zero. */
export const ratio = (value: number, baseline: number): string =>
  baseline === 0 ? 'n/a' : `${(value / baseline).toFixed(2)}x`;

/** The value of `--name value` in argv, or the fallback. */
export function option(argv: readonly string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bench: --${name} needs a positive number`);
  return v;
}
