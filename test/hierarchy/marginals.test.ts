import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, tensor, setNumThreads } from '../../src/engine/index.ts';
import { defaultKneeTree, type LabelTree } from '../../src/hierarchy/tree.ts';
import { nodeMarginals, statePosteriors, unconditionalProbability } from '../../src/hierarchy/marginals.ts';
import { decodeTree } from '../../src/hierarchy/decode.ts';
import { cpLoss } from '../../src/hierarchy/cp-loss.ts';
import { observedAt } from '../../src/hierarchy/targets.ts';
import { bruteDecode, bruteMarginals } from './brute.ts';
import { deepTree, randomLogits } from './fixtures.ts';

// tiny tensors: a second intra-op thread only adds contention when test files run side by side
setNumThreads(1);

const trees: [string, () => LabelTree][] = [
  ['knee', defaultKneeTree],
  ['deep', deepTree],
];

for (const [name, make] of trees) {
  test(`marginals equal brute force and leaves plus background sum to one per pixel (${name} tree)`, () => {
    const tree = make();
    const [N, H, W] = [2, 3, 3];
    const z = randomLogits([N, tree.size, H, W], 8, 21);
    const m = nodeMarginals(z.tensor(), tree).toArray();
    const post = statePosteriors(z.tensor(), tree).toArray();
    const S = 1 + tree.leaves.length;
    const K = tree.size;
    for (let n = 0; n < N; n++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const at = (k: number, C: number) => ((n * C + k) * H + h) * W + w;
          const bg = post[at(0, S)]!;
          const leafSum = tree.leaves.reduce((s, l) => s + m[at(l, K)]!, 0);
          assert.ok(Math.abs(leafSum + bg - 1) < 1e-12, `${leafSum} + ${bg}`);
          const ref = bruteMarginals(z.pixel(n, h, w), tree);
          assert.ok(Math.abs(bg - ref.background) < 1e-12);
          ref.node.forEach((v, k) => assert.ok(Math.abs(m[at(k, K)]! - v) < 1e-12));
        }
  });

  test(`decoding gives only legal labels and equals the brute-force argmax (${name} tree)`, () => {
    const tree = make();
    const [N, H, W] = [2, 4, 5];
    const z = randomLogits([N, tree.size, H, W], 20, 22);
    const labels = decodeTree(z.tensor(), tree).toArray();
    const legal = new Set([0, ...tree.leaves.map((l) => tree.nodes[l]!.label!)]);
    for (let n = 0; n < N; n++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const v = labels[(n * H + h) * W + w]!;
          assert.ok(legal.has(v));
          assert.equal(v, bruteDecode(z.pixel(n, h, w), tree));
        }
  });
}

test('unconditional probabilities are products of sigmoids along the path (Eq. 8)', () => {
  const tree = defaultKneeTree();
  const z = randomLogits([1, tree.size, 1, 1], 3, 5);
  const p = unconditionalProbability(z.tensor(), tree).toArray();
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const fc = tree.indexOf('FC');
  const f = tree.indexOf('F');
  assert.ok(Math.abs(p[fc]! - sig(z.values[f]!) * sig(z.values[fc]!)) < 1e-12);
  assert.ok(Math.abs(p[f]! - sig(z.values[f]!)) < 1e-12);
});

test('a parent-only observation trains the parent marginal (gradient descent raises it)', () => {
  for (const [tree, parent] of [
    [defaultKneeTree(), 'F'],
    [deepTree(), 'A1'],
  ] as const) {
    const p = tree.indexOf(parent);
    const z = randomLogits([1, tree.size, 2, 2], 2, 31).tensor().float().keep().requiresGrad_(true);
    const obs = tensor(new Array(4).fill(observedAt(p)), [1, 2, 2], { dtype: 'int64' });
    const marginal = () => nodeMarginals(z, tree).narrow(1, p, 1).mean().item();
    const before = marginal();
    const opt = new Adam([z], { lr: 0.1 });
    for (let i = 0; i < 20; i++) {
      opt.zeroGrad();
      cpLoss(z, obs, tree).backward();
      opt.step();
    }
    const after = marginal();
    assert.ok(after > before + 0.2 && after > 0.9, `${parent}: ${before} -> ${after}`);
  }
});
