import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, einsum, manualSeed, nn, noGrad, randn, scope, type Tensor } from '../../src/engine/index.ts';
import {
  foldedSimilarityLogits,
  similaritySoftmax,
  transposedSimilaritySoftmax,
} from '../../src/models/medt/similarity.ts';
import { countFlops } from '../../src/models/flops.ts';

const [B, G, c, L] = [3, 2, 2, 5];

/** Batch norm over the concatenated maps, then summed, in float64: the official computation. */
function reference(q: Tensor, k: Tensor, qe: Tensor, ke: Tensor, bn: nn.BatchNorm2d, training: boolean) {
  const maps = cat(
    [
      einsum('bgci,bgcj->bgij', q, k),
      einsum('bgci,cij->bgij', q, qe),
      einsum('bgci,cij->bgij', k, ke).transpose(2, 3),
    ],
    1,
  ); // [B, 3G, L, L]
  const mean = training ? maps.mean([0, 2, 3], true) : bn.runningMean.double().view(1, 3 * G, 1, 1);
  const variance = training
    ? maps.sub(mean).square().mean([0, 2, 3], true)
    : bn.runningVar.double().view(1, 3 * G, 1, 1);
  const w = bn.weight.double().view(1, 3 * G, 1, 1);
  const b = bn.bias.double().view(1, 3 * G, 1, 1);
  const y = maps.sub(mean).div(variance.add(bn.eps).sqrt()).mul(w).add(b);
  return { logits: y.view(B, 3, G, L, L).sum(1), mean: mean.flatten(), variance: variance.flatten() };
}

/** Batch norm in eval mode with random affine parameters and running statistics (none a no-op). */
function evalBatchNorm(channels: number): nn.BatchNorm2d {
  const bn = new nn.BatchNorm2d(channels);
  noGrad(() => {
    bn.weight.uniform_(0.5, 1.5);
    bn.bias.uniform_(-1, 1);
    bn.runningMean.uniform_(-0.5, 0.5);
    bn.runningVar.uniform_(0.5, 2);
  });
  bn.eval();
  return bn;
}

const close = (a: Tensor, b: Tensor, tol: number, what: string) => {
  const d = a.double().sub(b.double()).abs().max().item();
  const m = b.double().abs().max().item();
  assert.ok(d <= tol * Math.max(1, m), `${what}: max difference ${d} (scale ${m})`);
};

test('folded similarity batch norm equals batch norm of the three maps, summed (outputs, gradients, running stats)', () =>
  scope(() => {
    manualSeed(3);
    // an offset on q and k, so that the means matter and E[x^2] - E[x]^2 is tested for cancellation
    const leaf = (shape: number[], offset = 0) => randn(shape).add(offset).requiresGrad_(true);
    const q = leaf([B, G, c, L], 1.5);
    const k = leaf([B, G, c, L], -0.7);
    const qe = leaf([c, L, L]);
    const ke = leaf([c, L, L]);
    const bn = new nn.BatchNorm2d(3 * G);
    noGrad(() => {
      bn.weight.uniform_(0.5, 1.5);
      bn.bias.uniform_(-1, 1);
    });
    const w = randn([B, G, L, L]);
    const inputs = [q, k, qe, ke, bn.weight, bn.bias];
    const grads = (loss: Tensor) => {
      for (const t of inputs) t.grad?.zero_();
      loss.backward();
      return inputs.map((t) => t.grad!.clone());
    };

    bn.train();
    const ref = reference(q.double(), k.double(), qe.double(), ke.double(), bn, true);
    const gRef = grads(ref.logits.mul(w.double()).sum());
    const logits = foldedSimilarityLogits(q, k, [qe, ke], bn);
    const g = grads(logits.mul(w).sum());
    close(logits, ref.logits, 1e-5, 'training logits');
    ['q', 'k', 'r^q', 'r^k', 'gamma', 'beta'].forEach((name, i) =>
      close(g[i]!, gRef[i]!, 1e-4, `gradient of ${name}`),
    );
    // running statistics as torch.nn.BatchNorm2d updates them: momentum 0.1, unbiased variance
    const n = B * L * L;
    close(bn.runningMean, ref.mean.mul(0.1), 1e-6, 'running mean');
    close(bn.runningVar, ref.variance.mul((0.1 * n) / (n - 1)).add(0.9), 1e-6, 'running variance');
    assert.equal(bn.numBatchesTracked.item(), 1);

    bn.eval();
    const evalRef = reference(q.double(), k.double(), qe.double(), ke.double(), bn, false).logits;
    close(foldedSimilarityLogits(q, k, [qe, ke], bn), evalRef, 1e-5, 'eval logits');
    assert.equal(bn.numBatchesTracked.item(), 1);
  }));

