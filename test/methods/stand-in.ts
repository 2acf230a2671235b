/** A tiny network with the SegmentationModel interface, and a fixed batch, for method tests. */
import { nn, randn, tensor, Module, type Tensor } from '../../src/engine/index.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import type { Batch, MethodContext } from '../../src/methods/method.ts';
import type { SegmentationModel, SegmentationOutput } from '../../src/models/model.ts';
import { buildModel } from '../../src/models/registry.ts';

export class TinyNet extends Module implements SegmentationModel {
  readonly featureChannels = 8;
  readonly conv: nn.Conv2d;
  readonly head: nn.Conv2d;
  readonly ls: nn.Conv2d | null;
  constructor(
    inChannels: number,
    readonly outChannels: number,
    levelSet: boolean,
  ) {
    super();
    this.conv = this.module('conv', new nn.Conv2d(inChannels, this.featureChannels, 3, { padding: 1 }));
    this.head = this.module('head', new nn.Conv2d(this.featureChannels, outChannels, 1));
    this.ls = levelSet ? this.module('ls', new nn.Conv2d(this.featureChannels, outChannels, 1)) : null;
  }
  forward(x: Tensor): SegmentationOutput {
    const features = this.conv.forward(x).relu();
    return {
      features,
      logits: this.head.forward(features),
      levelSet: this.ls ? this.ls.forward(features).tanh() : undefined,
    };
  }
}

export function standInContext(inChannels = 3): MethodContext {
  return {
    tree: defaultKneeTree(),
    buildModel: ({ outChannels, levelSet }) => new TinyNet(inChannels, outChannels, levelSet),
  };
}

/**
 * A context whose networks are real kneeseg networks (a one-level U-Net with f_PW), for methods that
 * need the pixel-wise head itself (generic-ssl).
 */
export function segmentationNetContext(inChannels = 3): MethodContext {
  return {
    tree: defaultKneeTree(),
    buildModel: ({ outChannels, levelSet }) =>
      buildModel({
        backbone: 'unet',
        inChannels,
        outChannels,
        levelSet,
        imageSize: [16, 16],
        unet: { baseChannels: 4, depth: 1 },
      }),
  };
}

/** Label map of vertical bands and blocks using all six leaf values. */
function labelMap(H: number, W: number, shift: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const u = (x + shift) % W;
      out.push(y < 2 || y >= H - 2 ? 0 : u < 2 ? 0 : 1 + Math.min(5, Math.floor((u - 2) / 2)));
    }
  return out;
}

/**
 * `labelled` labelled and `unlabelled` unlabelled H x W slices; the image channels encode the labels
 * (plus noise), so a 3x3 conv can learn them.
 */
export function fixedBatch(labelled: number, unlabelled: number, H = 16, W = 16): Batch {
  const N = labelled + unlabelled;
  const maps = Array.from({ length: N }, (_, i) => labelMap(H, W, i));
  const image: number[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < 3; c++)
      for (const v of maps[n]!) image.push(c === 0 ? v / 6 : c === 1 ? v % 2 : v > 2 ? 1 : 0);
  return {
    image: tensor(image, [N, 3, H, W])
      .add(randn([N, 3, H, W]).mul(0.05))
      .keep(),
    label: tensor(maps.slice(0, labelled).flat(), [labelled, H, W], { dtype: 'int64' }).keep(),
    numLabelled: labelled,
    spacing: [0.5, 0.4],
  };
}
