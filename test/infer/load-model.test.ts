import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors, tensor } from '../../src/engine/index.ts';
import { InputError } from '../../src/errors.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { tempDir, writeTinyModel } from './helpers.ts';

test('a run folder loads into an eval-mode model with its tree, preprocessing and structure names', () => {
  const dir = tempDir();
  writeTinyModel(dir);
  const m = loadModel(dir);
  assert.equal(m.file, join(dir, 'model.safetensors'));
  assert.equal(m.model.training, false);
  assert.equal(m.decoding, 'tree');
  assert.deepEqual(m.preprocessing, { axis: undefined, size: [32, 32], scaling: 'minmax255', neighbours: 1 });
  // names from the structures metadata, the rest (no patella in this dataset) from the default names
  assert.deepEqual(
    [...m.structures],
    [
      [1, 'femur'],
      [2, 'femoral_cartilage'],
      [3, 'tibia'],
      [4, 'tibial_cartilage'],
      [5, 'patella'],
      [6, 'patellar_cartilage'],
    ],
  );
  const softmax = loadModel(writeTinyModel(tempDir(), { decoding: 'softmax' }));
  assert.equal(softmax.config.outChannels, 7);
  // flat probabilities: the softmax class of each structure (class c = c-th leaf in tree order), in label order
  const classOf = softmax.tree.flatClassLabels();
  const logits = tensor(
    Float32Array.from({ length: 7 * 4 }, (_, i) => Math.sin(i)),
    [1, 7, 2, 2],
  );
  const p = softmax.probabilities(logits).data() as Float32Array;
  const full = logits.softmax(1).data() as Float32Array;
  [...softmax.structures.keys()].forEach((label, k) => {
    const c = classOf.indexOf(label);
    for (let i = 0; i < 4; i++) assert.equal(p[k * 4 + i], full[c * 4 + i]);
  });
});

test('files that are not kneeseg models are InputErrors naming the file and the fix', () => {
  const dir = tempDir();
  const isInput = (re: RegExp) => (e: unknown) =>
    e instanceof InputError && re.test(e.message) && /Fix: give a model file/.test(e.message);
  assert.throws(
    () => loadModel(join(dir, 'missing.safetensors')),
    isInput(/missing\.safetensors: does not exist/),
  );
  assert.throws(() => loadModel(dir), isInput(/is a folder without model\.safetensors/));
  writeFileSync(join(dir, 'text.safetensors'), 'hello');
  assert.throws(
    () => loadModel(join(dir, 'text.safetensors')),
    isInput(/text\.safetensors: is not a safetensors file/),
  );
  saveSafetensors(join(dir, 'plain.safetensors'), { w: tensor([1, 2]) });
  assert.throws(() => loadModel(join(dir, 'plain.safetensors')), isInput(/is not a kneeseg model/));
  // a model whose preprocessing stacks 5 channels for a 3-channel network
  const good = writeTinyModel(join(dir, 'run'));
  const { tensors, metadata } = loadSafetensors(good);
  const prep = JSON.parse(metadata.preprocessing!) as Record<string, unknown>;
  mkdirSync(join(dir, 'bad'));
  saveSafetensors(join(dir, 'bad', 'model.safetensors'), tensors, {
    ...metadata,
    preprocessing: JSON.stringify({ ...prep, neighbours: 2 }),
  });
  assert.throws(() => loadModel(join(dir, 'bad')), isInput(/takes 3 channels but preprocessing stacks 5/));
  tensors.delete('pw_head.2.weight');
  saveSafetensors(join(dir, 'bad', 'model.safetensors'), tensors, metadata);
  assert.throws(() => loadModel(join(dir, 'bad')), isInput(/weights do not fit the model config/));
});