test('inference attention weights (eval, no grad) equal the softmax of the batch-normalised logits, for 1 to 8 channels, with and without tables', () =>
  scope(() => {
    manualSeed(5);
    for (const ch of [1, 2, 4, 8]) {
      for (const withTables of [true, false]) {
        const q = randn([B, G, ch, L]).add(0.8);
        const k = randn([B, G, ch, L]).sub(0.3);
        const qe = randn([ch, L, L]);
        const ke = randn([ch, L, L]);
        const bn = evalBatchNorm((withTables ? 3 : 1) * G);
        const tables: [Tensor, Tensor] | null = withTables ? [qe, ke] : null;
        // float64 reference: batch norm of the maps with the running statistics, summed, softmax
        const maps = [einsum('bgci,bgcj->bgij', q.double(), k.double())];
        if (withTables)
          maps.push(
            einsum('bgci,cij->bgij', q.double(), qe.double()),
            einsum('bgci,cij->bgij', k.double(), ke.double()).transpose(2, 3),
          );
        const terms = maps.length;
        const y = cat(maps, 1)
          .sub(bn.runningMean.double().view(1, terms * G, 1, 1))
          .div(
            bn.runningVar
              .double()
              .add(bn.eps)
              .sqrt()
              .view(1, terms * G, 1, 1),
          )
          .mul(bn.weight.double().view(1, terms * G, 1, 1))
          .add(bn.bias.double().view(1, terms * G, 1, 1));
        const expected = y.view(B, terms, G, L, L).sum(1).softmax(3);
        const what = `${ch} channel(s), ${withTables ? 'tables' : 'no tables'}`;
        close(
          noGrad(() => similaritySoftmax(q, k, tables, bn)),
          expected,
          1e-6,
          `inference, ${what}`,
        );
        // with grad enabled the graph-recording path runs; the same weights
        close(similaritySoftmax(q, k, tables, bn), expected, 1e-6, `recorded, ${what}`);
        // both paths count the products q.k (and q.r^q, k.r^k) as the model's FLOPs
        const products = 2 * B * G * ch * L * L * terms;
        assert.equal(
          countFlops(() => void noGrad(() => similaritySoftmax(q, k, tables, bn))),
          products,
          what,
        );
        assert.equal(
          countFlops(() => void similaritySoftmax(q, k, tables, bn)),
          products,
          what,
        );
      }
    }
  }));

test('transposed inference attention weights (no positional terms) are the softmax over keys, laid out [B, G, j, i], for 1 to 8 channels', () =>
  scope(() => {
    manualSeed(6);
    for (const ch of [1, 2, 4, 8]) {
      // q and k of different means and lengths of axis, so that a swap of their roles shows
      const q = randn([B, G, ch, L]).add(0.8);
      const k = randn([B, G, ch, L]).mul(1.7).sub(0.3);
      const bn = evalBatchNorm(G);
      const scale = bn.weight.double().div(bn.runningVar.double().add(bn.eps).sqrt()).view(1, G, 1, 1);
      const expected = einsum('bgci,bgcj->bgij', q.double(), k.double())
        .sub(bn.runningMean.double().view(1, G, 1, 1))
        .mul(scale)
        .softmax(3)
        .transpose(2, 3);
      const got = noGrad(() => transposedSimilaritySoftmax(q, k, bn));
      assert.deepEqual(got.shape, [B, G, L, L]);
      close(got, expected, 1e-6, `${ch} channel(s)`);
      assert.equal(
        countFlops(() => void noGrad(() => transposedSimilaritySoftmax(q, k, bn))),
        2 * B * G * ch * L * L,
      );
    }
    // with a graph, or batch norm in training mode, the caller must take the untransposed path
    const bn = new nn.BatchNorm2d(G);
    const q = randn([B, G, 2, L]);
    assert.throws(() => transposedSimilaritySoftmax(q, q, bn), /inference/);
  }));
