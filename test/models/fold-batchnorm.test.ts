/**
 * Batch norm folded into the preceding convolution (src/models/fold-batchnorm.ts): the folded network
 * computes the eval-mode network, exactly to float64 rounding, for the U-Net and MedT backbones with
 * random batch-norm statistics and affine weights; the float32 copy agrees to float32 rounding and
 * leaves the original network untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, nn, noGrad, randn, scope, Tensor } from '../../src/engine/index.ts';
import { convBatchNormPairs, foldBatchNorm, foldBatchNormInPlace } from '../../src/models/fold-batchnorm.ts';
import { buildModel, type SegmentationNet } from '../../src/models/registry.ts';
import { SMALL_MEDT } from './helpers.ts';

/** Random running statistics and affine weights, so that no batch norm is the identity. */
function randomizeBatchNorms(net: SegmentationNet): void {
  noGrad(() => {
    for (const [, m] of net.namedModules())
      if (m instanceof nn.BatchNorm1d || m instanceof nn.BatchNorm2d) {
        m.weight.uniform_(0.5, 1.5);
        m.bias.uniform_(-0.3, 0.3);
        m.runningMean.uniform_(-0.3, 0.3);
        m.runningVar.uniform_(0.5, 2);
      }
  });
}

/**
 * Replaces every floating tensor a module holds in a field (or in a record field, MedT's gates) by a
 * float64 copy: the engine has no `module.double()`, and layers read their tensors from these fields.
 */
function toDouble(net: SegmentationNet): void {
  const swapIn = (owner: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(owner))
      if (value instanceof Tensor && value.dtype === 'float32')
        owner[key] = noGrad(() => value.double()).keep();
  };
  for (const [, m] of net.namedModules()) {
    const fields = m as unknown as Record<string, unknown>;
    swapIn(fields);
    for (const value of Object.values(fields))
      if (value && typeof value === 'object' && !(value instanceof Tensor) && !Array.isArray(value)) {
        const inner = value as Record<string, unknown>;
        if (Object.values(inner).some((v) => v instanceof Tensor)) swapIn(inner);
      }
  }
}

const CASES = [
  {
    name: 'U-Net',
    config: {
      backbone: 'unet',
      inChannels: 3,
      outChannels: 4,
      imageSize: [40, 36],
      unet: { baseChannels: 8, depth: 3 },
    },
    pairs: 14, // 7 double convs
  },
  {
    name: 'MedT',
    config: { backbone: 'medt', inChannels: 3, outChannels: 4, imageSize: [32, 32], medt: SMALL_MEDT },
    // per branch: 3 stem pairs; per block conv_down, conv_up, 2 qkv projections (+ a strided shortcut)
    pairs: 3 + (1 + 2) * 4 + 2 + (3 + (1 + 2 + 4 + 1) * 4 + 4),
  },
] as const;

for (const c of CASES) {
  test(`${c.name}: folding batch norm into the convolutions gives the eval-mode network (float64)`, () =>
    scope(() => {
      manualSeed(5);
      const net = buildModel({ ...c.config, levelSet: true });
      randomizeBatchNorms(net);
      toDouble(net);
      net.eval();
      const x = noGrad(() => randn([2, 3, ...c.config.imageSize]).double());
      const before = noGrad(() => net.forward(x));
      const folded = foldBatchNormInPlace(net, x.narrow(0, 0, 1));
      assert.equal(folded, c.pairs);
      const after = noGrad(() => net.forward(x));
      for (const key of ['features', 'logits', 'levelSet'] as const) {
        const d = after[key]!.sub(before[key]!).abs().max().item();
        const m = before[key]!.abs().max().item();
        assert.ok(d <= 1e-12 * Math.max(1, m), `${key}: max difference ${d} (scale ${m})`);
      }
      // folded batch norms refuse training rather than silently skip normalisation
      net.train();
      assert.throws(() => net.forward(x), /inference only/);
      net.dispose();
    }));

  test(`${c.name}: foldBatchNorm returns a float32 inference copy and leaves the network as it was (or folds it in place)`, () =>
    scope(() => {
      manualSeed(6);
      const net = buildModel({ ...c.config, levelSet: true });
      randomizeBatchNorms(net);
      net.eval();
      const x = randn([2, 3, ...c.config.imageSize]);
      const ref = noGrad(() => net.forward(x).logits);
      const copy = foldBatchNorm(net);
      const y = noGrad(() => copy.forward(x).logits);
      const d = y.sub(ref).abs().max().item();
      assert.ok(d <= 1e-4 * Math.max(1, ref.abs().max().item()), `max difference ${d}`);
      // the original still normalises (its pairs are all still found) and gives the same output
      assert.equal(convBatchNormPairs(net, x.narrow(0, 0, 1)).length, c.pairs);
      const again = noGrad(() => net.forward(x).logits);
      assert.equal(again.sub(ref).abs().max().item(), 0);
      // in place: the network itself, folded
      assert.equal(foldBatchNorm(net, { inPlace: true }), net);
      const inPlace = noGrad(() => net.forward(x).logits);
      assert.ok(inPlace.sub(y).abs().max().item() <= 1e-6 * Math.max(1, ref.abs().max().item()));
      copy.dispose();
      net.dispose();
    }));
}
