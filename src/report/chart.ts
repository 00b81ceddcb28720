/**
 * The chart of key ages against each key's rotation line: one row per key, a mark at its age and a tick at its
 * line (maxAgeDays), on one day scale. Static SVG (no script), styled by the page's CSS (light and dark), with a
 * title and a description for screen readers; the keys table is its full text equivalent.
 */
import { day, esc, plural, relativeDays } from './escape';
import { DUE_SOON_DAYS, type KeyState, type ReportKey } from './model';

/** More keys than this: the chart shows the most urgent ones and says how many it leaves to the table. */
export const CHART_MAX_ROWS = 250;

const WIDTH = 1000;
const LABEL_WIDTH = 300;
const DUE_WIDTH = 230;
const ROW = 24;
const TOP = 42;
const BOTTOM = 34;
const STEPS = [7, 15, 30, 60, 90, 180, 365, 730, 1825];

export interface ChartRow {
  key: ReportKey;
  /** The row's vertical centre. */
  y: number;
  /** The mark (age) and the rotation line (maxAgeDays), in SVG units. */
  x: number;
  limitX: number;
}

export interface ChartLayout {
  width: number;
  height: number;
  /** The plot's left (0 days) and right (`domainDays`) edges. */
  x0: number;
  x1: number;
  domainDays: number;
  ticks: number[];
  rows: ChartRow[];
  /** Keys not drawn (beyond CHART_MAX_ROWS). */
  omitted: number;
}

const STATE_ORDER: Record<KeyState, number> = { stale: 0, 'due-soon': 1, ok: 2, inactive: 3 };

/** Most urgent first: active keys by how far along their line they are, then inactive keys by age. */
export const byUrgency = (a: ReportKey, b: ReportKey): number =>
  STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
  (a.state === 'inactive' ? b.ageDays - a.ageDays : b.ageDays / b.maxAgeDays - a.ageDays / a.maxAgeDays) ||
  a.user.localeCompare(b.user) ||
  a.accessKeyId.localeCompare(b.accessKeyId);

/** Where everything goes (pure): the scale covers every drawn key's age and line, in round steps. */
export function chartLayout(keys: readonly ReportKey[], maxRows = CHART_MAX_ROWS): ChartLayout {
  const drawn = [...keys].sort(byUrgency).slice(0, maxRows);
  const need = Math.max(30, ...drawn.map((k) => Math.max(k.maxAgeDays * 1.2, k.ageDays + 3)));
  const step = STEPS.find((s) => need / s <= 8) ?? STEPS[STEPS.length - 1]!;
  const domainDays = Math.ceil(need / step) * step;
  const x0 = LABEL_WIDTH;
  const x1 = WIDTH - DUE_WIDTH;
  const scale = (days: number) => x0 + ((x1 - x0) * Math.min(days, domainDays)) / domainDays;
  const ticks = Array.from({ length: domainDays / step + 1 }, (_, i) => i * step);
  return {
    width: WIDTH,
    height: TOP + drawn.length * ROW + BOTTOM,
    x0,
    x1,
    domainDays,
    ticks,
    rows: drawn.map((key, i) => ({
      key,
      y: TOP + i * ROW + ROW / 2,
      x: scale(key.ageDays),
      limitX: scale(key.maxAgeDays),
    })),
    omitted: keys.length - drawn.length,
  };
}

const n = (v: number) => String(Math.round(v * 10) / 10);

function dueText(k: ReportKey): string {
  if (k.state === 'inactive')
    return k.deletionDue ? `inactive; deleted after ${day(k.deletionDue)}` : 'inactive';
  if (!k.dueDate || k.daysLeft === null) return '';
  return k.daysLeft < 0
    ? `due ${day(k.dueDate)}, ${plural(-k.daysLeft, 'day')} over`
    : `due ${day(k.dueDate)}, ${relativeDays(k.daysLeft)}`;
}

/** The words for one key, as its tooltip and in the description. */
export function markText(k: ReportKey): string {
  const what = `${k.user} ${k.accessKeyId}: ${plural(k.ageDays, 'day')} old, rotation line ${k.maxAgeDays} days`;
  const state =
    k.state === 'stale'
      ? 'past its line'
      : k.state === 'due-soon'
        ? `due within ${DUE_SOON_DAYS} days`
        : k.state === 'inactive'
          ? 'inactive'
          : 'within its line';
  const due = dueText(k);
  return `${what}, ${state}${due && k.state !== 'inactive' ? ` (${due})` : ''}`;
}

