/** "Did you mean …?" for a mistyped command or option. */

/** Levenshtein distance: insertions, deletions and substitutions, one each. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The candidate nearest to `word`, if it is near enough to be what was meant: within a third of the word's length
 * (at least 2 edits), or the only candidate that starts with it or that it starts with (`--fail` and
 * `--fail-on-stale` for each other). Ties go to the first candidate.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (!best || d < best.d) best = { c, d };
  }
  if (best && best.d <= Math.max(2, Math.floor(word.length / 3))) return best.c;
  const prefixed =
    word.length >= 3
      ? candidates.filter((c) => c.length >= 3 && (c.startsWith(word) || word.startsWith(c)))
      : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** `: did you mean X?`, or nothing. */
export const didYouMean = (word: string, candidates: readonly string[]): string => {
  const n = nearest(word, candidates);
  return n ? `: did you mean ${n}?` : '';
};
