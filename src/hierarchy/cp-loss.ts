/**
 * The normalized legal-state loss L_CP (Eq. 2-6; METHOD.md section 4).
 *
 *   P(y | x) = exp(s(y)) / sum_{y' in S_T} exp(s(y')),   s(y) = sum_i z_i y_i         (Eq. 2-4)
 *   P(observed | x) = sum over legal y consistent with the observation of P(y | x)    (Eq. 5)
 *   L_CP = -mean over labelled pixels of log P(observed | x)                          (Eq. 6)
 *
 * computed as logsumexp over the consistent states minus logsumexp over all legal states, so no
 * probability is ever formed.
 */
import { crossEntropy, tensor, where, type Tensor } from '../engine/index.ts';
import { stateScores } from './states.ts';
import { consistentStates, lookupPerPixel } from './targets.ts';
import type { LabelTree } from './tree.ts';

/**
 * log P(observed | x) per pixel (Eq. 5 in log space); unlabelled pixels give 0.
 *
 * @param logits  [N, K, H, W]
 * @param obs     [N, H, W] int64 observations
 * @param scores  stateScores(logits, tree), when the caller has them already
 * @returns       [N, H, W]
 */
export function logObservedProbability(
  logits: Tensor,
  obs: Tensor,
  tree: LabelTree,
  scores: Tensor = stateScores(logits, tree),
): Tensor {
  const logZ = scores.logsumexp(1);
  // consistent states per pixel; unlabelled pixels (-1) pick the extra all-ones row, so their
  // log-probability is logZ - logZ = 0
  const consistent = consistentStates(tree);
  const table = [...consistent, consistent[0]!.map(() => 1)];
  const row = where(obs.lt(0), table.length - 1, obs);
  const mask = lookupPerPixel(table, row, 'uint8');
  const masked = scores.maskedFill(mask.eq(0), Number.NEGATIVE_INFINITY);
  return masked.logsumexp(1).sub(logZ);
}

/**
 * Per observation index + 1 (unlabelled first): the one legal state it fixes, -1 for unlabelled
 * pixels and -2 for an observation at an inner node (which fixes no state).
 */
function fixedStateTable(tree: LabelTree): number[] {
  return [
    -1,
    ...consistentStates(tree).map((row) => (row.filter((v) => v).length === 1 ? row.indexOf(1) : -2)),
  ];
}

/**
 * L_CP (Eq. 6): scalar, mean over labelled pixels. When every labelled pixel is observed at a leaf or
 * as background (fully labelled slices, the usual case), Eq. 5 has one term and L_CP is the
 * cross-entropy of the state scores against the state index: that path is one fused kernel instead of
 * two masked logsumexps (same value; test/hierarchy/losses.test.ts checks both against brute force).
 */
export function cpLoss(
  logits: Tensor,
  obs: Tensor,
  tree: LabelTree,
  scores: Tensor = stateScores(logits, tree),
): Tensor {
  const table = fixedStateTable(tree);
  const state = tensor(table, [table.length], { dtype: 'int64' })
    .indexSelect(0, obs.add(1).flatten())
    .reshape(...obs.shape);
  if (!state.eq(-2).any().item()) {
    if (!state.ge(0).any().item()) return scores.sum().mul(0); // no labelled pixel: 0, as below
    return crossEntropy(scores, state, { ignoreIndex: -1 });
  }
  const logP = logObservedProbability(logits, obs, tree, scores);
  const labelled = obs.ge(0).to(logits.dtype);
  return logP.mul(labelled).sum().neg().div(labelled.sum().clamp(1, null));
}
