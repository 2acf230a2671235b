/**
 * Writes a synthetic knee cohort in nnU-Net v2 layout:
 *   DIR/dataset.json
 *   DIR/imagesTr/knee_0000_0000.nii.gz ...   labelled and unlabelled training cases
 *   DIR/labelsTr/knee_0000.nii.gz ...        labelled cases only
 *   DIR/imagesTs/, DIR/labelsTs/             test cases
 * Cases are rendered in worker threads (one per core). The cohort is written to a temporary folder
 * that is renamed to DIR at the end, so a failed or interrupted run leaves nothing behind; a write that
 * fails (a full disk) is an OutputError naming the file it would have been in DIR, the temporary path
 * written and the cause.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ConfigError, InputError, OutputError } from '../../errors.ts';
import { outputError, removeStaleTemporaries, temporaryPathFor } from '../../output/atomic.ts';
import { checkOutputFolder } from '../../output/check.ts';
import { writeDatasetJson } from '../dataset-json.ts';
import { startTsWorker } from '../ts-worker.ts';
import { DEFAULT_SYNTH_GRID, type SynthGrid } from './generate.ts';
import { runSynthJob, type SynthFailure, type SynthJob, type SynthJobResult } from './job.ts';
import { SYNTH_LABELS } from './tissues.ts';

export interface CohortOptions {
  readonly out: string;
  readonly labelled: number;
  readonly unlabelled: number;
  readonly test: number;
  readonly seed: number;
  readonly grid?: SynthGrid;
  /** worker threads (default: one per core, at most one per case); 0 renders the cases in this thread */
  readonly workers?: number;
  /** called after each case is written */
  readonly onCase?: (done: number, total: number, result: SynthJobResult) => void;
}

export interface CohortSummary {
  readonly dir: string;
  readonly cases: { readonly id: string; readonly kind: SynthJob['kind']; readonly counts: number[] }[];
  readonly seconds: number;
}

/** Case id of cohort index i. */
export function synthCaseId(i: number): string {
  return `knee_${String(i).padStart(4, '0')}`;
}

function checkCount(key: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(key, `must be a whole number >= 0, got ${n}`);
}

/** A job's failure reported by a worker thread, as the error it was there. */
function failureError(f: SynthFailure, job: SynthJob | undefined): Error {
  if (f.output !== undefined && f.problem !== undefined) return new OutputError(f.output, f.problem, f.fix);
  const e: NodeJS.ErrnoException = new Error(job ? `case ${job.id}: ${f.message}` : f.message);
  if (f.code) e.code = f.code;
  return e;
}

/**
 * `err`, met writing the cohort `out` in its temporary folder `tmp` (removed afterwards), as an
 * OutputError naming the file in `out` that failed (or `out`), the temporary path written and the
 * cause. Errors that are not the file system's (no code) are returned as they are.
 */
function cohortError(out: string, tmp: string, err: unknown, doing?: string): unknown {
  const outside = (file: string) => {
    const rel = relative(tmp, file);
    return rel.startsWith('..') || isAbsolute(rel);
  };
  const fsError = err as NodeJS.ErrnoException | undefined;
  if (err instanceof OutputError ? outside(err.file) : !fsError?.code) return err; // said already, or not the disk's
  const e = outputError(fsError?.path ?? tmp, err);
  const final = outside(e.file) ? e.file : join(out, relative(tmp, e.file));
  return new OutputError(
    final,
    `${e.problem} (${doing ?? `writing ${e.file}`}; the partial cohort was removed)`,
    e.fix,
  );
}

