/**
 * Finite-difference gradient check in float64, like torch.autograd.gradcheck: the gradient autograd
 * computes for each input is compared with central differences (f(x + h) - f(x - h)) / 2h of the
 * same function. A non-scalar output is reduced to a scalar with fixed random weights, so every
 * output element contributes with a different factor (a plain sum would hide errors that cancel,
 * e.g. in softmax, whose outputs always sum to one).
 */
import assert from 'node:assert/strict';
import { noGrad, scope, tensor, Tensor } from '../../src/engine/index.ts';
import { mulberry32, shuffle, uniform } from '../../src/data/random.ts';

/** One differentiable input: float64 values in row-major order and the shape. */
export interface Input {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** Random input with values uniform in [lo, hi), reproducible from `seed`. */
export function rnd(shape: readonly number[], seed: number, lo = -1, hi = 1): Input {
  const rng = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float64Array.from({ length: n }, () => uniform(rng, lo, hi)) };
}

/** Random input whose values keep at least `gap` from each other (no ties for max, sort, pooling). */
export function distinct(shape: readonly number[], seed: number, gap = 0.01): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  const rng = mulberry32(seed);
  const order = shuffle(
    Array.from({ length: n }, (_, i) => i),
    rng,
  );
  const data = new Float64Array(n);
  order.forEach((slot, rank) => (data[slot] = (rank - n / 2 + 0.5) * gap * 2)); // never 0
  return { shape, data };
}

export interface GradcheckOptions {
  /** finite-difference step */
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
}

export interface GradcheckReport {
  /** largest |analytic - numeric| over all input elements */
  maxAbsError: number;
  /** largest |numeric| seen (to show the check was not vacuous) */
  maxGrad: number;
}

const f64 = (x: Input): Tensor => tensor(x.data, x.shape, { dtype: 'float64' });

/**
 * Asserts that autograd's gradient of `fn` matches central differences for every element of every
 * input. `fn` receives the inputs as float64 tensors in the order given; anything else it needs
 * (indices, masks) it captures. Returns the errors so callers can assert more.
 */
export function gradcheck(
  name: string,
  fn: (...xs: Tensor[]) => Tensor,
  inputs: readonly Input[],
  opts: GradcheckOptions = {},
): GradcheckReport {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-7;
  const rtol = opts.rtol ?? 1e-6;
  return scope(() => {
    // fixed random weights for the output, shaped like it
    const probe = noGrad(() => fn(...inputs.map(f64)));
    assert.equal(probe.dtype, 'float64', `${name}: output is ${probe.dtype}, expected float64`);
    const rng = mulberry32(opts.seed ?? 7);
    const w = tensor(
      Float64Array.from({ length: probe.numel }, () => uniform(rng, 0.5, 1.5) * (rng() < 0.5 ? -1 : 1)),
      probe.shape,
      { dtype: 'float64' },
    );
    const objective = (xs: Tensor[]): Tensor =>
      fn(...xs)
        .mul(w)
        .sum();

    // analytic
    const leaves = inputs.map((x) => f64(x).requiresGrad_());
    objective(leaves).backward();
    const analytic = leaves.map((l, i) => {
      const g = l.grad;
      assert.ok(g !== null, `${name}: input ${i} received no gradient`);
      return g.data() as Float64Array;
    });

    // numeric, one element at a time
    const value = (xs: Input[]): number => scope(() => noGrad(() => objective(xs.map(f64)).item()));
    let maxAbsError = 0;
    let maxGrad = 0;
    inputs.forEach((x, i) => {
      for (let k = 0; k < x.data.length; k++) {
        const plus = Float64Array.from(x.data);
        const minus = Float64Array.from(x.data);
        plus[k]! += eps;
        minus[k]! -= eps;
        const with_ = (d: Float64Array): Input[] =>
          inputs.map((y, j) => (j === i ? { shape: y.shape, data: d } : y));
        const numeric = (value(with_(plus)) - value(with_(minus))) / (2 * eps);
        const a = analytic[i]![k]!;
        const err = Math.abs(a - numeric);
        maxAbsError = Math.max(maxAbsError, err);
        maxGrad = Math.max(maxGrad, Math.abs(numeric));
        if (err > atol + rtol * Math.abs(numeric))
          assert.fail(
            `${name}: d/d input${i}[${k}] autograd ${a} vs finite difference ${numeric} (error ${err})`,
          );
      }
    });
    assert.ok(maxGrad > 1e-3, `${name}: every gradient is ~0, the check says nothing`);
    return { maxAbsError, maxGrad };
  });
}
