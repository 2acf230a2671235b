/**
 * The transform layer S^-1 (Eq. 13; METHOD.md section 6): a smooth inverse of the signed distance
 * transform, S^-1(z) = sigmoid(-k z). The normalized SDF is negative inside, so the inside maps to 1;
 * the paper's sign (sigmoid(+k z)) would map it to 0. k = 1500 as in DTC (`torch.sigmoid(-1500 *
 * outputs_tanh)`, HiLab-git/DTC code/train_la_dtc.py); configurable.
 */
import type { Tensor } from '../engine/index.ts';

export const DEFAULT_TRANSFORM_K = 1500;

/** @param levelSet  f_LS output in (-1, 1), any shape  @returns probabilities in (0, 1), same shape */
export function levelSetToProbability(levelSet: Tensor, k: number = DEFAULT_TRANSFORM_K): Tensor {
  return levelSet.mul(-k).sigmoid();
}
