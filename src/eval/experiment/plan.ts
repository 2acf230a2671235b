/**
 * What each experiment of the paper trains (METHOD.md section 8): rows of a table as (method, share
 * of the training labels). Runs are keyed by (method, labelled cases, seed), so a run that two tables
 * need is trained once and an interrupted experiment picks up the runs it finished.
 */
export type ExperimentKind = 'ablation' | 'label-efficiency' | 'compare';
export const EXPERIMENT_KINDS: readonly ExperimentKind[] = ['ablation', 'label-efficiency', 'compare'];

export interface RowSpec {
  /** the row's name in the paper's table */
  row: string;
  method: string;
  /** share of the training cases whose labels are kept (the rest train unlabelled) */
  fraction: number;
}

/** Table 1: the ablation at 20% and 100% of the training labels. */
export function ablationRows(low = 0.2): RowSpec[] {
  const rows: [string, string][] = [
    ['Seg(TH)', 'seg-th'],
    ['Seg(TH+UP)', 'seg-th-up'],
    ['Seg+LS', 'seg-ls'],
    ['SSHCPS', 'sshcps'],
  ];
  return [low, 1].flatMap((fraction) => rows.map(([row, method]) => ({ row, method, fraction })));
}

/** Tables 2-3: supervised at 100% and 20%, the semi-supervised baselines and SSHCPS at 20%. */
export function compareRows(low = 0.2): RowSpec[] {
  return [
    { row: 'Supervised', method: 'supervised', fraction: 1 },
    { row: 'Supervised', method: 'supervised', fraction: low },
    { row: 'DTC', method: 'dtc', fraction: low },
    { row: 'CCT', method: 'cct', fraction: low },
    { row: 'CLD', method: 'cld', fraction: low },
    { row: 'Mean Teacher', method: 'mean-teacher', fraction: low },
    { row: 'UA-MT', method: 'ua-mt', fraction: low },
    { row: 'SSHCPS', method: 'sshcps', fraction: low },
  ];
}

/** Figure 3: mean cartilage Dice against the number of labelled scans. */
export function labelEfficiencyRows(fractions: readonly number[] = [0.1, 0.2, 0.4, 0.7, 1]): RowSpec[] {
  const methods: [string, string][] = [
    ['SSHCPS', 'sshcps'],
    ['HCPS', 'hcps'],
    ['Supervised', 'supervised'],
  ];
  return fractions.flatMap((fraction) => methods.map(([row, method]) => ({ row, method, fraction })));
}

export function rowsOf(
  kind: ExperimentKind,
  opts: { low?: number; fractions?: readonly number[] } = {},
): RowSpec[] {
  if (kind === 'ablation') return ablationRows(opts.low);
  if (kind === 'compare') return compareRows(opts.low);
  return labelEfficiencyRows(opts.fractions);
}

/** Labelled cases for a share of `available` labelled training cases: at least one. */
export function labelledCount(fraction: number, available: number): number {
  return Math.max(1, Math.min(available, Math.round(fraction * available)));
}

export function runKey(method: string, labeled: number, seed: number): string {
  return `${method}-l${labeled}-s${seed}`;
}
