/**
 * Axial self-attention along one image axis (Wang et al., "Axial-DeepLab", ECCV 2020) with MedT's
 * gates (Valanarasu et al., MICCAI 2021, Eq. 2):
 *
 *   y_i = sum_j softmax_j( q_i.k_j + G_Q q_i.r^q_ij + G_K k_j.r^k_ji ) (G_V1 v_j + G_V2 r^v_ij)
 *
 * for every row (width axis) or column (height axis) independently: the other axis is folded into the
 * batch. As in the official code, batch norm follows the qkv projection, acts on the three similarity
 * maps separately before they are summed (computed folded into the logits, similarity.ts), and on
 * the two outputs (v and positional) before they are summed. The relative-position table r has 2K - 1 columns for the longest sequence K this layer
 * accepts (sized from the configured image size); shorter sequences use its centre, so an input may be
 * smaller than configured (the official code only takes exactly K).
 */
import {
  call,
  isGradEnabled,
  noGrad,
  randn,
  scope,
  stack,
  tensor,
  nn,
  Layer,
  type Tensor,
} from '../../engine/index.ts';
import { InputError } from '../../errors.ts';
import { conv, einsumF } from '../flops.ts';
import type { AttentionKind } from './config.ts';
import { similaritySoftmax, transposedSimilaritySoftmax } from './similarity.ts';
import { GROUPED_MAX_LENGTH, weightedValues, weightedValuesOfTransposed } from './weighted-values.ts';

export interface AxialAttentionOptions {
  channels: number;
  heads: number;
  /** the longest sequence along `axis` this layer takes (relative table size) */
  maxLength: number;
  kind: AttentionKind;
  axis: 'height' | 'width';
  /** 2: average-pool the output by 2 (ceil mode, so odd sizes match a stride-2 1x1 conv) */
  stride: 1 | 2;
}

/** Gate initial values of the official code: G_Q, G_K, G_V2 = 0.1 and G_V1 = 1 (they start mostly off). */
export const GATE_INIT = { f_qr: 0.1, f_kr: 0.1, f_sve: 0.1, f_sv: 1.0 } as const;

export class AxialAttention extends Layer {
  readonly qkv_transform: nn.Conv1d;
  readonly bn_qkv: nn.BatchNorm1d;
  readonly bn_similarity: nn.BatchNorm2d;
  readonly bn_output: nn.BatchNorm1d;
  readonly relative: Tensor | null = null;
  readonly gates: Record<keyof typeof GATE_INIT, Tensor> | null = null;
  readonly groupPlanes: number;
  readonly #index = new Map<number, Tensor>();

  constructor(readonly opts: AxialAttentionOptions) {
    super();
    const { channels: C, heads: G, kind } = opts;
    const gp = C / G;
    if (!Number.isInteger(gp) || gp % 2 !== 0)
      throw new RangeError(
        `axial attention: ${C} channels over ${G} heads must give an even number per head`,
      );
    this.groupPlanes = gp;
    const positional = kind !== 'plain';
    this.qkv_transform = this.module('qkv_transform', new nn.Conv1d(C, 2 * C, 1, { bias: false }));
    this.bn_qkv = this.module('bn_qkv', new nn.BatchNorm1d(2 * C));
    this.bn_similarity = this.module('bn_similarity', new nn.BatchNorm2d(positional ? 3 * G : G));
    this.bn_output = this.module('bn_output', new nn.BatchNorm1d(positional ? 2 * C : C));
    noGrad(() => this.qkv_transform.weight.normal_(0, Math.sqrt(1 / C)));
    if (kind === 'gated') {
      const g = {} as Record<keyof typeof GATE_INIT, Tensor>;
      for (const [name, v] of Object.entries(GATE_INIT) as [keyof typeof GATE_INIT, number][])
        g[name] = this.param(name, tensor([v], []));
      this.gates = g;
    }
    if (positional) {
      const K = opts.maxLength;
      this.relative = this.param(
        'relative',
        noGrad(() => randn([2 * gp, 2 * K - 1]).mul_(Math.sqrt(1 / gp))),
      );
    }
  }

