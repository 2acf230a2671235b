/**
 * CLD (Lin et al., "Calibrating label distribution for class-imbalanced barely-supervised knee
 * segmentation", MICCAI 2022; xmed-lab/CLD-Semi code/train_cld.py): two networks trained with cross
 * pseudo supervision (each learns the other's argmax), class-distribution-aware weights
 * w_c = (max_k f_k / f_c)^(1/3) from the labelled class frequencies f on the supervised and CPS losses,
 * and per-class confidence banks that resample the pseudo-labelled pixels: a pixel predicted as class
 * c is kept with probability ((1 - conf_c) / max(1 - conf))^0.5, so well-learned classes are used less.
 *
 *   supervised = wCE(A) + wDice(A) + wCE(B) + wDice(B)                    (labelled slices)
 *   cps        = mean(wCE(A, argmax B) * mask_A) + mean(wCE(B, argmax A) * mask_B)   (all slices)
 *   total      = supervised + 0.1 * sigmoid_rampup(t, t_max) * cps
 *
 * The class frequencies come from `classWeights` when given; otherwise they are counted over the
 * labelled slices seen so far (the official code counts the labelled set before training).
 */
import { z } from 'zod';
import { crossEntropy, noGrad, rand, tensor, zeros, Module, type Tensor } from '../engine/index.ts';
import { decodeFlat } from '../hierarchy/decode.ts';
import { sigmoidRampup } from '../levelset/schedule.ts';
import type { SegmentationModel } from '../models/model.ts';
import type { Batch, LossTerms, Method, MethodContext, StepContext } from './method.ts';
import { flatClassCount, flatClasses, oneHotClasses, splitBatch } from './common.ts';

export const cldOptionsSchema = z.strictObject({
  /** `--cps_w` 0.1 */
  cpsWeight: z.number().nonnegative().default(0.1),
  /** ConfidenceBank(momentum=0.999) */
  confidenceMomentum: z.number().min(0).max(1).default(0.999),
  /** `--confs_iter` 2: the bank updates every 2 iterations */
  confidenceEvery: z.number().int().positive().default(2),
  /** cal_sampling_rate(gamma=0.5) */
  samplingGamma: z.number().positive().default(0.5),
  /** KneeMRI.weight: (max f / f)^(1/3) */
  weightPower: z
    .number()
    .nonnegative()
    .default(1 / 3),
  /** fixed class weights (background first); default: from class frequencies */
  classWeights: z.array(z.number().positive()).optional(),
});
export type CldOptions = z.input<typeof cldOptionsSchema>;

/** Labelled-pixel counts per class, saved with the run. */
class ClassCounts extends Module {
  readonly counts: Tensor;
  constructor(classes: number) {
    super();
    this.counts = this.buffer('counts', zeros([classes], { dtype: 'float64' }));
  }
  record(onehot: Tensor): void {
    noGrad(() => this.counts.add_(onehot.sum([0, 2, 3]).double()));
  }
  /** (max f / f)^power, classes never seen counted once */
  weights(power: number): Tensor {
    return noGrad(() => {
      const f = this.counts.clamp(1, null);
      return f.max().div(f).pow(power).float();
    });
  }
}

/** ConfidenceBank of train_cld.py: mean softmax score of each class on its labelled pixels, EMA'd. */
class ConfidenceBank extends Module {
  readonly confs: Tensor;
  readonly sum: Tensor;
  readonly count: Tensor;
  readonly steps: Tensor;
  constructor(
    classes: number,
    init: Tensor | null,
    readonly momentum: number,
    readonly every: number,
  ) {
    super();
    this.confs = this.buffer('confs', init ? init.clone() : rand([classes]));
    this.sum = this.buffer('sum', zeros([classes]));
    this.count = this.buffer('count', zeros([classes]));
    this.steps = this.buffer('steps', zeros([], { dtype: 'int64' }));
  }
  record(logits: Tensor, onehot: Tensor): void {
    noGrad(() => {
      this.sum.add_(logits.softmax(1).mul(onehot).sum([0, 2, 3]));
      this.count.add_(onehot.sum([0, 2, 3]));
      this.steps.add_(1);
      const steps = this.steps.item();
      if (steps % this.every !== 0) return;
      const fresh = this.sum.div(this.count.add(1e-12));
      if (steps <= this.every) this.confs.copy_(fresh);
      else this.confs.mul_(this.momentum).add_(fresh, 1 - this.momentum);
      this.sum.zero_();
      this.count.zero_();
    });
  }
}

