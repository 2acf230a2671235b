/**
 * What every segmentation network in kneeseg is: a backbone (MedT or U-Net) producing features, and
 * heads on top (METHOD.md section 3). Methods and the trainer see only this interface.
 */
import type { Module, Tensor } from '../engine/index.ts';

export interface SegmentationOutput {
  /** pixel-wise head f_PW: [N, K, H, W] logits, K = label-tree nodes (or classes for flat methods) */
  logits: Tensor;
  /** level-set head f_LS: [N, K, H, W] in (-1, 1) (tanh); absent when the model has no level-set head */
  levelSet?: Tensor;
  /** backbone features C: [N, F, H, W], for methods that add their own heads (CCT's auxiliary decoders) */
  features: Tensor;
}

export interface SegmentationModel extends Module {
  forward(x: Tensor): SegmentationOutput;
  /** channels of `features` */
  readonly featureChannels: number;
  /** channels of `logits` */
  readonly outChannels: number;
}
