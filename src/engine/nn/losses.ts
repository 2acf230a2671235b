/** Losses on tensors that every segmentation method shares (no method or tree knowledge). */
import type { Tensor } from '../tensor.ts';

/**
 * Soft Dice loss of SSL4MIS (`losses.DiceLoss`, code/utils/losses.py): per class
 * 1 - (2 sum(p t) + 1e-5) / (sum(p^2) + sum(t^2) + 1e-5), averaged over all classes (background
 * included), sums over the whole batch.
 *
 * @param probs   [N, C, H, W] softmax probabilities
 * @param target  [N, C, H, W] one-hot
 */
export function softDiceLoss(probs: Tensor, target: Tensor, smooth = 1e-5): Tensor {
  const dims = [0, 2, 3];
  const inter = probs.mul(target).sum(dims);
  const z = probs.square().sum(dims);
  const y = target.square().sum(dims);
  return inter.mul(2).add(smooth).div(z.add(y).add(smooth)).rsub(1).mean();
}
