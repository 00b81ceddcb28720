/**
 * Start-up of the `key-rotator` command: `--help` and `audit --help` (the front alone), and `validate-config` on
 * config/example.json (a command: the whole CLI loaded, no network), each a fresh process, through the prebuilt bin
 * (bin/key-rotator.js running dist/cli/, built here first) beside the old path, the TypeScript source compiled at
 * run time by tsx, and beside `node` doing nothing (the floor). Median wall time of BENCH_RUNS runs; the budget is
 * 300 ms for the prebuilt bin.
 */
import { spawnSync } from 'node:child_process';
import { buildCli } from '../../scripts/build-cli';
import { type BenchSection, median, ratio } from '../section';

const BUDGET_MS = 300;

/** Median wall time of `node ...args`, in ms; throws if the command fails. */
function startMs(args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`bench: node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return Math.round(median(times));
}

export const section: BenchSection = {
  name: 'cli-start',
  title:
    'CLI start-up: the prebuilt bin against tsx compiling the source (median ms, fresh process each run)',
  async run(ctx) {
    await buildCli();
    const floor = startMs(['-e', ''], ctx.runs);
    const commands = [['--help'], ['audit', '--help'], ['validate-config', 'config/example.json']];
    const rows = commands.map((cmd) => {
      const built = startMs(['bin/key-rotator.js', ...cmd], ctx.runs);
      const tsx = startMs(['node_modules/tsx/dist/cli.mjs', 'src/cli/main.ts', ...cmd], ctx.runs);
      return {
        command: `key-rotator ${cmd.join(' ')}`,
        builtMs: built,
        tsxMs: tsx,
        withinBudget: built <= BUDGET_MS,
      };
    });
    const lines = [
      `${'command'.padEnd(48)} ${'prebuilt'.padStart(9)} ${'tsx'.padStart(7)} ${'prebuilt/tsx'.padStart(13)}  budget ${BUDGET_MS} ms`,
      ...rows.map(
        (r) =>
          `${r.command.padEnd(48)} ${String(r.builtMs).padStart(9)} ${String(r.tsxMs).padStart(7)} ${ratio(r.builtMs, r.tsxMs).padStart(13)}  ${r.withinBudget ? 'ok' : 'OVER'}`,
      ),
      `(node doing nothing: ${floor} ms)`,
    ];
    return { lines, json: { budgetMs: BUDGET_MS, nodeFloorMs: floor, commands: rows } };
  },
};
