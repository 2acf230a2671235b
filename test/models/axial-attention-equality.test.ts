/**
 * The restructured axial attention (src/models/medt/) against the formulation it replaced
 * (test/helpers/axial-attention-oracle.ts), in float64 so that only the order of floating-point sums
 * can differ: outputs, gradients of the input and of every parameter, and the running statistics,
 * in training and in eval mode, for every kind of attention, both axes, and a sequence shorter than
 * the relative table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, scope, type Tensor } from '../../src/engine/index.ts';
import { AxialAttention } from '../../src/models/medt/axial-attention.ts';
import { oldAxialAttentionForward } from '../helpers/axial-attention-oracle.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Replaces every parameter and buffer the attention reads by a float64 copy (the engine has no
 * `module.double()`); returns the parameters, to compare their gradients.
 */
function toDouble(a: AxialAttention): Tensor[] {
  const params: Tensor[] = [];
  const swap = <T extends object>(owner: T, key: keyof T & string, isParam: boolean) => {
    const t = owner[key] as unknown as Tensor;
    const d = noGrad(() => t.double()).keep();
    if (isParam) params.push(d.requiresGrad_(true));
    (owner as Mutable<T>)[key] = d as T[keyof T & string];
  };
  swap(a.qkv_transform, 'weight', true);
  for (const bn of [a.bn_qkv, a.bn_similarity, a.bn_output]) {
    swap(bn, 'weight', true);
    swap(bn, 'bias', true);
    swap(bn, 'runningMean', false);
    swap(bn, 'runningVar', false);
  }
  if (a.relative) swap(a, 'relative', true);
  if (a.gates) for (const name of Object.keys(a.gates) as (keyof typeof a.gates)[]) swap(a.gates, name, true);
  return params;
}

function randomize(a: AxialAttention): void {
  noGrad(() => {
    for (const m of [a.bn_qkv, a.bn_similarity, a.bn_output]) {
      m.weight.uniform_(0.5, 1.5);
      m.bias.uniform_(-0.3, 0.3);
      m.runningMean.uniform_(-0.3, 0.3);
      m.runningVar.uniform_(0.5, 2);
    }
    if (a.gates) for (const g of Object.values(a.gates)) g.uniform_(0.2, 1.2);
  });
}

/**
 * Largest difference relative to the reference's largest magnitude, floored at 1: the similarity
 * bias shifts whole softmax rows, so its gradient is zero but for rounding (1e-16 either way)
 */
const maxRelDiff = (x: Tensor, y: Tensor) => x.sub(y).abs().max().item() / Math.max(1, y.abs().max().item());

for (const kind of ['gated', 'positional', 'plain'] as const)
  for (const axis of ['height', 'width'] as const)
    for (const [stride, channels] of [
      [1, 16],
      [2, 8],
    ] as const)
      // 16 channels over 4 heads: 2 query channels per head (the batched-product path), 8: one (the
      // broadcast path)
      test(`axial attention (${kind}, ${axis}, stride ${stride}, ${channels} channels) equals the previous formulation in float64`, () =>
        scope(() => {
          manualSeed(11);
          const a = new AxialAttention({ channels, heads: 4, maxLength: 9, kind, axis, stride });
          randomize(a);
          const params = toDouble(a);
          const [H, W] = axis === 'height' ? [7, 5] : [5, 8];
          const x = noGrad(() => randn([3, channels, H, W]).double())
            .add(0.4)
            .requiresGrad_(true);
          const w = noGrad(() =>
            randn(
              stride === 2 ? [3, channels, Math.ceil(H / 2), Math.ceil(W / 2)] : [3, channels, H, W],
            ).double(),
          );
          const stats = [a.bn_qkv, a.bn_similarity, a.bn_output].flatMap((m) => [
            m.runningMean,
            m.runningVar,
          ]);
          const initial = stats.map((t) => t.clone().keep());
          for (const training of [true, false]) {
            a.train(training);
            const run = (f: (x: Tensor) => Tensor) => {
              noGrad(() => stats.forEach((t, i) => t.copy_(initial[i]!)));
              for (const t of [x, ...params]) t.grad?.zero_();
              const y = f(x);
              y.mul(w).sum().backward();
              return {
                y: y.detach(),
                grads: [x, ...params].map((t) => t.grad!.clone()),
                stats: stats.map((t) => t.clone()),
              };
            };
            const now = run((t) => a.forward(t));
            const old = run((t) => oldAxialAttentionForward(a, t));
            const mode = training ? 'training' : 'eval';
            assert.ok(maxRelDiff(now.y, old.y) < 1e-12, `${mode} output: ${maxRelDiff(now.y, old.y)}`);
            now.grads.forEach((g, i) =>
              assert.ok(
                maxRelDiff(g, old.grads[i]!) < 1e-10,
                `${mode} gradient ${i} (0: input): ${maxRelDiff(g, old.grads[i]!)}`,
              ),
            );
            now.stats.forEach((s, i) =>
              assert.ok(maxRelDiff(s, old.stats[i]!) < 1e-12, `${mode} running statistic ${i}`),
            );
          }
          a.dispose();
        }));
