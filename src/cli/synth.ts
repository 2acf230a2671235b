/** `kneeseg synth`: write a synthetic knee MR cohort in nnU-Net v2 layout. */
import { Option, type Command } from 'commander';
import { ConfigError } from '../errors.ts';
import { DEFAULT_SYNTH_GRID, writeSynthCohort } from '../data/synth/index.ts';

function triple(key: string, text: string): [number, number, number] {
  const v = text.split(',').map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x)))
    throw new ConfigError(key, `expects X,Y,Z, got "${text}"`);
  return [v[0]!, v[1]!, v[2]!];
}

function count(key: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(key, `expects a whole number >= 0, got "${text}"`);
  return n;
}

export function synthCommand(program: Command): void {
  const g = DEFAULT_SYNTH_GRID;
  program
    .command('synth')
    .description('write a synthetic knee MR cohort (images, labels, dataset.json) in nnU-Net v2 layout')
    .requiredOption('--out <dir>', 'output folder (must not exist or be empty)')
    .option('--labelled <n>', 'labelled training cases (imagesTr + labelsTr)', '14')
    .option('--unlabelled <n>', 'unlabelled training cases (imagesTr only)', '56')
    // the flags' earlier spelling, still accepted
    .addOption(new Option('--labeled <n>').hideHelp())
    .addOption(new Option('--unlabeled <n>').hideHelp())
    .option('--test <n>', 'test cases (imagesTs + labelsTs)', '10')
    .option('--seed <s>', 'seed: the same seed gives the same cohort', '0')
    .option(
      '--shape <x,y,z>',
      'voxels: x left-right (sagittal slices), y anterior-posterior, z inferior-superior',
      g.shape.join(','),
    )
    .option('--spacing <x,y,z>', 'voxel size in mm', g.spacing.join(','))
    .option('--workers <n>', 'worker threads (default: one per core)')
    .action(
      async (o: {
        out: string;
        labelled: string;
        unlabelled: string;
        labeled?: string;
        unlabeled?: string;
        test: string;
        seed: string;
        shape: string;
        spacing: string;
        workers?: string;
      }) => {
        const summary = await writeSynthCohort({
          out: o.out,
          labelled: count('labelled', o.labeled ?? o.labelled),
          unlabelled: count('unlabelled', o.unlabeled ?? o.unlabelled),
          test: count('test', o.test),
          seed: count('seed', o.seed),
          grid: { shape: triple('shape', o.shape), spacing: triple('spacing', o.spacing) },
          workers: o.workers === undefined ? undefined : Math.max(1, count('workers', o.workers)),
          onCase: (done, total) => {
            if (done === total || done % 10 === 0) console.log(`${done}/${total} cases`);
          },
        });
        const n = (k: string) => summary.cases.filter((c) => c.kind === k).length;
        console.log(
          `wrote ${summary.dir}: ${n('labelled')} labelled, ${n('unlabelled')} unlabelled, ${n('test')} test cases in ${summary.seconds.toFixed(1)} s`,
        );
      },
    );
}
