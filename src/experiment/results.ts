/**
 * The paper's tables from finished runs: Dice (%) and HD95 (mm) of the three cartilages per row,
 * mean ± sd over seeds (over test cases when there is one seed), the parameter count, and a paired
 * Wilcoxon signed-rank test of SSHCPS against each row on the per-case mean cartilage Dice.
 */
import { KNEE_CARTILAGES } from '../data/cartilages.ts';
import type { EvaluationJson } from '../eval/evaluation-json.ts';
import { summarize } from '../eval/aggregate.ts';
import { pairedWilcoxon } from './stats.ts';
import { sameRow, type RowSpec } from './plan.ts';

/** [abbreviation, structure] of each cartilage in the paper's column order (TC, FC, PC). */
export const CARTILAGES: readonly [string, string][] = (['TC', 'FC', 'PC'] as const).map((a) => {
  const c = KNEE_CARTILAGES.find((k) => k.abbreviation === a)!;
  return [c.abbreviation, c.name];
});

/** methods that learn from the unlabelled scans too */
export const SEMI_SUPERVISED: ReadonlySet<string> = new Set([
  'sshcps',
  'dtc',
  'cct',
  'cld',
  'generic-ssl',
  'mean-teacher',
  'ua-mt',
]);

export interface RunResult {
  spec: RowSpec;
  labelled: number;
  /** labelled training cases available at 100% */
  available: number;
  /** training cases in all (the rest of them train unlabelled) */
  trainCases: number;
  seed: number;
  parameters: number;
  /** training iterations the run made */
  iterations: number;
  evaluation: EvaluationJson;
}

/** Rows of one table: runs grouped by (method, label share, variant) across seeds, in plan order. */
export interface TableRow {
  spec: RowSpec;
  labelled: number;
  available: number;
  trainCases: number;
  runs: RunResult[];
}

export function groupRows(specs: readonly RowSpec[], results: readonly RunResult[]): TableRow[] {
  const rows: TableRow[] = [];
  for (const spec of specs) {
    const runs = results.filter((r) => sameRow(r.spec, spec));
    if (runs.length)
      rows.push({
        spec,
        labelled: runs[0]!.labelled,
        available: runs[0]!.available,
        trainCases: runs[0]!.trainCases,
        runs,
      });
  }
  return rows;
}

function caseValues(e: EvaluationJson, structure: string, metric: 'dice' | 'hd95_mm'): number[] {
  return e.cases.map((c) => c.structures[structure]?.[metric] ?? NaN);
}

/** Per case (in case order), the mean Dice over the cartilages present. */
export function meanCartilageDice(e: EvaluationJson): Map<string, number> {
  const present = CARTILAGES.map(([, s]) => s).filter((s) => s in e.structures);
  return new Map(
    e.cases.map((c) => {
      const v = present.map((s) => c.structures[s]?.dice ?? NaN).filter((x) => !Number.isNaN(x));
      return [c.case, v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN];
    }),
  );
}

/** mean ± sd over seeds of the per-seed mean, or over cases with one seed. */
export function rowStat(
  row: TableRow,
  structure: string,
  metric: 'dice' | 'hd95_mm',
): { mean: number; sd: number } {
  if (row.runs.length === 1) return summarize(caseValues(row.runs[0]!.evaluation, structure, metric));
  return summarize(row.runs.map((r) => summarize(caseValues(r.evaluation, structure, metric)).mean));
}

/** Paired per-(seed, case) mean cartilage Dice of `a` and `b` over the runs both have. */
export function pairedCartilageDice(a: TableRow, b: TableRow): [number[], number[]] {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const ra of a.runs) {
    const rb = b.runs.find((r) => r.seed === ra.seed);
    if (!rb) continue;
    const da = meanCartilageDice(ra.evaluation);
    const db = meanCartilageDice(rb.evaluation);
    for (const [c, v] of da) {
      const w = db.get(c);
      if (w !== undefined) {
        xs.push(v);
        ys.push(w);
      }
    }
  }
  return [xs, ys];
}

const pct = (s: { mean: number; sd: number }) =>
  Number.isNaN(s.mean)
    ? '–'
    : `${(100 * s.mean).toFixed(1)}${Number.isNaN(s.sd) ? '' : ` ± ${(100 * s.sd).toFixed(1)}`}`;
const mm = (s: { mean: number; sd: number }) =>
  Number.isNaN(s.mean) ? '–' : `${s.mean.toFixed(2)}${Number.isNaN(s.sd) ? '' : ` ± ${s.sd.toFixed(2)}`}`;
const pval = (p: number) => (Number.isNaN(p) ? '–' : p < 0.001 ? '< 0.001' : p.toFixed(3));

/**
 * The row the others are tested against: SSHCPS with its defaults (no variant) at the low label
 * share, else at any share, else any SSHCPS row.
 */
export function referenceRow(rows: readonly TableRow[]): TableRow | undefined {
  const sshcps = rows.filter((r) => r.spec.method === 'sshcps');
  const plain = sshcps.filter((r) => r.spec.variant === undefined);
  return (
    plain.find((r) => r.spec.fraction < 1) ?? plain[0] ?? sshcps.find((r) => r.spec.fraction < 1) ?? sshcps[0]
  );
}

/**
 * A markdown table in the paper's layout. `reference` names the row the others are tested against
 * (SSHCPS at the low label share), `pHeader` the p-value column; rows missing a cartilage (no
 * patella in a dataset) show '–'.
 */
export function markdownTable(
  rows: readonly TableRow[],
  reference: TableRow | undefined,
  pHeader = 'p vs SSHCPS',
): string {
  const present = CARTILAGES.filter(([, s]) =>
    rows.some((r) => r.runs.some((x) => s in x.evaluation.structures)),
  );
  const head = [
    'Method',
    'Labelled scans',
    ...present.map(([a]) => `Dice ${a} (%)`),
    ...present.map(([a]) => `HD95 ${a} (mm)`),
    'Params',
    pHeader,
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const p =
      reference && r !== reference ? pairedWilcoxon(...pairedCartilageDice(reference, r)).pValue : NaN;
    const cells = [
      r.spec.row,
      `${r.labelled} (${Math.round((100 * r.labelled) / r.available)}%)${SEMI_SUPERVISED.has(r.spec.method) && r.labelled < r.trainCases ? ` + ${r.trainCases - r.labelled} unlabelled` : ''}`,
      ...present.map(([, s]) => pct(rowStat(r, s, 'dice'))),
      ...present.map(([, s]) => mm(rowStat(r, s, 'hd95_mm'))),
      `${(r.runs[0]!.parameters / 1e6).toFixed(2)} M`,
      r === reference ? 'ref.' : pval(p),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
