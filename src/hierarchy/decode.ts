/**
 * Prediction (METHOD.md section 5): the most probable legal state per pixel, argmax of s(y) over S_T,
 * written as a leaf label map. Only legal states can come out.
 */
import { tensor, type Tensor } from '../engine/index.ts';
import { stateLabels, stateScores } from './states.ts';
import type { LabelTree } from './tree.ts';

/**
 * @param logits  [N, K, H, W] pixel-wise head
 * @returns       [N, H, W] int64 label map (0 background, leaf label values)
 */
export function decodeTree(logits: Tensor, tree: LabelTree): Tensor {
  const state = stateScores(logits, tree).argmax(1);
  const labels = stateLabels(tree);
  return tensor(labels, [labels.length], { dtype: 'int64' })
    .indexSelect(0, state.flatten())
    .reshape(...state.shape);
}

/**
 * Flat softmax decoding for the flat-class methods (class 0 background, class c the c-th leaf).
 *
 * @param logits  [N, 1 + leaves, H, W]
 * @returns       [N, H, W] int64 label map
 */
export function decodeFlat(logits: Tensor, tree: LabelTree): Tensor {
  const cls = logits.argmax(1);
  const labels = tree.flatClassLabels();
  return tensor(labels, [labels.length], { dtype: 'int64' })
    .indexSelect(0, cls.flatten())
    .reshape(...cls.shape);
}
