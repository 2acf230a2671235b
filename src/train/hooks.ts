/**
 * The points where data-parallel training (src/train/data-parallel.ts, distributed-run.ts) joins the
 * loop, the way PyTorch's DDP and MONAI's engine handlers do; for one process all are no-ops. The
 * third, `reduceLosses`, is the non-finite skip of src/train/step.ts: every rank must skip together,
 * before backward.
 */
import type { Tensor } from '../engine/index.ts';

export interface TrainHooks {
  /**
   * After `total.backward()` and before `optimizer.step()`, on every rank and only for steps that
   * are not skipped: the place to all-reduce (average) the gradients of `parameters`.
   */
  afterBackward(parameters: readonly Tensor[]): void;
  /**
   * Every decision that must be the same on every rank passes through here as a plain object: each
   * validation's verdict (best model, lr halving, stage switch, stop), the stage switch by epoch or
   * fraction, the stops (non-finite streak, Ctrl-C, time budget). A data-parallel run returns rank 0's
   * decision (a broadcast); every rank then applies what this returns, never its own. A validation
   * verdict holds numbers that may be NaN or Infinity (a diverged loss, no best yet), which a plain
   * JSON round trip turns into null: the broadcast must keep them.
   */
  decide<D>(decision: D): D;
  /**
   * After the forward pass, before the skip test: the loss terms every rank acts on and logs. A
   * data-parallel run returns their mean over ranks, which is non-finite wherever any rank's is, so a
   * step one rank cannot take is skipped by all. Absent: the rank's own values.
   */
  reduceLosses?(values: Record<string, number>): Record<string, number>;
}

export const singleProcessHooks: TrainHooks = {
  afterBackward: () => {},
  decide: (d) => d,
};
