/**
 * The attention logits of (gated) axial attention with the similarity batch norm folded in.
 *
 * The official code batch-normalises the similarity maps q.k, q.r^q and k.r^k (each [B, G, L, L], the
 * largest tensors of MedT) as 3G channels and sums them (Valanarasu et al., MICCAI 2021, Eq. 2 with
 * Axial-DeepLab's normalisation). Batch norm is affine per channel once its statistics are known:
 *
 *   logits_g = sum_s a_sg x_sg + b_g,   a_sg = gamma_sg / sqrt(var_sg + eps),
 *   b_g = sum_s (beta_sg - a_sg mean_sg),
 *
 * and the statistics of these bilinear maps follow from small tensors (sums and Gram matrices of q, k
 * and the relative tables over one axis), never from the [B, G, L, L] maps themselves:
 *
 *   sum_ij q.k     = sum_c (sum_i q_ci)(sum_j k_cj)
 *   sum_ij (q.k)^2 = sum_cd (sum_i q_ci q_di)(sum_j k_cj k_dj)
 *   sum_ij q.r^q   = sum_ci q_ci sum_j r_cij,  sum_ij (q.r^q)^2 = sum_i sum_cd q_ci q_di sum_j r_cij r_dij
 *
 * So the maps are built once, already scaled (a folded into q and the tables), instead of being
 * concatenated, normalised and summed: the same function (outputs and gradients agree with batch norm
 * to float rounding; autograd differentiates through the statistics as batch norm's backward does) at a
 * fraction of the passes over the largest tensors. Sums are taken in float64, so E[x^2] - E[x]^2 does
 * not lose the precision a two-pass float32 variance keeps. The running statistics are updated as
 * `torch.nn.BatchNorm2d` does (momentum, unbiased variance).
 */
import {
  call,
  callInPlace,
  einsum,
  isGradEnabled,
  noGrad,
  stack,
  type nn,
  type Tensor,
} from '../../engine/index.ts';
import { addFlops } from '../flops.ts';

/** Sum and sum of squares per head over (b, i, j) of x_bgij = sum_c a_bgci e_cij, as [G] each. */
function relativeSums(a: Tensor, e: Tensor): [Tensor, Tensor] {
  const s1 = a.sum(0).mul(e.sum(2)).sum([1, 2]);
  const f = e.unsqueeze(0).mul(e.unsqueeze(1)).sum(3); // [c, d, i] = sum_j e_cij e_dij
  const p = a.unsqueeze(2).mul(a.unsqueeze(3)).sum(0); // [G, c, d, i]
  return [s1, p.mul(f).sum([1, 2, 3])];
}

/** Mean and biased variance ([terms, G], float64) of q.k (and q.r^q, k.r^k when tables are given). */
function similarityStats(q: Tensor, k: Tensor, tables: [Tensor, Tensor] | null): [Tensor, Tensor, number] {
  const [B, , , L] = q.shape as [number, number, number, number];
  const n = B * L * L;
  const qd = q.double();
  const kd = k.double();
  const gram = (x: Tensor) => x.unsqueeze(2).mul(x.unsqueeze(3)).sum(4); // [B, G, c, d]
  const s1: Tensor[] = [qd.sum(3).mul(kd.sum(3)).sum([0, 2])];
  const s2: Tensor[] = [gram(qd).mul(gram(kd)).sum([0, 2, 3])];
  if (tables) {
    // the k.r^k map is transposed ([i, j] = sum_c k_cj e_cji); its sums over all (i, j) are those of
    // the untransposed one, so both terms take the same form
    for (const [a, e] of [
      [qd, tables[0].double()],
      [kd, tables[1].double()],
    ] as const) {
      const [t1, t2] = relativeSums(a, e);
      s1.push(t1);
      s2.push(t2);
    }
  }
  const mean = stack(s1).div(n);
  const variance = stack(s2).div(n).sub(mean.mul(mean));
  return [mean, variance, n];
}

/**
 * Query/key channels per head up to which inference builds the logits by broadcast passes. Measured
 * per layer at MedT's sizes (eval, no grad, 2 threads, ms per call, batched product against broadcast):
 * c = 2 gated at 144 x 120 216 / 157, at 72 x 60 34 / 22; plain local patches c = 2 58 / 41, c = 4 21 / 16,
 * c = 8 12 / 11 at 9 x 8 but 3.1 / 3.9 at 5 x 4 and 43 / 47 gated at 36 x 30.
 */
const BROADCAST_CHANNELS = 4;

