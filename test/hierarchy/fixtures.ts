/** Shared test data: random float64 logits and a deeper, wider tree than the knee's. */
import { tensor, type Tensor } from '../../src/engine/index.ts';
import { mulberry32, uniform } from '../../src/data/random.ts';
import { LabelTree } from '../../src/hierarchy/tree.ts';

/** Three levels, uneven widths, an inner node with its own label value (partial observations). */
export function deepTree(): LabelTree {
  return new LabelTree({
    roots: [
      {
        name: 'A',
        children: [
          {
            name: 'A1',
            label: 6,
            children: [
              { name: 'a', label: 1 },
              { name: 'b', label: 2 },
              { name: 'c', label: 3 },
            ],
          },
          { name: 'A2', label: 4 },
        ],
      },
      { name: 'B', label: 5 },
    ],
  });
}

export interface Logits {
  values: number[];
  shape: [number, number, number, number];
  tensor(): Tensor;
  /** the K logits of pixel (n, h, w) */
  pixel(n: number, h: number, w: number): number[];
}

export function randomLogits(shape: [number, number, number, number], range: number, seed: number): Logits {
  const rng = mulberry32(seed);
  const values = Array.from({ length: shape.reduce((a, b) => a * b) }, () => uniform(rng, -range, range));
  const [, K, H, W] = shape;
  return {
    values,
    shape,
    tensor: () => tensor(values, shape, { dtype: 'float64' }),
    pixel: (n, h, w) => Array.from({ length: K }, (_, k) => values[((n * K + k) * H + h) * W + w]!),
  };
}

/** Random observations in [-1, K] (-1 unlabelled, 0 background, 1 + node) as an int64 tensor. */
export function randomObservations(
  shape: [number, number, number],
  K: number,
  seed: number,
): { values: number[]; tensor(): Tensor } {
  const rng = mulberry32(seed);
  const values = Array.from({ length: shape.reduce((a, b) => a * b) }, () => Math.floor(rng() * (K + 2)) - 1);
  return { values, tensor: () => tensor(values, shape, { dtype: 'int64' }) };
}

/** Central finite differences of a scalar function of one float64 tensor against its autograd gradient. */
export function gradientError(
  f: (x: Tensor) => Tensor,
  values: number[],
  shape: number[],
  eps = 1e-6,
): number {
  const x = tensor(values, shape, { dtype: 'float64' }).requiresGrad_(true);
  f(x).backward();
  const g = x.grad!.toArray();
  let worst = 0;
  for (let i = 0; i < values.length; i++) {
    const plus = values.slice();
    const minus = values.slice();
    plus[i]! += eps;
    minus[i]! -= eps;
    const num =
      (f(tensor(plus, shape, { dtype: 'float64' })).item() -
        f(tensor(minus, shape, { dtype: 'float64' })).item()) /
      (2 * eps);
    worst = Math.max(worst, Math.abs(num - g[i]!) / Math.max(1, Math.abs(num)));
  }
  return worst;
}
