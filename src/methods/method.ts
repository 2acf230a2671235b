/**
 * A training method (SSHCPS, its ablations, the baselines) as the trainer sees it: it owns its networks
 * and turns one batch into named loss terms. The trainer knows no method by name (ARCHITECTURE.md:
 * "a method never reaches into the trainer").
 */
import type { Module, Tensor } from '../engine/index.ts';
import type { SegmentationModel } from '../models/model.ts';
import type { LabelTree } from '../hierarchy/tree.ts';
import type { LevelSetTargetSpec } from '../levelset/target-spec.ts';
import type { TreeOptions } from './tree-options.ts';

/** A batch of 2D slices: the first `numLabelled` are labelled, the rest unlabelled. */
export interface Batch {
  /** [N, C, H, W] float32 */
  image: Tensor;
  /** [L, H, W] int64 leaf labels (0 background, tree leaf values), L = numLabelled */
  label: Tensor;
  numLabelled: number;
  /** in-plane pixel spacing (mm) [row, col], for signed distance maps */
  spacing: readonly [number, number];
  /**
   * [L, K, H, W] float32 level-set targets of the labelled slices, computed while the batch was built
   * when the method declares `levelSetTargets` (absent otherwise: the method computes them itself)
   */
  sdf?: Tensor;
}

export interface StepContext {
  iteration: number;
  maxIterations: number;
  epoch: number;
  /** 1 = conditional stage, 2 = unconditional fine-tuning (two-stage methods); 1 for the others */
  stage: 1 | 2;
}

/** Loss terms by their paper names (`cond`, `cp`, `up`, `ls`, `consistency`, ...) and `total`. */
export type LossTerms = Record<string, Tensor> & { total: Tensor };

export interface MethodContext {
  tree: LabelTree;
  /** the `tree` section of the configuration (default: TreeOptionsSchema's defaults) */
  treeOptions?: TreeOptions;
  /** builds a fresh network with the configured backbone and heads */
  buildModel(opts: { outChannels: number; levelSet: boolean }): SegmentationModel;
}

export interface Method {
  readonly name: string;
  /** whether the two-stage conditional -> unconditional schedule applies */
  readonly twoStage: boolean;
  /** modules whose parameters the optimizer trains (saved in checkpoints under their names) */
  readonly modules: Record<string, Module>;
  /**
   * modules saved in checkpoints (under their names) but not given to the optimizer: EMA teachers,
   * running statistics such as CLD's confidence banks. The method updates them itself (`afterStep`).
   */
  readonly frozen?: Record<string, Module>;
  /** the network used for validation and inference */
  readonly predictor: SegmentationModel;
  /**
   * the signed distance targets the method's level-set head regresses; the data side then computes
   * them with each batch (`Batch.sdf`), off the training thread
   */
  readonly levelSetTargets?: LevelSetTargetSpec;
  /** how the predictor's logits decode to leaf labels */
  readonly decoding: 'tree' | 'softmax';
  /** the predictor's logits [N, C, H, W] -> leaf label map [N, H, W] int64 (0 background) */
  decode(logits: Tensor): Tensor;
  step(batch: Batch, ctx: StepContext): LossTerms;
  /** after the optimizer step (EMA teachers) */
  afterStep?(ctx: StepContext): void;
  /** validation loss on labelled slices (no grad) */
  validationLoss(batch: Batch, ctx: StepContext): Tensor;
}
