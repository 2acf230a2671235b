import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors } from '../../src/engine/index.ts';
import { METHOD_NAMES } from '../../src/methods/registry.ts';
import { runTraining } from '../../src/train/run.ts';
import { parseConfig } from '../../src/train/config.ts';
import { readLog, tempDir, tinyCohort, tinyConfig, trainEntries, validationEntries } from './helpers.ts';
import { EXPECTED_TERMS, expectedTermNames } from '../methods/expected-terms.ts';

const root = tempDir('train-methods');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

test('the expected terms cover every registered method', () => {
  assert.deepEqual(Object.keys(EXPECTED_TERMS).sort(), [...METHOD_NAMES].sort());
});

for (const name of METHOD_NAMES) {
  test(`a 30-iteration ${name} run writes config, log, checkpoint, model and summary with its loss terms`, async () => {
    const out = join(root, name);
    const input = tinyConfig(data, {
      method: { name, options: name === 'ua-mt' ? { passes: 2 } : {} },
      schedule: { stageSwitch: { mode: 'fraction', fraction: 0.5, minDice: 0 } },
    });
    const { summary } = await runTraining(input, { out });

    for (const f of [
      'config.json',
      'log.jsonl',
      'checkpoints/last.safetensors',
      'model.safetensors',
      'summary.json',
    ])
      assert.ok(existsSync(join(out, f)), `${name}: ${f} is missing`);
    // the resolved configuration is the one that ran
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), parseConfig(input));
    assert.equal(summary.iterations, 30);
    assert.equal(summary.method, name);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), summary);

    const log = readLog(out);
    const train = trainEntries(log);
    assert.deepEqual(
      train.map((e) => e.iteration),
      [5, 10, 15, 20, 25, 30],
    );
    const twoStage = EXPECTED_TERMS[name]!.stage2 !== undefined;
    for (const e of train) {
      assert.equal(e.skipped, undefined);
      assert.deepEqual(
        Object.keys(e.losses).sort(),
        expectedTermNames(name, e.stage === 2 ? 2 : 1),
        `${name} at ${e.iteration}`,
      );
      for (const [k, v] of Object.entries(e.losses)) assert.ok(Number.isFinite(v), `${name}: ${k} = ${v}`);
      assert.ok(e.seconds_per_step > 0 && e.data_wait_seconds >= 0);
    }
    // two-stage methods switch at half the budget (end of epoch 3), the others stay in stage 1
    assert.deepEqual(
      train.map((e) => e.stage),
      twoStage ? [1, 1, 1, 2, 2, 2] : [1, 1, 1, 1, 1, 1],
    );
    const validations = validationEntries(log);
    assert.equal(validations.length, 6); // one per 5-iteration epoch
    for (const v of validations) {
      assert.ok(Number.isFinite(v.val_loss) && Number.isFinite(v.ema_vl));
      assert.deepEqual(Object.keys(v.dice).sort(), [
        'femoral_cartilage',
        'femur',
        'patella',
        'patellar_cartilage',
        'tibia',
        'tibial_cartilage',
      ]);
    }

    // the model file is complete: the predictor's weights and the configuration
    const model = loadSafetensors(join(out, 'model.safetensors'));
    try {
      assert.equal(model.metadata.format, 'kneeseg-model');
      assert.deepEqual(JSON.parse(model.metadata.training!), parseConfig(input));
      assert.ok(model.tensors.size > 0);
    } finally {
      for (const t of model.tensors.values()) t.dispose();
    }
    const ckpt = loadSafetensors(join(out, 'checkpoints', 'last.safetensors'));
    try {
      assert.equal((JSON.parse(ckpt.metadata.kneeseg_state!) as { iteration: number }).iteration, 30);
    } finally {
      for (const t of ckpt.tensors.values()) t.dispose();
    }
  });
}
