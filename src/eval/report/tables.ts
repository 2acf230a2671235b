/** Markdown tables for the reports, from what the runs and evaluations wrote to disk. */
import type { EvaluationJson } from '../evaluation-json.ts';
import type { PlottedLogEntry } from './run-log.ts';

const meanSd = (
  s: { mean: number | null; sd: number | null; n: number; n_undefined: number },
  scale: number,
  digits: number,
): string => {
  if (s.mean === null) return 'n/a';
  const text =
    s.sd === null
      ? (s.mean * scale).toFixed(digits)
      : `${(s.mean * scale).toFixed(digits)} ± ${(s.sd * scale).toFixed(digits)}`;
  return s.n_undefined > 0 ? `${text} (n=${s.n})` : text;
};

/** Mean ± sd per structure (rows in the file's order: cartilages first); "(n=k)" where some cases were undefined. */
export function evaluationTable(ev: EvaluationJson): string {
  const rows = Object.entries(ev.structures).map(
    ([name, m]) =>
      `| ${name} | ${meanSd(m.dice, 100, 2)} | ${meanSd(m.hd95_mm, 1, 2)} | ${meanSd(m.hd95_vox, 1, 2)} | ${meanSd(m.assd_mm, 1, 3)} | ${meanSd(m.volume_error_pct, 1, 2)} |`,
  );
  return [
    `${ev.cases.length} case(s); mean ± sd over cases.`,
    '',
    '| structure | Dice (%) | HD95 (mm) | HD95 (voxels) | ASSD (mm) | volume error (%) |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

/** What a training log says in a few lines: length, best validation, last validation Dice. */
export function runSummaryTable(entries: readonly PlottedLogEntry[]): string {
  const train = entries.filter((e) => e.type === 'train');
  const val = entries.filter((e) => e.type === 'validation');
  const last = entries.at(-1);
  const lines = ['| | |', '|---|---|'];
  lines.push(
    `| iterations | ${last?.iteration ?? 0} |`,
    `| epochs | ${last?.epoch ?? 0} |`,
    `| training log entries | ${train.length} |`,
    `| validations | ${val.length} |`,
  );
  const best = val.filter((e) => e.best).at(-1);
  if (best)
    lines.push(
      `| best checkpoint | iteration ${best.iteration}, validation loss ${best.val_loss?.toFixed(4) ?? 'n/a'} |`,
    );
  const lastVal = val.at(-1);
  for (const [s, d] of Object.entries(lastVal?.dice ?? {}))
    lines.push(`| last validation Dice, ${s} | ${d === null ? 'n/a' : `${(100 * d).toFixed(2)} %`} |`);
  return lines.join('\n');
}
