/**
 * DTC baseline (Luo et al., "Semi-supervised medical image segmentation through dual-task
 * consistency", AAAI 2021; HiLab-git/DTC code/train_la_dtc.py), multi-class: flat softmax classes and
 * one normalized SDF per class (background included) regressed by the tanh level-set head.
 *
 *   supervised  = Dice(softmax, labels) + 0.3 * MSE(f_LS, SDF)          (labelled slices)
 *   consistency = mean over all slices of (sigmoid(-1500 f_LS) - softmax)^2
 *   total       = supervised + 1.0 * sigmoid_rampup(iter // 150, 40) * consistency
 * The official code also computes a cross-entropy it does not add (`loss_seg`); `ceWeight` can add it.
 */
import { z } from 'zod';
import { noGrad, type Tensor } from '../engine/index.ts';
import { decodeFlat } from '../hierarchy/decode.ts';
import { consistencyLoss, levelSetLoss } from '../levelset/losses.ts';
import { rampedWeight } from '../levelset/schedule.ts';
import { sdfFromMasks } from '../levelset/sdf-targets.ts';
import { flatLevelSetTargets } from '../levelset/target-spec.ts';
import type { Batch, LossTerms, Method, MethodContext, StepContext } from './method.ts';
import { ceAndDice, flatClassCount, flatClasses, oneHotClasses, splitBatch } from './common.ts';

export const dtcOptionsSchema = z.strictObject({
  /** `--beta` 0.3: weight of the SDF loss */
  beta: z.number().nonnegative().default(0.3),
  /** `--consistency` 1.0: final weight of the dual-task consistency */
  consistency: z.number().nonnegative().default(1),
  /** `--consistency_rampup` 40.0, in epochs of 150 iterations (`iter_num // 150`) */
  consistencyRampup: z.number().nonnegative().default(40),
  /** `torch.sigmoid(-1500 * outputs_tanh)` */
  transformK: z.number().positive().default(1500),
  /** `loss_seg` is computed but not used in `supervised_loss`: 0 */
  ceWeight: z.number().nonnegative().default(0),
});
export type DtcOptions = z.input<typeof dtcOptionsSchema>;

export function createDtc(ctx: MethodContext, options: DtcOptions = {}): Method {
  const o = dtcOptionsSchema.parse(options);
  const { tree } = ctx;
  const C = flatClassCount(tree);
  const model = ctx.buildModel({ outChannels: C, levelSet: true });
  return {
    name: 'dtc',
    twoStage: false,
    // one SDF per flat class, background included, computed with the batch (batch worker)
    levelSetTargets: flatLevelSetTargets(tree),
    modules: { model },
    predictor: model,
    decoding: 'softmax',
    decode: (logits) => decodeFlat(logits, tree),
    step(batch: Batch, c: StepContext): LossTerms {
      const out = model.forward(batch.image);
      if (!out.levelSet) throw new Error('dtc: the model has no level-set head');
      const L = batch.numLabelled;
      const cls = flatClasses(batch.label, tree);
      const { ce, dice } = ceAndDice(splitBatch(out.logits, L).labelled, cls);
      const sdf = batch.sdf ?? noGrad(() => sdfFromMasks(oneHotClasses(cls, C), batch.spacing));
      const ls = levelSetLoss(splitBatch(out.levelSet, L).labelled, sdf);
      // a mean over the channels too: `torch.mean((dis_to_mask - outputs_soft) ** 2)` (SSL4MIS, multi-class)
      const consistency = consistencyLoss(out.logits.softmax(1), out.levelSet, o.transformK);
      const w = rampedWeight(o.consistency, c.iteration, o.consistencyRampup);
      const total = dice.add(ls.mul(o.beta)).add(consistency.mul(w)).add(ce.mul(o.ceWeight));
      return { dice, ce, ls, consistency, total };
    },
    validationLoss: (batch): Tensor =>
      noGrad(
        () =>
          ceAndDice(
            splitBatch(model.forward(batch.image).logits, batch.numLabelled).labelled,
            flatClasses(batch.label, tree),
          ).dice,
      ),
  };
}
