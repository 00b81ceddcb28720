/**
 * CSV as RFC 4180 has it: a header line, then one line per row, CRLF line ends; a field holding a comma, a quote,
 * CR or LF is quoted, its quotes doubled. null and undefined are empty fields; booleans are true/false.
 */
export type CsvValue = string | number | boolean | null | undefined;

const field = (v: CsvValue): string => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

export function toCsv(headers: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return [headers, ...rows].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}
