/**
 * MedT, the Medical Transformer (Valanarasu, Oza, Hacihaliloglu, Patel, MICCAI 2021), as a backbone:
 * the local-global (LoGo) scheme of paper Section 3.3. The global branch runs on the whole slice,
 * the local branch on a grid of patches; their decoded features are added and passed through one more
 * 3x3 conv + ReLU, giving C = [N, 128 s, H, W] (the official network then applies its 1x1 `adjust`;
 * here the heads of heads.ts do).
 *
 * Differences from the official code, all deliberate:
 * - any H x W (the official code takes only a square of exactly `img_size`): relative tables are sized
 *   from the configured size, upsampling goes to the skip's size, odd sizes pool in ceil mode, and an
 *   image that is not a multiple of the patch is zero-padded for the local branch and cropped back;
 * - the local branch runs every patch of every slice as one batch (patches folded into the batch
 *   dimension) instead of one patch at a time. In eval mode the output is identical; in training,
 *   batch norm in the local branch takes its statistics over all patches at once rather than per patch;
 * - the official file also creates layers it never uses (a 1x1 `conv1` in each local block, `adjust_p`);
 *   they are left out (35,570 parameters at the default width).
 *
 * Parameter count (test/models/medt.test.ts pins it): at 128 x 128 with 3 input channels the backbone
 * has 1,524,536 parameters = the official 1,560,140 minus the unused layers and its 34-parameter
 * `adjust`; the relative tables make it grow slightly with the image size (1,528,888 at 288 x 240).
 * The paper under reproduction reports 1.73 M for MedT; no configuration of the official code gives
 * that number, so the official code's structure is what the defaults follow.
 */
import { Layer, pad, scope, type Module, type Tensor, nn } from '../../engine/index.ts';
import { ConfigError } from '../../errors.ts';
import { conv } from '../flops.ts';
import type { AxialAttention } from './axial-attention.ts';
import { Branch, branchChannels, deepestChannels } from './branch.ts';
import type { MedTConfig } from './config.ts';

/** The local branch halves its input once per stage (the stem, then every stage after the first). */
function minPatch(layers: number): number {
  return 2 ** layers;
}

export class MedT extends Layer {
  readonly global: Branch;
  readonly local: Branch;
  readonly decoderf: nn.Conv2d;
  readonly outChannels: number;
  readonly patchSize: readonly [number, number];

  constructor(
    readonly inChannels: number,
    readonly imageSize: readonly [number, number],
    readonly config: MedTConfig,
  ) {
    super();
    const c = config;
    this.patchSize = c.patchSize ?? [Math.ceil(imageSize[0] / 4), Math.ceil(imageSize[1] / 4)];
    const need = minPatch(c.local.layers.length);
    if (this.patchSize[0] < need || this.patchSize[1] < need)
      throw new ConfigError(
        'medt.patchSize',
        `patches of ${this.patchSize.join('x')} are smaller than the local branch's downsampling (${c.local.layers.length} halvings); ` +
          `use patches of at least ${need}x${need} (set medt.patchSize) or fewer local layers`,
      );
    const common = { inChannels, widthFactor: c.widthFactor, stemChannels: c.stemChannels, heads: c.heads };
    const register = <M extends Module>(name: string, m: M): M => this.module(name, m);
    this.global = new Branch(register, '', { ...common, ...c.global, size: imageSize });
    const localStem = c.local.stemOut ?? deepestChannels(c.widthFactor, c.global.layers.length);
    this.local = new Branch(register, '_p', {
      ...common,
      ...c.local,
      stemOut: localStem,
      size: this.patchSize,
    });
    this.outChannels = branchChannels(c.widthFactor);
    this.decoderf = this.module(
      'decoderf',
      new nn.Conv2d(this.outChannels, this.outChannels, 3, { padding: 1, bias: true }),
    );
    if (c.gatesFrozen) this.setGatesTrainable(false);
  }

  /** [N, inChannels, H, W] -> features [N, 128 s, H, W] */
  forward(x: Tensor): Tensor {
    const g = this.global.forward(x);
    const l = scope(() => this.#localBranch(x));
    return conv(this.decoderf, g.add(l)).relu();
  }

  /** Cuts the slice into patches, runs them as one batch, and stitches the outputs back. */
  #localBranch(x: Tensor): Tensor {
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const [ph, pw] = this.patchSize;
    const gh = Math.ceil(H / ph);
    const gw = Math.ceil(W / pw);
    const padded = gh * ph !== H || gw * pw !== W ? pad(x, [0, gw * pw - W, 0, gh * ph - H]) : x;
    const patches = padded
      .view(N, C, gh, ph, gw, pw)
      .permute(0, 2, 4, 1, 3, 5)
      .reshape(N * gh * gw, C, ph, pw);
    const y = this.local.forward(patches);
    const F = y.size(1);
    const stitched = y
      .view(N, gh, gw, F, ph, pw)
      .permute(0, 3, 1, 4, 2, 5)
      .reshape(N, F, gh * ph, gw * pw);
    return gh * ph !== H || gw * pw !== W ? stitched.narrow(2, 0, H).narrow(3, 0, W) : stitched;
  }

  attentions(): AxialAttention[] {
    return [...this.global.blocks, ...this.local.blocks].flatMap((b) => b.attentions());
  }

  /** The gate parameters (G_Q, G_K, G_V1, G_V2 of every gated attention). */
  gateParameters(): Tensor[] {
    return this.attentions().flatMap((a) => (a.gates ? Object.values(a.gates) : []));
  }

  /**
   * Freezes or unfreezes the gates. The official training freezes them for the first 10 epochs, so
   * the network first learns with the positional terms damped by their initial 0.1.
   */
  setGatesTrainable(flag: boolean): void {
    for (const a of this.attentions()) a.setGatesTrainable(flag);
  }
}
