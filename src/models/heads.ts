/**
 * The two heads on the backbone features C (METHOD.md section 3, paper Eq. 1):
 * - f_PW, pixel-wise: 1x1 conv -> ReLU -> 1x1 conv, one logit per label-tree node (sigmoid of a logit is
 *   the node's probability given its parent),
 * - f_LS, level set: 1x1 conv(s) -> tanh, one channel per node, regressing the normalized signed
 *   distance map (as DTC's level-set head, a single 1x1 conv by default).
 * Keys are those of a PyTorch nn.Sequential (`0.weight`, `2.weight`), the ReLU being index 1.
 */
import { Layer, nn, type Tensor } from '../engine/index.ts';
import { conv } from './flops.ts';

/** 1x1 conv, optionally -> ReLU -> 1x1 conv (hidden = 0 gives the single conv), optionally -> tanh. */
class ConvHead extends Layer {
  readonly first: nn.Conv2d;
  readonly second: nn.Conv2d | null;
  constructor(
    inChannels: number,
    hidden: number,
    outChannels: number,
    readonly tanh: boolean,
  ) {
    super();
    this.first = this.module('0', new nn.Conv2d(inChannels, hidden > 0 ? hidden : outChannels, 1));
    this.second = hidden > 0 ? this.module('2', new nn.Conv2d(hidden, outChannels, 1)) : null;
  }
  forward(x: Tensor): Tensor {
    const y = conv(this.first, x);
    const z = this.second ? conv(this.second, y.relu()) : y;
    return this.tanh ? z.tanh() : z;
  }
}

/** f_PW: [N, F, H, W] features -> [N, K, H, W] logits. */
export class PixelWiseHead extends ConvHead {
  constructor(inChannels: number, outChannels: number, hidden = inChannels) {
    super(inChannels, hidden, outChannels, false);
  }
}

/** f_LS: [N, F, H, W] features -> [N, K, H, W] in (-1, 1). */
export class LevelSetHead extends ConvHead {
  constructor(inChannels: number, outChannels: number, hidden = 0) {
    super(inChannels, hidden, outChannels, true);
  }
}
