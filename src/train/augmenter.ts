/**
 * Builds training batches from cached slices: the 2.5D channel stack and label slice of each drawn
 * slice, augmented (src/data/augment.ts) with a seed derived from the batch seed and the slot. The
 * work runs in a worker thread over the slices in shared memory, so the next batch is prepared while
 * libtorch runs the current step; with augmentation off it is a plain copy on the main thread.
 */
import type { Worker } from 'node:worker_threads';
import type { PreparedCase } from '../data/preprocess.ts';
import { startTsWorker } from '../data/ts-worker.ts';
import type { TrainConfig } from './config.ts';
import { buildBatch, type BatchItem, type SharedCase } from './batch-builder.ts';

function share(p: PreparedCase): SharedCase {
  const planes = new Float32Array(new SharedArrayBuffer(p.planes.byteLength));
  planes.set(p.planes);
  let labels: Uint8Array | undefined;
  if (p.labels) {
    labels = new Uint8Array(new SharedArrayBuffer(p.labels.byteLength));
    labels.set(p.labels);
  }
  return { count: p.layout.count, size: p.layout.size, neighbours: p.neighbours, planes, labels };
}

export class BatchAugmenter {
  readonly #cases: SharedCase[];
  #worker: Worker | null = null;
  #nextId = 0;
  readonly #waiting = new Map<
    number,
    { resolve: (v: { image: Float32Array; label: Uint8Array }) => void; reject: (e: Error) => void }
  >();

  constructor(
    readonly config: TrainConfig['augment'],
    cases: PreparedCase[],
  ) {
    this.#cases = cases.map(share);
  }

  #start(): Worker {
    const w = startTsWorker(new URL('./augment-worker.ts', import.meta.url), {
      workerData: { cases: this.#cases, config: this.config },
    });
    w.on('message', (m: { id: number; image?: Float32Array; label?: Uint8Array; error?: string }) => {
      const p = this.#waiting.get(m.id);
      if (!p) return;
      this.#waiting.delete(m.id);
      if (m.error) p.reject(new Error(`augmentation worker: ${m.error}`));
      else p.resolve({ image: m.image!, label: m.label! });
    });
    w.on('error', (e) => {
      for (const p of this.#waiting.values()) p.reject(e);
      this.#waiting.clear();
      this.#worker = null;
    });
    return w;
  }

  batch(items: BatchItem[], seed: number): Promise<{ image: Float32Array; label: Uint8Array }> {
    if (!this.config.enabled) return Promise.resolve(buildBatch(this.#cases, items, seed, null));
    this.#worker ??= this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker!.postMessage({ id, items, seed });
    });
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = null;
    if (w) await w.terminate();
  }
}
