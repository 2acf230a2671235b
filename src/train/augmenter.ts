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
import { buildBatch, type BatchItem, type LevelSetRequest, type SharedCase } from './batch-builder.ts';

/** A built batch: images, labels of the labelled slices and, when asked for, their level-set targets. */
export interface BuiltBatch {
  image: Float32Array;
  label: Uint8Array;
  sdf?: Float32Array;
}

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
  readonly #waiting = new Map<number, { resolve: (v: BuiltBatch) => void; reject: (e: Error) => void }>();
  #levelSet: LevelSetRequest | null = null;

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
    w.on(
      'message',
      (m: { id: number; image?: Float32Array; label?: Uint8Array; sdf?: Float32Array; error?: string }) => {
        const p = this.#waiting.get(m.id);
        if (!p) return;
        this.#waiting.delete(m.id);
        if (m.error) p.reject(new Error(`augmentation worker: ${m.error}`));
        else p.resolve({ image: m.image!, label: m.label!, sdf: m.sdf });
      },
    );
    w.on('error', (e) => {
      for (const p of this.#waiting.values()) p.reject(e);
      this.#waiting.clear();
      this.#worker = null;
    });
    return w;
  }

  /** level-set targets to compute with every later batch (null: none) */
  setLevelSetTargets(request: LevelSetRequest | null): void {
    this.#levelSet = request;
  }

  batch(items: BatchItem[], seed: number): Promise<BuiltBatch> {
    if (!this.config.enabled)
      return Promise.resolve(buildBatch(this.#cases, items, seed, null, this.#levelSet));
    this.#worker ??= this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker!.postMessage({ id, items, seed, levelSet: this.#levelSet });
    });
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = null;
    if (w) await w.terminate();
  }
}