/** Pixels kept for CPS: predicted class c survives with probability rate_c. */
function samplingMask(logits: Tensor, confs: Tensor, gamma: number): Tensor {
  return noGrad(() => {
    const miss = confs.rsub(1);
    const rate = miss.div(miss.max().add(1e-12)).pow(gamma);
    const pred = logits.argmax(1);
    const threshold = rate
      .rsub(1)
      .indexSelect(0, pred.flatten())
      .reshape(...pred.shape);
    return rand(pred.shape).gt(threshold).to(logits.dtype);
  });
}

/** CLD's SoftDiceLoss(weight, batch_dice, do_bg=False, smooth=1): -mean over foreground of w_c dc_c. */
function weightedDice(probs: Tensor, onehot: Tensor, weight: Tensor): Tensor {
  const dims = [0, 2, 3];
  const tp = probs.mul(onehot).sum(dims);
  const fp = probs.mul(onehot.rsub(1)).sum(dims);
  const fn = probs.rsub(1).mul(onehot).sum(dims);
  const dc = tp
    .mul(2)
    .add(1)
    .div(
      tp
        .mul(2)
        .add(fp)
        .add(fn)
        .add(1 + 1e-8),
    );
  const C = probs.size(1);
  return dc
    .narrow(0, 1, C - 1)
    .mul(weight.narrow(0, 1, C - 1))
    .mean()
    .neg();
}

export function createCld(ctx: MethodContext, options: CldOptions = {}): Method {
  const o = cldOptionsSchema.parse(options);
  const { tree } = ctx;
  const C = flatClassCount(tree);
  if (o.classWeights && o.classWeights.length !== C)
    throw new RangeError(`cld: classWeights needs ${C} values (background first)`);
  const a: SegmentationModel = ctx.buildModel({ outChannels: C, levelSet: false });
  const b: SegmentationModel = ctx.buildModel({ outChannels: C, levelSet: false });
  const counts = new ClassCounts(C);
  const bankA = new ConfidenceBank(C, null, o.confidenceMomentum, o.confidenceEvery);
  const bankB = new ConfidenceBank(C, bankA.confs, o.confidenceMomentum, o.confidenceEvery);
  const classWeights = (): Tensor =>
    o.classWeights ? tensor(o.classWeights, [C], { dtype: 'float32' }) : counts.weights(o.weightPower);
  const supervisedOf = (logits: Tensor, cls: Tensor, onehot: Tensor, w: Tensor) =>
    crossEntropy(logits, cls, { weight: w }).add(weightedDice(logits.softmax(1), onehot, w));

  return {
    name: 'cld',
    twoStage: false,
    modules: { model: a, modelB: b },
    frozen: { classCounts: counts, confidenceA: bankA, confidenceB: bankB },
    predictor: a,
    decoding: 'softmax',
    decode: (logits) => decodeFlat(logits, tree),
    step(batch: Batch, c: StepContext): LossTerms {
      const L = batch.numLabelled;
      const outA = a.forward(batch.image).logits;
      const outB = b.forward(batch.image).logits;
      const cls = flatClasses(batch.label, tree);
      const onehot = oneHotClasses(cls, C, outA.dtype);
      if (!o.classWeights) counts.record(onehot);
      const w = classWeights();
      const aL = splitBatch(outA, L).labelled;
      const bL = splitBatch(outB, L).labelled;
      bankA.record(aL, onehot);
      bankB.record(bL, onehot);
      const supervised = supervisedOf(aL, cls, onehot, w).add(supervisedOf(bL, cls, onehot, w));
      const maskA = samplingMask(outA, bankA.confs, o.samplingGamma);
      const maskB = samplingMask(outB, bankB.confs, o.samplingGamma);
      const pseudoA = noGrad(() => outA.argmax(1));
      const pseudoB = noGrad(() => outB.argmax(1));
      const cps = crossEntropy(outA, pseudoB, { weight: w, reduction: 'none' })
        .mul(maskA)
        .mean()
        .add(crossEntropy(outB, pseudoA, { weight: w, reduction: 'none' }).mul(maskB).mean());
      const weight = o.cpsWeight * sigmoidRampup(c.iteration, c.maxIterations);
      return { supervised, cps, total: supervised.add(cps.mul(weight)) };
    },
    validationLoss: (batch): Tensor =>
      noGrad(() => {
        const cls = flatClasses(batch.label, tree);
        const logits = splitBatch(a.forward(batch.image).logits, batch.numLabelled).labelled;
        return supervisedOf(logits, cls, oneHotClasses(cls, C, logits.dtype), classWeights());
      }),
  };
}
