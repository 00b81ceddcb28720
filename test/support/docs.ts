import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The documentation as data, for the tests that keep it true: README.md and every page under docs/, their tables,
 * links and the commands they tell people to run.
 */
export const ROOT = join(import.meta.dirname, '..', '..');

export interface DocFile {
  /** Relative to the project root, e.g. `docs/cli.md`. */
  readonly path: string;
  readonly lines: readonly string[];
}

export function docFiles(): DocFile[] {
  const pages = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...pages].map((path) => ({
    path,
    lines: readFileSync(join(ROOT, path), 'utf8').split('\n'),
  }));
}

/** Each line with whether it is inside a fenced code block, and that block's info string. */
export function* withFences(
  lines: readonly string[],
): Generator<{ line: string; n: number; fence: string | undefined; isFence: boolean }> {
  let fence: string | undefined;
  for (const [i, line] of lines.entries()) {
    const m = /^\s*```(\S*)/.exec(line);
    if (m) {
      fence = fence === undefined ? (m[1] ?? '') : undefined;
      yield { line, n: i + 1, fence, isFence: true };
      continue;
    }
    yield { line, n: i + 1, fence, isFence: false };
  }
}

export interface DocCommand {
  readonly file: string;
  readonly line: number;
  /** The command as a reader would type it: prompt, comment and line continuations removed. */
  readonly text: string;
  /** Where it was written: a shell block (`sh`), a `$ ` line of an output block, or an inline code span. */
  readonly form: 'block' | 'prompt' | 'inline';
  /** The exit code its trailing comment promises (`# exit 1: …`), if it promises one. */
  readonly expectedExit?: number;
}

/**
 * The commands the documentation tells people to run: every line of a `sh`/`bash` block, every `$ ` line of a
 * plain block (an example session), and every inline code span that starts with `npx `, `npm ` or `aws ` (in
 * prose a bare `key-rotator audit` names a command; `npx key-rotator audit` is one to run).
 */
export function docCommands(files: readonly DocFile[] = docFiles()): DocCommand[] {
  const out: DocCommand[] = [];
  for (const f of files) {
    let pending = '';
    for (const { line, n, fence, isFence } of withFences(f.lines)) {
      if (isFence) continue;
      if (fence === undefined) {
        for (const m of line.matchAll(/`([^`]+)`/g)) {
          const span = m[1] ?? '';
          if (/^(npx |npm |aws )/.test(span)) out.push({ file: f.path, line: n, text: span, form: 'inline' });
        }
        continue;
      }
      const shell = fence === 'sh' || fence === 'bash';
      let s = line.trim();
      if (!shell) {
        if (!s.startsWith('$ ')) continue;
      }
      if (s.startsWith('$ ')) s = s.slice(2);
      if (s.endsWith('\\')) {
        pending += `${s.slice(0, -1).trim()} `;
        continue;
      }
      const full = pending + s;
      pending = '';
      const comment = /\s#\s*(.*)$/.exec(full)?.[1] ?? '';
      s = full.replace(/\s+#.*$/, '').trim();
      if (s === '' || s.startsWith('#')) continue;
      const exit = /^exit (\d)\b/.exec(comment)?.[1];
      out.push({
        file: f.path,
        line: n,
        text: s,
        form: shell ? 'block' : 'prompt',
        ...(exit !== undefined ? { expectedExit: Number(exit) } : {}),
      });
    }
  }
  return out;
}

/**
 * Splits a shell line into its commands (`&&`, `||`, `;`, `|`, `&`, outside quotes), each without its output
 * redirection and leading `VAR=value` assignments.
 */
export function simpleCommands(text: string): { env: Record<string, string>; argv: string }[] {
  const parts: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (quote) {
      if (ch === quote) quote = undefined;
      cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === ';' || ch === '|' || ch === '&') {
      if (ch === '&' && text[i - 1] === '>') {
        cur += ch;
        continue;
      }
      parts.push(cur);
      cur = '';
      if (text[i + 1] === ch) i++;
    } else cur += ch;
  }
  parts.push(cur);
  return parts
    .map((part) => part.replace(/\s*[12]?>\s*\S+$/, '').trim())
    .filter((part) => part !== '')
    .map((part) => {
      const env: Record<string, string> = {};
      let rest = part;
      for (;;) {
        const m = /^([A-Z_][A-Z0-9_]*)=(\S*)\s+/.exec(rest);
        if (!m) break;
        env[m[1] ?? ''] = m[2] ?? '';
        rest = rest.slice(m[0].length);
      }
      return { env, argv: rest };
    });
}

/** Shell-like word splitting (single and double quotes; no expansion). */
export function shellWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let any = false;
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (any || cur !== '') words.push(cur);
      cur = '';
      any = false;
    } else cur += ch;
  }
  if (quote) throw new Error(`unterminated quote in: ${s}`);
  if (any || cur !== '') words.push(cur);
  return words;
}
