/**
 * `kneeseg predict --model RUN --input PATH --output DIR`: segment scans with a trained model and
 * measure their cartilage (src/infer/run-predict.ts). Exit status 1 when any scan failed.
 * `--series UID` (or `--input FOLDER#UID`) picks one series of a DICOM folder holding several.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { UID_PATTERN } from '../data/io/paths.ts';
import { ConfigError } from '../errors.ts';
import { loadModel } from '../infer/load-model.ts';
import { checkOutputFolder } from '../output/check.ts';
import { OUTPUT_ENDINGS, predictScans, type OutputEnding, type PredictEvent } from '../infer/run-predict.ts';
import type { KneeSide } from '../infer/volume.ts';
import type { Tta } from '../infer/predict.ts';

interface PredictFlags {
  model: string;
  input: string;
  series?: string;
  output: string;
  batch: string;
  tta: string;
  probabilities?: boolean;
  largestComponent?: boolean;
  side: string;
  ending: string;
  measure: boolean;
}

function progress(tty: boolean): (e: PredictEvent) => void {
  let bar: cliProgress.SingleBar | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return (e) => {
    switch (e.type) {
      case 'start':
        console.log(
          `${e.total} scan(s)${e.ignored.length ? `; not scans, skipped: ${e.ignored.join(', ')}` : ''}`,
        );
        break;
      case 'case-start':
        if (tty) {
          bar = new cliProgress.SingleBar(
            {
              format: `[${e.index + 1}/${e.total}] ${e.scan.id} |{bar}| {value}/{total} slices ETA {eta_formatted}`,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(1, 0);
        } else console.log(`[${e.index + 1}/${e.total}] ${e.scan.id}: ${e.scan.path}`);
        break;
      case 'slices':
        if (bar) {
          bar.setTotal(e.total);
          bar.update(e.done);
        }
        break;
      case 'case-done':
        stop();
        console.log(
          `[${e.index + 1}/${e.total}] ${e.scan.id}: wrote ${e.output} (${e.seconds.toFixed(1)} s)`,
        );
        break;
      case 'case-failed':
        stop();
        console.error(`[${e.index + 1}/${e.total}] ${e.scan.id}: FAILED: ${e.error.message}`);
        break;
    }
  };
}

export function predictCommand(program: Command): void {
  program
    .command('predict')
    .description(
      "segment scans with a trained model; write label maps in each scan's geometry, volumes and cartilage thickness",
    )
    .requiredOption('--model <path>', 'run folder or its model.safetensors')
    .requiredOption(
      '--input <path>',
      'a scan file, a DICOM series folder (FOLDER#SeriesInstanceUID: one series of a folder holding several), ' +
        'or a folder of scans (files and DICOM sub-folders)',
    )
    .option(
      '--series <uid>',
      'SeriesInstanceUID of the series to read when the --input DICOM folder holds several (as --input FOLDER#UID)',
    )
    .requiredOption('--output <dir>', 'output folder: {case}.nii.gz, measurements.csv/.json, thickness/*.png')
    .option('--batch <n>', 'slices per forward pass (auto: about 64 Ki pixels, 1 to 8 slices)', 'auto')
    .option(
      '--tta <mode>',
      'test-time augmentation: none, or flip (average with the left-right mirrored slices; also writes DIR/uncertainty.json, the share of voxels the flip relabels)',
      'none',
    )
    .option(
      '--probabilities',
      'also write float32 probability maps, one per structure, to DIR/probabilities/',
    )
    .option(
      '--largest-component',
      'keep only the largest 3D connected component of each structure (off by default, as in the paper)',
    )
    .option(
      '--side <side>',
      'knee side, left or right, to name plate halves medial/lateral (default: unknown -> low/high)',
      'unknown',
    )
    .option('--ending <ending>', `label-map file ending: ${OUTPUT_ENDINGS.join(', ')}`, '.nii.gz')
    .option('--no-measure', 'skip volumes, thickness and thickness maps')
    .action(async (f: PredictFlags) => {
      const { batch, input } = checkPredictFlags(f);
      checkOutputFolder(f.output, '--output');
      const model = loadModel(f.model);
      console.log(
        `model ${model.file}: ${model.config.backbone}, ${model.decoding} decoding, slices ${model.preprocessing.size.join('x')}`,
      );
      const r = await predictScans(
        model,
        input,
        {
          output: f.output,
          batch,
          tta: f.tta as Tta,
          probabilities: f.probabilities ?? false,
          largestComponent: f.largestComponent ?? false,
          side: f.side as KneeSide,
          ending: f.ending as OutputEnding,
          measure: f.measure,
        },
        progress(Boolean(process.stdout.isTTY)),
      );
      model.model.dispose();
      for (const file of r.measurementFiles) console.log(`wrote ${file}`);
      if (r.uncertaintyFile) console.log(`wrote ${r.uncertaintyFile}`);
      console.log(`${r.done.length} done, ${r.failed.length} failed`);
      if (r.failed.length) {
        for (const x of r.failed) console.error(`failed: ${x.error.message}`);
        process.exitCode = 1;
      }
    });
}

/** The flags' values checked (ConfigError naming the flag); the input path with --series applied. */
function checkPredictFlags(f: PredictFlags): { batch: number | undefined; input: string } {
  const batch = f.batch === 'auto' ? undefined : Number(f.batch);
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1))
    throw new ConfigError('batch', `must be auto or a whole number >= 1, got ${f.batch}`);
  if (f.tta !== 'none' && f.tta !== 'flip')
    throw new ConfigError('tta', `must be none or flip, got ${f.tta}`);
  if (!['left', 'right', 'unknown'].includes(f.side))
    throw new ConfigError('side', `must be left or right, got ${f.side}`);
  if (!(OUTPUT_ENDINGS as readonly string[]).includes(f.ending))
    throw new ConfigError('ending', `must be one of ${OUTPUT_ENDINGS.join(', ')}, got ${f.ending}`);
  let input = f.input;
  if (f.series !== undefined) {
    if (!UID_PATTERN.test(f.series))
      throw new ConfigError('series', `must be a DICOM UID (numbers separated by dots), got ${f.series}`);
    input = `${f.input.replace(/[\\/]+$/, '')}#${f.series}`;
  }
  return { batch, input };
}
