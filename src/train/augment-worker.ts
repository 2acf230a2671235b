/** Worker thread of BatchAugmenter: builds augmented batches from slices in shared memory. */
import { parentPort, workerData } from 'node:worker_threads';
import type { TrainConfig } from './config.ts';
import { buildBatch, type BatchItem, type LevelSetRequest, type SharedCase } from './batch-builder.ts';

const { cases, config } = workerData as { cases: SharedCase[]; config: TrainConfig['augment'] };

parentPort!.on(
  'message',
  (m: { id: number; items: BatchItem[]; seed: number; levelSet: LevelSetRequest | null }) => {
    try {
      const { image, label, sdf } = buildBatch(cases, m.items, m.seed, config, m.levelSet);
      const transfer = [image.buffer as ArrayBuffer, label.buffer as ArrayBuffer];
      if (sdf) transfer.push(sdf.buffer as ArrayBuffer);
      parentPort!.postMessage({ id: m.id, image, label, sdf }, transfer);
    } catch (e) {
      parentPort!.postMessage({ id: m.id, error: (e as Error).stack ?? String(e) });
    }
  },
);
