/**
 * The report of one training run: RUN/report.html with the run's summary, its loss and validation
 * curves (RUN/loss_curves.png) and, when RUN/evaluation.json exists (`kneeseg evaluate --json`), the
 * per-structure table and Dice box plot (RUN/dice_boxplot.png).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../../errors.ts';
import { EvaluationJsonSchema } from '../evaluation-json.ts';
import { diceBoxPlot } from './dice-box.ts';
import { writeFigure } from './figure.ts';
import { writeHtmlReport, type ReportSection } from './html.ts';
import { lossCurves } from './loss-curves.ts';
import { readRunLog } from './run-log.ts';
import { evaluationTable, runSummaryTable } from './tables.ts';

export interface RunReport {
  readonly html: string;
  /** PNG files written beside it */
  readonly figures: readonly string[];
}

export async function writeRunReport(runDir: string): Promise<RunReport> {
  const dir = resolve(runDir);
  const logFile = join(dir, 'log.jsonl');
  if (!existsSync(logFile))
    throw new InputError(logFile, 'is missing', 'give the folder of a training run (it holds log.jsonl)');
  const entries = readRunLog(logFile);
  if (entries.length === 0)
    throw new InputError(
      logFile,
      'holds no training or validation entries',
      'report a run that has logged at least one step',
    );
  const figures: string[] = [];
  const curves = writeFigure(dir, 'loss_curves', await lossCurves(entries));
  figures.push(curves);
  const sections: ReportSection[] = [
    { heading: 'Run', markdownOrHtmlTable: runSummaryTable(entries) },
    {
      heading: 'Loss and validation curves',
      images: [
        {
          path: curves,
          caption:
            'Training loss terms, validation loss with its EMA (best checkpoints marked) and validation Dice per structure, against iteration.',
        },
      ],
    },
  ];
  const evalFile = join(dir, 'evaluation.json');
  if (existsSync(evalFile)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(evalFile, 'utf8'));
    } catch (err) {
      throw new InputError(
        evalFile,
        `is not valid JSON (${(err as Error).message})`,
        'write it again with kneeseg evaluate --json',
      );
    }
    const parsed = EvaluationJsonSchema.safeParse(raw);
    if (!parsed.success)
      throw new InputError(
        evalFile,
        `is not an evaluation: ${parsed.error.issues[0]?.message}`,
        'write it with kneeseg evaluate --json',
      );
    const box = writeFigure(
      dir,
      'dice_boxplot',
      await diceBoxPlot(parsed.data.cases, { structures: Object.keys(parsed.data.structures) }),
    );
    figures.push(box);
    sections.push({
      heading: 'Evaluation',
      markdownOrHtmlTable: evaluationTable(parsed.data),
      images: [
        {
          path: box,
          caption:
            'Dice per structure over the evaluated cases (box: quartiles, whiskers: 1.5 IQR; dots: cases).',
        },
      ],
    });
  }
  const html = join(dir, 'report.html');
  writeHtmlReport(html, { title: `Training run ${basename(dir)}`, sections });
  return { html, figures };
}
