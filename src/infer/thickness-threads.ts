/**
 * Helper threads for src/infer/thickness.ts. Its callers (measureLabelMap, the tests) are
 * synchronous, so the calling thread does not await the helpers: it hands a phase to them with
 * postMessage, takes chunks of the phase itself from a shared counter, and blocks (Atomics.wait) only
 * for chunks a helper has claimed and not finished. A helper that is still starting (loading tsx and
 * the modules takes a second on a busy machine) thus never delays a phase; it joins the next one.
 * Helpers are started once, unref'd (they do not keep the process alive) and reused for every plate.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../data/ts-worker.ts';

/** Control words of one phase, in a shared Int32Array: next chunk to claim, chunks done, failed. */
const [NEXT, DONE, FAILED] = [0, 1, 2];
/** Bytes for a helper's error message. */
const MESSAGE_BYTES = 1024;

/** What a helper receives for each phase: the shared control block, the chunk count and `work`. */
export interface PhaseMessage<W> {
  readonly ctl: Int32Array;
  readonly text: Uint8Array;
  readonly chunks: number;
  readonly work: W;
}

const helpers: Worker[] = [];

/** Threads to use: `requested`, else KNEESEG_THREADS, else the machine's cores. */
export function thicknessThreads(requested?: number): number {
  const env = Number(process.env.KNEESEG_THREADS);
  const n = requested ?? (Number.isInteger(env) && env > 0 ? env : availableParallelism());
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`thickness threads ${n} must be an integer >= 1`);
  return n;
}

/** Starts helpers up to `threads - 1` (early, so that they load while the caller works). */
export function startHelpers(threads: number): void {
  while (helpers.length < threads - 1) {
    const w = startTsWorker(new URL('./thickness-worker.ts', import.meta.url));
    w.unref();
    // A helper that fails to start is dropped; the phases it would have joined run without it.
    w.on('error', () => {
      if (helpers.includes(w)) helpers.splice(helpers.indexOf(w), 1);
    });
    helpers.push(w);
  }
}

/**
 * Runs chunks 0 .. chunks - 1 of a phase, `run` on this thread and the helpers' handler on up to
 * threads - 1 helpers; returns when every chunk is done, and throws the first failure.
 */
export function runPhaseChunks<W>(
  work: W,
  chunks: number,
  threads: number,
  run: (chunk: number) => void,
): void {
  const ctl = new Int32Array(new SharedArrayBuffer(12));
  const text = new Uint8Array(new SharedArrayBuffer(MESSAGE_BYTES));
  const message: PhaseMessage<W> = { ctl, text, chunks, work };
  for (const w of helpers.slice(0, Math.min(threads, chunks) - 1)) w.postMessage(message);
  let error: unknown;
  try {
    claimChunks(message, run);
  } catch (e) {
    error = e;
  }
  for (let done = Atomics.load(ctl, DONE); done < chunks; done = Atomics.load(ctl, DONE))
    Atomics.wait(ctl, DONE, done, 1000);
  if (error !== undefined) throw error;
  if (Atomics.load(ctl, FAILED) !== 0) {
    // a helper failed (this thread's own failure was thrown above)
    const end = text.indexOf(0);
    throw new Error(
      `thickness helper thread: ${new TextDecoder().decode(text.slice(0, end < 0 ? undefined : end))}`,
    );
  }
}

/**
 * Claims and runs chunks until none is left; after a failure the rest are claimed and skipped. On
 * this thread a failure is rethrown once every claimed chunk is counted; a helper records it in the
 * control block instead.
 */
export function claimChunks<W>(m: PhaseMessage<W>, run: (chunk: number) => void, helper = false): void {
  const { ctl, chunks } = m;
  let error: unknown;
  for (let c = Atomics.add(ctl, NEXT, 1); c < chunks; c = Atomics.add(ctl, NEXT, 1)) {
    try {
      if (Atomics.load(ctl, FAILED) === 0) run(c);
    } catch (e) {
      if (Atomics.compareExchange(ctl, FAILED, 0, 1) === 0 && helper) {
        const bytes = new TextEncoder().encode(e instanceof Error ? (e.stack ?? e.message) : String(e));
        m.text.set(bytes.subarray(0, MESSAGE_BYTES - 1));
      }
      error ??= e;
    } finally {
      Atomics.add(ctl, DONE, 1);
      Atomics.notify(ctl, DONE);
    }
  }
  if (error !== undefined && !helper) throw error;
}