/** The mark's shape: a circle, a diamond past the line, a ring when inactive (not colour alone). */
function dot(row: ChartRow): string {
  const { x, y } = row;
  if (row.key.state === 'stale')
    return `<path class="dot" d="M${n(x)} ${n(y - 7)}L${n(x + 7)} ${n(y)}L${n(x)} ${n(y + 7)}L${n(x - 7)} ${n(y)}Z"/>`;
  return `<circle class="dot" cx="${n(x)}" cy="${n(y)}" r="${row.key.state === 'inactive' ? 4.5 : 5.5}"/>`;
}

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** The chart as inline SVG; `id` prefixes its ids (title, description). */
export function renderChart(keys: readonly ReportKey[], id = 'ages'): string {
  const L = chartLayout(keys);
  const bottom = L.height - BOTTOM;
  const stale = L.rows.filter((r) => r.key.state === 'stale').map((r) => r.key);
  const soon = L.rows.filter((r) => r.key.state === 'due-soon').map((r) => r.key);
  const desc = [
    `${plural(L.rows.length, 'key')} on a scale of 0 to ${L.domainDays} days${L.omitted ? ` (the ${L.rows.length} most urgent of ${keys.length})` : ''}.`,
    stale.length
      ? `${plural(stale.length, 'key')} past their rotation line: ${stale.map(markText).join('; ')}.`
      : 'No key is past its rotation line.',
    soon.length
      ? `${plural(soon.length, 'key')} due within ${DUE_SOON_DAYS} days: ${soon.map(markText).join('; ')}.`
      : '',
    'The table of access keys below gives every key with the same figures.',
  ]
    .filter(Boolean)
    .join(' ');
  const grid = L.ticks
    .map((t) => {
      const x = L.x0 + ((L.x1 - L.x0) * t) / L.domainDays;
      return (
        `<line class="grid${t === 0 ? ' axis-zero' : ''}" x1="${n(x)}" x2="${n(x)}" y1="${TOP - 2}" y2="${bottom}"/>` +
        // The scale's labels above and below: a long chart is read from either end.
        [TOP - 10, bottom + 16]
          .map(
            (y) =>
              `<text class="tick" x="${n(x)}" y="${y}" text-anchor="middle">${t === 0 ? '0' : `${t} d`}</text>`,
          )
          .join('')
      );
    })
    .join('');
  const rows = L.rows
    .map((row) => {
      const k = row.key;
      const top = row.y - ROW / 2 + 2;
      return (
        `<g class="mark state-${k.state}" data-key="${esc(k.accessKeyId)}" data-user="${esc(k.user)}" data-age="${k.ageDays}" data-max-age="${k.maxAgeDays}"${k.dueDate ? ` data-due="${esc(day(k.dueDate))}"` : ''}>` +
        `<title>${esc(markText(k))}</title>` +
        `<text class="label" x="8" y="${n(row.y + 4)}">${esc(clip(k.user, 20))}</text>` +
        `<text class="label key-id" x="${L.x0 - 10}" y="${n(row.y + 4)}" text-anchor="end">${esc(k.accessKeyId)}</text>` +
        `<line class="bar" x1="${L.x0}" x2="${n(row.x)}" y1="${n(row.y)}" y2="${n(row.y)}"/>` +
        `<line class="limit" x1="${n(row.limitX)}" x2="${n(row.limitX)}" y1="${n(top)}" y2="${n(top + ROW - 4)}"/>` +
        dot(row) +
        `<text class="due" x="${L.x1 + 12}" y="${n(row.y + 4)}">${esc(dueText(k))}</text>` +
        `</g>`
      );
    })
    .join('');
  return (
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${L.width} ${L.height}" width="${L.width}" height="${L.height}" role="img" aria-labelledby="${id}-title" aria-describedby="${id}-desc" data-domain-days="${L.domainDays}">` +
    `<title id="${id}-title">Age of each access key against its rotation line</title>` +
    `<desc id="${id}-desc">${esc(desc)}</desc>` +
    `<text class="axis-title" x="${L.x0}" y="14">age in days; the tick on each row is that key's rotation line</text>` +
    grid +
    rows +
    `</svg>`
  );
}
