/**
 * The mean-teacher scheme (Tarvainen & Valpola, NeurIPS 2017; SSL4MIS code/train_mean_teacher_2D.py)
 * that mean-teacher and UA-MT share: a student learning 0.5 (CE + Dice) on labelled slices plus a
 * ramped consistency with an EMA teacher that sees the unlabelled input with clamped Gaussian noise.
 * The methods differ only in how the consistency term weighs the student-teacher distance.
 */
import { noGrad, randn, scalar, type Tensor } from '../engine/index.ts';
import { decodeFlat } from '../hierarchy/decode.ts';
import { rampedWeight } from '../levelset/schedule.ts';
import type { SegmentationModel } from '../models/model.ts';
import type { Batch, LossTerms, Method, MethodContext, StepContext } from './method.ts';
import { ceAndDice, copyWeights, emaUpdate, flatClassCount, flatClasses, splitBatch } from './common.ts';

/** The parsed options every mean-teacher variant has (see meanTeacherOptionsSchema). */
export interface TeacherOptions {
  readonly emaDecay: number;
  readonly consistency: number;
  readonly consistencyRampup: number;
  readonly noiseStd: number;
  readonly noiseClamp: number;
}

/** What a variant's consistency term sees on the unlabelled slices of a step. */
export interface ConsistencyInputs {
  /** student logits [U, C, H, W] */
  readonly logits: Tensor;
  /** teacher softmax of the noisy input [U, C, H, W], no gradient */
  readonly target: Tensor;
  /** the unlabelled input [U, channels, H, W], without noise */
  readonly input: Tensor;
  readonly teacher: SegmentationModel;
}

/** x + clamp(randn * std, -c, c) */
export function addClampedNoise(x: Tensor, std: number, c: number): Tensor {
  return x.add(randn(x.shape, { dtype: x.dtype }).mul(std).clamp(-c, c));
}

/**
 * A mean-teacher method named `name` whose consistency term on unlabelled slices is
 * `consistency(inputs, step)`; the teacher follows the student by EMA after each step and is saved,
 * not trained.
 */
export function createTeacherMethod(
  name: string,
  ctx: MethodContext,
  o: TeacherOptions,
  consistency: (inputs: ConsistencyInputs, c: StepContext) => Tensor,
): Method {
  const { tree } = ctx;
  const outChannels = flatClassCount(tree);
  const student = ctx.buildModel({ outChannels, levelSet: false });
  const teacher = ctx.buildModel({ outChannels, levelSet: false });
  copyWeights(teacher, student);
  for (const p of teacher.parameters()) p.requiresGrad_(false);
  return {
    name,
    twoStage: false,
    modules: { model: student },
    frozen: { teacher },
    predictor: student,
    decoding: 'softmax',
    decode: (logits) => decodeFlat(logits, tree),
    step(batch: Batch, c: StepContext): LossTerms {
      const out = student.forward(batch.image).logits;
      const { labelled, unlabelled } = splitBatch(out, batch.numLabelled);
      const { ce, dice } = ceAndDice(labelled, flatClasses(batch.label, tree));
      let term = scalar(0);
      if (unlabelled.size(0) > 0) {
        const input = splitBatch(batch.image, batch.numLabelled).unlabelled;
        const target = noGrad(() =>
          teacher.forward(addClampedNoise(input, o.noiseStd, o.noiseClamp)).logits.softmax(1),
        );
        term = consistency({ logits: unlabelled, target, input, teacher }, c);
      }
      const w = rampedWeight(o.consistency, c.iteration, o.consistencyRampup);
      return { ce, dice, consistency: term, total: ce.add(dice).mul(0.5).add(term.mul(w)) };
    },
    afterStep(c: StepContext): void {
      emaUpdate(teacher, student, o.emaDecay, c.iteration);
    },
    validationLoss: (batch): Tensor =>
      noGrad(() => {
        const { ce, dice } = ceAndDice(
          splitBatch(student.forward(batch.image).logits, batch.numLabelled).labelled,
          flatClasses(batch.label, tree),
        );
        return ce.add(dice).mul(0.5);
      }),
  };
}
