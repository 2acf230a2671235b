import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, noGrad, scalar, type Tensor } from '../../src/engine/index.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import type { Method } from '../../src/methods/method.ts';
import { parseConfig, type TrainConfig } from '../../src/train/config.ts';
import { openTrainingData } from '../../src/train/slice-data.ts';
import type { TrainEvent } from '../../src/train/events.ts';
import {
  readLog,
  tempDir,
  tinyCohort,
  tinyConfig,
  trainEntries,
  validationEntries,
  methodFor,
  trainOn,
} from './helpers.ts';

const root = tempDir('train-nan');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

/**
 * Supervised training whose step goes wrong on purpose: at `poisonInput` the image is multiplied by
 * NaN (every term and the batch-norm statistics of that forward pass become NaN); from `spikeFrom` on an
 * extra term `spike` is NaN (the forward pass itself stays finite). `spike` is 0 otherwise.
 */
function faultyMethod(config: TrainConfig, channels: number, poisonInput: number, spikeFrom: number): Method {
  const base = methodFor('supervised', config, channels);
  return {
    ...base,
    name: 'faulty',
    step(batch, ctx) {
      const image = ctx.iteration === poisonInput ? batch.image.mul(NaN) : batch.image;
      const terms = base.step({ ...batch, image }, ctx);
      const spike: Tensor = scalar(ctx.iteration >= spikeFrom ? NaN : 0);
      return { ...terms, spike, total: terms.total.add(spike) };
    },
  };
}

test('non-finite losses are skipped and logged; after nanTolerance in a row training stops naming the term', async () => {
  const out = join(root, 'run');
  const config = parseConfig(tinyConfig(data, { nanTolerance: 3, method: { name: 'supervised' } }));
  const opened = await openTrainingData(config, defaultKneeTree());
  const events: TrainEvent[] = [];
  try {
    // step 6 (iteration 7) poisons its input; steps 18.. (iterations 19, 20, 21) have a NaN `spike`
    const method = faultyMethod(config, opened.channels, 6, 18);
    const result = await trainOn(opened, config, method, out, { listener: (e) => events.push(e) });

    assert.equal(result.state.iteration, 21);
    assert.match(result.state.stopped ?? '', /^3 consecutive non-finite losses \(term [a-z, ]*spike/);
    const end = events.find((e) => e.type === 'end');
    assert.ok(end && end.type === 'end' && /spike/.test(end.reason));
    const messages = events.flatMap((e) => (e.type === 'message' ? [e.text] : []));
    assert.ok(messages.some((m) => /iteration 7: non-finite loss term\(s\) .*total; step skipped/.test(m)));

    const log = readLog(out);
    const skipped = trainEntries(log).filter((e) => e.skipped !== undefined);
    assert.deepEqual(
      skipped.map((e) => e.iteration),
      [7, 19, 20, 21],
    );
    assert.match(skipped[0]!.skipped!, /non-finite ce, dice, total/);
    for (const e of skipped.slice(1)) assert.equal(e.skipped, 'non-finite total, spike');
    // the regular entries average the good steps only, and stay finite
    for (const e of trainEntries(log).filter((x) => x.skipped === undefined))
      for (const v of Object.values(e.losses)) assert.ok(Number.isFinite(v), JSON.stringify(e));
    assert.deepEqual(
      trainEntries(log)
        .filter((e) => e.skipped === undefined)
        .map((e) => e.iteration),
      [5, 10, 15, 20],
    );
    // a skipped step leaves no trace in the model: batch-norm statistics of the NaN forward pass are undone
    const validations = validationEntries(log);
    assert.deepEqual(
      validations.map((v) => v.iteration),
      [5, 10, 15, 20],
    );
    for (const v of validations) assert.ok(Number.isFinite(v.val_loss), JSON.stringify(v));

    // the checkpoint written during the final streak (iteration 20) holds the weights and buffers of
    // the last good step, which are the method's weights now
    const ckpt = loadSafetensors(join(out, 'checkpoints', 'last.safetensors'));
    try {
      assert.equal((JSON.parse(ckpt.metadata.kneeseg_state!) as { iteration: number }).iteration, 20);
      let compared = 0;
      for (const [k, t] of method.modules.model!.stateDict()) {
        const saved = ckpt.tensors.get(`module.model.${k}`);
        assert.ok(saved, k);
        assert.deepEqual(saved.data(), t.data(), k);
        compared++;
      }
      assert.ok(compared > 10);
    } finally {
      for (const t of ckpt.tensors.values()) t.dispose();
    }
    assert.ok(existsSync(join(out, 'model.safetensors')));
  } finally {
    await opened.close();
  }
});

test('weights a diverged run leaves (1e30) are never written as the model: the run says so and leaves none', async () => {
  const out = join(root, 'diverged');
  const config = parseConfig(tinyConfig(data, { method: { name: 'supervised' } }));
  const opened = await openTrainingData(config, defaultKneeTree());
  const events: TrainEvent[] = [];
  try {
    const base = methodFor('supervised', config, opened.channels);
    // from step 2 on, one weight of the predictor is blown up after the optimizer step: the losses of
    // the following steps may stay finite (batch norm), so only the weights tell
    const blown = [...base.predictor.stateDict()].find(([k]) => k.endsWith('weight'))!;
    const method: Method = {
      ...base,
      afterStep(ctx) {
        base.afterStep?.(ctx);
        if (ctx.iteration >= 2) noGrad(() => blown[1].copy_(blown[1].mul(0).add(1e30)));
      },
    };
    await trainOn(opened, config, method, out, { listener: (e) => events.push(e) });
    const messages = events.flatMap((e) => (e.type === 'message' ? [e.text] : []));
    assert.ok(
      messages.some((m) =>
        m.startsWith(`model.safetensors not written: weight ${blown[0]} holds 1.0000000150474662e+30`),
      ),
      messages.join('\n'),
    );
    assert.ok(validationEntries(readLog(out)).every((v) => v.best === false));
    assert.equal(existsSync(join(out, 'model.safetensors')), false);
  } finally {
    await opened.close();
  }
});
