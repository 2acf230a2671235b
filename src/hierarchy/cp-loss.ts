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
import { where, type Tensor } from '../engine/index.ts';
import { stateScores } from './states.ts';
import { consistentStates, lookupPerPixel } from './targets.ts';
import type { LabelTree } from './tree.ts';

/**
 * log P(observed | x) per pixel (Eq. 5 in log space); unlabelled pixels give 0.
 *
 * @param logits  [N, K, H, W]
 * @param obs     [N, H, W] int64 observations
 * @returns       [N, H, W]
 */
export function logObservedProbability(logits: Tensor, obs: Tensor, tree: LabelTree): Tensor {
  const scores = stateScores(logits, tree); // [N, S, H, W]
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

/** L_CP (Eq. 6): scalar, mean over labelled pixels. */
export function cpLoss(logits: Tensor, obs: Tensor, tree: LabelTree): Tensor {
  const logP = logObservedProbability(logits, obs, tree);
  const labelled = obs.ge(0).to(logits.dtype);
  return logP.mul(labelled).sum().neg().div(labelled.sum().clamp(1, null));
}
