import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import MarkdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import { ROOT, docCommands, docFiles, simpleCommands, withFences, type DocCommand } from '../support/docs';

/**
 * The documentation cannot rot silently: every table renders as the rows it is written with, every relative link
 * and anchor resolves, and every command it tells people to run is either run by a test (this one checks where) or
 * named here as needing something the project cannot provide (an AWS account, a real Jenkins).
 */
const files = docFiles();
const md = new MarkdownIt();

/** A table row's cells as GitHub splits them: on every `|` not escaped with a backslash (code spans included). */
const cells = (row: string): number =>
  row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/).length;

interface SourceTable {
  file: string;
  line: number;
  rows: string[];
  before: string;
}

function tables(): SourceTable[] {
  const out: SourceTable[] = [];
  for (const f of files) {
    let cur: SourceTable | undefined;
    let prev = '';
    for (const { line, n, fence, isFence } of withFences(f.lines)) {
      const isRow = !isFence && fence === undefined && /^\s*\|/.test(line);
      if (isRow) {
        cur ??= { file: f.path, line: n, rows: [], before: prev };
        cur.rows.push(line);
      } else if (cur) {
        out.push(cur);
        cur = undefined;
      }
      prev = line;
    }
    if (cur) out.push(cur);
  }
  return out;
}

const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchors(path: string): Set<string> {
  const text = readFileSync(join(ROOT, path), 'utf8');
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line, fence, isFence } of withFences(text.split('\n'))) {
    if (isFence || fence !== undefined) continue;
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1] ?? '');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

describe('documentation tables', () => {
  const all = tables();

  it('finds the tables (the configuration fields, the deploy parameters, the permissions among them)', () => {
    expect(all.length).toBeGreaterThanOrEqual(8);
    for (const page of ['docs/configuration.md', 'docs/deploying.md', 'docs/permissions.md'])
      expect(all.some((t) => t.file === page)).toBe(true);
  });

  it.each(all.map((t) => [`${t.file}:${t.line}`, t] as const))(
    '%s: starts after a blank line, has a delimiter row, and every row the header’s number of cells',
    (_, t) => {
      expect(t.before.trim(), 'a table must follow a blank line, else it joins the paragraph').toBe('');
      expect(t.rows.length).toBeGreaterThanOrEqual(3);
      expect(t.rows[1] ?? '').toMatch(/^\s*\|(\s*:?-+:?\s*\|)+\s*$/);
      const width = cells(t.rows[0] ?? '');
      t.rows.forEach((row, i) => {
        expect(cells(row), `row ${i + 1} (line ${t.line + i}): ${row.trim().slice(0, 80)}`).toBe(width);
      });
    },
  );

  it.each(files.map((f) => [f.path, f] as const))('%s renders every table row as a row', (_, f) => {
    const html = md.render(f.lines.join('\n'));
    const sourceRows = tables()
      .filter((t) => t.file === f.path)
      .reduce((n, t) => n + t.rows.length - 1, 0);
    expect((html.match(/<tr>/g) ?? []).length).toBe(sourceRows);
  });
});

describe('documentation links', () => {
  const links = files.flatMap((f) =>
    [...withFences(f.lines)]
      .filter(({ fence, isFence }) => !isFence && fence === undefined)
      .flatMap(({ line, n }) =>
        [...line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({
          file: f.path,
          line: n,
          target: m[1] ?? '',
        })),
      )
      .filter((l) => !/^(https?:|mailto:)/.test(l.target)),
  );

  it('finds the links between the pages', () => {
    expect(
      links.filter((l) => l.file === 'README.md' && l.target.startsWith('docs/')).length,
    ).toBeGreaterThan(10);
  });

  it.each(links.map((l) => [`${l.file}:${l.line} -> ${l.target}`, l] as const))('%s resolves', (_, l) => {
    const [path = '', anchor] = l.target.split('#');
    const target = path === '' ? l.file : normalize(join(dirname(l.file), path));
    expect(existsSync(join(ROOT, target)), `${target} exists`).toBe(true);
    if (anchor !== undefined && target.endsWith('.md')) expect([...anchors(target)]).toContain(anchor);
  });
});

/**
 * Where each documented command is exercised. `key-rotator` commands are all run against the sandbox by
 * test/integration/docs-commands.test.ts; npm scripts by the file named here (which must mention the script);
 * the rest need an AWS account or a real Jenkins, and say so.
 */
