/** `kneeseg inspect DIR`: validate a dataset in nnU-Net v2 layout and print its summary. */
import type { Command } from 'commander';
import { inspectDataset, type DatasetSummary } from '../data/inspect.ts';

const triple = (v: readonly number[], digits = 0) => v.map((x) => x.toFixed(digits)).join(' x ');

/** Human-readable summary, one fact per line. */
export function formatSummary(s: DatasetSummary): string {
  const lines = [
    `dataset ${s.name ?? s.dir}: OK`,
    `cases: ${s.counts.labelled} labelled, ${s.counts.unlabelled} unlabelled (imagesTr); ${s.counts.test} test (${s.counts.testLabelled} with labels)`,
    `file ending: ${s.fileEnding}`,
    `shape: ${triple(s.shapeRange.min)} .. ${triple(s.shapeRange.max)} voxels`,
    `spacing: ${triple(s.spacingRange.min, 3)} .. ${triple(s.spacingRange.max, 3)} mm`,
    'labels (value  structure  voxels over labelled cases):',
    ...s.labels.map(
      (l) =>
        `  ${String(l.value).padStart(3)}  ${l.name.padEnd(20)} ${s.totalVoxels[l.name]!.toLocaleString('en')}`,
    ),
  ];
  if (s.absentStructures.length) lines.push(`not labelled in this dataset: ${s.absentStructures.join(', ')}`);
  const empty = s.labels.filter((l) => s.totalVoxels[l.name] === 0).map((l) => l.name);
  if (empty.length) lines.push(`warning: declared but never labelled: ${empty.join(', ')}`);
  return lines.join('\n');
}

export function inspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('check a dataset (nnU-Net v2 layout) and summarise its cases, shapes, spacings and labels')
    .argument('<dir>', 'dataset folder holding dataset.json, imagesTr/ and labelsTr/')
    .option('--json', 'print the full summary (every case) as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const summary = await inspectDataset(dir);
      console.log(opts.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    });
}
