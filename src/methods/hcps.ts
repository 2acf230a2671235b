/**
 * HCPS, the supervised half of SSHCPS (paper Fig. 3): the two-stage hierarchical losses on labelled
 * slices (the same losses as the "Seg (TH + UP)" ablation), reported under its own name.
 */
import type { Method, MethodContext } from './method.ts';
import { createSegThUp, segThUpOptionsSchema, type SegThUpOptions } from './seg-th-up.ts';

export const hcpsOptionsSchema = segThUpOptionsSchema;

export function createHcps(ctx: MethodContext, options: SegThUpOptions = {}): Method {
  return createSegThUp(ctx, options, 'hcps');
}
