/**
 * What the trainer needs from the data side: training batches (L labelled + U unlabelled 2D slices,
 * already preprocessed and augmented), labelled validation slices, and a sampler state that a
 * checkpoint can hold so a resumed run draws the same batches.
 */
import type { LevelSetTargetSpec } from '../levelset/target-spec.ts';

export interface SliceBatch {
  /** [n, channels, height, width] float32 */
  image: Float32Array;
  /** [numLabelled, height, width] tree leaf label values */
  label: Uint8Array;
  n: number;
  numLabelled: number;
  channels: number;
  height: number;
  width: number;
  /** in-plane pixel spacing (mm) [row, col] */
  spacing: readonly [number, number];
  /** [numLabelled, K, height, width] level-set targets, when a spec was set (`setLevelSetTargets`) */
  sdf?: Float32Array;
}

export interface TrainingData {
  readonly labelledSlices: number;
  readonly unlabelledSlices: number;
  readonly channels: number;
  /** the training batch at a given iteration of the run; deterministic in (seed, iteration) */
  batch(iteration: number): Promise<SliceBatch>;
  /**
   * the level-set targets to compute with every training batch (`SliceBatch.sdf`), or null for none;
   * set before the first batch (the trainer passes `Method.levelSetTargets`)
   */
  setLevelSetTargets?(spec: LevelSetTargetSpec | null): void;
  /** labelled validation slices in batches of at most `size` */
  validation(size: number): Iterable<SliceBatch>;
  close(): Promise<void>;
}
