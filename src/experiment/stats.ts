/**
 * Paired comparison of two methods over the same test cases: the Wilcoxon signed-rank test
 * (@stdlib/stats-wilcoxon, two-sided), as medical-segmentation papers report it.
 */
import wilcoxon from '@stdlib/stats-wilcoxon';

export interface PairedTest {
  n: number;
  pValue: number;
  /** mean of a - b */
  meanDifference: number;
}

/** Two-sided signed-rank test of a against b (same cases, same order); NaN pairs are dropped. */
export function pairedWilcoxon(a: readonly number[], b: readonly number[]): PairedTest {
  if (a.length !== b.length) throw new RangeError('pairedWilcoxon: the two samples must pair up');
  const x: number[] = [];
  const y: number[] = [];
  a.forEach((v, i) => {
    const w = b[i]!;
    if (!Number.isNaN(v) && !Number.isNaN(w)) {
      x.push(v);
      y.push(w);
    }
  });
  const n = x.length;
  const meanDifference = n ? x.reduce((s, v, i) => s + v - y[i]!, 0) / n : NaN;
  // the test is undefined with fewer than two pairs or when every difference is zero
  if (n < 2 || x.every((v, i) => v === y[i])) return { n, pValue: NaN, meanDifference };
  const r = wilcoxon(x, y) as { pValue: number };
  // the exact two-sided p is 2 min(P(T <= t), P(T >= t)); at the centre of the discrete null both
  // tails hold more than half the mass and the doubled value passes 1 (stdlib gave 1.125 for ranks
  // -2, -3, +1, +4); a probability is capped at 1, as SciPy's wilcoxon does
  return { n, pValue: Math.min(1, r.pValue), meanDifference };
}
