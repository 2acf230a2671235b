// Layers: PyTorch's default initialisation (kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) for weights and biases; norms at 1 and 0) and forwards equal to the functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../../src/engine/index.ts';

const { Conv2d, Conv1d, ConvTranspose2d, Linear, BatchNorm2d, BatchNorm1d, GroupNorm } = E.nn;

/** Values lie in [-bound, bound] and fill it like a uniform law: extremes near the bound, sd bound/sqrt(3). */
function assertUniform(t: E.Tensor, bound: number, what: string): void {
  const v = t.toArray();
  const maxAbs = Math.max(...v.map(Math.abs));
  assert.ok(maxAbs <= bound, `${what}: ${maxAbs} exceeds the bound ${bound}`);
  if (v.length < 200) return;
  assert.ok(maxAbs > 0.97 * bound, `${what}: largest ${maxAbs} far below the bound ${bound}`);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  assert.ok(
    Math.abs(sd / (bound / Math.sqrt(3)) - 1) < 0.1,
    `${what}: sd ${sd}, expected ${bound / Math.sqrt(3)}`,
  );
  assert.ok(Math.abs(mean) < 0.1 * bound, `${what}: mean ${mean}`);
}

test('Conv2d, Conv1d, ConvTranspose2d, Linear: shapes and default init bounds from fan_in', () => {
  E.manualSeed(5);
  const conv = new Conv2d(16, 32, 3);
  assert.deepEqual(conv.weight.shape, [32, 16, 3, 3]);
  assertUniform(conv.weight, 1 / Math.sqrt(16 * 9), 'conv2d weight');
  assertUniform(conv.bias!, 1 / Math.sqrt(16 * 9), 'conv2d bias');
  const grouped = new Conv2d(16, 32, [3, 1], { groups: 4 });
  assert.deepEqual(grouped.weight.shape, [32, 4, 3, 1]);
  assertUniform(grouped.weight, 1 / Math.sqrt(4 * 3), 'grouped conv2d weight');
  assert.equal(new Conv2d(3, 4, 3, { bias: false }).bias, null);
  const c1 = new Conv1d(8, 16, 5);
  assert.deepEqual(c1.weight.shape, [16, 8, 5]);
  assertUniform(c1.weight, 1 / Math.sqrt(40), 'conv1d weight');
  // transposed: weight [in, out, kh, kw], PyTorch takes fan_in from dim 1 (out channels)
  const up = new ConvTranspose2d(32, 16, 2, { stride: 2 });
  assert.deepEqual(up.weight.shape, [32, 16, 2, 2]);
  assertUniform(up.weight, 1 / Math.sqrt(16 * 4), 'convTranspose2d weight');
  assertUniform(up.bias!, 1 / Math.sqrt(16 * 4), 'convTranspose2d bias');
  const lin = new Linear(64, 40);
  assert.deepEqual(lin.weight.shape, [40, 64]);
  assertUniform(lin.weight, 1 / 8, 'linear weight');
  assertUniform(lin.bias!, 1 / 8, 'linear bias');
  assert.equal(new Linear(3, 2, false).bias, null);
  for (const l of [conv, c1, up, lin])
    assert.ok(l.parameters().every((p) => p.dtype === 'float32' && p.requiresGrad));
});

test('norm layers start at weight 1, bias 0, running mean 0, running var 1, count 0', () => {
  for (const bn of [new BatchNorm2d(5), new BatchNorm1d(5)]) {
    assert.deepEqual(bn.weight.toArray(), [1, 1, 1, 1, 1]);
    assert.deepEqual(bn.bias.toArray(), [0, 0, 0, 0, 0]);
    assert.deepEqual(bn.runningMean.toArray(), [0, 0, 0, 0, 0]);
    assert.deepEqual(bn.runningVar.toArray(), [1, 1, 1, 1, 1]);
    assert.equal(bn.numBatchesTracked.dtype, 'int64');
    assert.deepEqual(bn.numBatchesTracked.shape, []);
  }
  const gn = new GroupNorm(2, 4);
  assert.deepEqual(gn.weight.toArray(), [1, 1, 1, 1]);
  assert.deepEqual(gn.bias.toArray(), [0, 0, 0, 0]);
});

test('layer forwards equal the functional ops with the layer’s tensors', () => {
  const x = E.randn([2, 3, 6, 6]);
  const conv = new Conv2d(3, 4, 3, { stride: 2, padding: 1 });
  const close = (a: E.Tensor, b: E.Tensor) => assert.ok(a.sub(b).abs().max().item() < 1e-6);
  E.noGrad(() => {
    close(conv.forward(x), E.conv2d(x, conv.weight, conv.bias, { stride: 2, padding: 1 }));
    const up = new ConvTranspose2d(3, 2, 2, { stride: 2 });
    close(up.forward(x), E.convTranspose2d(x, up.weight, up.bias, { stride: 2 }));
    const lin = new Linear(6, 5);
    close(lin.forward(x), E.linear(x, lin.weight, lin.bias));
    const gn = new GroupNorm(1, 3);
    close(gn.forward(x), E.groupNorm(x, 1, gn.weight, gn.bias));
    const seq = new E.Sequential(conv, new E.nn.ReLU());
    close(seq.forward(x), conv.forward(x).relu());
  });
});
