/**
 * Losses of the level-set branch (METHOD.md section 6).
 *
 * L_LS: mean squared error between f_LS and the ground-truth normalized SDF on labelled pixels. The
 * paper writes a KL divergence (Eq. 15), undefined for signed values; MSE is what DTC uses
 * (`mse_loss(outputs_tanh, gt_dis)`, HiLab-git/DTC code/train_la_dtc.py).
 * L_C (Eq. 14): mean over labelled and unlabelled pixels of (p_i - S^-1(f_LS,i))^2, p_i the
 * pixel-wise branch's probability of node i (for SSHCPS the unconditional probability of Eq. 8).
 * Over the nodes i, Eq. 14 takes the squared norm of the vector difference, i.e. a sum ('sum', the
 * same convention as L_UP's sum over nodes of Eq. 7); 'mean' (the default, `tree.consistencyNodes`,
 * README "Defaults that differ from the paper") averages them, as DTC's code does over its channels,
 * which makes L_C K times weaker against L_CTU.
 */
import type { Tensor } from '../engine/index.ts';
import { DEFAULT_TRANSFORM_K, levelSetToProbability } from './transform.ts';

/**
 * @param levelSet  [L, K, H, W] f_LS on the labelled slices
 * @param sdf       [L, K, H, W] ground-truth normalized SDF
 * @param weight    optional [L, K, H, W] 0/1 mask of the entries that are labelled (default: all)
 */
export function levelSetLoss(levelSet: Tensor, sdf: Tensor, weight?: Tensor): Tensor {
  const se = levelSet.sub(sdf).square();
  if (!weight) return se.mean();
  return se.mul(weight).sum().div(weight.sum().clamp(1, null));
}

/** How L_C reduces over the K channels (nodes), the default first: see the file comment. */
export const NODE_REDUCTIONS = ['mean', 'sum'] as const;
export type NodeReduction = (typeof NODE_REDUCTIONS)[number];

/**
 * @param probability  [N, K, H, W] p_i from the pixel-wise branch
 * @param levelSet     [N, K, H, W] f_LS
 * @param nodes        'mean': mean over channels too; 'sum': sum over channels of the per-channel
 *                     pixel means (Eq. 14's squared norm)
 */
export function consistencyLoss(
  probability: Tensor,
  levelSet: Tensor,
  k: number = DEFAULT_TRANSFORM_K,
  nodes: NodeReduction = 'mean',
): Tensor {
  const mse = probability.sub(levelSetToProbability(levelSet, k)).square().mean();
  return nodes === 'sum' ? mse.mul(probability.shape[1]!) : mse;
}
