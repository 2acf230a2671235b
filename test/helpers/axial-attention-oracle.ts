/**
 * The axial attention of MedT as it was computed before the restructuring of
 * src/models/medt/axial-attention.ts (commit 953e0cd): the same function, kept as a test oracle and as
 * the baseline of bench/train/medt-step.bench.ts. It reads the parameters of an `AxialAttention` and
 * must not be used by src/.
 */
import {
  call,
  callInPlace,
  einsum,
  noGrad,
  stack,
  tensor,
  type nn,
  type Tensor,
} from '../../src/engine/index.ts';
import type { AxialAttention } from '../../src/models/medt/axial-attention.ts';

function relativeSums(a: Tensor, e: Tensor): [Tensor, Tensor] {
  const s1 = a.sum(0).mul(e.sum(2)).sum([1, 2]);
  const f = e.unsqueeze(0).mul(e.unsqueeze(1)).sum(3);
  const p = a.unsqueeze(2).mul(a.unsqueeze(3)).sum(0);
  return [s1, p.mul(f).sum([1, 2, 3])];
}

function similarityStats(q: Tensor, k: Tensor, tables: [Tensor, Tensor] | null): [Tensor, Tensor, number] {
  const [B, , , L] = q.shape as [number, number, number, number];
  const n = B * L * L;
  const qd = q.double();
  const kd = k.double();
  const gram = (x: Tensor) => x.unsqueeze(2).mul(x.unsqueeze(3)).sum(4);
  const s1: Tensor[] = [qd.sum(3).mul(kd.sum(3)).sum([0, 2])];
  const s2: Tensor[] = [gram(qd).mul(gram(kd)).sum([0, 2, 3])];
  if (tables) {
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

/** The old `foldedSimilarityLogits`: per-channel addcmul_ passes for the relative terms. */
export function oldFoldedSimilarityLogits(
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
      // float32 in the original; the dtype of the statistics here, so that it also runs in float64
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
    mean = m.to(q.dtype); // float() in the original: the same in float32
    variance = v.to(q.dtype);
  } else {
    mean = bn.runningMean.view(terms, G);
    variance = bn.runningVar.view(terms, G);
  }
  const scale = bn.weight.view(terms, G).div(variance.add(bn.eps).sqrt());
  const shift = bn.bias.view(terms, G).sub(scale.mul(mean)).sum(0);
  const perHead = (s: number) => scale.narrow(0, s, 1).view(1, G, 1, 1);
  const q0 = q
    .mul(perHead(0))
    .reshape(B * G, c, L)
    .transpose(1, 2);
  const base = shift
    .view(1, G, 1, 1)
    .expand(B, G, 1, 1)
    .reshape(B * G, 1, 1);
  const logits = call('aten::baddbmm', base, q0, k.reshape(B * G, c, L), 1, 1).view(B, G, L, L);
  if (tables) {
    const qe = tables[0].unsqueeze(1).mul(perHead(1));
    const ke = tables[1].transpose(1, 2).unsqueeze(1).mul(perHead(2));
    for (let ch = 0; ch < c; ch++) {
      callInPlace('aten::addcmul_', logits, q.narrow(2, ch, 1).transpose(2, 3), qe.narrow(0, ch, 1), 1);
      callInPlace('aten::addcmul_', logits, k.narrow(2, ch, 1), ke.narrow(0, ch, 1), 1);
    }
  }
  return logits;
}

/** The old forward of `a` on x [N, C, H, W] (without the per-call scope the layer adds). */
export function oldAxialAttentionForward(a: AxialAttention, x: Tensor): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const height = a.opts.axis === 'height';
  const L = height ? H : W;
  const M = height ? W : H;
  const K = a.opts.maxLength;
  const B = N * M;
  const G = a.opts.heads;
  const gp = a.groupPlanes;
  const seq = (height ? x.permute(0, 3, 1, 2) : x.permute(0, 2, 1, 3)).reshape(B, C, L);
  const qkv = a.bn_qkv.forward(a.qkv_transform.forward(seq)).reshape(B, G, 2 * gp, L);
  const [q, k, v] = qkv.split([gp / 2, gp / 2, gp], 2) as [Tensor, Tensor, Tensor];
  let out: Tensor;
  if (!a.relative) {
    const sim = a.bn_similarity.forward(q.transpose(2, 3).matmul(k)).softmax(3);
    const sv = v.matmul(sim.transpose(2, 3));
    out = a.bn_output.forward(sv.reshape(B, C, L)).reshape(N, M, C, L);
  } else {
    const v0 = new Array<number>(L * L);
    for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) v0[i * L + j] = i - j + K - 1;
    const index = tensor(v0, [L * L], { dtype: 'int64' });
    const emb = a.relative.indexSelect(1, index).view(2 * gp, L, L);
    let [qe, ke, ve] = emb.split([gp / 2, gp / 2, gp], 0) as [Tensor, Tensor, Tensor];
    if (a.gates) {
      qe = qe.mul(a.gates.f_qr);
      ke = ke.mul(a.gates.f_kr);
      ve = ve.mul(a.gates.f_sve);
    }
    const sim = oldFoldedSimilarityLogits(q, k, [qe, ke], a.bn_similarity).softmax(3);
    let sv = sim.matmul(v.transpose(2, 3)).transpose(2, 3);
    const sve = einsum('bgij,cij->bgci', sim, ve);
    if (a.gates) sv = sv.mul(a.gates.f_sv);
    const stacked = stack([sv, sve], 3).reshape(B, 2 * C, L);
    out = a.bn_output.forward(stacked).view(N, M, C, 2, L).sum(3);
  }
  const y = height ? out.permute(0, 2, 3, 1) : out.permute(0, 2, 1, 3);
  return a.opts.stride === 2 ? call('aten::avg_pool2d', y, [2, 2], [2, 2], [0, 0], true, true, null) : y;
}
