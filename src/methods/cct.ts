/**
 * Cross-consistency training (Ouali et al., CVPR 2020), as in SSL4MIS
 * code/train_cross_consistency_training_2D.py with `UNet_CCT` (code/networks/unet.py): auxiliary
 * decoders see perturbed backbone features (feature noise, channel dropout, feature dropout), all
 * decoders learn CE + Dice on labelled slices, and on unlabelled slices each auxiliary softmax is pulled
 * towards the main one. Here the backbone's features are at full resolution, so an auxiliary decoder
 * is a pixel-wise head like f_PW (1x1 conv -> ReLU -> 1x1 conv, METHOD.md section 3).
 */
import { z } from 'zod';
import { call, noGrad, rand, scalar, nn, Layer, type Tensor } from '../engine/index.ts';
import { decodeFlat } from '../hierarchy/decode.ts';
import { rampedWeight } from '../levelset/schedule.ts';
import type { Batch, LossTerms, Method, MethodContext, StepContext } from './method.ts';
import { ceAndDice, flatClassCount, flatClasses, splitBatch } from './common.ts';

export const cctOptionsSchema = z.strictObject({
  /** `--consistency` 0.1 */
  consistency: z.number().nonnegative().default(0.1),
  /** `--consistency_rampup` 200.0, in epochs of 150 iterations */
  consistencyRampup: z.number().nonnegative().default(200),
  /** FeatureNoise(uniform_range=0.3) */
  noiseRange: z.number().nonnegative().default(0.3),
  /** Dropout(x, p=0.5) = dropout2d */
  dropout: z.number().min(0).max(1).default(0.5),
  /** FeatureDropout: threshold = max attention * U(0.7, 0.9) */
  featureDropRange: z.tuple([z.number(), z.number()]).default([0.7, 0.9]),
});
export type CctOptions = z.input<typeof cctOptionsSchema>;
type Opts = z.output<typeof cctOptionsSchema>;

/** An auxiliary decoder: 1x1 conv -> ReLU -> 1x1 conv. */
class AuxDecoder extends Layer {
  readonly conv1: nn.Conv2d;
  readonly conv2: nn.Conv2d;
  constructor(features: number, classes: number) {
    super();
    this.conv1 = this.module('conv1', new nn.Conv2d(features, features, 1));
    this.conv2 = this.module('conv2', new nn.Conv2d(features, classes, 1));
  }
  forward(x: Tensor): Tensor {
    return this.conv2.forward(this.conv1.forward(x).relu());
  }
}

/** FeatureNoise: x + x * u, u ~ U(-r, r) per (channel, pixel), shared over the batch. */
function featureNoise(x: Tensor, r: number): Tensor {
  const [, C, H, W] = x.shape as [number, number, number, number];
  return x.add(
    x.mul(
      rand([1, C, H, W], { dtype: x.dtype })
        .mul(2 * r)
        .sub(r),
    ),
  );
}

/** FeatureDropout: drop pixels whose channel-mean activation exceeds a random fraction of its maximum. */
function featureDropout(x: Tensor, [lo, hi]: readonly [number, number]): Tensor {
  const attention = x.mean(1, true);
  const threshold = attention.max([1, 2, 3], true).mul(lo + (hi - lo) * rand([]).item());
  return x.mul(attention.lt(threshold).to(x.dtype));
}

function perturbations(o: Opts): ((x: Tensor) => Tensor)[] {
  return [
    (x) => featureNoise(x, o.noiseRange),
    (x) => call('aten::feature_dropout', x, o.dropout, true),
    (x) => featureDropout(x, o.featureDropRange),
  ];
}

export function createCct(ctx: MethodContext, options: CctOptions = {}): Method {
  const o = cctOptionsSchema.parse(options);
  const { tree } = ctx;
  const C = flatClassCount(tree);
  const model = ctx.buildModel({ outChannels: C, levelSet: false });
  const aux = [0, 1, 2].map(() => new AuxDecoder(model.featureChannels, C));
  const perturb = perturbations(o);
  const supervised = (logits: Tensor, cls: Tensor) => ceAndDice(logits, cls);
  return {
    name: 'cct',
    twoStage: false,
    modules: { model, aux1: aux[0]!, aux2: aux[1]!, aux3: aux[2]! },
    predictor: model,
    decoding: 'softmax',
    decode: (logits) => decodeFlat(logits, tree),
    step(batch: Batch, c: StepContext): LossTerms {
      const L = batch.numLabelled;
      const out = model.forward(batch.image);
      const cls = flatClasses(batch.label, tree);
      const outputs = [out.logits, ...aux.map((d, i) => d.forward(perturb[i]!(out.features)))];
      let ce: Tensor | null = null;
      let dice: Tensor | null = null;
      let sup: Tensor | null = null;
      for (const [i, logits] of outputs.entries()) {
        const t = supervised(splitBatch(logits, L).labelled, cls);
        if (i === 0) [ce, dice] = [t.ce, t.dice];
        const s = t.ce.add(t.dice);
        sup = sup ? sup.add(s) : s;
      }
      sup = sup!.div(2 * outputs.length);
      let consistency = scalar(0);
      if (batch.image.size(0) > L) {
        const main = splitBatch(out.logits, L).unlabelled.softmax(1);
        const gaps = outputs
          .slice(1)
          .map((a) => main.sub(splitBatch(a, L).unlabelled.softmax(1)).square().mean());
        consistency = gaps.reduce((a, b) => a.add(b)).div(gaps.length);
      }
      const w = rampedWeight(o.consistency, c.iteration, o.consistencyRampup);
      return { ce: ce!, dice: dice!, supervised: sup, consistency, total: sup.add(consistency.mul(w)) };
    },
    validationLoss: (batch): Tensor =>
      noGrad(() => {
        const t = supervised(
          splitBatch(model.forward(batch.image).logits, batch.numLabelled).labelled,
          flatClasses(batch.label, tree),
        );
        return t.ce.add(t.dice).mul(0.5);
      }),
  };
}
