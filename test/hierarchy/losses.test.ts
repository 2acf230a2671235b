import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, setNumThreads } from '../../src/engine/index.ts';
import { defaultKneeTree, type LabelTree } from '../../src/hierarchy/tree.ts';
import { cpLoss } from '../../src/hierarchy/cp-loss.ts';
import { upLoss, logOneMinusUnconditional, log1mexpUnconditional } from '../../src/hierarchy/up-loss.ts';
import { conditionalBceLoss } from '../../src/hierarchy/conditional-loss.ts';
import { bruteLogObserved, bruteTargets, bruteUp } from './brute.ts';
import { deepTree, gradientError, randomLogits, randomObservations } from './fixtures.ts';

// tiny tensors: a second intra-op thread only adds contention when test files run side by side
setNumThreads(1);

const trees: [string, () => LabelTree][] = [
  ['knee', defaultKneeTree],
  ['deep', deepTree],
];

/** Mean of `term(n, h, w, o)` over the pixels with an observation o >= 0 (the losses' reduction). */
function meanOverObserved(
  [N, H, W]: [number, number, number],
  observations: readonly number[],
  term: (n: number, h: number, w: number, o: number) => number,
): number {
  let sum = 0;
  let count = 0;
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const o = observations[(n * H + h) * W + w]!;
        if (o < 0) continue;
        sum += term(n, h, w, o);
        count++;
      }
  return sum / count;
}

