import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, scope, setNumThreads } from '../../src/engine/index.ts';
import { UNet, UNetConfigSchema } from '../../src/models/unet.ts';
import { gradientProblems, smallModel } from './helpers.ts';

// test files run two at a time on two cores
setNumThreads(1);

test('U-Net output shapes for every norm and upsampling, square, non-square and odd sizes', () => {
  manualSeed(1);
  for (const norm of ['batch', 'group', 'instance'] as const)
    for (const upsample of ['bilinear', 'transposed'] as const) {
      const net = new UNet(2, UNetConfigSchema.parse({ baseChannels: 8, depth: 3, norm, upsample }));
      net.eval();
      for (const [h, w] of [
        [32, 48],
        [64, 64],
        [33, 47],
      ])
        scope(() => assert.deepEqual(noGrad(() => net.forward(randn([1, 2, h!, w!]))).shape, [1, 8, h, w]));
      net.dispose();
    }
});

test('U-Net channels double per level; the norm kind decides the keys and group counts', () => {
  const net = new UNet(3, UNetConfigSchema.parse({ baseChannels: 16, depth: 4, norm: 'group', groups: 4 }));
  const p = new Map(net.namedParameters());
  assert.deepEqual(p.get('inc.conv1.weight')!.shape, [16, 3, 3, 3]);
  assert.deepEqual(p.get('down4.conv.conv2.weight')!.shape, [256, 256, 3, 3]);
  assert.deepEqual(p.get('up1.reduce.weight')!.shape, [128, 256, 1, 1]);
  assert.deepEqual(p.get('up4.conv.conv1.weight')!.shape, [16, 32, 3, 3]);
  assert.equal((net.inc.norm1 as { numGroups: number }).numGroups, 4);
  assert.equal([...net.namedBuffers()].length, 0, 'group norm keeps no running statistics');
  net.dispose();
  const inst = new UNet(1, UNetConfigSchema.parse({ baseChannels: 8, depth: 1, norm: 'instance' }));
  assert.equal((inst.inc.norm1 as { numGroups: number }).numGroups, 8);
  inst.dispose();
});

test('every U-Net parameter gets a finite non-zero gradient (both upsamplings)', () => {
  manualSeed(2);
  for (const upsample of ['bilinear', 'transposed'] as const) {
    const model = smallModel('unet', [32, 32], { unet: { baseChannels: 8, depth: 3, upsample } });
    scope(() => {
      const out = model.forward(randn([2, 2, 32, 32]));
      const w = randn(out.logits.shape);
      out.logits.mul(w).sum().add(out.levelSet!.mul(w).sum()).backward();
    });
    assert.deepEqual(gradientProblems(model), [], upsample);
    model.dispose();
  }
});

test('U-Net dropout is active in training and off in eval', () => {
  manualSeed(3);
  const model = smallModel('unet', [32, 32], {
    unet: { baseChannels: 8, depth: 2, norm: 'group', dropout: 0.5 },
  });
  scope(() => {
    const x = randn([1, 2, 32, 32]);
    const run = () => noGrad(() => model.forward(x).logits);
    model.train();
    const [a, b] = [run(), run()];
    assert.ok(a.sub(b).abs().max().item() > 1e-4, 'two training passes differ (dropout masks)');
    model.eval();
    const [c, d] = [run(), run()];
    assert.equal(c.sub(d).abs().max().item(), 0, 'eval passes are deterministic');
  });
  model.dispose();
});
