/**
 * Legal states S_T of a label tree (METHOD.md section 2; the psi constraints of Eq. 2-3): background
 * (all nodes 0) and, for each leaf, the root-to-leaf path switched on. Siblings exclude each other and
 * a positive node has exactly one positive child, so these are all the legal states; for the knee
 * tree that is 1 + 6 = 7 states. A deeper or wider tree gives 1 + (number of leaves) states.
 */
import { conv2d, tensor, type DType, type Tensor } from '../engine/index.ts';
import type { LabelTree } from './tree.ts';

/** The legal states as 0/1 rows over the K nodes; row 0 is background, row s >= 1 is leaf s - 1. */
export function legalStates(tree: LabelTree): number[][] {
  const rows = [new Array<number>(tree.size).fill(0)];
  for (const leaf of tree.leaves) {
    const row = new Array<number>(tree.size).fill(0);
    for (const n of tree.ancestorsAndSelf(leaf)) row[n] = 1;
    rows.push(row);
  }
  return rows;
}

/** The label value each legal state is written as (0 for background). */
export function stateLabels(tree: LabelTree): number[] {
  return [0, ...tree.leaves.map((l) => tree.nodes[l]!.label!)];
}

/** The [S, K] 0/1 state matrix as a tensor. */
export function stateMatrix(tree: LabelTree, dtype: DType = 'float32'): Tensor {
  const rows = legalStates(tree);
  return tensor(rows.flat(), [rows.length, tree.size], { dtype });
}

/**
 * Scores s(y) = sum_i z_i y_i of every legal state (the log of the unnormalized Eq. 3).
 *
 * @param logits  [N, K, H, W] pixel-wise head f_PW
 * @returns       [N, S, H, W]
 */
export function stateScores(logits: Tensor, tree: LabelTree): Tensor {
  // einsum('nkhw,sk->nshw') as a 1x1 convolution: the same sums, without the permutes einsum makes
  // (measured 2-3x faster forward and backward at 128 x 128)
  return conv2d(logits, stateMatrix(tree, logits.dtype).reshape(-1, tree.size, 1, 1));
}

/** [K, K] 0/1: row d marks U(d). */
export function ancestorMatrix(tree: LabelTree, dtype: DType = 'float32'): Tensor {
  const rows = tree.nodes.map((n) => {
    const row = new Array<number>(tree.size).fill(0);
    for (const a of tree.ancestorsAndSelf(n.index)) row[a] = 1;
    return row;
  });
  return tensor(rows.flat(), [tree.size, tree.size], { dtype });
}