for (const [name, make] of trees) {
  test(`L_CP equals the float64 brute force over all 2^K assignments, logits in [-50, 50] (${name} tree)`, () => {
    const tree = make();
    const [N, H, W] = [2, 3, 4];
    for (const seed of [1, 2, 3]) {
      const z = randomLogits([N, tree.size, H, W], 50, seed);
      const obs = randomObservations([N, H, W], tree.size, seed + 10);
      const want = meanOverObserved(
        [N, H, W],
        obs.values,
        (n, h, w, o) => -bruteLogObserved(z.pixel(n, h, w), o, tree),
      );
      const got = cpLoss(z.tensor(), obs.tensor(), tree).item();
      assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${got} vs ${want}`);
    }
  });

  test(`L_CP on leaf-only observations (its cross-entropy path) equals the brute force and finite differences (${name} tree)`, () => {
    const tree = make();
    const [N, H, W] = [2, 3, 4];
    // observations: -1 unlabelled, 0 background, or a leaf: each fixes one legal state
    const choices = [-1, 0, ...tree.leaves.map((l) => l + 1)];
    for (const seed of [21, 22]) {
      const z = randomLogits([N, tree.size, H, W], 50, seed);
      const picks = randomObservations([N, H, W], choices.length - 2, seed + 10).values;
      const values = picks.map((p) => choices[p + 1]!);
      const obs = tensor(values, [N, H, W], { dtype: 'int64' });
      const want = meanOverObserved(
        [N, H, W],
        values,
        (n, h, w, o) => -bruteLogObserved(z.pixel(n, h, w), o, tree),
      );
      const got = cpLoss(z.tensor(), obs, tree).item();
      assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${got} vs ${want}`);
      const small = randomLogits([N, tree.size, H, W], 4, seed);
      const err = gradientError((x) => cpLoss(x, obs, tree), small.values, [N, tree.size, H, W]);
      assert.ok(err < 1e-6, `gradient error ${err}`);
    }
    // no labelled pixel: 0 (and a gradient of zeros), not the NaN of an empty mean
    const none = cpLoss(
      randomLogits([1, tree.size, 2, 2], 4, 1).tensor(),
      tensor([-1, -1, -1, -1], [1, 2, 2], { dtype: 'int64' }),
      tree,
    );
    assert.equal(Math.abs(none.item()), 0);
  });

  test(`L_UP equals the float64 brute force, logits in [-50, 50] (${name} tree)`, () => {
    const tree = make();
    const [N, H, W] = [2, 3, 4];
    for (const seed of [4, 5]) {
      const z = randomLogits([N, tree.size, H, W], 50, seed);
      const obs = randomObservations([N, H, W], tree.size, seed + 10);
      const want = meanOverObserved([N, H, W], obs.values, (n, h, w, o) => {
        const { target, known } = bruteTargets(o, tree);
        return bruteUp(z.pixel(n, h, w), target, known, tree);
      });
      const got = upLoss(z.tensor(), obs.tensor(), tree).item();
      assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${got} vs ${want}`);
    }
  });

  test(`log(1 - p_d): Eq. 11 (LSE over subsets) equals log1mexp(log p_d) (${name} tree)`, () => {
    const tree = make();
    const z = randomLogits([1, tree.size, 4, 5], 15, 7).tensor();
    const a = logOneMinusUnconditional(z, tree).toArray();
    const b = log1mexpUnconditional(z, tree).toArray();
    a.forEach((v, i) =>
      assert.ok(Math.abs(v - b[i]!) <= 1e-10 * Math.max(1, Math.abs(v)), `${v} vs ${b[i]}`),
    );
  });

  test(`gradients of L_CP, L_UP and the conditional BCE match finite differences in float64 (${name} tree)`, () => {
    const tree = make();
    const shape: [number, number, number, number] = [1, tree.size, 2, 3];
    const z = randomLogits(shape, 4, 11);
    const obs = randomObservations([1, 2, 3], tree.size, 12).tensor();
    for (const loss of [cpLoss, upLoss, conditionalBceLoss]) {
      const err = gradientError((x) => loss(x, obs, tree), z.values, shape);
      assert.ok(err < 1e-6, `${loss.name}: ${err}`);
    }
  });
}

test('L_UP stays finite with finite gradients at logits of +-100, in float32 too', () => {
  const tree = defaultKneeTree();
  for (const dtype of ['float64', 'float32'] as const) {
    const values = Array.from({ length: tree.size * 8 }, (_, i) => (i % 3 === 0 ? -100 : 100));
    const z = tensor(values, [1, tree.size, 2, 4], { dtype }).requiresGrad_(true);
    const obs = tensor([0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 4], { dtype: 'int64' });
    const loss = upLoss(z, obs, tree);
    assert.ok(Number.isFinite(loss.item()), `${dtype}: loss ${loss.item()}`);
    loss.backward();
    assert.ok(z.grad!.toArray().every(Number.isFinite), `${dtype}: gradient`);
  }
  // the brute force agrees at these logits as well
  const z = tensor(
    Array.from({ length: tree.size }, (_, i) => (i % 2 ? 100 : -100)),
    [1, tree.size, 1, 1],
    { dtype: 'float64' },
  );
  const obs = tensor([0], [1, 1, 1], { dtype: 'int64' });
  const zs = z.toArray();
  const { target, known } = bruteTargets(0, tree);
  assert.ok(Math.abs(upLoss(z, obs, tree).item() - bruteUp(zs, target, known, tree)) < 1e-9);
});

test('the conditional BCE trains a child only where its parent is positive', () => {
  const tree = defaultKneeTree();
  // one background pixel: only the roots are trained (children have a negative parent)
  const z = tensor(new Array(tree.size).fill(0), [1, tree.size, 1, 1], { dtype: 'float64' }).requiresGrad_(
    true,
  );
  conditionalBceLoss(z, tensor([0], [1, 1, 1], { dtype: 'int64' }), tree).backward();
  const g = z.grad!.toArray();
  tree.nodes.forEach((n) => assert.equal(g[n.index] !== 0, n.parent < 0, n.name));
  // value: mean of ln 2 over the 3 roots
  const v = conditionalBceLoss(z.detach(), tensor([0], [1, 1, 1], { dtype: 'int64' }), tree).item();
  assert.ok(Math.abs(v - Math.LN2) < 1e-12);
});
