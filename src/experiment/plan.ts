/**
 * What each experiment of the paper trains (METHOD.md section 8): rows of a table as (method, share
 * of the training labels, optional configuration variant). Runs are keyed by (method, variant,
 * labelled cases, seed), so a run that two tables need is trained once and an interrupted experiment
 * picks up the runs it finished.
 */
import { readFileSync } from 'node:fs';
import { KneesegError } from '../errors.ts';

export type ExperimentKind = 'ablation' | 'label-efficiency' | 'compare' | 'options';
export const EXPERIMENT_KINDS: readonly ExperimentKind[] = [
  'ablation',
  'label-efficiency',
  'compare',
  'options',
];

export interface RowSpec {
  /** the row's name in the paper's table */
  row: string;
  method: string;
  /** share of the training cases whose labels are kept (the rest train unlabelled) */
  fraction: number;
  /** short slug of a configuration variant (e.g. 'no-dice'); part of the run key. None: the defaults */
  variant?: string;
  /** configuration merged over the experiment's base configuration for this row's runs */
  config?: Record<string, unknown>;
}

/** The same row: same method, label share and variant. */
export function sameRow(a: RowSpec, b: RowSpec): boolean {
  return a.method === b.method && a.fraction === b.fraction && a.variant === b.variant;
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

/**
 * Tables 2-3: supervised at 100% and 20%, the semi-supervised baselines and SSHCPS at 20%, in the
 * paper's row order (MedT 70 / 14, CCT, CLD, GenericSSL, DTC, ours); mean teacher and UA-MT are extra.
 */
export function compareRows(low = 0.2): RowSpec[] {
  return [
    { row: 'Supervised', method: 'supervised', fraction: 1 },
    { row: 'Supervised', method: 'supervised', fraction: low },
    { row: 'CCT', method: 'cct', fraction: low },
    { row: 'CLD', method: 'cld', fraction: low },
    { row: 'GenericSSL', method: 'generic-ssl', fraction: low },
    { row: 'DTC', method: 'dtc', fraction: low },
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

/** configs/paper.json: the paper's settings where SSHCPS's defaults depart from them. */
export const PAPER_PRESET_URL = new URL('../../configs/paper.json', import.meta.url);

export function paperPreset(): Record<string, unknown> {
  return JSON.parse(readFileSync(PAPER_PRESET_URL, 'utf8')) as Record<string, unknown>;
}

/**
 * SSHCPS's departures from the paper, one at a time: the defaults (the reference row), each option
 * set back to the paper's value, and the whole paper preset (configs/paper.json), at the low label
 * share. All rows run under the same iteration budget.
 */
export function optionsRows(low = 0.2): RowSpec[] {
  const sshcps = (row: string, variant?: string, config?: Record<string, unknown>): RowSpec => ({
    row,
    method: 'sshcps',
    fraction: low,
    ...(variant === undefined ? {} : { variant, config }),
  });
  return [
    sshcps('SSHCPS (defaults)'),
    sshcps('no state Dice', 'no-dice', { tree: { diceWeight: 0 } }),
    sshcps('per-entry cond. BCE', 'entry-bce', { tree: { condReduction: 'entries' } }),
    sshcps('DTC SDF targets', 'dtc-sdf', { tree: { sdfForm: 'dtc' } }),
    sshcps('L_C summed over nodes', 'lc-sum', { tree: { consistencyNodes: 'sum' } }),
    sshcps('no foreground oversampling', 'no-fg-oversampling', { batch: { foreground: { share: 0 } } }),
    sshcps('paper preset', 'paper', paperPreset()),
  ];
}

/** Seeds per run when the user gives none: the options ablation compares small effects. */
export function defaultSeeds(kind: ExperimentKind): number {
  return kind === 'options' ? 3 : 1;
}

export function rowsOf(
  kind: ExperimentKind,
  opts: { low?: number; fractions?: readonly number[] } = {},
): RowSpec[] {
  if (kind === 'ablation') return ablationRows(opts.low);
  if (kind === 'compare') return compareRows(opts.low);
  if (kind === 'options') return optionsRows(opts.low);
  return labelEfficiencyRows(opts.fractions);
}

/** Labelled cases for a share of `available` labelled training cases: at least one. */
export function labelledCount(fraction: number, available: number): number {
  return Math.max(1, Math.min(available, Math.round(fraction * available)));
}

/** A run's folder name: `sshcps-l14-s0`, or `sshcps-no-dice-l14-s0` for a variant. */
export function runKey(method: string, labelled: number, seed: number, variant?: string): string {
  if (variant !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(variant))
    throw new KneesegError(`variant "${variant}": use a short slug of a-z, 0-9 and '-', e.g. "no-dice"`);
  return `${method}${variant === undefined ? '' : `-${variant}`}-l${labelled}-s${seed}`;
}
