/**
 * Soft Dice on the legal-state posteriors P(y | x) of Eq. 4 (an addition to the paper's losses, off in
 * configs/paper.json). L_CP is a cross-entropy over the legal states, summed over pixels, so a thin
 * plate's few pixels pull its logits little against the many background and bone pixels; a Dice term
 * normalises each state by its own size (the remedy of every flat baseline here: SSL4MIS's
 * `DiceLoss`, src/engine/nn/losses.ts softDiceLoss). Pixels observed only at an inner node (partial
 * labels) fix no state and are left out.
 */
import { softDiceLoss, type Tensor } from '../engine/index.ts';
import { stateScores } from './states.ts';
import { consistentStates, lookupPerPixel } from './targets.ts';
import type { LabelTree } from './tree.ts';

/**
 * @param logits  [N, K, H, W] pixel-wise head
 * @param obs     [N, H, W] int64 observations (src/hierarchy/targets.ts)
 * @param scores  stateScores(logits, tree), when the caller has them already
 * @returns       scalar: 1 - mean over the S legal states (background included) of their soft Dice
 */
export function stateDiceLoss(
  logits: Tensor,
  obs: Tensor,
  tree: LabelTree,
  scores: Tensor = stateScores(logits, tree),
): Tensor {
  const posterior = scores.softmax(1); // [N, S, H, W], Eq. 4
  // one-hot state of each pixel: a leaf or background observation is consistent with exactly one state
  const consistent = consistentStates(tree);
  const target = lookupPerPixel(consistent, obs, logits.dtype); // unlabelled pixels: all zeros
  const fixed = target.sum(1, true).eq(1).to(logits.dtype); // [N, 1, H, W]: exactly one state fits
  return softDiceLoss(posterior.mul(fixed), target.mul(fixed));
}
