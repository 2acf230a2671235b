/**
 * `kneeseg demo`, the main job: a synthetic knee cohort, SSHCPS and the supervised baseline trained on
 * 20% of the labels for the same number of iterations, both evaluated on the test scans, the comparison printed
 * and an HTML report written. Re-running it reuses what is finished.
 */
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeSynthCohort } from '../data/synth/index.ts';
import { runExperiment } from '../experiment/run.ts';
import { KneesegError } from '../errors.ts';
import { trainProgress } from './progress.ts';
import { trainPool } from './train-pool.ts';

interface Flags {
  out: string;
  iterations: string;
  minutes?: string;
  backbone: 'medt' | 'unet';
  seed: string;
}

/**
 * Slices of the synthetic cohort are 128 x 128; a U-Net of 8 base channels (0.45 M parameters) makes
 * about 0.19 s (supervised) and 0.27 s (SSHCPS) per step on one thread, half the time of one of 16, and
 * the thin cartilage plates need iterations.
 */
export const DEMO_CONFIG = {
  data: { size: [128, 128] },
  model: { unet: { baseChannels: 8, depth: 4 } },
  // three times the paper's first learning rate (1e-3): at 1e-3 the thin plates appear after
  // 1,000-1,700 iterations, at 3e-3 after 500-800, for both methods; the unconditional stage divides it
  // by 3, not the paper's 10: at x0.1 the second half of a short run barely moves (equal iterations,
  // seeds 0 and 1: +0.9 and +3.2 points of mean cartilage Dice at 1e-3 over 3e-4; README, "Demo settings")
  optim: { lr: 3e-3, lrStage2: 1e-3 },
  // validate every 100 iterations so that a short run's model selection sees enough of it; the
  // unconditional stage takes the second half of the budget, but not before every structure reached a
  // validation Dice of 0.5 (the plateau switch would not come in minutes)
  schedule: {
    validationSlices: 48,
    iterationsPerEpoch: 100,
    stageSwitch: { mode: 'fraction', fraction: 0.5, epoch: 250, patience: 60, minDice: 0.5 },
  },
  checkpointEvery: 50,
  logEvery: 20,
};

/**
 * Iterations of each method. Both train at the same time, each in its own process on one libtorch
 * thread: with a fixed iteration count and one thread a run is bit for bit the same however busy the
 * machine is, so the demo's table does not depend on the load (with a time budget it did: 1,585 to
 * 1,891 iterations on this machine, and the winner changed). On two idle cores SSHCPS makes about
 * 0.3-0.4 s per iteration beside the baseline (0.15-0.3 s), about 12 minutes for 2,000.
 */
export const DEMO_ITERATIONS = 2000;

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description('synthetic cohort -> SSHCPS and supervised on 20% of the labels -> evaluation and report')
    .option('--out <dir>', 'demo folder', 'runs/demo')
    .option('--iterations <n>', 'training iterations of each method', String(DEMO_ITERATIONS))
    .addOption(new Option('--minutes <m>').hideHelp())
    .option(
      '--backbone <name>',
      "unet | medt (the paper's backbone: several times the time per iteration)",
      'unet',
    )
    .option('--seed <s>', 'seed of the cohort and the runs', '0')
    .action(async (f: Flags) => {
      if (f.minutes !== undefined)
        throw new KneesegError(
          `--minutes ${f.minutes}: the demo trains a fixed number of iterations, so that its result does not ` +
            `depend on the machine's load. Fix: give --iterations N instead (default ${DEMO_ITERATIONS}, about 12 minutes of ` +
            'training on two cores; the time grows in proportion)',
        );
      const iterations = Number(f.iterations);
      if (!Number.isInteger(iterations) || iterations < 1)
        throw new KneesegError(`--iterations ${f.iterations}: give a whole number of iterations, 1 or more`);
      const data = join(f.out, 'data');
      const seed = Number(f.seed);
      if (!existsSync(join(data, 'dataset.json'))) {
        console.log(`making a synthetic knee cohort in ${data}`);
        const c = await writeSynthCohort({ out: data, labelled: 18, unlabelled: 0, test: 4, seed });
        console.log(`  ${c.cases.length} scans in ${c.seconds.toFixed(0)} s`);
      }
      // the paper compares methods on equal schedules: both train for the same iterations; with two
      // cores or more they train side by side, else one after the other in this process
      const sideBySide = availableParallelism() >= 2;
      console.log(
        `training SSHCPS and the supervised baseline for ${iterations} iterations each, ` +
          `${sideBySide ? 'side by side' : 'one after the other'}, one thread each`,
      );
      const r = await runExperiment({
        kind: 'compare',
        data,
        out: f.out,
        backbone: f.backbone,
        seed,
        maxIterations: iterations,
        baseConfig: { ...DEMO_CONFIG, threads: 1 },
        rows: [
          { row: 'Supervised', method: 'supervised', fraction: 0.2 },
          { row: 'SSHCPS', method: 'sshcps', fraction: 0.2 },
        ],
        ...(sideBySide ? { trainRuns: trainPool({ processes: 2, threadsEach: 1 }) } : {}),
        listener: trainProgress({ everySeconds: 30 }),
        log: (l: string) => console.log(l),
      });
      console.log(`\n${r.resultsMarkdown}`);
      console.log(`iterations: ${r.runs.map((x) => `${x.spec.row} ${x.iterations}`).join(', ')}`);
      console.log(`results: ${r.resultsPath}\nreport:  ${r.htmlPath}`);
    });
}
