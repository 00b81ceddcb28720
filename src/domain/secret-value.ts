/**
 * A secret that holds one value: the bare string, or a JSON object naming it under the first of `fields` that
 * is a non-empty string. Undefined when there is none (an empty secret, JSON without such a field, bad JSON).
 */
export function singleSecretValue(raw: string | undefined, fields: readonly string[]): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  if (!value.startsWith('{')) return value;
  try {
    const obj = JSON.parse(value) as Record<string, unknown>;
    for (const f of fields) {
      const v = obj[f];
      if (typeof v === 'string' && v) return v;
    }
  } catch {
    // not JSON after all: no value, and the caller's error does not echo it
  }
  return undefined;
}
