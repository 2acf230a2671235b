/**
 * Stage-1 conditional binary cross-entropy (Chen et al., "Deep hierarchical multi-label classification
 * of chest X-ray images", MIDL 2019; METHOD.md section 4): sigmoid(z_i) models P(node i | parent of i),
 * so node i is trained only on pixels where its parent is positive (roots on every labelled pixel).
 * Entries the observation leaves unknown (below a parent-only observation) are skipped.
 *
 * Reduction (*configurable*): 'entries' averages over all (pixel, node) entries that are trained, as
 * Chen et al. do; a root is trained on every pixel and a child only inside its parent, so the roots'
 * entries outnumber a thin child's hundreds to one. 'node' averages each node over its own entries
 * first, then over the nodes that have any, so every node of the tree weighs the same.
 */
import { bceWithLogits, cat, onesLike, tensor, type Tensor } from '../engine/index.ts';
import { nodeTargets } from './targets.ts';
import type { LabelTree } from './tree.ts';

export type ConditionalReduction = 'entries' | 'node';

/**
 * @param logits  [N, K, H, W] pixel-wise head
 * @param obs     [N, H, W] int64 observations (src/hierarchy/targets.ts)
 * @param targets nodeTargets(obs, tree), when the caller has them already
 * @returns       scalar: BCE over the (pixel, node) entries whose parent is positive, reduced as above
 */
export function conditionalBceLoss(
  logits: Tensor,
  obs: Tensor,
  tree: LabelTree,
  reduction: ConditionalReduction = 'entries',
  targets: { target: Tensor; known: Tensor } = nodeTargets(obs, tree, logits.dtype),
): Tensor {
  const { target, known } = targets;
  const K = tree.size;
  // parent of each node; roots point to an extra channel that is always "positive"
  const parentIndex = tensor(
    tree.nodes.map((n) => (n.parent < 0 ? K : n.parent)),
    [K],
    { dtype: 'int64' },
  );
  const parentPositive = cat([target.mul(known), onesLike(target.narrow(1, 0, 1))], 1).indexSelect(
    1,
    parentIndex,
  );
  const weight = parentPositive.mul(known);
  const weighted = bceWithLogits(logits, target, { reduction: 'none' }).mul(weight);
  if (reduction === 'entries') return weighted.sum().div(weight.sum().clamp(1, null));
  const dims = [0, 2, 3];
  const count = weight.sum(dims); // [K] entries per node
  const perNode = weighted.sum(dims).div(count.clamp(1, null));
  return perNode.sum().div(count.gt(0).to(logits.dtype).sum().clamp(1, null));
}
