/**
 * What a training run may do with its run folder (`--out RUN`): a folder that already holds a run is
 * not overwritten without `--overwrite`; `--resume` needs a checkpoint there; a run that fails before
 * its first checkpoint leaves no stub folder behind; the folder is locked while the run writes to it
 * (src/output/lock.ts), and temporary files of a run killed mid-write are removed when the next starts.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { outOfMemoryBytes } from '../engine/index.ts';
import { ConfigError, InputError, KneesegError } from '../errors.ts';
import { removeStaleTemporaries } from '../output/atomic.ts';
import { checkOutputFolder } from '../output/check.ts';
import { lockFolder } from '../output/lock.ts';
import type { TrainConfig } from './config.ts';

/** The files a training run writes into its folder (checkpoints/ holds last.safetensors). */
export const RUN_FILES = [
  'config.json',
  'log.jsonl',
  'summary.json',
  'model.safetensors',
  'checkpoints',
] as const;

export const lastCheckpoint = (out: string): string => join(out, 'checkpoints', 'last.safetensors');

/** The run files present in `out` (none when it does not exist). */
function runFilesIn(out: string): string[] {
  return RUN_FILES.filter((f) => existsSync(join(out, f)));
}

/** `--resume` on RUN: throws unless RUN holds a checkpoint to resume from. */
export function checkResumable(out: string): void {
  if (existsSync(lastCheckpoint(out))) return;
  const files = runFilesIn(out);
  throw new InputError(
    out,
    `--resume: there is no checkpoint to resume from (no checkpoints/last.safetensors; ${
      existsSync(out)
        ? `the folder holds ${files.length ? files.join(', ') : 'no run files'}`
        : 'the folder does not exist'
    })`,
    'give --out the run folder that holds the checkpoint, or drop --resume to start a new run' +
      (files.length ? " (with --overwrite, which replaces this folder's run)" : ''),
  );
}

export interface RunFolder {
  /** Removes the folder (or, if it existed empty, what was put in it) when no checkpoint was written. */
  discardIfEmpty(): void;
  release(): void;
}

/**
 * Prepares `out` for a run: checks the path, refuses a folder holding a run unless resuming or
 * `overwrite` (then removes that run's files), locks it and clears stale temporary files.
 */
export function openRunFolder(out: string, o: { resume?: boolean; overwrite?: boolean }): RunFolder {
  if (o.resume && o.overwrite)
    throw new ConfigError(
      '--overwrite',
      'cannot go with --resume: one continues the run, the other replaces it',
    );
  checkOutputFolder(out, '--out');
  const existed = existsSync(out);
  const wasEmpty = !existed || readdirSync(out).length === 0;
  const files = runFilesIn(out);
  if (!o.resume && !o.overwrite && files.length > 0) {
    const finished = files.includes('summary.json') ? 'a finished run' : 'a run';
    throw new InputError(
      out,
      `holds ${finished} already (${files.join(', ')})`,
      `give --out a new folder, continue the run with --resume, or replace it with --overwrite`,
    );
  }
  const lock = lockFolder(out, 'train');
  try {
    removeStaleTemporaries(out);
    if (o.overwrite) for (const f of files) rmSync(join(out, f), { recursive: true, force: true });
  } catch (err) {
    lock.release();
    throw err;
  }
  return {
    release: () => lock.release(),
    discardIfEmpty() {
      if (!wasEmpty || existsSync(lastCheckpoint(out))) return;
      lock.release();
      if (!existed) rmSync(out, { recursive: true, force: true });
      else for (const f of readdirSync(out)) rmSync(join(out, f), { recursive: true, force: true });
    },
  };
}

/** `err` as a KneesegError naming the settings to lower when it is libtorch running out of memory. */
export function explainOutOfMemory(err: unknown, config: TrainConfig): unknown {
  const bytes = outOfMemoryBytes(err);
  if (bytes === undefined) return err;
  const size = Number.isNaN(bytes) ? '' : ` (${(bytes / 2 ** 30).toFixed(1)} GiB for one tensor)`;
  return new KneesegError(
    `out of memory${size}: ${config.model.backbone} on ${config.data.size.join('x')} slices (data.size), ` +
      `batch.labelled ${config.batch.labelled} + batch.unlabelled ${config.batch.unlabelled}, does not fit in this machine's memory. ` +
      'Fix: lower data.size (--size), batch.labelled / batch.unlabelled, or the network width (model.medt / model.unet)',
  );
}