/**
 * The attention weights softmax_j(logits) [B, G, L, L] of foldedSimilarityLogits.
 *
 * For inference (batch norm in eval mode, no graph recorded) with few query/key channels per head
 * (MedT's have 1 to 16 over its stages), the logits are built by broadcast passes, one per term and
 * channel, instead of batched products with an inner dimension of c, which BLAS runs as thousands
 * of tiny products, and the softmax is taken in place. The batch norm's shift b is left out there, as
 * a constant along j does not change a softmax over j.
 */
export function similaritySoftmax(
  q: Tensor,
  k: Tensor,
  tables: [Tensor, Tensor] | null,
  bn: nn.BatchNorm2d,
): Tensor {
  if (bn.training || isGradEnabled()) return foldedSimilarityLogits(q, k, tables, bn).softmax(3);
  const logits = inferenceLogits(q, k, tables, bn);
  callInPlace('aten::_softmax.out', logits, 3, false, logits);
  return logits;
}

/** Eval-mode logits [B, G, i, j]: broadcast passes for few query/key channels, else the products. */
function inferenceLogits(q: Tensor, k: Tensor, tables: [Tensor, Tensor] | null, bn: nn.BatchNorm2d): Tensor {
  return q.size(2) <= BROADCAST_CHANNELS
    ? broadcastLogits(q, k, tables, bn)
    : foldedSimilarityLogits(q, k, tables, bn);
}

/**
 * The weights of attention without positional terms, transposed: [B, G, j, i] = softmax_j(q_i.k_j),
 * for inference (eval-mode batch norm, no graph). Without tables the logits are symmetric in q and k
 * (a_0 q_i.k_j), so the transposed map is the map of (k, q); the softmax runs over dim 2. On MedT's
 * short local axes this is what the weighted sum wants as it is (weighted-values.ts), and the softmax
 * over dim 2, vectorised across the 30 to 36 queries, is itself faster than over rows of that length
 * (a local layer at 16 x 16 x 36 x 30, 2 threads: 19.5 -> 7.2 ms, softmax 7.9 -> 4.2 ms).
 */
export function transposedSimilaritySoftmax(q: Tensor, k: Tensor, bn: nn.BatchNorm2d): Tensor {
  if (bn.training || isGradEnabled())
    throw new Error('transposedSimilaritySoftmax is for inference: batch norm in eval mode, no graph');
  const logits = inferenceLogits(k, q, null, bn);
  callInPlace('aten::_softmax.out', logits, 2, false, logits);
  return logits;
}

/** Batch norm as per-term, per-head scales a [terms, G] and the summed shift b [G] (see above). */
function bnAffine(
  bn: nn.BatchNorm2d,
  mean: Tensor,
  variance: Tensor,
  terms: number,
  G: number,
): [Tensor, Tensor] {
  const scale = bn.weight.view(terms, G).div(variance.add(bn.eps).sqrt());
  const shift = bn.bias.view(terms, G).sub(scale.mul(mean)).sum(0);
  return [scale, shift];
}

/**
 * Eval-mode logits less the shift, as broadcast passes per channel:
 * sum_c (a_0 k_cj + a_1 r^q_cij) q_ci + a_2 r^k_cji k_cj, or sum_c a_0 q_ci k_cj without tables.
 */
function broadcastLogits(q: Tensor, k: Tensor, tables: [Tensor, Tensor] | null, bn: nn.BatchNorm2d): Tensor {
  const [B, G, c, L] = q.shape as [number, number, number, number];
  const terms = tables ? 3 : 1;
  // counted as the products of foldedSimilarityLogits, so that a model's FLOPs do not depend on the path
  addFlops(2 * B * G * c * L * L * terms);
  const [scale] = bnAffine(bn, bn.runningMean.view(terms, G), bn.runningVar.view(terms, G), terms, G);
  const perHead = (s: number) => scale.narrow(0, s, 1).view(1, G, 1, 1);
  const qc = (i: number) => q.narrow(2, i, 1).transpose(2, 3); // [B, G, i, 1]
  const kc = (i: number) => k.narrow(2, i, 1); // [B, G, 1, j]
  let logits: Tensor;
  if (!tables) {
    logits = qc(0).mul(kc(0).mul(perHead(0)));
    for (let i = 1; i < c; i++) callInPlace('aten::addcmul_', logits, qc(i), kc(i).mul(perHead(0)), 1);
    return logits;
  }
  const qe = tables[0].unsqueeze(1).mul(perHead(1)); // [c, G, i, j]
  // contiguous: the transposed table's layout would make every pass below read it with stride L
  const keT = tables[1].transpose(1, 2).contiguous().unsqueeze(1).mul(perHead(2)); // [c, G, i, j] = a_2 r^k_cji
  logits = qe.narrow(0, 0, 1).add(kc(0).mul(perHead(0)));
  callInPlace('aten::mul_.Tensor', logits, qc(0));
  callInPlace('aten::addcmul_', logits, kc(0), keT.narrow(0, 0, 1), 1);
  for (let i = 1; i < c; i++) {
    callInPlace('aten::addcmul_', logits, qc(i), qe.narrow(0, i, 1), 1);
    callInPlace('aten::addcmul_', logits, qc(i), kc(i).mul(perHead(0)), 1);
    callInPlace('aten::addcmul_', logits, kc(i), keT.narrow(0, i, 1), 1);
  }
  return logits;
}