const NPM_EXERCISED: Record<string, string> = {
  ci: '.ci/run',
  test: '.ci/run',
  start: 'test/integration/start.test.ts',
  'run test:faults': '.ci/run',
  'run test:portable': 'package.json',
  'run sandbox': 'test/support/sandbox.ts',
  'run demo:keyless': 'test/integration/demo-keyless.test.ts',
  'run cli': 'test/integration/docs-commands.test.ts',
  'run bench': 'test/integration/bench.test.ts',
  'run build': 'test/support/build-cli.ts',
  install: 'package.json',
};
const MENTIONS: Record<string, string> = {
  ci: 'npm ci',
  test: 'npm test',
  start: 'scripts/start.ts',
  'run test:faults': 'npm run test:faults',
  'run test:portable': 'vitest run test/integration/portable.test.ts',
  'run sandbox': 'scripts/sandbox.ts',
  'run demo:keyless': 'scripts/demo-keyless.ts',
  'run cli': 'run cli',
  'run bench': 'bench/run.ts',
  'run build': 'scripts/build-cli',
  install: '"prepare": "npm run build"',
};

type Classified =
  | { kind: 'key-rotator' }
  | { kind: 'npm'; script: string }
  | { kind: 'exercised'; by: string }
  | { kind: 'external'; why: string }
  | { kind: 'unknown'; part: string };

function classify(c: DocCommand): Classified[] {
  return simpleCommands(c.text).map(({ env, argv }): Classified => {
    if (/^(npx )?key-rotator( |$)/.test(argv)) return { kind: 'key-rotator' };
    if ('JKR_IT_AWS_ENDPOINT' in env)
      return {
        kind: 'external',
        why: 'the portable suite against another endpoint (LocalStack, an AWS account)',
      };
    const npm = /^npm (ci|install|start|test|run [\w:-]+)\b/.exec(argv);
    if (npm) return { kind: 'npm', script: npm[1] ?? '' };
    if (argv === 'npx serverless package --stage ci') return { kind: 'exercised', by: '.ci/run' };
    if (argv.startsWith('npx tsx scripts/sandbox-check.ts'))
      return { kind: 'exercised', by: 'test/localcloud/sandbox.test.ts' };
    if (/^(sleep \d+|kill %\d+)$/.test(argv)) return { kind: 'external', why: 'a shell builtin' };
    if (argv.startsWith('npx serverless deploy'))
      return { kind: 'external', why: 'deploys to an AWS account' };
    if (/^aws /.test(argv)) return { kind: 'external', why: 'the AWS CLI against a real account' };
    if (/^(for |do$|done$|cat |jq )/.test(argv))
      return { kind: 'external', why: 'shell around an AWS CLI call' };
    return { kind: 'unknown', part: argv };
  });
}

describe('documented commands', () => {
  const commands = docCommands(files);

  it('finds them in README and docs/', () => {
    expect(commands.filter((c) => c.file === 'README.md').map((c) => c.text)).toEqual(
      expect.arrayContaining(['npm ci', 'npm start', 'npm test']),
    );
    expect(commands.filter((c) => /key-rotator/.test(c.text)).length).toBeGreaterThan(15);
  });

  it.each(commands.map((c) => [`${c.file}:${c.line} ${c.text.slice(0, 70)}`, c] as const))(
    '%s is exercised somewhere, or says why it cannot be',
    (_, c) => {
      const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: object })
        .scripts;
      for (const k of classify(c)) {
        expect(k.kind, `unclassified: ${k.kind === 'unknown' ? k.part : ''}`).not.toBe('unknown');
        if (k.kind === 'npm') {
          const name = k.script.replace(/^run /, '');
          if (k.script !== 'ci' && k.script !== 'install') expect(Object.keys(scripts)).toContain(name);
          const by = NPM_EXERCISED[k.script];
          expect(by, `npm ${k.script}: which test or script runs it?`).toBeDefined();
          const mention = MENTIONS[k.script];
          expect(mention, `npm ${k.script}: what must ${by} mention?`).toBeDefined();
          expect(readFileSync(join(ROOT, by ?? ''), 'utf8')).toContain(mention ?? '');
        }
        if (k.kind === 'exercised') expect(existsSync(join(ROOT, k.by))).toBe(true);
      }
    },
  );
});