  /** Flat indices (i - j + K - 1) into the relative table for a sequence of length L, cached. */
  #relativeIndex(L: number): Tensor {
    let idx = this.#index.get(L);
    if (!idx) {
      const K = this.opts.maxLength;
      const v = new Array<number>(L * L);
      for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) v[i * L + j] = i - j + K - 1;
      idx = tensor(v, [L * L], { dtype: 'int64' }).keep();
      this.#index.set(L, idx);
    }
    return idx;
  }

  forward(x: Tensor): Tensor {
    // a scope per call frees the intermediates autograd does not keep as soon as the layer returns
    return scope(() => this.#forward(x));
  }

  #forward(x: Tensor): Tensor {
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const height = this.opts.axis === 'height';
    const L = height ? H : W;
    const M = height ? W : H;
    if (L > this.opts.maxLength)
      throw new InputError(
        'model input',
        `${this.opts.axis} ${L} at this layer exceeds the ${this.opts.maxLength} its relative-position table was built for`,
        'build the model with an imageSize at least as large as the slices (or crop them)',
      );
    const B = N * M;
    const G = this.opts.heads;
    const gp = this.groupPlanes;
    // fold the other axis into the batch: [N * M, C, L]
    const seq = (height ? x.permute(0, 3, 1, 2) : x.permute(0, 2, 1, 3)).reshape(B, C, L);
    const qkv = this.bn_qkv.forward(conv(this.qkv_transform, seq)).reshape(B, G, 2 * gp, L);
    const [q, k, v] = qkv.split([gp / 2, gp / 2, gp], 2) as [Tensor, Tensor, Tensor];

    let out: Tensor;
    if (!this.relative) {
      // batch norm folded into the logits here too: no normalised copy of the maps kept for backward,
      // and two passes over them fewer each way
      // [B, G, c, i] = sum_j sim_ij v_cj; at inference on a short axis from the transposed maps
      const sv =
        L <= GROUPED_MAX_LENGTH && !this.training && !isGradEnabled()
          ? weightedValuesOfTransposed(transposedSimilaritySoftmax(q, k, this.bn_similarity), v)
          : weightedValues(similaritySoftmax(q, k, null, this.bn_similarity), v);
      out = this.bn_output.forward(sv.reshape(B, C, L)).reshape(N, M, C, L);
    } else {
      const emb = this.relative.indexSelect(1, this.#relativeIndex(L)).view(2 * gp, L, L);
      let [qe, ke, ve] = emb.split([gp / 2, gp / 2, gp], 0) as [Tensor, Tensor, Tensor];
      if (this.gates) {
        // G * (x . r) = x . (G * r): scaling the [c, L, L] tables instead of the [B, G, L, L]
        // similarities saves two full passes over the largest tensors, forward and backward
        qe = qe.mul(this.gates.f_qr);
        ke = ke.mul(this.gates.f_kr);
        ve = ve.mul(this.gates.f_sve);
      }
      // bn_similarity over [q.k, q.r^q, (k.r^k)^T] summed over the three, computed without building
      // the three normalised maps (similarity.ts)
      const sim = similaritySoftmax(q, k, [qe, ke], this.bn_similarity);
      let sv = weightedValues(sim, v);
      const sve = einsumF('bgij,cij->bgci', sim, ve);
      if (this.gates) sv = sv.mul(this.gates.f_sv);
      // channel order (c, s) with s in {sv, sve}, as the official cat(dim=-1).view does
      const stacked = stack([sv, sve], 3).reshape(B, 2 * C, L);
      out = this.bn_output.forward(stacked).view(N, M, C, 2, L).sum(3);
    }
    const y = height ? out.permute(0, 2, 3, 1) : out.permute(0, 2, 1, 3);
    return this.opts.stride === 2 ? call('aten::avg_pool2d', y, [2, 2], [2, 2], [0, 0], true, true, null) : y;
  }

  /** Freezes (false) or unfreezes (true) the four gates; a no-op without gates. */
  setGatesTrainable(flag: boolean): void {
    if (this.gates) for (const g of Object.values(this.gates)) g.requiresGrad_(flag);
  }

  override dispose(): void {
    for (const t of this.#index.values()) t.dispose();
    this.#index.clear();
    super.dispose();
  }
}
