/**
 * Percentile with numpy's default method ("linear", Hyndman & Fan type 7): the value at rank
 * q/100 * (n - 1) of the sorted data, interpolated between its two neighbours. medpy's `hd95` and
 * the usual thickness summaries use exactly this, so our numbers match theirs.
 */

/** q-th percentile (0..100) of `values`, which must already be sorted ascending. NaN when empty. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile: q = ${q} is outside [0, 100]`);
  const rank = (q / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  const t = rank - lo;
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  // numpy's _lerp: interpolate from the nearer end, which keeps the result inside [a, b].
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/** q-th percentile (0..100) of `values` (not modified). NaN when empty. */
export function percentile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  return percentileSorted(sorted, q);
}
