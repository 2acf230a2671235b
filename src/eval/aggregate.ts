/**
 * Summaries of per-case metrics over cases: mean ± sd with the number of cases behind them.
 *
 * Conventions:
 * - Undefined values (NaN: e.g. HD95 when a mask is empty, see metrics.ts) are left out of the
 *   mean and sd and counted in `n_undefined`, so a table can say "HD95 over 18 of 20 cases" instead
 *   of silently averaging fewer cases. `n` counts the defined values only.
 * - sd is the sample standard deviation (divisor n - 1, as R's `sd` and pandas' `std`; the
 *   population sd, numpy's default, is `ddof: 0`). With fewer than ddof + 1 values it is NaN.
 * - With no defined value the mean is NaN.
 * - Infinite values are an error: no metric of ours produces them, so one means a bug upstream.
 */

export interface Summary {
  readonly mean: number;
  readonly sd: number;
  /** number of defined (non-NaN) values behind mean and sd */
  readonly n: number;
  /** number of NaN values left out */
  readonly n_undefined: number;
}

export interface SummaryOptions {
  /** delta degrees of freedom of the sd: 1 = sample sd (default), 0 = population sd */
  readonly ddof?: 0 | 1;
}

/** Mean ± sd of the defined values of `values`; see the module comment for the conventions. */
export function summarize(values: readonly number[], opts: SummaryOptions = {}): Summary {
  const ddof = opts.ddof ?? 1;
  let n = 0;
  let nUndefined = 0;
  let sum = 0;
  for (const v of values) {
    if (Number.isNaN(v)) {
      nUndefined++;
      continue;
    }
    if (!Number.isFinite(v)) throw new RangeError(`summarize: infinite value ${v}`);
    n++;
    sum += v;
  }
  const mean = n > 0 ? sum / n : NaN;
  // Two passes (sum of squared deviations from the mean) rather than E[x²] - E[x]², which cancels badly.
  let ss = 0;
  for (const v of values) if (!Number.isNaN(v)) ss += (v - mean) ** 2;
  const sd = n - ddof > 0 ? Math.sqrt(ss / (n - ddof)) : NaN;
  return { mean, sd, n, n_undefined: nUndefined };
}

/**
 * Per-structure, per-metric summaries over cases.
 *
 * @param cases      one record per case: structure name -> metric name -> value
 * @param structures structure names to summarise, in output order
 * @param metrics    metric names to summarise, in output order
 * A case that lacks a structure or metric counts as undefined for it.
 */
export function summarizeStructures<M extends string>(
  cases: readonly Readonly<Record<string, Readonly<Partial<Record<M, number | undefined>>> | undefined>>[],
  structures: readonly string[],
  metrics: readonly M[],
  opts: SummaryOptions = {},
): Record<string, Record<M, Summary>> {
  const out: Record<string, Record<M, Summary>> = {};
  for (const s of structures) {
    const row = {} as Record<M, Summary>;
    for (const m of metrics)
      row[m] = summarize(
        cases.map((c) => c[s]?.[m] ?? NaN),
        opts,
      );
    out[s] = row;
  }
  return out;
}
