import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors, tensor } from '../../src/engine/index.ts';
import { InputError } from '../../src/errors.ts';
import { checkWeights, loadModel, MAX_WEIGHT } from '../../src/infer/load-model.ts';
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

test('a model with NaN, infinite or absurdly large weights (a diverged run) is refused naming the file', () => {
  const dir = tempDir();
  const good = writeTinyModel(join(dir, 'good'));
  const { tensors, metadata } = loadSafetensors(good);
  const name = 'pw_head.2.weight';
  const w = tensors.get(name)!;
  const isDiverged = (file: string, re: RegExp) => (e: unknown) =>
    e instanceof InputError &&
    e.file === file &&
    e.message.startsWith(`${file}: weight `) &&
    re.test(e.message) &&
    /Fix: the training run that wrote it diverged: retrain/.test(e.message) &&
    !e.message.includes('\n');
  for (const [value, re] of [
    [NaN, /holds NaN at index 3/],
    [Infinity, /holds Infinity at index 3/],
    [-Infinity, /holds -Infinity at index 3/],
    [2e6, /holds 2000000, beyond the plausible 1000000 at index 3/],
  ] as const) {
    const values = Float32Array.from(w.data() as Float32Array);
    values[3] = value;
    const run = join(dir, `bad-${value}`);
    mkdirSync(run);
    saveSafetensors(
      join(run, 'model.safetensors'),
      new Map([...tensors, [name, tensor(values, w.shape)]]),
      metadata,
    );
    assert.throws(
      () => loadModel(run),
      isDiverged(join(run, 'model.safetensors'), new RegExp(`${name} ${re.source}`)),
    );
  }
  // batch-norm running variances are squares: 1e7 is plausible there, 1e13 is not
  const varName = [...tensors.keys()].find((k) => k.endsWith('running_var'))!;
  const v = tensors.get(varName)!;
  const big = (x: number) => tensor(new Float32Array(v.shape.reduce((a, b) => a * b, 1)).fill(x), v.shape);
  mkdirSync(join(dir, 'var'));
  const file = join(dir, 'var', 'model.safetensors');
  saveSafetensors(file, new Map([...tensors, [varName, big(1e7)]]), metadata);
  assert.equal(loadModel(file).file, file);
  saveSafetensors(file, new Map([...tensors, [varName, big(1e13)]]), metadata);
  assert.throws(
    () => loadModel(file),
    isDiverged(file, /running_var holds 9999999827968, beyond the plausible 1000000000000/),
  );
  assert.equal(MAX_WEIGHT, 1e6);
});

test('half-precision weights are checked too; integer counters are not', () => {
  const f16 = (bits: number[]) => tensor(Uint16Array.from(bits), [bits.length], { dtype: 'float16' });
  const bf16 = (bits: number[]) => tensor(Uint16Array.from(bits), [bits.length], { dtype: 'bfloat16' });
  const counter = tensor(BigInt64Array.from([10_000_000_000n]), [], { dtype: 'int64' });
  // 0x3c00 = 1.0 in float16, 0x3f80 = 1.0 in bfloat16
  checkWeights(
    'm.safetensors',
    new Map([
      ['a', f16([0x3c00, 0xbc00])],
      ['b', bf16([0x3f80])],
      ['n', counter],
    ]),
  );
  const refused = (re: RegExp) => (e: unknown) =>
    e instanceof InputError && e.file === 'm.safetensors' && re.test(e.message);
  assert.throws(
    () => checkWeights('m.safetensors', new Map([['a', f16([0x3c00, 0x7e00])]])),
    refused(/a holds NaN at index 1/),
  );
  assert.throws(
    () => checkWeights('m.safetensors', new Map([['a', f16([0xfc00])]])),
    refused(/a holds -Infinity/),
  );
  // 0x4b80 in bfloat16 = 2^24 = 16777216
  assert.throws(
    () => checkWeights('m.safetensors', new Map([['b', bf16([0x4b80])]])),
    refused(/b holds 16777216, beyond/),
  );
});

test('a model path that is a link loop or a dangling link is named as such; a linked run folder loads', () => {
  const dir = tempDir();
  writeTinyModel(join(dir, 'store', 'run'));
  symlinkSync(join(dir, 'store', 'run'), join(dir, 'run-link'));
  assert.equal(loadModel(join(dir, 'run-link')).file, join(dir, 'run-link', 'model.safetensors'));
  symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'));
  symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'));
  assert.throws(
    () => loadModel(join(dir, 'loop-a')),
    (e: unknown) =>
      e instanceof InputError && e.file === join(dir, 'loop-a') && /symbolic link loop/.test(e.message),
  );
  symlinkSync(join(dir, 'deleted', 'model.safetensors'), join(dir, 'dangling.safetensors'));
  assert.throws(
    () => loadModel(join(dir, 'dangling.safetensors')),
    (e: unknown) =>
      e instanceof InputError &&
      e.file === join(dir, 'dangling.safetensors') &&
      /symbolic link to .*deleted.*, which does not exist/.test(e.message),
  );
});
