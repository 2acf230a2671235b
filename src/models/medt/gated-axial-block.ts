/**
 * The (gated) axial-attention block of MedT (paper Fig. 2b; official `AxialBlock_dynamic`): a
 * bottleneck residual block whose 3x3 conv is replaced by height attention followed by width
 * attention:
 *
 *   x -> 1x1 conv -> BN -> ReLU -> height attn -> width attn (pool if stride 2) -> ReLU
 *     -> 1x1 conv (2x channels) -> BN -> + shortcut(x) -> ReLU
 *
 * The shortcut is the identity, or a strided 1x1 conv + BN when resolution or channels change.
 * Parameter names follow the official code (including its spelling `hight_block`).
 */
import { Layer, Sequential, nn, scope, type Tensor } from '../../engine/index.ts';
import { conv } from '../flops.ts';
import { AxialAttention } from './axial-attention.ts';
import type { AttentionKind } from './config.ts';

export const EXPANSION = 2;

export interface AxialBlockOptions {
  inChannels: number;
  /** attention channels; the block outputs 2x this */
  planes: number;
  stride: 1 | 2;
  heads: number;
  kind: AttentionKind;
  /** [height, width] the attention sees (relative tables are sized from it) */
  size: readonly [number, number];
}

export class AxialBlock extends Layer {
  readonly conv_down: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly hight_block: AxialAttention;
  readonly width_block: AxialAttention;
  readonly conv_up: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly downsample: Sequential | null = null;
  readonly #downConv: nn.Conv2d | null = null;
  readonly #downBn: nn.BatchNorm2d | null = null;

  constructor(o: AxialBlockOptions) {
    super();
    const out = o.planes * EXPANSION;
    const attn = { channels: o.planes, heads: o.heads, kind: o.kind };
    this.conv_down = this.module('conv_down', new nn.Conv2d(o.inChannels, o.planes, 1, { bias: false }));
    this.bn1 = this.module('bn1', new nn.BatchNorm2d(o.planes));
    this.hight_block = this.module(
      'hight_block',
      new AxialAttention({ ...attn, axis: 'height', maxLength: o.size[0], stride: 1 }),
    );
    this.width_block = this.module(
      'width_block',
      new AxialAttention({ ...attn, axis: 'width', maxLength: o.size[1], stride: o.stride }),
    );
    this.conv_up = this.module('conv_up', new nn.Conv2d(o.planes, out, 1, { bias: false }));
    this.bn2 = this.module('bn2', new nn.BatchNorm2d(out));
    if (o.stride !== 1 || o.inChannels !== out) {
      this.#downConv = new nn.Conv2d(o.inChannels, out, 1, { stride: o.stride, bias: false });
      this.#downBn = new nn.BatchNorm2d(out);
      this.downsample = this.module('downsample', new Sequential(this.#downConv, this.#downBn));
    }
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.#forward(x));
  }

  #forward(x: Tensor): Tensor {
    let y = this.bn1.forward(conv(this.conv_down, x)).relu();
    y = this.width_block.forward(this.hight_block.forward(y)).relu();
    y = this.bn2.forward(conv(this.conv_up, y));
    const identity = this.#downConv && this.#downBn ? this.#downBn.forward(conv(this.#downConv, x)) : x;
    return y.add(identity).relu();
  }

  attentions(): AxialAttention[] {
    return [this.hight_block, this.width_block];
  }
}
