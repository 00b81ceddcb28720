import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli';
import { ROOT, docCommands, shellWords, simpleCommands } from '../support/docs';
import { startSandbox, type RunningSandbox } from '../support/sandbox';

/**
 * Every `key-rotator` command that README.md and docs/ tell people to run, run as written against the demo sandbox
 * (`SANDBOX_SEED=demo npm run sandbox`, the set-up `npm start` rotates), in document order, so that an option
 * renamed or a command removed fails here before a reader finds out. Placeholders take the sandbox's values:
 * `<user>` jenkins-prod, `<key>` prod-ecr-push, `<command>` audit; `rotator.config.json` is the sandbox's
 * configuration. Each must parse (no usage error, exit 2); one whose comment says `# exit N`, or that the docs show
 * succeeding, must exit as shown.
 */
const PLACEHOLDERS: Record<string, string> = {
  '<user>': 'jenkins-prod',
  '<key>': 'prod-ecr-push',
  '<command>': 'audit',
};

/** The exit codes the docs promise for a command, where they promise one (the rest must only parse). */
const EXPECTED: { match: RegExp; code: number }[] = [
  { match: /^key-rotator (--sandbox \S+ )?audit$/, code: 0 },
  { match: /^key-rotator check --fail-on high$/, code: 1 },
  { match: /^key-rotator check --emit-policy policies$/, code: 0 },
  { match: /^key-rotator self-rotate prod-ecr-push --print-policy$/, code: 0 },
  { match: /^key-rotator report /, code: 0 },
];

interface Documented {
  where: string;
  expectedExit?: number;
  argv: string[];
  display: string;
}

function documented(lineFile: string): Documented[] {
  const out: Documented[] = [];
  for (const c of docCommands()) {
    for (const { argv } of simpleCommands(c.text)) {
      const m = /^(?:npx )?key-rotator(?: (.*))?$/.exec(argv);
      const npmCli = /^npm run cli -- (.*)$/.exec(argv);
      const rest = m?.[1] ?? npmCli?.[1];
      if (rest === undefined) continue;
      const words = shellWords(rest).map((w) =>
        w === '/tmp/sandbox.json' ? lineFile : (PLACEHOLDERS[w] ?? w),
      );
      out.push({
        where: `${c.file}:${c.line}`,
        ...(c.expectedExit !== undefined ? { expectedExit: c.expectedExit } : {}),
        argv: words,
        display: `key-rotator ${words.join(' ').replace(lineFile, 'SANDBOX')}`,
      });
    }
  }
  return out;
}

let sandbox: RunningSandbox;
let cwd = '';
let lineFile = '';

beforeAll(async () => {
  sandbox = await startSandbox();
  cwd = await mkdtemp(join(tmpdir(), 'jkr-docs-commands-'));
  lineFile = join(cwd, 'sandbox.json');
  await writeFile(lineFile, sandbox.line);
  await copyFile(sandbox.configFile, join(cwd, 'rotator.config.json'));
}, 60_000);

afterAll(async () => {
  sandbox.stop();
  await rm(cwd, { recursive: true, force: true });
});

/** The configuration comes from the sandbox line (or the command's own argument), not from this environment. */
const { KEY_ROTATOR_CONFIG: _ignored, ...env } = process.env;

function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = argv.includes('--sandbox') ? argv : ['--sandbox', lineFile, ...argv];
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    ),
  );
}

describe('every key-rotator command in README.md and docs/', () => {
  it('runs each as written against the demo sandbox: it parses, and exits as the docs say', async () => {
    const commands = documented(lineFile);
    expect(commands.length).toBeGreaterThan(15);
    const failures: string[] = [];
    for (const c of commands) {
      const r = await run(c.argv);
      const expected = c.expectedExit ?? EXPECTED.find((e) => e.match.test(c.display))?.code;
      const problem =
        expected !== undefined
          ? r.code !== expected
            ? `exit ${r.code}, the docs show exit ${expected}`
            : undefined
          : r.code === 2 || /unknown (option|command)/.test(r.stderr)
            ? 'a usage error'
            : r.code !== 0 && r.code !== 1
              ? `exit ${r.code}`
              : undefined;
      if (problem)
        failures.push(
          `${c.where}: ${c.display}: ${problem}\n    ${r.stderr.trim().split('\n').slice(0, 3).join('\n    ')}`,
        );
    }
    expect(failures).toEqual([]);
  }, 900_000);

  it('npm run cli -- <command> is the same CLI (README: "or npm run cli")', async () => {
    const r = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(
        'npm',
        ['run', '--silent', 'cli', '--', '--sandbox', lineFile, 'audit', '--json'],
        { cwd: ROOT, env: { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
        (err, stdout) => resolve({ code: err ? -1 : 0, stdout }),
      ),
    );
    expect(r.code).toBe(0);
    const users = (JSON.parse(r.stdout) as { users: { userName: string }[] }).users.map((u) => u.userName);
    expect(users).toEqual(expect.arrayContaining(['jenkins-prod', 'jenkins-dev']));
  }, 120_000);
});
