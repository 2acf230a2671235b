/**
 * Stage-1 conditional binary cross-entropy (Chen et al., "Deep hierarchical multi-label classification
 * of chest X-ray images", MIDL 2019; METHOD.md section 4): sigmoid(z_i) models P(node i | parent of i),
 * so node i is trained only on pixels where its parent is positive (roots on every labelled pixel).
 * Entries the observation leaves unknown (below a parent-only observation) are skipped.
 */
import { bceWithLogits, cat, onesLike, tensor, type Tensor } from '../engine/index.ts';
import { nodeTargets } from './targets.ts';
import type { LabelTree } from './tree.ts';

/**
 * @param logits  [N, K, H, W] pixel-wise head
 * @param obs     [N, H, W] int64 observations (src/hierarchy/targets.ts)
 * @returns       scalar: BCE averaged over the (pixel, node) entries whose parent is positive
 */
export function conditionalBceLoss(logits: Tensor, obs: Tensor, tree: LabelTree): Tensor {
  const { target, known } = nodeTargets(obs, tree, logits.dtype);
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
  const bce = bceWithLogits(logits, target, { reduction: 'none' });
  return bce.mul(weight).sum().div(weight.sum().clamp(1, null));
}
