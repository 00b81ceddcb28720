/**
 * `npm run bench`: what the rotator costs, measured rather than asserted, each figure beside a baseline measured in
 * the same run. Runs every section in bench/sections (file-name order); `--only NAME[,NAME]` picks sections,
 * `--json` prints one JSON object keyed by section name. Numbers vary with the machine; the ratios are the point.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { quietSdkNodeNotice } from '../src/cli/node-support';
import type { BenchSection } from './section';

// The SDK's 9-line Node.js notice once per client would bury the figures (docs/cli-in-ci.md says it once, in doctor).
quietSdkNodeNotice();

const argv = process.argv.slice(2);
const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',').filter(Boolean) : undefined;
const dir = join(dirname(fileURLToPath(import.meta.url)), 'sections');
const sections: BenchSection[] = [];
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .sort()) {
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { section: BenchSection };
  sections.push(mod.section);
}
if (only) {
  const unknown = only.filter((n) => !sections.some((s) => s.name === n));
  if (unknown.length > 0)
    throw new Error(
      `bench: unknown section ${unknown.join(', ')}; known: ${sections.map((s) => s.name).join(', ')}`,
    );
}
const json: Record<string, unknown> = {};
for (const s of sections) {
  if (only && !only.includes(s.name)) continue;
  const result = await s.run({ runs, argv });
  json[s.name] = result.json;
  if (!argv.includes('--json')) console.log([`\n## ${s.title}`, ...result.lines].join('\n'));
}
if (argv.includes('--json')) console.log(JSON.stringify(json));
