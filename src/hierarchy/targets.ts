/**
 * From leaf label maps to what the tree losses need (METHOD.md section 4).
 *
 * An *observation* per pixel says at which node the pixel is known to be positive:
 *   -1  unlabelled (no loss),  0  background,  1 + n  positive at node n.
 * A leaf observation fixes the whole state. An observation at an inner node n (a label value the tree
 * gives to n, e.g. "femur with cartilage") fixes n and its ancestors to 1 and every node outside n's
 * subtree to 0 (siblings exclude each other) but leaves n's descendants unknown; L_CP then uses the
 * marginal of n, so partially labelled data needs no special code.
 */
import { tensor, type DType, type Tensor } from '../engine/index.ts';
import { InputError } from '../errors.ts';
import { legalStates } from './states.ts';
import type { LabelTree } from './tree.ts';

/** Observation index of an observation at node n. */
export const observedAt = (node: number): number => node + 1;

/**
 * Label values -> observations. Negative label values mean "unlabelled pixel" (-1); a value that
 * names no node is an error.
 *
 * @param labels  [N, H, W] int64 label map (0 background, tree label values)
 * @returns       [N, H, W] int64 observations
 */
export function labelsToObservations(labels: Tensor, tree: LabelTree, source = 'label map'): Tensor {
  const maxLabel = tree.maxLabel;
  // lookup table indexed by label + 1: -1 (unlabelled), 0 (background), then one entry per value
  const table = new Array<number>(maxLabel + 2).fill(-2);
  table[0] = -1;
  table[1] = 0;
  for (let v = 1; v <= maxLabel; v++) {
    const n = tree.nodeOfLabel(v);
    if (n !== undefined) table[v + 1] = observedAt(n);
  }
  const maxValue = labels.numel === 0 ? 0 : labels.max().item();
  if (maxValue > maxLabel)
    throw new InputError(
      source,
      `label value ${maxValue} is not a node of the label tree`,
      'map the dataset labels onto tree nodes in its config',
    );
  const index = labels.clamp(-1, null).add(1).flatten();
  const obs = tensor(table, [table.length], { dtype: 'int64' })
    .indexSelect(0, index)
    .reshape(...labels.shape);
  if (obs.eq(-2).any().item())
    throw new InputError(
      source,
      'a label value is not a node of the label tree',
      'map the dataset labels onto tree nodes in its config',
    );
  return obs;
}

/**
 * Per observation o (rows: background, then node 0..K-1), the legal states consistent with it:
 * [K + 1, S] 0/1. Used as the numerator set of L_CP (Eq. 5-6).
 */
export function consistentStates(tree: LabelTree): number[][] {
  const states = legalStates(tree);
  const rows: number[][] = [states.map((_, s) => (s === 0 ? 1 : 0))];
  for (let n = 0; n < tree.size; n++) rows.push(states.map((st) => st[n]!));
  return rows;
}

/** Per observation row: the node targets y and whether each is known (0/1), [K + 1, K] each. */
export function observationTargets(tree: LabelTree): { target: number[][]; known: number[][] } {
  const K = tree.size;
  const target = [new Array<number>(K).fill(0)];
  const known = [new Array<number>(K).fill(1)];
  for (let n = 0; n < K; n++) {
    const on = new Set(tree.ancestorsAndSelf(n));
    target.push(Array.from({ length: K }, (_, m) => (on.has(m) ? 1 : 0)));
    // m is unknown iff n is a strict ancestor of m
    known.push(
      Array.from({ length: K }, (_, m) => (m !== n && tree.ancestorsAndSelf(m).includes(n) ? 0 : 1)),
    );
  }
  return { target, known };
}

/** Rows of a [R, C] table picked per pixel by `obs` ([N, H, W], -1 gives a row of zeros): [N, C, H, W]. */
export function lookupPerPixel(table: number[][], obs: Tensor, dtype: DType): Tensor {
  const C = table[0]!.length;
  const padded = [new Array<number>(C).fill(0), ...table];
  const t = tensor(padded.flat(), [padded.length, C], { dtype });
  const [N, H, W] = obs.shape as [number, number, number];
  return t.indexSelect(0, obs.add(1).flatten()).reshape(N, H, W, C).permute(0, 3, 1, 2);
}

/**
 * Per-node targets y_d and the mask of known entries.
 *
 * @param obs  [N, H, W] int64 observations
 * @returns    target, known: [N, K, H, W] in `dtype` (unlabelled pixels: known = 0)
 */
export function nodeTargets(
  obs: Tensor,
  tree: LabelTree,
  dtype: DType = 'float32',
): { target: Tensor; known: Tensor } {
  const { target, known } = observationTargets(tree);
  return { target: lookupPerPixel(target, obs, dtype), known: lookupPerPixel(known, obs, dtype) };
}

/** 1 where the pixel carries an observation (labelled), [N, H, W] in `dtype`. */
export function labelledMask(obs: Tensor, dtype: DType = 'float32'): Tensor {
  return obs.ge(0).to(dtype);
}
