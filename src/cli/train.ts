/** `kneeseg train`: trains one method on one dataset into a run folder (thin over src/train/run.ts). */
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mergeConfig, readConfigFile } from '../train/config.ts';
import { checkOutputFolder } from '../output/check.ts';
import { runTraining } from '../train/run.ts';
import { checkResumable } from '../train/run-folder.ts';
import { processGroupOptionsFromEnv, type ProcessGroupOptions } from '../engine/distributed.ts';
import { KneesegError } from '../errors.ts';
import { trainProgress } from './progress.ts';
import { kneesegCommand, launchRanks, withoutLaunchFlags } from './launch.ts';

interface TrainFlags {
  data: string;
  method?: string;
  backbone?: string;
  out: string;
  labelled?: string;
  /** --labelled's earlier spelling */
  labeled?: string;
  config?: string;
  seed?: string;
  maxIterations?: string;
  minutes?: string;
  resume?: boolean;
  overwrite?: boolean;
  size?: string;
  threads?: string;
  nproc?: string;
  nnodes?: string;
  nodeRank?: string;
  masterAddr?: string;
  masterPort?: string;
  distTimeout?: string;
}

/** Seconds a rank waits for the others in a collective before it gives up (training default). */
const DEFAULT_DIST_TIMEOUT_S = 120;

const int = (s: string | undefined) => (s === undefined ? undefined : Number(s));

/** Flags as a partial configuration (flags override the config file, which overrides defaults). */
export function flagsToConfig(f: TrainFlags): Record<string, unknown> {
  const over: Record<string, unknown> = { data: { dir: f.data } };
  const data = over.data as Record<string, unknown>;
  const labelled = f.labelled ?? f.labeled;
  if (labelled !== undefined) data.labelled = int(labelled);
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
    .option('--labelled <n>', 'keep the labels of n training cases; the others train unlabelled')
    .addOption(new Option('--labeled <n>').hideHelp())
    .option('--config <file>', 'JSON configuration (see RUN/config.json of any run for every key)')
    .option('--seed <n>', 'random seed')
    .option('--max-iterations <n>', 'stop after n iterations')
    .option('--minutes <m>', 'stop after m minutes (checkpointed, resumable)')
    .option('--size <HxW>', 'slice size, e.g. 288x240')
    .option('--threads <n>', 'libtorch threads')
    .option('--resume', 'continue from RUN/checkpoints/last.safetensors')
    .option('--overwrite', 'replace the run the --out folder holds (refused without it)')
    .option('--nproc <n>', 'data-parallel: start n processes on this machine (each a share of the cores)')
    .option('--nnodes <n>', 'data-parallel: machines in the job (each runs the same command)')
    .option('--node-rank <i>', "data-parallel: this machine's index, 0 for the one holding the run folder")
    .option('--master-addr <host>', 'data-parallel: the address of node 0 (default 127.0.0.1)')
    .option('--master-port <port>', 'data-parallel: the rendezvous port on node 0')
    .option(
      '--dist-timeout <s>',
      'data-parallel: seconds a rank waits for the others before it stops with an error',
      String(DEFAULT_DIST_TIMEOUT_S),
    )
    .action(async (f: TrainFlags, cmd: Command) => {
      if (launcherFlagsGiven(f)) {
        process.exitCode = await launch(f, cmd);
        return;
      }
      const distributed = rankOptions(f);
      if ((distributed?.rank ?? 0) === 0) await trainHere(f, distributed);
      else await trainOtherRank(f, distributed!);
    });
}

const launcherFlagsGiven = (f: TrainFlags): boolean =>
  [f.nproc, f.nnodes, f.nodeRank, f.masterAddr, f.masterPort].some((v) => v !== undefined);

/** Starts this machine's ranks, each running this command without the launcher's flags. */
async function launch(f: TrainFlags, cmd: Command): Promise<number> {
  // commander keeps the command line it parsed on the program (untyped): argv[2] on are our arguments
  const raw = (cmd.parent as { rawArgs?: string[] } | null)?.rawArgs ?? process.argv;
  return launchRanks({
    nproc: Number(f.nproc ?? 1),
    nnodes: int(f.nnodes),
    nodeRank: int(f.nodeRank),
    masterAddr: f.masterAddr,
    masterPort: int(f.masterPort),
    command: kneesegCommand(withoutLaunchFlags(raw.slice(2))),
  });
}

/** Inside a rank (torchrun's variables with WORLD_SIZE > 1): its place in the group. */
function rankOptions(f: TrainFlags): ProcessGroupOptions | undefined {
  const env = processGroupOptionsFromEnv();
  if (env === null || env.worldSize <= 1) return undefined;
  const seconds = Number(f.distTimeout ?? DEFAULT_DIST_TIMEOUT_S);
  if (!(seconds > 0)) throw new KneesegError(`--dist-timeout ${f.distTimeout}: give a number of seconds > 0`);
  return { ...env, timeoutMs: Math.round(seconds * 1000) };
}

/** One process, or rank 0: owns the run folder and the terminal. */
async function trainHere(f: TrainFlags, distributed: ProcessGroupOptions | undefined): Promise<void> {
  checkOutputFolder(f.out, '--out');
  if (f.resume) checkResumable(f.out);
  let cfg: Record<string, unknown> = {};
  if (f.resume && existsSync(join(f.out, 'config.json'))) cfg = readConfigFile(join(f.out, 'config.json'));
  if (f.config) cfg = mergeConfig(cfg, readConfigFile(f.config));
  cfg = mergeConfig(cfg, flagsToConfig(f));
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\nkneeseg: stopping after this step (checkpoint will be written); Ctrl-C again to abort');
  };
  process.on('SIGINT', onSigint);
  try {
    const r = await runTraining(cfg, {
      out: f.out,
      resume: Boolean(f.resume),
      overwrite: Boolean(f.overwrite),
      listener: trainProgress(),
      stopRequested: () => interrupted,
      distributed,
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
}

/**
 * A rank > 0: prints nothing but errors, and takes rank 0's configuration and checkpoint, so it needs
 * neither the config file nor the run folder (the machine may not hold it). A Ctrl-C reaches every
 * rank; rank 0 decides the stop.
 */
async function trainOtherRank(f: TrainFlags, distributed: ProcessGroupOptions): Promise<void> {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  try {
    const r = await runTraining(
      {},
      { out: f.out, resume: Boolean(f.resume), stopRequested: () => interrupted, distributed },
    );
    if (interrupted) process.exitCode = 130;
    else if (r.result.state.nanStreak >= r.config.nanTolerance) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
