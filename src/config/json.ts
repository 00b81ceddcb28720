import type { ConfigIssue } from './errors';

class SyntaxAt extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at ${offset}`);
  }
}

/**
 * The offset of the first JSON syntax error in `text` (RFC 8259), or undefined when it parses. V8's messages
 * give a position for some errors only ("Unexpected token …, "…" is not valid JSON" has none), so we find it.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (at = i): never => {
    throw new SyntaxAt(at);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const expect = (c: string) => {
    ws();
    if (text.charAt(i) !== c) fail();
    i++;
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      const c = text.charAt(i);
      if (c === '') fail();
      if (c === '"') return void i++;
      if (c < ' ') fail();
      if (c !== '\\') {
        i++;
        continue;
      }
      const e = text.charAt(i + 1);
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
      else if (e !== '' && '"\\/bfnrt'.includes(e)) i += 2;
      else fail(i + 1);
    }
  };
  const members = <T>(close: string, member: () => T) => {
    i++; // the opening bracket
    ws();
    if (text.charAt(i) === close) return void i++;
    for (;;) {
      member();
      ws();
      const c = text.charAt(i);
      i++;
      if (c === close) return;
      if (c !== ',') fail(i - 1);
    }
  };
  const value = (): void => {
    ws();
    const c = text.charAt(i);
    if (c === '{')
      members('}', () => {
        ws();
        if (text.charAt(i) !== '"') fail();
        string();
        expect(':');
        value();
      });
    else if (c === '[') members(']', value);
    else if (c === '"') string();
    else {
      const literal = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i))?.[0];
      if (literal === undefined) fail();
      else i += literal.length;
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (err) {
    if (err instanceof SyntaxAt) return err.offset;
    throw err;
  }
}

/** A JSON syntax error as an issue with its line and column (1-based), from `JSON.parse`'s error. */
export function jsonSyntaxIssue(text: string, error: unknown): ConfigIssue {
  if (text.trim() === '') return { path: '', message: 'invalid JSON: the file is empty' };
  const offset = Math.min(jsonErrorOffset(text) ?? text.length, text.length);
  const before = text.slice(0, offset).split('\n');
  const line = before.length;
  const column = (before.at(-1)?.length ?? 0) + 1;
  const what =
    offset >= text.length
      ? 'unexpected end of the file'
      : (error instanceof Error ? error.message : String(error))
          .replace(/, .* is not valid JSON$/s, '')
          .replace(/\s*in JSON at position \d+(\s*\(line \d+ column \d+\))?/, '');
  return { path: '', message: `invalid JSON at line ${line}, column ${column}: ${what}`, line, column };
}
