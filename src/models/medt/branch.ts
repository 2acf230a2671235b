/**
 * One MedT branch (global on the whole image, local on patches; paper Fig. 2a): a convolutional stem
 * (7x7 stride 2, 3x3, 3x3, each conv + BN + ReLU), stages of axial blocks, and a decoder of 3x3 convs,
 * each followed by a 2x bilinear upsampling, a ReLU and the skip connection of the stage above, back to
 * the branch's input resolution.
 *
 * Both branches register their layers flat on the MedT module with a suffix ('' or '_p'), so the keys
 * are the official ones (`conv1_p.weight`, `layer3_p.2.hight_block.relative`, `decoder4.bias`).
 * Decoders are numbered like the official 4-stage network: `decoder1` is the stride-2 bottleneck,
 * `decoder(6 - i)` maps stage i to stage i - 1, `decoder5` ends at the stem's resolution.
 * Upsampling goes to the skip's exact size (not a fixed factor 2), so odd sizes work; for even sizes
 * the two are the same computation.
 */
import { interpolate, nn, scope, Sequential, type Module, type Tensor } from '../../engine/index.ts';
import { conv } from '../flops.ts';
import type { AttentionKind } from './config.ts';
import { AxialBlock, EXPANSION } from './gated-axial-block.ts';

export interface BranchOptions {
  inChannels: number;
  /** [height, width] of the branch input (the image, or one patch) */
  size: readonly [number, number];
  widthFactor: number;
  stemChannels: number;
  heads: number;
  layers: readonly number[];
  attention: AttentionKind;
  bottleneck: boolean;
  /** stem output channels (default 64 s) */
  stemOut?: number | undefined;
}

type Register = <M extends Module>(name: string, m: M) => M;
const half = (s: readonly [number, number]): [number, number] => [Math.ceil(s[0] / 2), Math.ceil(s[1] / 2)];

/** Output channels of a branch (and of MedT's features): the first stage's planes, 128 s. */
export function branchChannels(widthFactor: number): number {
  return Math.floor(128 * widthFactor);
}

/** Channels of a branch's deepest stage: 2 x 128 s x 2^(n-1). */
export function deepestChannels(widthFactor: number, stages: number): number {
  return Math.floor(128 * widthFactor * 2 ** (stages - 1)) * EXPANSION;
}

export class Branch {
  readonly stem: [nn.Conv2d, nn.BatchNorm2d][];
  readonly stages: Sequential[] = [];
  readonly blocks: AxialBlock[] = [];
  readonly bottleneck: nn.Conv2d | null;
  /** decoders[i] maps stage i + 1 to stage i (0-based), the last maps stage 0 to the input size */
  readonly decoders: nn.Conv2d[] = [];
  readonly final: nn.Conv2d;

  constructor(register: Register, suffix: string, o: BranchOptions) {
    const s = o.widthFactor;
    const base = o.stemOut ?? Math.floor(64 * s);
    const n = o.layers.length;
    const r = <M extends Module>(name: string, m: M) => register(`${name}${suffix}`, m);
    const c3 = (cin: number, cout: number, stride = 1, bias = false) =>
      new nn.Conv2d(cin, cout, 3, { stride, padding: 1, bias });
    this.stem = [
      [
        r('conv1', new nn.Conv2d(o.inChannels, base, 7, { stride: 2, padding: 3, bias: false })),
        r('bn1', new nn.BatchNorm2d(base)),
      ],
      [r('conv2', c3(base, o.stemChannels)), r('bn2', new nn.BatchNorm2d(o.stemChannels))],
      [r('conv3', c3(o.stemChannels, base)), r('bn3', new nn.BatchNorm2d(base))],
    ];
    // stages: stage 1 keeps the stem's resolution, later ones halve it in their first block
    let size = half(o.size);
    let inChannels = base;
    const planes = o.layers.map((_, i) => Math.floor(128 * s * 2 ** i));

    o.layers.forEach((count, i) => {
      const blocks: AxialBlock[] = [];
      for (let b = 0; b < count; b++) {
        const stride = i > 0 && b === 0 ? 2 : 1;
        const common = { planes: planes[i]!, heads: o.heads, kind: o.attention };
        blocks.push(new AxialBlock({ ...common, inChannels, stride, size }));
        inChannels = planes[i]! * EXPANSION;
        if (stride === 2) size = half(size);
      }
      this.blocks.push(...blocks);
      this.stages.push(r(`layer${i + 1}`, new Sequential(...blocks)));
    });
    const out = planes.map((p) => p * EXPANSION);
    this.bottleneck = o.bottleneck ? r('decoder1', c3(out[n - 1]!, out[n - 1]!, 2, true)) : null;
    for (let i = n - 1; i >= 1; i--)
      this.decoders[i - 1] = r(`decoder${6 - (i + 1)}`, c3(out[i]!, out[i - 1]!, 1, true));
    this.final = r('decoder5', c3(out[0]!, planes[0]!, 1, true));
  }

  /** [N, C, H, W] -> [N, 128 s, H, W] */
  forward(x: Tensor): Tensor {
    const size = [x.size(2), x.size(3)] as const;
    let y = x;
    for (const [c, bn] of this.stem) y = scope(() => bn.forward(conv(c, y)).relu());
    const skips: Tensor[] = [];
    for (const stage of this.stages) skips.push((y = stage.forward(y)));
    const up = (c: nn.Conv2d, t: Tensor, to: readonly [number, number]) =>
      scope(() => interpolate(conv(c, t), { size: to, mode: 'bilinear' }).relu());
    const sizeOf = (t: Tensor) => [t.size(2), t.size(3)] as const;
    if (this.bottleneck) y = up(this.bottleneck, y, sizeOf(y)).add(y);
    for (let i = this.decoders.length - 1; i >= 0; i--)
      y = up(this.decoders[i]!, y, sizeOf(skips[i]!)).add(skips[i]!);
    return up(this.final, y, size);
  }
}
