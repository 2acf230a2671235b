/**
 * Ground truth of the level-set head from tensors: binary node masks [L, K, H, W] are copied to
 * JavaScript, turned into normalized SDFs per slice and node by sdf.ts (exact EDT, pixel spacing), and
 * copied back. Runs once per labelled slice per step; no gradient flows through it.
 */
import { tensor, type Tensor } from '../engine/index.ts';
import { normalizedSdfBatch, type SdfForm } from './sdf.ts';

/**
 * @param masks    [L, K, H, W] 0/1 (any dtype)
 * @param spacing  [row, col] pixel spacing in mm (the Batch convention)
 * @param form     'dtc' (default) or 'thin' (sdf.ts)
 * @returns        [L, K, H, W] float32 SDF in [-1, 1] (negative inside)
 */
export function sdfFromMasks(
  masks: Tensor,
  spacing: readonly [number, number],
  form: SdfForm = 'dtc',
): Tensor {
  const [L, K, H, W] = masks.shape as [number, number, number, number];
  const data = masks.gt(0.5).data() as Uint8Array; // bool travels as one byte per value
  // sdf.ts takes [along W, along H]
  const out = normalizedSdfBatch(data, [L * K, H, W], [spacing[1], spacing[0]], form);
  return tensor(out, [L, K, H, W], { dtype: 'float32' });
}
