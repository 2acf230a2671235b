/**
 * Uncertainty-aware mean teacher (Yu et al., MICCAI 2019), as in SSL4MIS
 * code/train_uncertainty_aware_mean_teacher_2D.py: the mean teacher whose consistency counts only
 * pixels where the teacher is certain. Uncertainty = entropy of the mean softmax over T noisy teacher
 * passes; the threshold ramps from 0.75 ln 2 to ln 2 over training.
 */
import { cat, noGrad, type Tensor } from '../engine/index.ts';
import { z } from 'zod';
import { sigmoidRampup } from '../levelset/schedule.ts';
import type { Method, MethodContext } from './method.ts';
import { meanTeacherOptionsSchema } from './mean-teacher.ts';
import { addClampedNoise, createTeacherMethod } from './teacher.ts';

export const uaMtOptionsSchema = meanTeacherOptionsSchema.extend({
  /** `T = 8` stochastic teacher passes (run two at a time, as the official code does) */
  passes: z.number().int().min(2).default(8),
});
export type UaMtOptions = z.input<typeof uaMtOptionsSchema>;

/** Entropy of the mean softmax of `passes` noisy teacher predictions: [B, 1, H, W]. */
function teacherUncertainty(
  teacher: { forward(x: Tensor): { logits: Tensor } },
  x: Tensor,
  passes: number,
  std: number,
  c: number,
): Tensor {
  return noGrad(() => {
    const B = x.size(0);
    const pair = cat([x, x]);
    let sum: Tensor | null = null;
    for (let i = 0; i < passes / 2; i++) {
      const p = teacher.forward(addClampedNoise(pair, std, c)).logits.softmax(1);
      const both = p.narrow(0, 0, B).add(p.narrow(0, B, B));
      sum = sum ? sum.add(both) : both;
    }
    const mean = sum!.div(2 * Math.floor(passes / 2));
    return mean.mul(mean.add(1e-6).log()).sum(1, true).neg();
  });
}

export function createUaMt(ctx: MethodContext, options: UaMtOptions = {}): Method {
  const o = uaMtOptionsSchema.parse(options);
  return createTeacherMethod('ua-mt', ctx, o, ({ logits, target, input, teacher }, c) => {
    const uncertainty = teacherUncertainty(teacher, input, o.passes, o.noiseStd, o.noiseClamp);
    const threshold = (0.75 + 0.25 * sigmoidRampup(c.iteration, c.maxIterations)) * Math.LN2;
    const mask = uncertainty.lt(threshold).to(logits.dtype);
    const dist = logits.softmax(1).sub(target).square();
    // the official normalisation: sum(mask * dist) / (2 sum(mask) + 1e-16)
    return dist.mul(mask).sum().div(mask.sum().mul(2).add(1e-16));
  });
}
