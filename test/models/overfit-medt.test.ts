import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, setNumThreads } from '../../src/engine/index.ts';
import { smallModel } from './helpers.ts';
import { overfit } from './overfit.ts';

// test files run two at a time on two cores
setNumThreads(1);

test('MedT with both heads overfits one batch of discs and rings to Dice > 0.95', () => {
  manualSeed(11);
  const model = smallModel('medt', [32, 32]);
  const r = overfit(model, 3e-3, 300);
  assert.ok(r.dice > 0.95, `Dice ${r.dice.toFixed(3)} after ${r.steps} steps`);
  model.dispose();
});
