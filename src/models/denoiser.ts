/**
 * The diffusion-conditioning parts of GenericSSL's denoising path (Wang & Li, "Towards generic
 * semi-supervised framework for volumetric medical image segmentation", NeurIPS 2023; official 2-D code
 * xmed-lab/GenericSSL code/DiffVNet/diff_vnet_2d.py), sized for kneeseg's backbones:
 * - the sinusoidal timestep embedding and its two-layer MLP (`get_timestep_embedding`, l.9-27, and
 *   `TimeStepEmbedding`, l.235-267: 128 -> 512 -> 512 with swish between),
 * - a stem that lets the backbone see the noisy label map: the image plus a 3x3 conv of
 *   [image, x_t] plus the projected time embedding (the official `embedding_diffusion`, l.487, is a
 *   3x3 conv of [image, x_t] into the encoder; ours keeps the backbone's input the image's channels so
 *   the same backbone serves the plain segmentation path unchanged),
 * - the denoising decoder D_xi as a pixel-wise head (1x1 conv -> ReLU -> + time projection -> 1x1 conv),
 *   the same shape as f_PW so it can be averaged into D_theta (train_diffusion_2d.py l.235-240).
 * `TembFusion` (l.222-231) adds `temb_proj(swish(temb))` per channel; the 2-D file indexes it with
 * `[:, :, None, None, None]` (a leftover of the 3-D file that does not broadcast on 4-D maps); here it is
 * `[:, :, None, None]`.
 */
import { arange, cat, pad, tensor, Module, nn, type Tensor } from '../engine/index.ts';

/** x * sigmoid(x) (`nonlinearity`, diff_vnet_2d.py l.30-31) */
export function swish(x: Tensor): Tensor {
  return x.mul(x.sigmoid());
}

/**
 * Sinusoidal embedding of integer timesteps (DDPM; diff_vnet_2d.py l.9-27):
 * [sin(t f_k), cos(t f_k)], f_k = exp(-k log(10000) / (dim / 2 - 1)), k < dim / 2.
 *
 * @returns [N, dim] float32
 */
export function timestepEmbedding(t: readonly number[], dim: number): Tensor {
  const half = Math.floor(dim / 2);
  const freqs = arange(0, half, 1, { dtype: 'float32' })
    .mul(-Math.log(10000) / (half - 1))
    .exp();
  const args = tensor([...t], [t.length, 1], { dtype: 'float32' }).mul(freqs.unsqueeze(0));
  const emb = cat([args.sin(), args.cos()], 1);
  return dim % 2 === 1 ? pad(emb, [0, 1, 0, 0]) : emb;
}

/** `TimeStepEmbedding.temb`: embedding (128) -> Linear -> swish -> Linear (512). */
export class TimeEmbedding extends Module {
  readonly dense0: nn.Linear;
  readonly dense1: nn.Linear;
  constructor(
    readonly embedDim: number,
    readonly hidden: number,
  ) {
    super();
    this.dense0 = this.module('dense0', new nn.Linear(embedDim, hidden));
    this.dense1 = this.module('dense1', new nn.Linear(hidden, hidden));
  }
  /** timesteps -> [N, hidden] */
  forward(t: readonly number[]): Tensor {
    return this.dense1.forward(swish(this.dense0.forward(timestepEmbedding(t, this.embedDim))));
  }
}

/** `TembFusion`: x + Linear(swish(temb)) broadcast over the pixels of each channel. */
export class TembFusion extends Module {
  readonly temb_proj: nn.Linear;
  constructor(hidden: number, channels: number) {
    super();
    this.temb_proj = this.module('temb_proj', new nn.Linear(hidden, channels));
  }
  /** x [N, C, H, W], temb [N, hidden] */
  forward(x: Tensor, temb: Tensor): Tensor {
    return x.add(this.temb_proj.forward(swish(temb)).unsqueeze(2).unsqueeze(3));
  }
}

/** The denoising path's input: image + conv3x3([image, x_t]) + time projection, image-shaped. */
export class DiffusionStem extends Module {
  readonly conv: nn.Conv2d;
  readonly fusion: TembFusion;
  constructor(inChannels: number, classes: number, hidden: number) {
    super();
    this.conv = this.module('conv', new nn.Conv2d(inChannels + classes, inChannels, 3, { padding: 1 }));
    this.fusion = this.module('fusion', new TembFusion(hidden, inChannels));
  }
  /** image [N, Cin, H, W], x_t [N, K, H, W], temb [N, hidden] -> [N, Cin, H, W] */
  forward(image: Tensor, xt: Tensor, temb: Tensor): Tensor {
    return this.fusion.forward(image.add(this.conv.forward(cat([image, xt], 1))), temb);
  }
}

/**
 * D_xi: 1x1 conv -> ReLU -> + time projection -> 1x1 conv. Keys `0.*` and `2.*` are those of f_PW
 * (heads.ts), so D_theta averages them; `fusion.*` has no counterpart there (the official EMA skips the
 * `temb_fusion` keys the same way).
 */
export class DenoisingHead extends Module {
  readonly first: nn.Conv2d;
  readonly fusion: TembFusion;
  readonly second: nn.Conv2d;
  constructor(features: number, hidden: number, classes: number, tembHidden: number) {
    super();
    this.first = this.module('0', new nn.Conv2d(features, hidden, 1));
    this.fusion = this.module('fusion', new TembFusion(tembHidden, hidden));
    this.second = this.module('2', new nn.Conv2d(hidden, classes, 1));
  }
  /** features [N, F, H, W], temb [N, tembHidden] -> the predicted x_0 logits [N, K, H, W] */
  forward(features: Tensor, temb: Tensor): Tensor {
    return this.second.forward(this.fusion.forward(this.first.forward(features).relu(), temb));
  }
}
