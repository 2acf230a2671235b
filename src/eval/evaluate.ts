/**
 * `kneeseg evaluate` as a library: scores a folder of predicted label maps against a folder of
 * ground-truth label maps (matched by case id, nnU-Net naming), every structure of dataset.json
 * `labels`, with the metrics of metrics.ts, and summarises them over cases (aggregate.ts).
 * Cases are evaluated in worker threads (one per core) when there are several.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { InputError } from '../errors.ts';
import { DatasetJsonSchema } from '../data/dataset-json.ts';
import { DEFAULT_LABELS } from '../data/dataset.ts';
import { summarizeStructures, type Summary } from './aggregate.ts';
import { matchCases } from '../data/case-files.ts';
import { evaluateCase, type CaseJob, type CaseResult } from './evaluate-case.ts';
import type { StructureMetrics } from './metrics.ts';
import { runWorkerPool } from './worker-pool.ts';

export type { CaseResult } from './evaluate-case.ts';

/** The metric columns of the JSON and CSV outputs, in order, and the StructureMetrics field of each. */
export const METRICS = {
  dice: 'dice',
  hd95_mm: 'hd95Mm',
  hd95_vox: 'hd95Vox',
  assd_mm: 'assdMm',
  volume_error_pct: 'volumeErrorPct',
} as const satisfies Record<string, keyof StructureMetrics>;

export type MetricKey = keyof typeof METRICS;
export const METRIC_KEYS = Object.keys(METRICS) as MetricKey[];

/** Fewer cases than this are evaluated in the calling thread by default. */
export const MIN_CASES_FOR_WORKERS = 4;

export interface EvaluateOptions {
  readonly predDir: string;
  readonly gtDir: string;
  /** structure name -> label value ("background" ignored); default DEFAULT_LABELS */
  readonly labels?: Readonly<Record<string, number>>;
  /** score a case without a prediction as an empty prediction instead of failing */
  readonly missingAsEmpty?: boolean;
  /** worker threads (default one per core from MIN_CASES_FOR_WORKERS cases on; 1 = this thread) */
  readonly workers?: number;
  /** called after each case */
  readonly onCase?: (done: number, total: number, result: CaseResult) => void;
}

export interface Evaluation {
  /** structure names in report order: cartilages first, then bones (orderStructures) */
  readonly structures: readonly string[];
  readonly labels: Readonly<Record<string, number>>;
  /** per case, sorted by case id */
  readonly cases: readonly CaseResult[];
  /** per structure and metric: mean ± sd over cases, NaN values counted apart */
  readonly summary: Readonly<Record<string, Record<MetricKey, Summary>>>;
  /** per structure: cases whose prediction / ground truth is empty */
  readonly empty: Readonly<Record<string, { readonly pred: number; readonly gt: number }>>;
  /** cases scored as empty predictions (missingAsEmpty) */
  readonly missing: readonly string[];
  /** prediction files without a ground truth (not scored) */
  readonly unmatched: readonly string[];
}

/**
 * Structure names of a label map in report order: cartilages first, then the other structures
 * (bones), each group by label value, as the paper's tables list them.
 */
export function orderStructures(labels: Readonly<Record<string, number>>): string[] {
  const names = Object.entries(labels)
    .filter(([name]) => name !== 'background')
    .sort((a, b) => a[1] - b[1])
    .map(([name]) => name);
  const cartilage = (n: string) => /cartilage/i.test(n);
  return [...names.filter(cartilage), ...names.filter((n) => !cartilage(n))];
}

/** The `labels` of a dataset.json file (any JSON file with a valid `labels` object will do). */
export function readLabels(file: string): Record<string, number> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(
      file,
      `cannot be read as JSON (${(err as Error).message})`,
      'give the dataset.json of the dataset',
    );
  }
  const parsed = DatasetJsonSchema.shape.labels.safeParse((raw as { labels?: unknown } | null)?.labels);
  if (!parsed.success) {
    throw new InputError(
      file,
      `has no valid "labels": ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      'write "labels": {"background": 0, "femur": 1, ...} as in nnU-Net v2',
    );
  }
  return parsed.data;
}

export async function evaluateFolders(opts: EvaluateOptions): Promise<Evaluation> {
  const labels = opts.labels ?? DEFAULT_LABELS;
  const structures = orderStructures(labels);
  const { pairs, missing, unmatched } = matchCases(opts.predDir, opts.gtDir, opts.missingAsEmpty ?? false);
  const labelList = structures.map((s) => [s, labels[s]!] as const);
  const jobs: CaseJob[] = pairs.map((p) => ({ ...p, labels: labelList }));
  const results: CaseResult[] = new Array<CaseResult>(jobs.length);
  let done = 0;
  const record = (r: CaseResult, i: number) => {
    results[i] = r;
    opts.onCase?.(++done, jobs.length, r);
  };
  // Starting a worker costs seconds (loading the image readers' WebAssembly), so a few cases are
  // evaluated in this thread unless workers are asked for.
  const workers = Math.min(
    opts.workers ?? (jobs.length >= MIN_CASES_FOR_WORKERS ? availableParallelism() : 1),
    jobs.length,
  );
  if (workers <= 1) {
    for (const [i, job] of jobs.entries()) record(await evaluateCase(job), i);
  } else {
    await runWorkerPool<CaseJob, CaseResult>(
      new URL('./evaluate-worker.ts', import.meta.url),
      jobs,
      workers,
      record,
    );
  }
  return summarizeEvaluation(results, labels, missing, unmatched);
}

/** The summaries of an Evaluation from its per-case results. */
export function summarizeEvaluation(
  cases: readonly CaseResult[],
  labels: Readonly<Record<string, number>>,
  missing: readonly string[] = [],
  unmatched: readonly string[] = [],
): Evaluation {
  const structures = orderStructures(labels);
  const table = cases.map((c) =>
    Object.fromEntries(
      Object.entries(c.structures).map(([s, m]) => [
        s,
        Object.fromEntries(METRIC_KEYS.map((k) => [k, m[METRICS[k]]])),
      ]),
    ),
  );
  const empty: Record<string, { pred: number; gt: number }> = {};
  for (const s of structures) {
    empty[s] = {
      pred: cases.filter((c) => c.structures[s]?.predEmpty).length,
      gt: cases.filter((c) => c.structures[s]?.gtEmpty).length,
    };
  }
  return {
    structures,
    labels,
    cases,
    summary: summarizeStructures(table, structures, METRIC_KEYS),
    empty,
    missing,
    unmatched,
  };
}
