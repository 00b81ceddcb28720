/**
 * Plain-text output helpers: aligned tables, dates, counts. Colour (colors.ts) is applied to cells after they are
 * aligned, and only on a terminal, so output piped or redirected stays plain and greppable.
 */

export type Align = 'left' | 'right';

/** Display width of a string: code points (no East Asian widths or combining marks in our data). */
const width = (s: string): number => [...s].length;

/**
 * An aligned table: a header row, then one line per row; columns separated by two spaces, trailing spaces
 * trimmed. Missing cells are empty; `align` sets right-aligned columns (numbers).
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
  /** Styles a cell's text (not its padding): `row` is -1 for the header line. */
  paint?: (text: string, row: number, col: number) => string,
): string {
  const cols = Math.max(headers.length, ...rows.map((r) => r.length));
  const cell = (row: readonly string[], i: number) => (row[i] ?? '').replace(/\s+/g, ' ');
  const widths = Array.from({ length: cols }, (_, i) =>
    Math.max(width(cell(headers, i)), ...rows.map((r) => width(cell(r, i)))),
  );
  const line = (row: readonly string[], r: number) =>
    widths
      .map((w, i) => {
        const c = cell(row, i);
        const pad = ' '.repeat(w - width(c));
        const text = c && paint ? paint(c, r, i) : c;
        return align[i] === 'right' ? pad + text : text + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(headers, -1), ...rows.map((r, i) => line(r, i))].join('\n') + '\n';
}

/** `2025-06-01` (UTC), or `-` for none. */
export const day = (d: Date | string | undefined | null): string =>
  d === undefined || d === null ? '-' : (typeof d === 'string' ? d : d.toISOString()).slice(0, 10);

/** `3 keys`, `1 key`. */
export const count = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** `4.2 s`, `850 ms`. */
export const duration = (ms: number): string =>
  ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
