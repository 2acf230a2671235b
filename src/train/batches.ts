/**
 * What the trainer needs from the data side: training batches (L labelled + U unlabelled 2D slices,
 * already preprocessed and augmented), labelled validation slices, and a sampler state that a
 * checkpoint can hold so a resumed run draws the same batches.
 */
export interface SliceBatch {
  /** [n, channels, height, width] float32 */
  image: Float32Array;
  /** [numLabeled, height, width] tree leaf label values */
  label: Uint8Array;
  n: number;
  numLabeled: number;
  channels: number;
  height: number;
  width: number;
  /** in-plane pixel spacing (mm) [row, col] */
  spacing: readonly [number, number];
}

export interface TrainingData {
  readonly labeledSlices: number;
  readonly unlabeledSlices: number;
  readonly channels: number;
  /** the training batch at a given iteration of the run; deterministic in (seed, iteration) */
  batch(iteration: number): Promise<SliceBatch>;
  /** labelled validation slices in batches of at most `size` */
  validation(size: number): Iterable<SliceBatch>;
  close(): Promise<void>;
}
