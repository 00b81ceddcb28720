/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. IAM publishes no
 * request rates and throttles with token buckets (aws-facts.md §2.1), so a scan of thousands of users goes a few
 * calls at a time rather than all at once.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