function runPool(jobs: SynthJob[], workers: number, onResult: (r: SynthJobResult) => void): Promise<void> {
  return new Promise((resolvePool, reject) => {
    let next = 0;
    let running = 0;
    let failed = false;
    const pool: Worker[] = [];
    const current = new Map<Worker, SynthJob>();
    const finish = (err?: Error) => {
      if (failed) return;
      if (err) failed = true;
      if (err || (next >= jobs.length && running === 0)) {
        const stopped = Promise.all(pool.map((w) => w.terminate()));
        // on failure, wait until no worker writes any more: the temporary folder is removed next
        if (err)
          void stopped.then(
            () => reject(err),
            () => reject(err),
          );
        else resolvePool();
      }
    };
    const feed = (w: Worker) => {
      if (next >= jobs.length) return finish();
      running++;
      current.set(w, jobs[next]!);
      w.postMessage(jobs[next++]);
    };
    for (let i = 0; i < workers; i++) {
      const w = startTsWorker(new URL('./worker.ts', import.meta.url));
      pool.push(w);
      w.on('message', (m: { ok: true; result: SynthJobResult } | { ok: false; error: SynthFailure }) => {
        running--;
        if (!m.ok) return finish(failureError(m.error, current.get(w)));
        onResult(m.result);
        feed(w);
      });
      w.on('error', (e) => finish(e));
      feed(w);
    }
  });
}

export async function writeSynthCohort(opts: CohortOptions): Promise<CohortSummary> {
  const t0 = performance.now();
  checkCount('labelled', opts.labelled);
  checkCount('unlabelled', opts.unlabelled);
  checkCount('test', opts.test);
  const grid = opts.grid ?? DEFAULT_SYNTH_GRID;
  if (grid.shape.some((n) => !Number.isInteger(n) || n < 4))
    throw new ConfigError('shape', `needs three whole numbers >= 4, got ${grid.shape.join(',')}`);
  if (grid.spacing.some((s) => !(s > 0)))
    throw new ConfigError('spacing', `needs three positive numbers, got ${grid.spacing.join(',')}`);
  const out = resolve(opts.out);
  checkOutputFolder(out, '--out');
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new InputError(out, 'exists and is not empty', 'choose a new folder or delete this one');
  }
  // the cohort of a run killed meanwhile is removed; the folder appears whole under its name or not at all
  removeStaleTemporaries(dirname(out), 0);
  const tmp = temporaryPathFor(out);
  const jobs: SynthJob[] = [];
  const add = (kind: SynthJob['kind'], n: number) => {
    for (let k = 0; k < n; k++) {
      const index = jobs.length;
      jobs.push({ dir: tmp, id: synthCaseId(index), index, seed: opts.seed, grid, kind });
    }
  };
  add('labelled', opts.labelled);
  add('unlabelled', opts.unlabelled);
  add('test', opts.test);
  const kinds = new Map(jobs.map((j) => [j.id, j.kind]));
  const results: SynthJobResult[] = [];
  const done = (r: SynthJobResult) => {
    results.push(r);
    opts.onCase?.(results.length, jobs.length, r);
  };
  try {
    mkdirSync(tmp, { recursive: true });
    for (const sub of [
      'imagesTr',
      opts.labelled > 0 ? 'labelsTr' : '',
      opts.test > 0 ? 'imagesTs' : '',
      opts.test > 0 ? 'labelsTs' : '',
    ])
      if (sub) mkdirSync(resolve(tmp, sub), { recursive: true });
    if (opts.workers === 0) for (const job of jobs) done(await runSynthJob(job));
    else if (jobs.length > 0)
      await runPool(jobs, Math.max(1, Math.min(opts.workers ?? availableParallelism(), jobs.length)), done);
    writeDatasetJson(tmp, {
      name: 'kneeseg-synthetic',
      description: `Synthetic knee MR cohort (kneeseg synth, seed ${opts.seed}, shape ${grid.shape.join('x')}, spacing ${grid.spacing.join('x')} mm)`,
      channel_names: { '0': 'MRI' },
      labels: { ...SYNTH_LABELS },
      file_ending: '.nii.gz',
      numTraining: opts.labelled + opts.unlabelled,
    });
    if (existsSync(out)) rmSync(out, { recursive: true }); // an empty folder
    try {
      renameSync(tmp, out);
    } catch (err) {
      throw cohortError(out, tmp, err, `renaming ${tmp} to it`);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw cohortError(out, tmp, err);
  }
  results.sort((a, b) => a.id.localeCompare(b.id));
  return {
    dir: out,
    cases: results.map((r) => ({ id: r.id, kind: kinds.get(r.id)!, counts: r.counts })),
    seconds: (performance.now() - t0) / 1000,
  };
}
