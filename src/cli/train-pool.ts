/**
 * Trains an experiment's runs in several `kneeseg train` processes at once (`experiment --jobs N`,
 * the demo): libtorch's thread count is one per process, and small networks gain little from a
 * second thread (the demo's U-Net: 0.265 s per SSHCPS step on one thread, 0.254 on two), so on a
 * machine of C cores N processes of C / N threads finish a table sooner than one process of C. Each
 * process is a plain `kneeseg train` of the run's folder: it checkpoints, resumes and stops on Ctrl-C
 * as a run started by hand does, and its output comes through prefixed with the run's key.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KneesegError } from '../errors.ts';
import type { RunTrainer, TrainJob } from '../experiment/run.ts';
import { lastCheckpoint } from '../train/run-folder.ts';
import { kneesegCommand, prefixLines } from './launch.ts';

export interface TrainPoolOptions {
  /** processes at once */
  processes: number;
  /** libtorch (and OpenBLAS) threads of each process (default: KNEESEG_THREADS if set, else an equal share of the cores) */
  threadsEach?: number;
  /** where the launcher's own lines go (default stderr) */
  log?: (line: string) => void;
  /** the command a job runs, given `kneeseg`'s arguments (default: this installation's kneeseg) */
  command?: (args: string[]) => string[];
}

/** The arguments of `kneeseg train` for a job whose configuration is in `configFile`. */
export function trainArgs(job: TrainJob, configFile: string): string[] {
  const data = (job.config.data as { dir?: unknown } | undefined)?.dir;
  if (typeof data !== 'string') throw new KneesegError(`run ${job.key}: its configuration names no data.dir`);
  // a folder with a checkpoint resumes; one without (never started, or stopped before its first
  // checkpoint) starts again from the beginning
  const mode = existsSync(lastCheckpoint(job.dir)) ? '--resume' : '--overwrite';
  return ['train', '--data', data, '--config', configFile, '--out', job.dir, mode];
}

export function trainPool(o: TrainPoolOptions): RunTrainer {
  if (!Number.isInteger(o.processes) || o.processes < 1)
    throw new KneesegError(`--jobs ${o.processes}: give a whole number of processes, 1 or more`);
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const command = o.command ?? kneesegCommand;
  const threads =
    o.threadsEach ??
    process.env.KNEESEG_THREADS ??
    Math.max(1, Math.floor(availableParallelism() / o.processes));
  return async (jobs) => {
    const scratch = mkdtempSync(join(tmpdir(), 'kneeseg-jobs-'));
    const failures: string[] = [];
    let next = 0;
    let interrupted = false;
    // Ctrl-C reaches every training process from the terminal: each checkpoints and stops; wait for them
    const onSigint = () => {
      if (!interrupted) log('kneeseg: waiting for the training processes to write their checkpoints');
      interrupted = true;
    };
    process.on('SIGINT', onSigint);
    const runOne = (job: TrainJob): Promise<void> => {
      const file = join(scratch, `${job.key}.json`);
      writeFileSync(file, JSON.stringify(job.config));
      const [program, ...args] = command(trainArgs(job, file));
      const child = spawn(program!, args, {
        env: { ...process.env, KNEESEG_THREADS: String(threads) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      prefixLines(child.stdout, `[${job.key}] `, process.stdout);
      prefixLines(child.stderr, `[${job.key}] `, process.stderr);
      return new Promise((resolve) => {
        child.on('error', (err) => {
          failures.push(`${job.key} could not start (${err.message})`);
          resolve();
        });
        child.on('exit', (code, signal) => {
          if (code !== 0)
            failures.push(`${job.key} ${signal ? `was killed (${signal})` : `exited with status ${code}`}`);
          resolve();
        });
      });
    };
    // each slot takes the next job until none is left, or one failed (the running ones finish)
    const slot = async (): Promise<void> => {
      while (next < jobs.length && failures.length === 0 && !interrupted) await runOne(jobs[next++]!);
    };
    try {
      await Promise.all(Array.from({ length: Math.min(o.processes, jobs.length) }, slot));
    } finally {
      process.off('SIGINT', onSigint);
      rmSync(scratch, { recursive: true, force: true });
    }
    if (interrupted)
      throw new KneesegError('interrupted. Fix: run the same command again to resume the runs');
    if (failures.length)
      throw new KneesegError(
        `training failed: ${failures.join('; ')} (its output is above, each line prefixed with the run). ` +
          'Fix: mend what it names, then run the same command again: finished runs are reused and the others resume',
      );
  };
}
