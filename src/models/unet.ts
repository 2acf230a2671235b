/**
 * A 2D U-Net (Ronneberger et al., MICCAI 2015) as a backbone: a fast default on CPUs and the
 * "backbone or method?" ablation of METHOD.md section 3.
 *
 * Levels: `inc` = double conv at full resolution, `down{i}` = 2x2 max pool + double conv (channels
 * doubling up to base * 2^depth), `up{i}` = upsample (bilinear then 1x1 conv halving the channels, or a
 * 2x2 transposed conv), concatenation with the skip, double conv. A double conv is
 * (3x3 conv -> norm -> ReLU) twice; the convs have no bias when a norm follows. Any H x W: the
 * upsampled map is resized / padded to the skip's exact size. Optional dropout on the bottleneck (the
 * deepest encoder output).
 */
import { cat, interpolate, maxPool2d, nn, pad, scope, Layer, Module, type Tensor } from '../engine/index.ts';
import { z } from 'zod';
import { conv, convT } from './flops.ts';

export const UNetConfigSchema = z
  .object({
    /** channels of the first level; level i has base * 2^i */
    baseChannels: z.number().int().positive().default(16),
    /** number of downsamplings */
    depth: z.number().int().min(1).max(6).default(4),
    /** `instance` is GroupNorm with one group per channel (instance norm with affine weights) */
    norm: z.enum(['batch', 'group', 'instance']).default('batch'),
    /** groups of `group` norm (capped at the channel count) */
    groups: z.number().int().positive().default(8),
    upsample: z.enum(['bilinear', 'transposed']).default('bilinear'),
    /** dropout probability at the bottleneck (0 = none) */
    dropout: z.number().min(0).max(1).default(0),
  })
  .strict();
export type UNetConfig = z.output<typeof UNetConfigSchema>;

type Norm = nn.BatchNorm2d | nn.GroupNorm;

function makeNorm(c: UNetConfig, channels: number): Norm {
  if (c.norm === 'batch') return new nn.BatchNorm2d(channels);
  return new nn.GroupNorm(c.norm === 'instance' ? channels : Math.min(c.groups, channels), channels);
}

class DoubleConv extends Layer {
  readonly conv1: nn.Conv2d;
  readonly norm1: Norm;
  readonly conv2: nn.Conv2d;
  readonly norm2: Norm;
  constructor(cin: number, cout: number, c: UNetConfig) {
    super();
    this.conv1 = this.module('conv1', new nn.Conv2d(cin, cout, 3, { padding: 1, bias: false }));
    this.norm1 = this.module('norm1', makeNorm(c, cout));
    this.conv2 = this.module('conv2', new nn.Conv2d(cout, cout, 3, { padding: 1, bias: false }));
    this.norm2 = this.module('norm2', makeNorm(c, cout));
  }
  forward(x: Tensor): Tensor {
    // a scope per block frees the intermediates autograd does not keep as soon as the block returns
    return scope(() =>
      this.norm2.forward(conv(this.conv2, this.norm1.forward(conv(this.conv1, x)).relu())).relu(),
    );
  }
}

class Down extends Layer {
  readonly conv: DoubleConv;
  constructor(cin: number, cout: number, c: UNetConfig) {
    super();
    this.conv = this.module('conv', new DoubleConv(cin, cout, c));
  }
  forward(x: Tensor): Tensor {
    // floor-mode pooling drops an odd last row; the decoder resizes or pads back to the skip
    return scope(() => this.conv.forward(maxPool2d(x, 2)));
  }
}

/** Upsample x2 to the skip's size, halve the channels, concatenate [skip, up], double conv. */
class Up extends Module {
  readonly reduce: nn.Conv2d | null = null;
  readonly up: nn.ConvTranspose2d | null = null;
  readonly conv: DoubleConv;
  constructor(cin: number, cout: number, c: UNetConfig) {
    super();
    if (c.upsample === 'bilinear') this.reduce = this.module('reduce', new nn.Conv2d(cin, cout, 1));
    else this.up = this.module('up', new nn.ConvTranspose2d(cin, cout, 2, { stride: 2 }));
    this.conv = this.module('conv', new DoubleConv(2 * cout, cout, c));
  }
  forward(x: Tensor, skip: Tensor): Tensor {
    return scope(() => this.#forward(x, skip));
  }
  #forward(x: Tensor, skip: Tensor): Tensor {
    const [h, w] = [skip.size(2), skip.size(3)];
    let y: Tensor;
    if (this.reduce) {
      y = conv(this.reduce, interpolate(x, { size: [h, w], mode: 'bilinear' }));
    } else {
      y = convT(this.up!, x);
      // an odd skip size leaves one row / column to pad (at the bottom / right)
      if (y.size(2) !== h || y.size(3) !== w) y = pad(y, [0, w - y.size(3), 0, h - y.size(2)]);
    }
    return this.conv.forward(cat([skip, y], 1));
  }
}

export class UNet extends Layer {
  readonly outChannels: number;
  readonly inc: DoubleConv;
  readonly downs: Down[] = [];
  readonly ups: Up[] = [];
  readonly dropout: nn.Dropout;

  constructor(
    readonly inChannels: number,
    readonly config: UNetConfig,
  ) {
    super();
    const b = config.baseChannels;
    this.outChannels = b;
    this.inc = this.module('inc', new DoubleConv(inChannels, b, config));
    for (let i = 1; i <= config.depth; i++)
      this.downs.push(this.module(`down${i}`, new Down(b * 2 ** (i - 1), b * 2 ** i, config)));
    for (let i = config.depth; i >= 1; i--)
      this.ups.push(this.module(`up${config.depth - i + 1}`, new Up(b * 2 ** i, b * 2 ** (i - 1), config)));
    this.dropout = this.module('dropout', new nn.Dropout(config.dropout));
  }

  /** [N, inChannels, H, W] -> features [N, baseChannels, H, W] */
  forward(x: Tensor): Tensor {
    const skips = [this.inc.forward(x)];
    for (const d of this.downs) skips.push(d.forward(skips[skips.length - 1]!));
    let y = this.dropout.forward(skips.pop()!);
    for (const u of this.ups) y = u.forward(y, skips.pop()!);
    return y;
  }
}
