/** One access-key slot (`access_key_1_*` or `access_key_2_*`) of a credential report row. */
export interface ReportKeySlot {
  active: boolean;
  /** When the key was created or last changed; undefined when the slot holds no key. */
  lastRotated?: Date;
  lastUsedDate?: Date;
  lastUsedService?: string;
}

export interface ReportRow {
  user: string;
  arn: string;
  keys: ReportKeySlot[];
}

/** Splits CSV text into rows of cells (RFC 4180: quoted cells may hold commas, quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** `N/A`, `no_information`, `not_supported` and empty cells mean "nothing"; times are ISO 8601 (`+00:00`). */
function time(cell: string | undefined): Date | undefined {
  if (!cell || !/^\d{4}-\d{2}-\d{2}T/.test(cell)) return undefined;
  const d = new Date(cell);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const text = (cell: string | undefined): string | undefined =>
  cell && cell !== 'N/A' && cell !== 'no_information' && cell !== 'not_supported' ? cell : undefined;

/**
 * Parses the IAM credential report (aws-facts.md §2.2): one row per user, with the two access-key slots.
 * The `<root_account>` row is left out: the root user is not an IAM user this tool can list or manage.
 * Throws when the header lacks the columns this tool reads.
 */
export function parseCredentialReport(csv: string): ReportRow[] {
  const [header, ...rows] = parseCsv(csv);
  if (!header) return [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`the credential report has no "${name}" column`);
    return i;
  };
  const user = col('user');
  const arn = col('arn');
  const slots = [1, 2].map((n) => ({
    active: col(`access_key_${n}_active`),
    lastRotated: col(`access_key_${n}_last_rotated`),
    lastUsedDate: col(`access_key_${n}_last_used_date`),
    lastUsedService: col(`access_key_${n}_last_used_service`),
  }));
  const out: ReportRow[] = [];
  for (const r of rows) {
    const name = r[user];
    if (!name || name === '<root_account>') continue;
    out.push({
      user: name,
      arn: r[arn] ?? '',
      keys: slots.map((s) => {
        const lastRotated = time(r[s.lastRotated]);
        const lastUsedDate = time(r[s.lastUsedDate]);
        const lastUsedService = text(r[s.lastUsedService]);
        return {
          active: r[s.active] === 'true',
          ...(lastRotated ? { lastRotated } : {}),
          ...(lastUsedDate ? { lastUsedDate } : {}),
          ...(lastUsedService ? { lastUsedService } : {}),
        };
      }),
    });
  }
  return out;
}

/** A slot holds a key when it is active or has a creation time (an inactive key still has one). */
export const slotHasKey = (s: ReportKeySlot): boolean => s.active || s.lastRotated !== undefined;

/** `arn:aws:iam::123456789012:user/jenkins/ci` → `/jenkins/`. */
export function pathOfUserArn(arn: string): string {
  const m = /:user(\/(?:.*\/)?)[^/]+$/.exec(arn);
  return m?.[1] ?? '/';
}

/** The 12-digit account of an IAM ARN, or undefined. */
export const accountOfArn = (arn: string): string | undefined =>
  /^arn:aws[\w-]*:iam::(\d{12}):/.exec(arn)?.[1];
