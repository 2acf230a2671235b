/**
 * Which signed distance targets a method's level-set head regresses, as plain data that a batch worker
 * can use without tensors or the label tree: channel k of the target [L, K, H, W] is the normalized SDF
 * (sdf.ts, form `form`) of the mask of pixels whose label value is in `channels[k]`. A method declares
 * its spec (`Method.levelSetTargets`); the batch builder (src/train/batch-builder.ts) then computes the
 * targets of each labelled slice after augmentation, in the worker thread that prepares the next batch
 * while the current step runs, so the step does not wait for the distance transforms.
 */
import type { LabelTree } from '../hierarchy/tree.ts';
import { normalizedSdf2d, type SdfForm } from './sdf.ts';

export interface LevelSetTargetSpec {
  /** per target channel, the label values (0 = background) whose pixels are inside */
  readonly channels: readonly (readonly number[])[];
  readonly form: SdfForm;
}

/**
 * The tree heads' spec: channel n (one per node, in the tree's node order) holds the label values of
 * node n and of every node under it, i.e. exactly where `nodeTargets(...).target` of
 * src/hierarchy/targets.ts is 1 for channel n (for leaf observations: the leaves under n).
 */
export function treeLevelSetTargets(tree: LabelTree, form: SdfForm = 'dtc'): LevelSetTargetSpec {
  const channels = tree.nodes.map((n) =>
    tree.nodes
      .filter((m) => m.label !== undefined && tree.ancestorsAndSelf(m.index).includes(n.index))
      .map((m) => m.label!),
  );
  return { channels, form };
}

/** Flat (softmax) heads' spec: channel 0 the background (label 0), channel c the c-th leaf. */
export function flatLevelSetTargets(tree: LabelTree, form: SdfForm = 'dtc'): LevelSetTargetSpec {
  return { channels: tree.flatClassLabels().map((v) => [v]), form };
}

/**
 * The targets of a stack of label slices.
 *
 * @param labels   [L, H, W] label values (W fastest)
 * @param shape    [L, H, W]
 * @param spacing  [row, col] pixel spacing in mm (the Batch convention)
 * @returns        [L, K, H, W] float32, K = spec.channels.length; equal, bit for bit, to `sdfFromMasks`
 *                 of the same masks
 */
export function levelSetTargets(
  labels: Uint8Array,
  shape: readonly [number, number, number],
  spec: LevelSetTargetSpec,
  spacing: readonly [number, number],
): Float32Array {
  const [L, H, W] = shape;
  const plane = H * W;
  if (labels.length !== L * plane)
    throw new RangeError(`levelSetTargets: labels hold ${labels.length} values, shape [${shape.join(', ')}]`);
  const K = spec.channels.length;
  const inside = spec.channels.map((values) => {
    const lut = new Uint8Array(256);
    for (const v of values) lut[v] = 1;
    return lut;
  });
  const out = new Float32Array(L * K * plane);
  const mask = new Uint8Array(plane);
  for (let l = 0; l < L; l++) {
    const lab = labels.subarray(l * plane, (l + 1) * plane);
    for (let k = 0; k < K; k++) {
      const lut = inside[k]!;
      for (let i = 0; i < plane; i++) mask[i] = lut[lab[i]!]!;
      const o = (l * K + k) * plane;
      // sdf.ts takes [along W, along H]
      normalizedSdf2d(mask, W, H, [spacing[1], spacing[0]], spec.form, out.subarray(o, o + plane));
    }
  }
  return out;
}
