/** The model-file metadata (src/train/model-file.ts): one format for writer, reader and tests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.ts';
import type { z } from 'zod';
import { KNEE_TREE } from '../../src/hierarchy/tree.ts';
import { DataConfigSchema } from '../../src/train/config.ts';
import type { ModelConfigInput } from '../../src/models/registry.ts';
import {
  checkModelFormat,
  decodeModelMetadata,
  encodeModelMetadata,
  MODEL_FILE_FORMAT,
} from '../../src/train/model-file.ts';

const model: ModelConfigInput = {
  backbone: 'unet',
  inChannels: 3,
  outChannels: 9,
  levelSet: true,
  imageSize: [32, 32],
};
const data: z.input<typeof DataConfigSchema> = {
  dir: '/d',
  labelled: null,
  subjectPattern: null,
  tree: null,
  axis: 'x',
  size: [32, 32],
  neighbours: 1,
  intensity: 'minmax255',
};

/** The metadata as run.ts wrote it before the schema existed: files of that form must keep loading. */
const WRITTEN = {
  format: 'kneeseg-model',
  model: JSON.stringify(model),
  decoding: 'tree',
  tree: JSON.stringify(KNEE_TREE),
  preprocessing: JSON.stringify(data),
  structures: JSON.stringify({ 2: 'femoral_cartilage' }),
  training: JSON.stringify({ seed: 3 }),
};

test('encoding gives the strings run.ts has always written, keys in the same order', () => {
  const encoded = encodeModelMetadata({
    format: MODEL_FILE_FORMAT,
    model,
    decoding: 'tree',
    tree: KNEE_TREE,
    preprocessing: data,
    structures: { 2: 'femoral_cartilage' },
    training: { seed: 3 },
  });
  assert.deepEqual(Object.entries(encoded), Object.entries(WRITTEN));
});

test('written metadata decodes; without structures the names default', () => {
  const fix = 'the fix';
  checkModelFormat('m.safetensors', WRITTEN, fix);
  const m = decodeModelMetadata('m.safetensors', WRITTEN, fix);
  assert.equal(m.decoding, 'tree');
  assert.equal(m.config.inChannels, 3);
  assert.equal(m.tree.size, 9);
  assert.equal(m.preprocessing.axis, 'x');
  assert.deepEqual(m.structures, { 2: 'femoral_cartilage' });
  const { structures: _, ...bare } = WRITTEN;
  assert.deepEqual(decodeModelMetadata('m.safetensors', bare, fix).structures, {});
  // preprocessing from files that predate a key takes that key's default
  const older = { ...WRITTEN, preprocessing: JSON.stringify({ ...data, tree: undefined }) };
  assert.equal(decodeModelMetadata('m.safetensors', older, fix).preprocessing.tree, null);
  // and files written when the key was spelled `labeled`
  const { labelled: count, ...rest } = data;
  const spelled = { ...WRITTEN, preprocessing: JSON.stringify({ ...rest, labeled: 3 }) };
  assert.equal(count, null);
  assert.equal(decodeModelMetadata('m.safetensors', spelled, fix).preprocessing.labelled, 3);
});

test('each broken key is an InputError naming the file and the key', () => {
  const refused = (meta: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => {
        checkModelFormat('m.safetensors', meta, 'fix');
        decodeModelMetadata('m.safetensors', meta, 'fix');
      },
      (e: unknown) => e instanceof InputError && e.file === 'm.safetensors' && re.test(e.message),
    );
  refused({ ...WRITTEN, format: 'other' }, /is not a kneeseg model \(metadata format is "other"\)/);
  const { model: _, ...noModel } = WRITTEN;
  refused(noModel, /has no "model" metadata/);
  refused({ ...WRITTEN, model: '{' }, /metadata "model" is not valid JSON/);
  refused({ ...WRITTEN, decoding: 'argmax' }, /metadata "decoding" is "argmax", not "tree" or "softmax"/);
  refused({ ...WRITTEN, preprocessing: '{"axis":"w"}' }, /metadata "preprocessing" is invalid/);
  refused(
    { ...WRITTEN, decoding: 'softmax' },
    /the network has 9 outputs, softmax decoding of its tree needs 7/,
  );
  refused({ ...WRITTEN, structures: '[1]' }, /metadata "structures" is invalid/);
});
