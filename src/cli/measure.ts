/**
 * `kneeseg measure LABELS [--output DIR] [--side left|right] [--labels dataset.json]`: volumes and
 * cartilage thickness of existing label maps, without a model; the measurement files `kneeseg predict`
 * writes (src/infer/run-measure.ts). Exit status 1 when any label map failed.
 */
import type { Command } from 'commander';
import { ConfigError } from '../errors.ts';
import { readLabels } from '../eval/evaluate.ts';
import { checkOutputFolder } from '../output/check.ts';
import { measureLabelMaps, structuresOf, type MeasureEvent } from '../infer/run-measure.ts';
import type { KneeSide } from '../infer/volume.ts';

interface MeasureFlags {
  output?: string;
  side: string;
  labels?: string;
}

function report(e: MeasureEvent): void {
  const at = (i: number, n: number) => `[${i + 1}/${n}]`;
  switch (e.type) {
    case 'start':
      console.log(`${e.total} label map(s); writing to ${e.output}`);
      break;
    case 'case-done':
      console.log(`${at(e.index, e.total)} ${e.input.id}: measured (${e.seconds.toFixed(1)} s)`);
      break;
    case 'case-failed':
      console.error(`${at(e.index, e.total)} ${e.input.id}: FAILED: ${e.error.message}`);
      break;
  }
}

export function measureCommand(program: Command): void {
  program
    .command('measure')
    .description(
      'volumes and cartilage thickness of existing label maps (no model): the measurements and thickness maps predict writes',
    )
    .argument('<labels>', 'a label map ({case}.nii.gz, any supported ending) or a folder of them')
    .option(
      '--output <dir>',
      "output folder: measurements.csv/.json, thickness/*.png (default: the label maps' folder)",
    )
    .option(
      '--side <side>',
      'knee side, left or right, to name plate halves medial/lateral (default: unknown -> low/high)',
      'unknown',
    )
    .option(
      '--labels <file>',
      'dataset.json whose "labels" number the structures (default: kneeseg\'s, 1 femur .. 6 patellar_cartilage)',
    )
    .action(async (input: string, f: MeasureFlags) => {
      if (!['left', 'right', 'unknown'].includes(f.side))
        throw new ConfigError('side', `must be left or right, got ${f.side}`);
      if (f.output !== undefined) checkOutputFolder(f.output, '--output');
      const r = await measureLabelMaps(
        input,
        {
          ...(f.output === undefined ? {} : { output: f.output }),
          side: f.side as KneeSide,
          ...(f.labels ? { structures: structuresOf(readLabels(f.labels)) } : {}),
        },
        report,
      );
      for (const file of r.measurementFiles) console.log(`wrote ${file}`);
      console.log(`${r.done.length} done, ${r.failed.length} failed`);
      if (r.failed.length) {
        for (const x of r.failed) console.error(`failed: ${x.error.message}`);
        process.exitCode = 1;
      }
    });
}
