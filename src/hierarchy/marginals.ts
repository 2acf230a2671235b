/**
 * Probabilities read off the pixel-wise logits (METHOD.md sections 4-5): posteriors over the legal
 * states, node marginals (Eq. 5), and the unconditional probabilities of Eq. 8.
 */
import { conv2d, einsum, type Tensor } from '../engine/index.ts';
import { ancestorMatrix, stateMatrix, stateScores } from './states.ts';
import type { LabelTree } from './tree.ts';

/** P(y | x) over the legal states (Eq. 4): [N, S, H, W], summing to 1 over S. */
export function statePosteriors(logits: Tensor, tree: LabelTree): Tensor {
  return stateScores(logits, tree).softmax(1);
}

/**
 * Marginals P(y_i = 1 | x) (Eq. 5): [N, K, H, W]. P(background) = 1 - sum of the root marginals,
 * and the leaf marginals plus P(background) sum to 1.
 */
export function nodeMarginals(logits: Tensor, tree: LabelTree): Tensor {
  return einsum('nshw,sk->nkhw', statePosteriors(logits, tree), stateMatrix(tree, logits.dtype));
}

/** log p_d = sum_{d' in U(d)} log sigmoid(z_d') (Eq. 8 in log space): [N, K, H, W]. */
export function logUnconditionalProbability(logits: Tensor, tree: LabelTree): Tensor {
  // einsum('nkhw,dk->ndhw') as a 1x1 convolution (same sums, no permutes)
  return conv2d(logits.logSigmoid(), ancestorMatrix(tree, logits.dtype).reshape(tree.size, tree.size, 1, 1));
}

/** p_d of Eq. 8: [N, K, H, W] (used by the consistency loss L_C). */
export function unconditionalProbability(logits: Tensor, tree: LabelTree): Tensor {
  return logUnconditionalProbability(logits, tree).exp();
}
