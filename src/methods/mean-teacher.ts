/**
 * Mean teacher (Tarvainen & Valpola, NeurIPS 2017), as in SSL4MIS code/train_mean_teacher_2D.py: the
 * student learns CE + Dice on labelled slices and matches, on unlabelled slices, the softmax of an EMA
 * teacher that sees the input with clamped Gaussian noise. The teacher is saved, not trained.
 */
import { z } from 'zod';
import { noGrad, randn, scalar, type Tensor } from '../engine/index.ts';
import { decodeFlat } from '../hierarchy/decode.ts';
import type { SegmentationModel } from '../models/model.ts';
import type { Batch, LossTerms, Method, MethodContext, StepContext } from './method.ts';
import {
  ceAndDice,
  copyWeights,
  emaUpdate,
  flatClassCount,
  flatClasses,
  rampedWeight,
  splitBatch,
} from './common.ts';

export const meanTeacherOptionsSchema = z.strictObject({
  /** `--ema_decay` 0.99 */
  emaDecay: z.number().min(0).max(1).default(0.99),
  /** `--consistency` 0.1 */
  consistency: z.number().nonnegative().default(0.1),
  /** `--consistency_rampup` 200.0, in epochs of 150 iterations */
  consistencyRampup: z.number().nonnegative().default(200),
  /** teacher input noise: clamp(randn * 0.1, -0.2, 0.2) */
  noiseStd: z.number().nonnegative().default(0.1),
  noiseClamp: z.number().nonnegative().default(0.2),
});
export type MeanTeacherOptions = z.input<typeof meanTeacherOptionsSchema>;

/** x + clamp(randn * std, -c, c) */
export function addClampedNoise(x: Tensor, std: number, c: number): Tensor {
  return x.add(randn(x.shape, { dtype: x.dtype }).mul(std).clamp(-c, c));
}

/** Student, EMA teacher and the supervised half both mean-teacher methods share. */
export function teacherStudent(ctx: MethodContext): {
  student: SegmentationModel;
  teacher: SegmentationModel;
} {
  const outChannels = flatClassCount(ctx.tree);
  const student = ctx.buildModel({ outChannels, levelSet: false });
  const teacher = ctx.buildModel({ outChannels, levelSet: false });
  copyWeights(teacher, student);
  for (const p of teacher.parameters()) p.requiresGrad_(false);
  return { student, teacher };
}

export function createMeanTeacher(ctx: MethodContext, options: MeanTeacherOptions = {}): Method {
  const o = meanTeacherOptionsSchema.parse(options);
  const { tree } = ctx;
  const { student, teacher } = teacherStudent(ctx);
  return {
    name: 'mean-teacher',
    twoStage: false,
    modules: { model: student },
    frozen: { teacher },
    predictor: student,
    decoding: 'softmax',
    decode: (logits) => decodeFlat(logits, tree),
    step(batch: Batch, c: StepContext): LossTerms {
      const out = student.forward(batch.image).logits;
      const { labelled, unlabelled } = splitBatch(out, batch.numLabeled);
      const { ce, dice } = ceAndDice(labelled, flatClasses(batch.label, tree));
      let consistency = scalar(0);
      if (unlabelled.size(0) > 0) {
        const input = splitBatch(batch.image, batch.numLabeled).unlabelled;
        const target = noGrad(() =>
          teacher.forward(addClampedNoise(input, o.noiseStd, o.noiseClamp)).logits.softmax(1),
        );
        consistency = unlabelled.softmax(1).sub(target).square().mean();
      }
      const w = rampedWeight(o.consistency, c.iteration, o.consistencyRampup);
      return { ce, dice, consistency, total: ce.add(dice).mul(0.5).add(consistency.mul(w)) };
    },
    afterStep(c: StepContext): void {
      emaUpdate(teacher, student, o.emaDecay, c.iteration);
    },
    validationLoss: (batch): Tensor =>
      noGrad(() => {
        const { ce, dice } = ceAndDice(
          splitBatch(student.forward(batch.image).logits, batch.numLabeled).labelled,
          flatClasses(batch.label, tree),
        );
        return ce.add(dice).mul(0.5);
      }),
  };
}
