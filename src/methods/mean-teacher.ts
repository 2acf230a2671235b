/**
 * Mean teacher (Tarvainen & Valpola, NeurIPS 2017), as in SSL4MIS code/train_mean_teacher_2D.py: the
 * student learns CE + Dice on labelled slices and matches, on unlabelled slices, the softmax of an EMA
 * teacher that sees the input with clamped Gaussian noise. The teacher is saved, not trained.
 */
import { z } from 'zod';
import type { Method, MethodContext } from './method.ts';
import { createTeacherMethod } from './teacher.ts';

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

export function createMeanTeacher(ctx: MethodContext, options: MeanTeacherOptions = {}): Method {
  const o = meanTeacherOptionsSchema.parse(options);
  // the mean squared distance of the softmaxes over all unlabelled pixels
  return createTeacherMethod('mean-teacher', ctx, o, ({ logits, target }) =>
    logits.softmax(1).sub(target).square().mean(),
  );
}
