/**
 * The attention's weighted sum of values, out_bgci = sum_j sim_bgij v_bgcj, of (gated) axial
 * attention.
 *
 * With a graph it is one batched product, (sim v^T)^T: its gradient for sim then comes out in sim's
 * own layout (v sim^T would give it transposed, and adding a transposed [B, G, L, L] gradient is a
 * slow strided pass). Without one (inference) on a short axis, that product is thousands of tiny
 * ones (one per batch element and head, [L, L] by [L, c] with c the 2 to 8 value channels of a head),
 * which BLAS runs one at a time at a fraction of a plain pass's speed; oneDNN's grouped convolution
 * computes the same sums, one group per (batch element, head), with v as the weights and the
 * transposed maps as the input. The transposed copy costs a pass over the maps, which the long axes
 * do not win back: measured per call, 2 threads (product / transposed copy and convolution, ms):
 * L = 36 17.4 / 9.3, L = 30 18.0 / 7.6, L = 9 3.4 / 0.9, but L = 120 22.6 / 32.8 and L = 144 32.9 /
 * 52.0. Attention without positional terms builds its maps transposed at inference
 * (similarity.ts, transposedSimilaritySoftmax), and the convolution then takes them without the copy.
 */
import { conv1d, isGradEnabled, type Tensor } from '../../engine/index.ts';
import { addFlops, matmul } from '../flops.ts';

/** Axes up to this long take the grouped convolution at inference (see the module comment). */
export const GROUPED_MAX_LENGTH = 64;

/** sum_j sim_bgij v_bgcj as [B, G, c, L], for sim [B, G, L, L] and v [B, G, c, L]. */
export function weightedValues(sim: Tensor, v: Tensor): Tensor {
  const [B, G, L] = sim.shape as [number, number, number];
  if (isGradEnabled() || L > GROUPED_MAX_LENGTH) return matmul(sim, v.transpose(2, 3)).transpose(2, 3);
  const c = v.shape[2]!;
  // counted as the product it replaces, so that a model's FLOPs do not depend on the path
  addFlops(2 * B * G * c * L * L);
  const input = sim
    .transpose(2, 3)
    .contiguous()
    .view(1, B * G * L, L);
  return groupedWeightedValues(input, v);
}

/** sum_j simT_bgji v_bgcj as [B, G, c, L], for maps given transposed, simT [B, G, j, i] (inference). */
export function weightedValuesOfTransposed(simT: Tensor, v: Tensor): Tensor {
  const [B, G, L] = simT.shape as [number, number, number];
  addFlops(2 * B * G * v.shape[2]! * L * L);
  return groupedWeightedValues(simT.contiguous().view(1, B * G * L, L), v);
}

/** input [1, (b g j), i] = sim_bgij; weights [(b g c), j, 1] = v_bgcj: B * G groups of L channels in, c out. */
function groupedWeightedValues(input: Tensor, v: Tensor): Tensor {
  const [B, G, c, L] = v.shape as [number, number, number, number];
  const weights = v.contiguous().view(B * G * c, L, 1);
  return conv1d(input, weights, null, { groups: B * G }).view(B, G, c, L);
}
