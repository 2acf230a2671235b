/**
 * The experiment's HTML page and PNG figures: the results tables, per-structure Dice box plots of
 * every row, the label-efficiency curve (Figure 3), and for one test scan a slice montage and a 3D
 * surface rendering of SSHCPS against the ground truth (Figure 4).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readVolume } from '../data/io/index.ts';
import { diceBoxPlot } from '../eval/report/dice-box.ts';
import { writeFigure } from '../eval/report/figure.ts';
import { writeHtmlReport, type ReportImage } from '../eval/report/html.ts';
import { labelEfficiencyPlot } from '../eval/report/label-efficiency.ts';
import { surfaceRendering } from '../eval/report/surface-render.ts';
import { sliceMontage } from '../eval/report/slice-montage.ts';
import { summarize } from '../eval/aggregate.ts';
import { CARTILAGES, meanCartilageDice, referenceRow, type TableRow } from './results.ts';
import { runKey, type ExperimentKind } from './plan.ts';

/** What the report needs of the experiment: its kind, dataset and output folders. */
export interface ReportTarget {
  kind: ExperimentKind;
  data: string;
  out: string;
}

const rowName = (r: TableRow) => `${r.spec.row} (${r.labelled})`;

export async function writeExperimentReport(
  o: ReportTarget,
  rows: TableRow[],
  markdown: string,
): Promise<string> {
  const figures = join(o.out, 'figures');
  const images: ReportImage[] = [];
  const cartilages = CARTILAGES.map(([, s]) => s);
  if (rows.length) {
    const box = await diceBoxPlot(
      rows.flatMap((r) =>
        r.runs.flatMap((run) => run.evaluation.cases.map((c) => ({ ...c, method: rowName(r) }))),
      ),
      { structures: cartilages, title: 'Cartilage Dice per test scan' },
    );
    images.push({
      path: writeFigure(figures, 'dice-boxplot', box),
      caption: 'Dice of each cartilage per test scan, every row of the table.',
    });
  }
  if (o.kind === 'label-efficiency' && rows.length) {
    const points = rows.map((r) => {
      const perSeed = r.runs.map((run) => summarize([...meanCartilageDice(run.evaluation).values()]).mean);
      const s = summarize(perSeed);
      return { method: r.spec.row, labelled: r.labelled, mean: s.mean, sd: s.sd };
    });
    const fig = await labelEfficiencyPlot(points, 'Mean cartilage Dice against labelled scans (Figure 3)');
    images.push({
      path: writeFigure(figures, 'label-efficiency', fig),
      caption: 'Mean cartilage Dice against the number of labelled training scans.',
    });
  }
  // Figure 4: the first test scan of the reference SSHCPS run (the defaults, no variant) against its ground truth
  const ref = referenceRow(rows);
  const run = ref?.runs[0];
  const first = run?.evaluation.cases[0]?.case;
  if (ref && run && first) {
    const dir = join(o.out, 'runs', runKey('sshcps', ref.labelled, run.seed, ref.spec.variant));
    const gtDir = join(o.out, 'ground-truth', `split-${run.seed}`);
    const pred = [join(dir, 'pred', `${first}.nii.gz`)].find(existsSync);
    const gt = [join(gtDir, `${first}.nii.gz`)].find(existsSync);
    if (pred && gt) {
      const [p, g] = await Promise.all([readVolume(pred), readVolume(gt)]);
      images.push({
        path: writeFigure(figures, 'surface-rendering', surfaceRendering(p, g)),
        caption: `3D rendering of SSHCPS (left) and the ground truth (right), scan ${first} (Figure 4).`,
      });
      const mid = Math.floor(p.shape[0] / 2);
      const image = await readVolume(join(o.data, 'imagesTr', `${first}_0000.nii.gz`)).catch(() =>
        readVolume(join(o.data, 'imagesTs', `${first}_0000.nii.gz`)),
      );
      images.push({
        path: writeFigure(
          figures,
          'slice-montage',
          sliceMontage(
            image,
            p,
            g,
            [mid - 4, mid, mid + 4].filter((s) => s >= 0 && s < p.shape[0]),
          ),
        ),
        caption: `Sagittal slices of scan ${first}: SSHCPS against the ground truth.`,
      });
    }
  }
  const path = join(o.out, 'report.html');
  writeHtmlReport(path, {
    title: `kneeseg experiment: ${o.kind}`,
    sections: [
      { heading: 'Results', markdownOrHtmlTable: markdown.replace(/^# .*\n/, '') },
      { heading: 'Figures', images },
    ],
  });
  return path;
}
