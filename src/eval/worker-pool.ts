/**
 * A small pool of worker threads over a TypeScript worker module: each worker takes the next job
 * when it answers the previous one. Results come back in completion order with their job index.
 */
import { InputError } from '../errors.ts';
import { startTsWorker } from '../data/ts-worker.ts';
import type { Worker } from 'node:worker_threads';

/** What a worker posts back for each job. `file` marks an InputError, re-raised as one here. */
export type WorkerReply<R> = { ok: true; result: R } | { ok: false; message: string; file?: string };

function toError(reply: { message: string; file?: string }): Error {
  if (reply.file !== undefined && reply.message.startsWith(`${reply.file}: `)) {
    return new InputError(reply.file, reply.message.slice(reply.file.length + 2));
  }
  return new Error(reply.message);
}

/** Runs `jobs` on `workers` threads of `module`; rejects on the first failure and stops the pool. */
export function runWorkerPool<J, R>(
  module: URL,
  jobs: readonly J[],
  workers: number,
  onResult: (result: R, index: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let running = 0;
    let done = false;
    const pool: Worker[] = [];
    const finish = (err?: Error) => {
      if (done) return;
      if (!err && (next < jobs.length || running > 0)) return;
      done = true;
      for (const w of pool) void w.terminate();
      if (err) reject(err);
      else resolve();
    };
    const n = Math.max(1, Math.min(workers, jobs.length));
    if (jobs.length === 0) return resolve();
    for (let i = 0; i < n; i++) {
      const w = startTsWorker(module);
      pool.push(w);
      let current = -1;
      const feed = () => {
        if (next >= jobs.length) return finish();
        current = next++;
        running++;
        w.postMessage(jobs[current]);
      };
      w.on('message', (reply: WorkerReply<R>) => {
        running--;
        if (!reply.ok) return finish(toError(reply));
        onResult(reply.result, current);
        feed();
      });
      w.on('error', (e) => finish(e));
      feed();
    }
  });
}