/**
 * Logits [B, G, L, L] of batch norm (`bn`, 3G channels with tables, G without) applied to q.k, q.r^q
 * and (k.r^k)^T and summed over the three. q, k: [B, G, c, L]; tables (already gated) [c, L, L].
 */
export function foldedSimilarityLogits(
  q: Tensor,
  k: Tensor,
  tables: [Tensor, Tensor] | null,
  bn: nn.BatchNorm2d,
): Tensor {
  const [B, G, c, L] = q.shape as [number, number, number, number];
  const terms = tables ? 3 : 1;
  let mean: Tensor;
  let variance: Tensor;
  if (bn.training) {
    const [m, v, n] = similarityStats(q, k, tables);
    noGrad(() => {
      bn.numBatchesTracked.add_(1);
      const dtype = bn.runningMean.dtype;
      bn.runningMean.mul_(1 - bn.momentum).add_(m.to(dtype).reshape(terms * G), bn.momentum);
      bn.runningVar.mul_(1 - bn.momentum).add_(
        v
          .mul(n / (n - 1))
          .to(dtype)
          .reshape(terms * G),
        bn.momentum,
      );
    });
    mean = m.to(q.dtype);
    variance = v.to(q.dtype);
  } else {
    mean = bn.runningMean.view(terms, G);
    variance = bn.runningVar.view(terms, G);
  }
  const [scale, shift] = bnAffine(bn, mean, variance, terms, G);
  const perHead = (s: number) => scale.narrow(0, s, 1).view(1, G, 1, 1);
  // a_qk q.k + b as one batched product that starts from the (broadcast) shift. `_unsafe_view` rather
  // than `view`: autograd then does not track the 4-d logits as a view of the 3-d product, so the
  // in-place adds below do not record CopySlices, whose backward copies the whole [B, G, L, L]
  // gradient three times per in-place op
  const q0 = q
    .mul(perHead(0))
    .reshape(B * G, c, L)
    .transpose(1, 2);
  const base = shift
    .view(1, G, 1, 1)
    .expand(B, G, 1, 1)
    .reshape(B * G, 1, 1);
  const product = call('aten::baddbmm', base, q0, k.reshape(B * G, c, L), 1, 1);
  const logits = call('aten::_unsafe_view', product, [B, G, L, L]);
  // counted as the products they replace: q.k, and the q.r^q and k.r^k einsums
  addFlops(2 * B * G * c * L * L * terms);
  if (tables) {
    // the relative terms, one op per term with the per-head scale folded into the [c, G, L, L] tables
    // (measured on the 288 x 240 layers, forward + backward, CPU time: both about 20% below the
    // per-channel adds on a view that this replaced; the broadcast add is the cheaper forward).
    // One channel (MedT's first stage): a broadcast multiply-add in place, one pass over the logits.
    // More: one batched product over (g, i), resp. (g, j), whose backward reads the gradient once
    // for all channels, where per-channel broadcast adds would take two products and two reductions
    // per channel
    const qe = tables[0].unsqueeze(1).mul(perHead(1)); // [c, G, i, j] = a r^q_cij
    if (c === 1) {
      const keT = tables[1].transpose(1, 2).unsqueeze(1).mul(perHead(2)); // [1, G, i, j] = a r^k_cji
      callInPlace('aten::addcmul_', logits, q.transpose(2, 3), qe, 1); // q_i broadcast along j
      callInPlace('aten::addcmul_', logits, k, keT, 1); // k_j broadcast along i
    } else {
      const ke = tables[1].unsqueeze(1).mul(perHead(2)); // [c, G, j, i] = a r^k_cji
      logits.add_(einsum('bgci,cgij->bgij', q, qe));
      logits.add_(einsum('bgcj,cgji->bgij', k, ke));
    }
  }
  return logits;
}
