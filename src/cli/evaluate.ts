/** `kneeseg evaluate --pred DIR --gt DIR`: score predicted label maps against ground truth. */
import type { Command } from 'commander';
import { ConfigError } from '../errors.ts';
import { evaluateFolders, readLabels } from '../eval/evaluate.ts';
import { evaluationCsv, evaluationJson } from '../eval/evaluation-json.ts';
import { formatEvaluationTable } from '../eval/table.ts';
import { writeFileAtomic } from '../output/atomic.ts';
import { checkOutputFile } from '../output/check.ts';

interface EvaluateFlags {
  pred: string;
  gt: string;
  labels?: string;
  json?: string;
  csv?: string;
  missingAsEmpty?: boolean;
  workers?: string;
}

export function evaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description(
      'score predicted label maps against ground truth: Dice, HD95 (mm, voxels), ASSD, volume error per structure',
    )
    .requiredOption('--pred <dir>', 'folder of predicted label maps, {case}.nii.gz (any supported ending)')
    .requiredOption(
      '--gt <dir>',
      'folder of ground-truth label maps with the same case names, e.g. DATASET/labelsTs',
    )
    .option(
      '--labels <file>',
      'dataset.json whose "labels" name the structures (default: the six kneeseg structures)',
    )
    .option('--json <file>', 'write the summary and every case as JSON')
    .option('--csv <file>', 'write one row per case and structure as CSV')
    .option(
      '--missing-as-empty',
      'score a case without a prediction as an empty prediction instead of failing',
    )
    .option('--workers <n>', 'worker threads (default: one per core)')
    .action(async (flags: EvaluateFlags) => {
      const workers = flags.workers === undefined ? undefined : Number(flags.workers);
      if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) {
        throw new ConfigError('workers', `must be a whole number >= 1, got ${flags.workers}`);
      }
      // before the scoring, which can take minutes
      if (flags.json) checkOutputFile(flags.json, '--json');
      if (flags.csv) checkOutputFile(flags.csv, '--csv');
      const ev = await evaluateFolders({
        predDir: flags.pred,
        gtDir: flags.gt,
        ...(flags.labels ? { labels: readLabels(flags.labels) } : {}),
        missingAsEmpty: flags.missingAsEmpty ?? false,
        ...(workers ? { workers } : {}),
      });
      console.log(formatEvaluationTable(ev));
      if (ev.missing.length)
        console.log(
          `warning: no prediction for ${ev.missing.length} case(s), scored as empty: ${ev.missing.join(', ')}`,
        );
      if (ev.unmatched.length)
        console.log(
          `warning: ${ev.unmatched.length} prediction(s) without ground truth, not scored: ${ev.unmatched.join(', ')}`,
        );
      if (flags.json) {
        writeFileAtomic(flags.json, `${JSON.stringify(evaluationJson(ev), null, 2)}\n`);
        console.log(`wrote ${flags.json}`);
      }
      if (flags.csv) {
        writeFileAtomic(flags.csv, evaluationCsv(ev));
        console.log(`wrote ${flags.csv}`);
      }
    });
}
