/**
 * The plain-text table `kneeseg evaluate` prints: one row per structure (cartilages first, then
 * bones), mean ± sd over cases; Dice in %, HD95 in mm and voxels, ASSD in mm, volume error in %.
 * Notes under the table say where surface distances were undefined (empty masks) and how often.
 */
import type { Summary } from './aggregate.ts';
import type { Evaluation, MetricKey } from './evaluate.ts';

const COLUMNS: readonly { key: MetricKey; title: string; scale: number; digits: number }[] = [
  { key: 'dice', title: 'Dice (%)', scale: 100, digits: 2 },
  { key: 'hd95_mm', title: 'HD95 (mm)', scale: 1, digits: 2 },
  { key: 'hd95_vox', title: 'HD95 (vox)', scale: 1, digits: 2 },
  { key: 'assd_mm', title: 'ASSD (mm)', scale: 1, digits: 3 },
  { key: 'volume_error_pct', title: 'Vol. err (%)', scale: 1, digits: 2 },
];

/** "mean ± sd", "mean" when sd is undefined (one case), "n/a" when nothing is defined. */
export function formatMeanSd(s: Summary, scale = 1, digits = 2): string {
  if (s.n === 0) return 'n/a';
  const mean = (s.mean * scale).toFixed(digits);
  return Number.isNaN(s.sd) ? mean : `${mean} ± ${(s.sd * scale).toFixed(digits)}`;
}

export function formatEvaluationTable(ev: Evaluation): string {
  const header = ['structure', 'cases', ...COLUMNS.map((c) => c.title)];
  const rows = ev.structures.map((s) => {
    const row = ev.summary[s]!;
    return [s, String(ev.cases.length), ...COLUMNS.map((c) => formatMeanSd(row[c.key], c.scale, c.digits))];
  });
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const s of ev.structures) {
    const e = ev.empty[s]!;
    const hd = ev.summary[s]!.hd95_mm;
    const vol = ev.summary[s]!.volume_error_pct;
    if (e.pred === 0 && e.gt === 0) continue;
    out.push(
      `note: ${s}: prediction empty in ${e.pred}, ground truth empty in ${e.gt} of ${ev.cases.length} case(s); ` +
        `HD95/ASSD over the ${hd.n} case(s) where both are non-empty, volume error over ${vol.n}`,
    );
  }
  return out.join('\n');
}
