import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, setNumThreads, zeros } from '../../src/engine/index.ts';
import { DenoisingHead, DiffusionStem, timestepEmbedding } from '../../src/models/denoiser.ts';

setNumThreads(1);

test('timestep embedding: [sin(t f_k), cos(t f_k)], f_k = 10000^(-k / (half - 1))', () => {
  const e = timestepEmbedding([0, 7], 8).toArray();
  assert.deepEqual(e.slice(0, 8), [0, 0, 0, 0, 1, 1, 1, 1]);
  for (let k = 0; k < 4; k++) {
    const f = Math.exp((-k * Math.log(10000)) / 3);
    assert.ok(Math.abs(e[8 + k]! - Math.sin(7 * f)) < 1e-5);
    assert.ok(Math.abs(e[12 + k]! - Math.cos(7 * f)) < 1e-5);
  }
  assert.deepEqual(timestepEmbedding([3], 9).shape, [1, 9]);
});

test('the stem keeps the image shape and sees the noisy labels; the head has f_PW keys plus its fusion', () => {
  manualSeed(2);
  const stem = new DiffusionStem(3, 7, 16);
  const head = new DenoisingHead(5, 6, 7, 16);
  const temb = randn([2, 16]);
  noGrad(() => {
    const image = randn([2, 3, 8, 8]);
    const a = stem.forward(image, zeros([2, 7, 8, 8]), temb);
    const b = stem.forward(image, randn([2, 7, 8, 8]), temb);
    assert.deepEqual(a.shape, [2, 3, 8, 8]);
    assert.ok(a.sub(b).abs().max().item() > 1e-3);
    const out = head.forward(randn([2, 5, 8, 8]), temb);
    assert.deepEqual(out.shape, [2, 7, 8, 8]);
    // the time embedding changes the prediction
    assert.ok(
      out
        .sub(head.forward(randn([2, 5, 8, 8]).mul(0), temb))
        .abs()
        .max()
        .item() > 0,
    );
  });
  assert.deepEqual([...head.namedParameters()].map(([n]) => n).sort(), [
    '0.bias',
    '0.weight',
    '2.bias',
    '2.weight',
    'fusion.temb_proj.bias',
    'fusion.temb_proj.weight',
  ]);
});
