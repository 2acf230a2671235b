/** `kneeseg train`: trains one method on one dataset into a run folder (thin over src/train/run.ts). */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mergeConfig, readConfigFile } from '../train/config.ts';
import { checkOutputFolder } from '../output/check.ts';
import { runTraining } from '../train/run.ts';
import { checkResumable } from '../train/run-folder.ts';
import { trainProgress } from './progress.ts';

interface TrainFlags {
  data: string;
  method?: string;
  backbone?: string;
  out: string;
  labeled?: string;
  config?: string;
  seed?: string;
  maxIterations?: string;
  minutes?: string;
  resume?: boolean;
  overwrite?: boolean;
  size?: string;
  threads?: string;
}

const int = (s: string | undefined) => (s === undefined ? undefined : Number(s));

/** Flags as a partial configuration (flags override the config file, which overrides defaults). */
export function flagsToConfig(f: TrainFlags): Record<string, unknown> {
  const over: Record<string, unknown> = { data: { dir: f.data } };
  const data = over.data as Record<string, unknown>;
  if (f.labeled !== undefined) data.labeled = int(f.labeled);
  if (f.size !== undefined) data.size = f.size.split('x').map(Number);
  if (f.method !== undefined) over.method = { name: f.method };
  if (f.backbone !== undefined) over.model = { backbone: f.backbone };
  if (f.seed !== undefined) over.seed = int(f.seed);
  if (f.threads !== undefined) over.threads = int(f.threads);
  const schedule: Record<string, unknown> = {};
  if (f.maxIterations !== undefined) schedule.maxIterations = int(f.maxIterations);
  if (f.minutes !== undefined) schedule.minutes = Number(f.minutes);
  if (Object.keys(schedule).length) over.schedule = schedule;
  return over;
}

export function trainCommand(program: Command): void {
  program
    .command('train')
    .description('train a segmentation model (SSHCPS by default) on a dataset in nnU-Net layout')
    .requiredOption('--data <dir>', 'dataset folder (imagesTr/, labelsTr/, dataset.json)')
    .requiredOption('--out <run>', 'run folder (config, log, checkpoints, model)')
    .option(
      '--method <name>',
      'sshcps | seg-th | seg-th-up | seg-ls | hcps | supervised | dtc | cct | cld | mean-teacher | ua-mt',
    )
    .option('--backbone <name>', 'medt | unet')
    .option('--labeled <n>', 'keep the labels of n training cases; the others train unlabelled')
    .option('--config <file>', 'JSON configuration (see RUN/config.json of any run for every key)')
    .option('--seed <n>', 'random seed')
    .option('--max-iterations <n>', 'stop after n iterations')
    .option('--minutes <m>', 'stop after m minutes (checkpointed, resumable)')
    .option('--size <HxW>', 'slice size, e.g. 288x240')
    .option('--threads <n>', 'libtorch threads')
    .option('--resume', 'continue from RUN/checkpoints/last.safetensors')
    .option('--overwrite', 'replace the run the --out folder holds (refused without it)')
    .action(async (f: TrainFlags) => {
      checkOutputFolder(f.out, '--out');
      if (f.resume) checkResumable(f.out);
      let cfg: Record<string, unknown> = {};
      if (f.resume && existsSync(join(f.out, 'config.json')))
        cfg = readConfigFile(join(f.out, 'config.json'));
      if (f.config) cfg = mergeConfig(cfg, readConfigFile(f.config));
      cfg = mergeConfig(cfg, flagsToConfig(f));
      let interrupted = false;
      const onSigint = () => {
        if (interrupted) process.exit(130);
        interrupted = true;
        console.error(
          '\nkneeseg: stopping after this step (checkpoint will be written); Ctrl-C again to abort',
        );
      };
      process.on('SIGINT', onSigint);
      try {
        const r = await runTraining(cfg, {
          out: f.out,
          resume: Boolean(f.resume),
          overwrite: Boolean(f.overwrite),
          listener: trainProgress(),
          stopRequested: () => interrupted,
        });
        console.log(
          `model: ${join(f.out, 'model.safetensors')} (best ${r.summary.selection === 'dice' ? 'mean validation Dice' : 'EMA-VL'} at epoch ${r.summary.best_epoch})`,
        );
        if (interrupted) process.exitCode = 130;
        // stopped by non-finite losses: the run failed, whatever model it kept
        else if (r.result.state.nanStreak >= r.config.nanTolerance) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
