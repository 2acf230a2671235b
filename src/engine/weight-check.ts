/**
 * Finds weights no trained network holds: NaN, infinities, or magnitudes beyond a limit. Shared by the
 * trainer (a diverged run must not write a usable-looking model) and the model reader (predict refuses
 * such a file).
 */
import type { Tensor } from './tensor.ts';

/**
 * Largest magnitude a weight may have: 1e6. Trained segmentation networks hold weights of order 1
 * (batch-norm statistics of normalized activations too); a value a million times that is what a run
 * that diverged leaves behind, and it gives NaN or meaningless outputs. Batch-norm running variances
 * are squares, so theirs is 1e12.
 */
export const MAX_WEIGHT = 1e6;

export interface BadWeight {
  name: string;
  index: number;
  value: number;
  limit: number;
}

/** float16 / bfloat16 bit patterns as numbers (only the size and finiteness matter here). */
function halfToNumber(bits: number, bfloat: boolean): number {
  if (bfloat) return new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!;
  const exponent = (bits >> 10) & 0x1f;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0x1f) return bits & 0x3ff ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (exponent === 0 ? (bits & 0x3ff) / 1024 : 1 + (bits & 0x3ff) / 1024);
}

/**
 * The first floating-point weight that is NaN, infinite or beyond MAX_WEIGHT (null: none). Integer
 * tensors such as num_batches_tracked are counters and are not checked.
 */
export function firstBadWeight(tensors: Iterable<[string, Tensor]>): BadWeight | null {
  for (const [name, t] of tensors) {
    if (!['float32', 'float64', 'float16', 'bfloat16'].includes(t.dtype)) continue;
    const limit = name.endsWith('running_var') ? MAX_WEIGHT * MAX_WEIGHT : MAX_WEIGHT;
    const values = t.data() as Float32Array | Float64Array | Uint16Array;
    const half = values instanceof Uint16Array;
    for (let i = 0; i < values.length; i++) {
      const v = half ? halfToNumber(values[i]!, t.dtype === 'bfloat16') : values[i]!;
      if (!(Number.isFinite(v) && Math.abs(v) <= limit)) return { name, index: i, value: v, limit };
    }
  }
  return null;
}

/** "weight NAME holds VALUE at index I (...)": the same words for the trainer and the reader. */
export function describeBadWeight(b: BadWeight): string {
  const what = Number.isFinite(b.value) ? `${b.value}, beyond the plausible ${b.limit}` : String(b.value);
  return `weight ${b.name} holds ${what} at index ${b.index} (NaN, infinite or absurdly large weights)`;
}
