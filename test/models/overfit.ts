/** Overfits one small synthetic batch: a model that cannot is broken somewhere between input and loss. */
import { Adam, crossEntropy, manualSeed, mseLoss, noGrad, oneHot, scope } from '../../src/engine/index.ts';
import type { SegmentationNet } from '../../src/models/registry.ts';
import { discsAndRings, meanDice } from './helpers.ts';

export interface OverfitResult {
  dice: number;
  steps: number;
}

/**
 * Trains on 4 slices of 32 x 32 (background, disc, ring) with cross-entropy on f_PW and MSE of f_LS
 * to the one-hot map in [-1, 1], checking the eval-mode Dice every 25 steps; stops above `target`.
 */
export function overfit(
  model: SegmentationNet,
  lr: number,
  maxSteps: number,
  target = 0.95,
  log?: (step: number, dice: number) => void,
): OverfitResult {
  manualSeed(11);
  const { x, y, labels } = discsAndRings(4, 32);
  const lsTarget = scope(() => oneHot(y, 3).permute(0, 3, 1, 2).float().mul(2).sub(1)).keep();
  const opt = new Adam(model.parameters(), { lr });
  let dice = 0;
  let step = 0;
  try {
    while (step < maxSteps) {
      model.train();
      scope(() => {
        opt.zeroGrad();
        const out = model.forward(x);
        const loss = crossEntropy(out.logits, y).add(mseLoss(out.levelSet!, lsTarget).mul(0.1));
        loss.backward();
        opt.step();
      });
      step++;
      if (step % 25 === 0) {
        model.eval();
        const pred = scope(() => noGrad(() => model.forward(x).logits.argmax(1)).toArray());
        dice = meanDice(pred, labels, 3);
        log?.(step, dice);
        if (dice > target) break;
      }
    }
  } finally {
    x.dispose();
    y.dispose();
    lsTarget.dispose();
  }
  return { dice, steps: step };
}
