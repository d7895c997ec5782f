// "Did you mean ...?": the closest known name to a misspelt one, by edit distance.
// Used by the parser (misspelt keywords) and the checker (unknown layers, parameters, settings).

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions), so
 * `max_pol` -> `max_pool` is 1 and `dnese` -> `dense` is 1.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const m = a.length;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n]!;
}

/**
 * The candidate closest to `name`, or undefined when none is close enough. Case and `_`/`-`
 * differences count as near-misses (`MaxPool` -> `max_pool`); otherwise at most one edit for
 * short names, two for 6+ characters, three for 12+.
 */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  const target = norm(name);
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    if (c === name) continue;
    const nc = norm(c);
    // Exact match up to case and separators beats everything.
    const score = nc === target ? 0.5 : editDistance(name.toLowerCase(), c.toLowerCase());
    if (score < bestScore || (score === bestScore && best !== undefined && c < best)) {
      best = c;
      bestScore = score;
    }
  }
  if (best === undefined) return undefined;
  const limit = name.length >= 12 ? 3 : name.length >= 6 ? 2 : 1;
  return bestScore <= limit ? best : undefined;
}

/** "did you mean `x`?" or undefined. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const s = suggest(name, candidates);
  return s === undefined ? undefined : `did you mean \`${s}\`?`;
}
