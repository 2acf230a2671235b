/**
 * The two additions to the paper's tree losses (src/methods/tree-options.ts): the soft Dice on the
 * legal-state posteriors and the per-node reduction of the conditional BCE, each against a float64
 * brute force written from the definition, plus finite-difference gradients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNumThreads, tensor } from '../../src/engine/index.ts';
import { defaultKneeTree, type LabelTree } from '../../src/hierarchy/tree.ts';
import { stateDiceLoss } from '../../src/hierarchy/state-dice.ts';
import { conditionalBceLoss } from '../../src/hierarchy/conditional-loss.ts';
import { bruteTargets, legalAssignments } from './brute.ts';
import { deepTree, gradientError, randomLogits, randomObservations } from './fixtures.ts';

setNumThreads(1);

const trees: [string, () => LabelTree][] = [
  ['knee', defaultKneeTree],
  ['deep', deepTree],
];

const score = (z: number[], y: number[]) => z.reduce((s, zi, i) => s + zi * y[i]!, 0);
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** SSL4MIS soft Dice over the legal states, pixels whose observation fixes one state only. */
function bruteStateDice(
  z: { pixel(n: number, h: number, w: number): number[] },
  obs: readonly number[],
  [N, H, W]: [number, number, number],
  tree: LabelTree,
): number {
  const legal = legalAssignments(tree);
  const S = legal.length;
  const inter = new Array<number>(S).fill(0);
  const pp = new Array<number>(S).fill(0);
  const tt = new Array<number>(S).fill(0);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const o = obs[(n * H + h) * W + w]!;
        if (o < 0) continue;
        // the states consistent with the observation; a Dice target only when there is one
        const fits = legal.map((y) => (o === 0 ? y.every((v) => !v) : y[o - 1] === 1));
        if (fits.filter(Boolean).length !== 1) continue;
        const s = z.pixel(n, h, w);
        const e = legal.map((y) => Math.exp(score(s, y)));
        const Z = e.reduce((a, b) => a + b, 0);
        legal.forEach((_, j) => {
          const p = e[j]! / Z;
          const t = fits[j] ? 1 : 0;
          inter[j]! += p * t;
          pp[j]! += p * p;
          tt[j]! += t;
        });
      }
  let mean = 0;
  for (let j = 0; j < S; j++) mean += (2 * inter[j]! + 1e-5) / (pp[j]! + tt[j]! + 1e-5);
  return 1 - mean / S;
}

/** Per node: mean BCE over the pixels where it is trained (parent positive, known); then mean over nodes. */
function bruteConditionalPerNode(
  z: { pixel(n: number, h: number, w: number): number[] },
  obs: readonly number[],
  [N, H, W]: [number, number, number],
  tree: LabelTree,
): number {
  const sum = new Array<number>(tree.size).fill(0);
  const count = new Array<number>(tree.size).fill(0);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const o = obs[(n * H + h) * W + w]!;
        if (o < 0) continue;
        const { target, known } = bruteTargets(o, tree);
        const s = z.pixel(n, h, w);
        for (const node of tree.nodes) {
          const d = node.index;
          const parentOn = node.parent < 0 || (target[node.parent] === 1 && known[node.parent] === 1);
          if (!known[d] || !parentOn) continue;
          sum[d]! += target[d] ? softplus(-s[d]!) : softplus(s[d]!);
          count[d]!++;
        }
      }
  const present = count.map((c, d) => (c > 0 ? sum[d]! / c : null)).filter((v) => v !== null);
  return present.reduce((a, b) => a + b, 0) / present.length;
}

for (const [name, make] of trees) {
  test(`state Dice equals the float64 brute force over legal assignments (${name} tree)`, () => {
    const tree = make();
    const shape: [number, number, number] = [2, 3, 4];
    for (const seed of [1, 2, 3]) {
      const z = randomLogits([shape[0], tree.size, shape[1], shape[2]], 6, seed);
      const obs = randomObservations(shape, tree.size, seed + 20);
      const want = bruteStateDice(z, obs.values, shape, tree);
      const got = stateDiceLoss(z.tensor(), obs.tensor(), tree).item();
      assert.ok(Math.abs(got - want) < 1e-12, `${got} vs ${want}`);
    }
  });

  test(`per-node conditional BCE equals the float64 brute force (${name} tree)`, () => {
    const tree = make();
    const shape: [number, number, number] = [2, 3, 4];
    for (const seed of [4, 5, 6]) {
      const z = randomLogits([shape[0], tree.size, shape[1], shape[2]], 30, seed);
      const obs = randomObservations(shape, tree.size, seed + 20);
      const want = bruteConditionalPerNode(z, obs.values, shape, tree);
      const got = conditionalBceLoss(z.tensor(), obs.tensor(), tree, 'node').item();
      assert.ok(Math.abs(got - want) <= 1e-10 * Math.max(1, want), `${got} vs ${want}`);
    }
  });

  test(`gradients of the state Dice and the per-node BCE match finite differences (${name} tree)`, () => {
    const tree = make();
    const shape: [number, number, number, number] = [1, tree.size, 2, 3];
    const z = randomLogits(shape, 3, 13);
    const obs = randomObservations([1, 2, 3], tree.size, 14).tensor();
    const dice = gradientError((x) => stateDiceLoss(x, obs, tree), z.values, shape);
    const node = gradientError((x) => conditionalBceLoss(x, obs, tree, 'node'), z.values, shape);
    assert.ok(dice < 1e-6, `state Dice: ${dice}`);
    assert.ok(node < 1e-6, `per-node BCE: ${node}`);
  });
}

test('per-node reduction weighs a thin child like a root; per-entry averaging drowns it', () => {
  const tree = defaultKneeTree();
  const fc = tree.nodes.find((n) => n.name === 'FC')!;
  const K = tree.size;
  const P = 100;
  // every logit 0 but FC's (-5: wrong); pixel 0 is femoral cartilage, the other 99 background
  const values = Array.from({ length: K * P }, (_, i) => (Math.floor(i / P) === fc.index ? -5 : 0));
  const logits = tensor(values, [1, K, 1, P], { dtype: 'float64' });
  const obs = tensor(
    Array.from({ length: P }, (_, p) => (p === 0 ? 1 + fc.index : 0)),
    [1, 1, P],
    { dtype: 'int64' },
  );
  // trained entries: the 3 roots on all 100 pixels (ln 2 each), F's children DF (ln 2) and FC on pixel 0
  const perEntry = (301 * Math.LN2 + softplus(5)) / 302;
  const perNode = (4 * Math.LN2 + softplus(5)) / 5;
  assert.ok(Math.abs(conditionalBceLoss(logits, obs, tree, 'entries').item() - perEntry) < 1e-12);
  assert.ok(Math.abs(conditionalBceLoss(logits, obs, tree, 'node').item() - perNode) < 1e-12);
});
