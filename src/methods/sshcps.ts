/**
 * SSHCPS, the full method (METHOD.md sections 4-6, Eq. 17):
 * L_t = L_CTU + alpha L_C + beta(t) L_LS, with the conditional stage (cond + cp) before the
 * unconditional fine-tuning (cp + up), L_LS on labelled slices and L_C on all slices.
 */
import { z } from 'zod';
import { DEFAULT_TRANSFORM_K } from '../levelset/transform.ts';
import { DEFAULT_LEVEL_SET_SCHEDULE, levelSetScheduleSchema } from '../levelset/schedule.ts';
import type { Method, MethodContext } from './method.ts';
import { createTreeMethod } from './tree-method.ts';

export const sshcpsOptionsSchema = z.strictObject({
  /** Eq. 17-18 (alpha = 1, beta(t) = 0.1 exp(-5 (1 - t/t_max)^2)), or DTC's weights (METHOD.md section 6) */
  schedule: levelSetScheduleSchema.default(DEFAULT_LEVEL_SET_SCHEDULE),
  /** k of S^-1 (Eq. 13): 1500 as in DTC (METHOD.md section 6) */
  transformK: z.number().positive().default(DEFAULT_TRANSFORM_K),
  /** log(1 - p_d) by Eq. 11 ('lse', METHOD.md section 5) or log1mexp (same value) */
  upForm: z.enum(['lse', 'log1mexp']).default('lse'),
});
export type SshcpsOptions = z.input<typeof sshcpsOptionsSchema>;

export function createSshcps(ctx: MethodContext, options: SshcpsOptions = {}): Method {
  const o = sshcpsOptionsSchema.parse(options);
  return createTreeMethod(ctx, { name: 'sshcps', twoStage: true, levelSet: true, consistency: true, ...o });
}
