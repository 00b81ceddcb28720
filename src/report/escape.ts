/** HTML text and attribute escaping: every value from AWS, Jenkins or the configuration goes through it. */
export const esc = (value: string | number): string =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** `2026-05-30` (UTC) from an ISO date. */
export const day = (isoDate: string): string => isoDate.slice(0, 10);

/** `in 5 days`, `today`, `30 days ago`. */
export function relativeDays(days: number): string {
  if (days === 0) return 'today';
  const n = Math.abs(days);
  const unit = n === 1 ? 'day' : 'days';
  return days > 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
