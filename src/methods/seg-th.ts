/** Ablation "Seg (TH)" (paper Table 1): the conditional stage only, cond + cp, throughout training. */
import { z } from 'zod';
import { DEFAULT_LEVEL_SET_SCHEDULE } from '../levelset/schedule.ts';
import { DEFAULT_TRANSFORM_K } from '../levelset/transform.ts';
import type { Method, MethodContext } from './method.ts';
import { createTreeMethod } from './tree-method.ts';

export const segThOptionsSchema = z.strictObject({});

export function createSegTh(ctx: MethodContext, options: z.input<typeof segThOptionsSchema> = {}): Method {
  segThOptionsSchema.parse(options);
  return createTreeMethod(ctx, {
    name: 'seg-th',
    twoStage: false,
    levelSet: false,
    consistency: false,
    schedule: DEFAULT_LEVEL_SET_SCHEDULE,
    transformK: DEFAULT_TRANSFORM_K,
    upForm: 'lse',
  });
}
