/**
 * Ablation "Seg (TH + UP)" (paper Table 1): conditional stage (cond + cp), then unconditional
 * fine-tuning (cp + up = L_CTU, Eq. 16), labelled slices only.
 */
import { z } from 'zod';
import { DEFAULT_LEVEL_SET_SCHEDULE } from '../levelset/schedule.ts';
import { DEFAULT_TRANSFORM_K } from '../levelset/transform.ts';
import type { Method, MethodContext } from './method.ts';
import { createTreeMethod } from './tree-method.ts';

export const segThUpOptionsSchema = z.strictObject({
  /** log(1 - p_d) by Eq. 11 ('lse', METHOD.md section 5) or log1mexp (same value) */
  upForm: z.enum(['lse', 'log1mexp']).default('lse'),
});
export type SegThUpOptions = z.input<typeof segThUpOptionsSchema>;

export function createSegThUp(ctx: MethodContext, options: SegThUpOptions = {}, name = 'seg-th-up'): Method {
  const o = segThUpOptionsSchema.parse(options);
  return createTreeMethod(ctx, {
    name,
    twoStage: true,
    levelSet: false,
    consistency: false,
    schedule: DEFAULT_LEVEL_SET_SCHEDULE,
    transformK: DEFAULT_TRANSFORM_K,
    upForm: o.upForm,
  });
}
