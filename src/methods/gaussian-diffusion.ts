/**
 * The Gaussian diffusion GenericSSL uses (xmed-lab/GenericSSL code/DiffVNet/diff_vnet_2d.py l.512-526,
 * over guided_diffusion's gaussian_diffusion.py and respace.py): a linear beta schedule over T steps,
 * the forward process q(x_t | x_0) for training, and deterministic DDIM sampling (eta = 0) over a
 * spaced subset of the steps, with the network predicting x_0 (`ModelMeanType.START_X`) clipped to
 * [-1, 1] (`clip_denoised=True`). Coefficients are computed in float64, as numpy does there.
 */
import { noGrad, scope, tensor, type Tensor } from '../engine/index.ts';

/**
 * `get_named_beta_schedule("linear", T, use_scale=True)` (gaussian_diffusion.py l.18-36):
 * linspace(s * start, s * end, T), s = 1000 / T.
 */
export function linearBetas(T: number, start = 1e-4, end = 0.02): Float64Array {
  const s = 1000 / T;
  const [a, b] = [s * start, s * end];
  return Float64Array.from({ length: T }, (_, i) =>
    T === 1 ? a : i === T - 1 ? b : a + ((b - a) * i) / (T - 1),
  );
}

/** prod_{s <= t} (1 - beta_s) */
export function alphasCumprod(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let p = 1;
  betas.forEach((b, i) => (out[i] = p *= 1 - b));
  return out;
}

/** Python's round(): halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `space_timesteps(T, [count])` (respace.py): `count` steps evenly strided over [0, T - 1], ascending.
 */
export function spacedTimesteps(T: number, count: number): number[] {
  if (count > T) throw new RangeError(`cannot take ${count} sampling steps out of ${T}`);
  const stride = count <= 1 ? 1 : (T - 1) / (count - 1);
  const steps = new Set<number>();
  let cur = 0;
  for (let k = 0; k < count; k++) {
    steps.add(roundHalfEven(cur));
    cur += stride;
  }
  return [...steps].sort((a, b) => a - b);
}

/** Per-sample coefficients as [N, 1, 1, 1] float32. */
function perSample(values: readonly number[]): Tensor {
  return tensor([...values], [values.length, 1, 1, 1], { dtype: 'float32' });
}

/**
 * q(x_t | x_0) = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise (`q_sample`), t per sample.
 *
 * @param x0     [N, K, H, W]
 * @param t      N timesteps in [0, T)
 * @param noise  [N, K, H, W] standard normal
 */
export function qSample(x0: Tensor, t: readonly number[], noise: Tensor, abar: Float64Array): Tensor {
  return x0
    .mul(perSample(t.map((i) => Math.sqrt(abar[i]!))))
    .add(noise.mul(perSample(t.map((i) => Math.sqrt(1 - abar[i]!)))));
}

/**
 * `ddim_sample_loop(...)["pred_xstart"]` with eta = 0 over the spaced steps (SpacedDiffusion: the
 * spaced process has abar at the kept steps; the model is called with the original timestep). Each
 * step: x0 = clamp(model(x, t), -1, 1), eps = (x / sqrt(abar) - x0) / sqrt(1 / abar - 1),
 * x <- sqrt(abar_prev) x0 + sqrt(1 - abar_prev) eps. Returns the last x0. No gradient.
 *
 * @param denoise  (x_t, timestep) -> predicted x_0 [N, K, H, W]
 * @param noise    the starting x_T [N, K, H, W]
 * @param steps    the kept timesteps, ascending (spacedTimesteps)
 */
export function ddimSample(
  denoise: (xt: Tensor, t: number) => Tensor,
  noise: Tensor,
  abar: Float64Array,
  steps: readonly number[],
): Tensor {
  return noGrad(() => {
    let x = noise;
    let x0: Tensor | null = null;
    for (let k = steps.length - 1; k >= 0; k--) {
      const t = steps[k]!;
      const a = abar[t]!;
      const prev = k > 0 ? abar[steps[k - 1]!]! : 1;
      const xIn = x;
      [x, x0] = scope(() => {
        const pred = denoise(xIn, t).clamp(-1, 1);
        const eps = xIn
          .mul(Math.sqrt(1 / a))
          .sub(pred)
          .div(Math.sqrt(1 / a - 1));
        return [pred.mul(Math.sqrt(prev)).add(eps.mul(Math.sqrt(1 - prev))), pred] as const;
      });
    }
    return x0!;
  });
}
