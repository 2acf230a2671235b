/**
 * The train_step phase: one batch through the method, backward, the gradient hook, the optimizer step;
 * or, when a loss term is non-finite, no update at all and the buffers the forward pass changed put back.
 */
import { manualSeed, noGrad, scope, tensor, type Adam, type Tensor } from '../engine/index.ts';
import { hashSeed } from '../data/random.ts';
import type { Batch, Method, StepContext } from '../methods/method.ts';
import type { SliceBatch } from './batches.ts';
import type { TrainHooks } from './hooks.ts';
import type { StepOutcome } from './log-window.ts';

/** K of a batch's [L, K, H, W] level-set targets */
const sdfChannels = (b: SliceBatch): number =>
  b.numLabelled === 0 ? 0 : b.sdf!.length / (b.numLabelled * b.height * b.width);

export function toBatch(b: SliceBatch): Batch {
  return {
    image: tensor(b.image, [b.n, b.channels, b.height, b.width]),
    label: tensor(b.label, [b.numLabelled, b.height, b.width], { dtype: 'uint8' }).to('int64'),
    numLabelled: b.numLabelled,
    spacing: b.spacing,
    sdf: b.sdf && tensor(b.sdf, [b.numLabelled, sdfChannels(b), b.height, b.width]),
  };
}

/** Non-finite loss terms by name (empty when all are finite). */
export function nonFinite(values: Record<string, number>): string[] {
  return Object.entries(values)
    .filter(([, v]) => !Number.isFinite(v))
    .map(([k]) => k);
}

/** What a step works on; built once per run. */
export interface StepParts {
  method: Pick<Method, 'step' | 'afterStep'>;
  optimizer: Pick<Adam, 'zeroGrad' | 'step' | 'setLr'>;
  /** the trained parameters (what `hooks.afterBackward` reduces) */
  parameters: readonly Tensor[];
  /** buffers a step changes as it runs (batch-norm statistics, CLD's banks): a skipped step restores them */
  buffers: readonly Tensor[];
  hooks: TrainHooks;
  seed: number;
  /** the level-set head's own parameter group and its lr at an iteration, when it has one */
  head: { group: number; lr: (iteration: number) => number } | null;
}

/**
 * Runs step `ctx.iteration`. libtorch's generator is reseeded from (seed, iteration) first, so a
 * resumed run repeats an uninterrupted one.
 */
export function trainStep(p: StepParts, batch: SliceBatch, ctx: StepContext): StepOutcome {
  manualSeed(hashSeed(p.seed, ctx.iteration));
  if (p.head) p.optimizer.setLr(p.head.lr(ctx.iteration), p.head.group);
  const values = scope(() => {
    p.optimizer.zeroGrad();
    const before = noGrad(() => p.buffers.map((b) => b.clone()));
    const terms = p.method.step(toBatch(batch), ctx);
    const own = Object.fromEntries(Object.entries(terms).map(([k, t]) => [k, (t as Tensor).item()]));
    // data-parallel: every rank must take the same branch here (a step non-finite on any rank is skipped on all)
    const v = p.hooks.reduceLosses?.(own) ?? own;
    if (nonFinite(v).length === 0) {
      terms.total.backward();
      p.hooks.afterBackward(p.parameters);
      p.optimizer.step();
      p.method.afterStep?.(ctx);
    } else noGrad(() => p.buffers.forEach((b, i) => b.copy_(before[i]!))); // NaN statistics would outlive the skip
    return v;
  });
  return { values, bad: nonFinite(values) };
}
