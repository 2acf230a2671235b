import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadSafetensors, scalar, type Tensor } from '../../src/engine/index.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import type { Method } from '../../src/methods/method.ts';
import { parseConfig } from '../../src/train/config.ts';
import { openTrainingData } from '../../src/train/slice-data.ts';
import {
  readLog,
  tempDir,
  tinyCohort,
  tinyConfig,
  validationEntries,
  methodFor,
  trainOn,
} from './helpers.ts';

const root = tempDir('train-best');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

/** sha256 over the tensors of a state dict, in the order of `keys`. */
function hashOf(tensors: ReadonlyMap<string, Tensor>, keys: readonly string[]): string {
  const h = createHash('sha256');
  for (const k of keys) {
    const t = tensors.get(k);
    assert.ok(t, `missing ${k}`);
    const d = t.data();
    h.update(k).update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

test('model.safetensors holds the weights of the validation with the best EMA-VL in the log', async () => {
  const out = join(root, 'run');
  // EMA-VL with decay 0.5 over the scripted losses: 3, 2, 2, 3.5, 3.75, 4.875: best at iteration 10,
  // and the equal value at 15 does not replace it
  const script = new Map([
    [5, 3],
    [10, 1],
    [15, 2],
    [20, 5],
    [25, 4],
    [30, 6],
  ]);
  const config = parseConfig(
    tinyConfig(data, { method: { name: 'supervised' }, schedule: { emaDecay: 0.5, selection: 'ema-vl' } }),
  );
  const opened = await openTrainingData(config, defaultKneeTree());
  try {
    const base = methodFor('supervised', config, opened.channels);
    // real training, scripted validation losses: the selection, not the network, is under test
    const method: Method = {
      ...base,
      validationLoss: (_batch, ctx) => scalar(script.get(ctx.iteration)!),
    };
    const keys = [...method.predictor.stateDict().keys()];
    const hashes = new Map<number, string>();
    const result = await trainOn(opened, config, method, out, {
      listener: (e) => {
        if (e.type === 'validation') hashes.set(e.iteration, hashOf(method.predictor.stateDict(), keys));
      },
      modelMetadata: { format: 'kneeseg-model' },
    });

    const validations = validationEntries(readLog(out));
    assert.deepEqual(
      validations.map((v) => v.val_loss),
      [3, 1, 2, 5, 4, 6],
    );
    assert.deepEqual(
      validations.map((v) => v.ema_vl),
      [3, 2, 2, 3.5, 3.75, 4.875],
    );
    const bestInLog = validations.reduce((a, b) => (b.ema_vl < a.ema_vl ? b : a));
    assert.equal(bestInLog.iteration, 10);
    assert.deepEqual(
      validations.filter((v) => v.best).map((v) => v.iteration),
      [5, 10],
    );
    assert.equal(result.state.bestIteration, 10);
    assert.equal(result.state.bestEpoch, 2);

    // the weights differ from one validation to the next, so the hash identifies the iteration
    assert.equal(new Set(hashes.values()).size, 6);
    const saved = loadSafetensors(join(out, 'model.safetensors'));
    try {
      assert.equal(hashOf(saved.tensors, keys), hashes.get(bestInLog.iteration));
      assert.equal(saved.metadata.format, 'kneeseg-model');
    } finally {
      for (const t of saved.tensors.values()) t.dispose();
    }
  } finally {
    await opened.close();
  }
});
