/**
 * The loss terms each registered method's step returns besides `total`, read from src/methods/: in
 * stage 1 and, for the two-stage methods, in stage 2 (the conditional BCE `cond` gives way to the
 * unconditional `up`). One table for the method tests (test/methods/methods.test.ts) and the training
 * runs (test/train/methods-run.test.ts); both compare the exact set of terms.
 */
export interface ExpectedTerms {
  readonly stage1: readonly string[];
  /** present exactly for the two-stage methods */
  readonly stage2?: readonly string[];
}

export const EXPECTED_TERMS: Readonly<Record<string, ExpectedTerms>> = {
  sshcps: {
    stage1: ['cp', 'cond', 'dice', 'ls', 'consistency'],
    stage2: ['cp', 'up', 'dice', 'ls', 'consistency'],
  },
  'seg-th': { stage1: ['cp', 'cond', 'dice'] },
  'seg-th-up': { stage1: ['cp', 'cond', 'dice'], stage2: ['cp', 'up', 'dice'] },
  'seg-ls': { stage1: ['cp', 'cond', 'dice', 'ls'], stage2: ['cp', 'up', 'dice', 'ls'] },
  hcps: { stage1: ['cp', 'cond', 'dice'], stage2: ['cp', 'up', 'dice'] },
  supervised: { stage1: ['ce', 'dice'] },
  dtc: { stage1: ['dice', 'ce', 'ls', 'consistency'] },
  cct: { stage1: ['ce', 'dice', 'supervised', 'consistency'] },
  cld: { stage1: ['supervised', 'cps'] },
  'generic-ssl': { stage1: ['deno', 'diff', 'unsup'] },
  'mean-teacher': { stage1: ['ce', 'dice', 'consistency'] },
  'ua-mt': { stage1: ['ce', 'dice', 'consistency'] },
};

/** The sorted names a step of `method` in `stage` returns, `total` included. */
export function expectedTermNames(method: string, stage: 1 | 2): string[] {
  const terms = EXPECTED_TERMS[method];
  if (!terms) throw new RangeError(`no expected loss terms for method "${method}"`);
  const list = stage === 2 ? terms.stage2 : terms.stage1;
  if (!list) throw new RangeError(`method "${method}" has no stage 2`);
  return [...list, 'total'].sort();
}
