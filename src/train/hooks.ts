/**
 * The two points where data-parallel training (src/train/data-parallel.ts) joins the loop, the way
 * PyTorch's DDP and MONAI's engine handlers do; for one process both are no-ops. (The non-finite skip
 * in src/train/step.ts is a third point: every rank must skip together, before backward.)
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
}

export const singleProcessHooks: TrainHooks = {
  afterBackward: () => {},
  decide: (d) => d,
};
