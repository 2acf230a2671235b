/** Worker thread of BatchAugmenter: builds augmented batches from slices in shared memory. */
import { parentPort, workerData } from 'node:worker_threads';
import type { TrainConfig } from './config.ts';
import { buildBatch, type BatchItem, type SharedCase } from './batch-builder.ts';

const { cases, config } = workerData as { cases: SharedCase[]; config: TrainConfig['augment'] };

parentPort!.on('message', (m: { id: number; items: BatchItem[]; seed: number }) => {
  try {
    const { image, label } = buildBatch(cases, m.items, m.seed, config);
    parentPort!.postMessage({ id: m.id, image, label }, [
      image.buffer as ArrayBuffer,
      label.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).stack ?? String(e) });
  }
});
