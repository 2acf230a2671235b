/** `kneeseg experiment`: re-runs one of the paper's tables or figures (thin over src/experiment). */
import type { Command } from 'commander';
import { InputError } from '../errors.ts';
import { readConfigFile } from '../train/config.ts';
import { runExperiment } from '../experiment/run.ts';
import { EXPERIMENT_KINDS, type ExperimentKind } from '../experiment/plan.ts';
import { trainProgress } from './progress.ts';
import { trainPool } from './train-pool.ts';

interface Flags {
  data: string;
  out: string;
  backbone?: 'medt' | 'unet';
  seeds?: string;
  seed?: string;
  minutesPerRun?: string;
  maxIterations?: string;
  config?: string;
  methods?: string;
  fractions?: string;
  jobs?: string;
}

export function experimentCommand(program: Command): void {
  program
    .command('experiment')
    .description(
      "train, predict and evaluate what one of the paper's tables needs; writes RESULTS.md and report.html",
    )
    .argument('<kind>', EXPERIMENT_KINDS.join(' | '))
    .requiredOption('--data <dir>', 'dataset folder in nnU-Net layout')
    .requiredOption('--out <dir>', 'experiment folder (finished runs in it are reused)')
    .option('--backbone <name>', 'medt | unet')
    .option('--seeds <k>', 'repeat every run with k seeds (default 1; 3 for options)')
    .option('--seed <s>', 'first seed of the runs and of the split (default 0)')
    .option('--minutes-per-run <m>', 'time budget of each training run')
    .option(
      '--max-iterations <n>',
      'iteration cap of each training run (options: needed, or --minutes-per-run)',
    )
    .option('--config <file>', 'JSON configuration applied to every run')
    .option('--methods <list>', 'only these methods, comma-separated')
    .option('--fractions <list>', 'label shares of the label-efficiency curve, e.g. 0.1,0.2,0.5,1')
    .option(
      '--jobs <n>',
      'train n runs at once, each in its own process with a share of the cores (default 1: one after another)',
    )
    .action(async (kind: string, f: Flags) => {
      if (!EXPERIMENT_KINDS.includes(kind as ExperimentKind))
        throw new InputError(kind, 'is not an experiment', `use one of ${EXPERIMENT_KINDS.join(', ')}`);
      const jobs = f.jobs === undefined ? 1 : Number(f.jobs);
      const r = await runExperiment({
        kind: kind as ExperimentKind,
        data: f.data,
        out: f.out,
        backbone: f.backbone,
        seeds: f.seeds === undefined ? undefined : Number(f.seeds),
        seed: f.seed === undefined ? undefined : Number(f.seed),
        minutesPerRun: f.minutesPerRun === undefined ? undefined : Number(f.minutesPerRun),
        maxIterations: f.maxIterations === undefined ? undefined : Number(f.maxIterations),
        baseConfig: f.config ? readConfigFile(f.config) : undefined,
        methods: f.methods?.split(',').map((s) => s.trim()),
        fractions: f.fractions?.split(',').map(Number),
        ...(jobs === 1 ? {} : { trainRuns: trainPool({ processes: jobs }) }),
        listener: trainProgress({ everySeconds: 60 }),
        log: (l) => console.log(l),
      });
      console.log(`\n${r.resultsMarkdown}`);
      console.log(`results: ${r.resultsPath}\nreport:  ${r.htmlPath}`);
    });
}
