/**
 * The files `kneeseg evaluate` writes: evaluation.json (summary per structure, then every case) and
 * a CSV with one row per case and structure. Undefined values (NaN) are `null` in JSON and empty
 * fields in the CSV. The zod schema reads evaluation.json back (reports, experiments).
 */
import { z } from 'zod';
import { METRIC_KEYS, METRICS, type Evaluation, type MetricKey } from './evaluate.ts';

const num = z.number().nullable();
const SummaryJson = z.object({
  mean: num,
  sd: num,
  n: z.number().int().min(0),
  n_undefined: z.number().int().min(0),
});
const metricRecord = <T extends z.ZodType>(t: T) =>
  z.object(Object.fromEntries(METRIC_KEYS.map((k) => [k, t])) as Record<MetricKey, T>);
const CaseStructureJson = metricRecord(num).extend({
  hd_mm: num,
  pred_voxels: z.number().int().min(0),
  gt_voxels: z.number().int().min(0),
});

export const EvaluationJsonSchema = z.object({
  structures: z.record(z.string(), metricRecord(SummaryJson)),
  cases: z.array(z.object({ case: z.string(), structures: z.record(z.string(), CaseStructureJson) })),
  empty: z.record(z.string(), z.object({ pred: z.number().int(), gt: z.number().int() })),
  missing: z.array(z.string()),
  labels: z.record(z.string(), z.number().int()),
});

export type EvaluationJson = z.infer<typeof EvaluationJsonSchema>;

const orNull = (v: number): number | null => (Number.isNaN(v) ? null : v);

/** evaluation.json's content; structures in report order (cartilages first). */
export function evaluationJson(ev: Evaluation): EvaluationJson {
  const structures: EvaluationJson['structures'] = {};
  for (const s of ev.structures) {
    const row = ev.summary[s]!;
    structures[s] = Object.fromEntries(
      METRIC_KEYS.map((k) => [
        k,
        { mean: orNull(row[k].mean), sd: orNull(row[k].sd), n: row[k].n, n_undefined: row[k].n_undefined },
      ]),
    ) as EvaluationJson['structures'][string];
  }
  const cases = ev.cases.map((c) => ({
    case: c.case,
    structures: Object.fromEntries(
      ev.structures.map((s) => {
        const m = c.structures[s]!;
        return [
          s,
          {
            ...(Object.fromEntries(METRIC_KEYS.map((k) => [k, orNull(m[METRICS[k]])])) as Record<
              MetricKey,
              number | null
            >),
            hd_mm: orNull(m.hdMm),
            pred_voxels: m.predVoxels,
            gt_voxels: m.gtVoxels,
          },
        ];
      }),
    ),
  }));
  return { structures, cases, empty: { ...ev.empty }, missing: [...ev.missing], labels: { ...ev.labels } };
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break. */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One row per case and structure: case,structure,dice,hd95_mm,hd95_vox,assd_mm,volume_error_pct,hd_mm,pred_voxels,gt_voxels. */
export function evaluationCsv(ev: Evaluation): string {
  const header = ['case', 'structure', ...METRIC_KEYS, 'hd_mm', 'pred_voxels', 'gt_voxels'];
  const cell = (v: number) => (Number.isNaN(v) ? '' : String(v));
  const rows = ev.cases.flatMap((c) =>
    ev.structures.map((s) => {
      const m = c.structures[s]!;
      return [
        csvField(c.case),
        csvField(s),
        ...METRIC_KEYS.map((k) => cell(m[METRICS[k]])),
        cell(m.hdMm),
        cell(m.predVoxels),
        cell(m.gtVoxels),
      ].join(',');
    }),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}
