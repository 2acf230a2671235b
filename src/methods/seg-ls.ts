/**
 * Ablation "Seg + LS" (paper Table 1): the two-stage pixel-wise losses plus the level-set branch,
 * supervised on labelled slices only (no consistency term, so unlabelled slices are unused).
 */
import type { Method, MethodContext } from './method.ts';
import { sshcpsOptionsSchema, type SshcpsOptions } from './sshcps.ts';
import { createTreeMethod } from './tree-method.ts';

/** the same options as sshcps (the consistency weight is simply not used) */
export const segLsOptionsSchema = sshcpsOptionsSchema;

export function createSegLs(ctx: MethodContext, options: SshcpsOptions = {}): Method {
  const o = segLsOptionsSchema.parse(options);
  return createTreeMethod(ctx, { name: 'seg-ls', twoStage: true, levelSet: true, consistency: false, ...o });
}
