/**
 * `data.tree` (src/train/config.ts): a run trains on the label tree of a JSON file, maps the dataset's
 * structures onto its nodes (by node name, else by default value), and stores the tree in the model
 * file, so prediction decodes with the tree the model was trained on.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readVolume } from '../../src/data/io/index.ts';
import { InputError } from '../../src/errors.ts';
import { KNEE_TREE, type LabelTreeDefinition } from '../../src/hierarchy/tree.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { predictVolume } from '../../src/infer/predict.ts';
import { parseConfig } from '../../src/train/config.ts';
import { runTraining } from '../../src/train/run.ts';
import { tempDir, tinyCohort, tinyConfig } from './helpers.ts';

const root = tempDir('train-tree');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

/** One level deeper than the knee tree (10 nodes), the tibia's leaves named as the dataset names them, valued 13 and 14. */
const DEEP: LabelTreeDefinition = {
  roots: [
    {
      name: 'knee',
      children: [
        {
          name: 'PA',
          children: [
            { name: 'PB', label: 5 },
            { name: 'PC', label: 6 },
          ],
        },
        {
          name: 'T',
          children: [
            { name: 'tibia', label: 13 },
            { name: 'tibial_cartilage', label: 14 },
          ],
        },
        {
          name: 'F',
          children: [
            { name: 'DF', label: 1 },
            { name: 'FC', label: 2 },
          ],
        },
      ],
    },
  ],
};

const short = { schedule: { maxIterations: 4, iterationsPerEpoch: 2 }, method: { name: 'seg-th' } };

test('data.tree defaults to the knee tree, which the model file stores', async () => {
  assert.equal(parseConfig({}).data.tree, null);
  const out = join(root, 'default');
  await runTraining(tinyConfig(data, short), { out });
  const model = loadModel(out);
  assert.deepEqual(model.tree.definition, KNEE_TREE);
  model.model.dispose();
});

test('a run trains on the tree file of data.tree and prediction decodes with it from the model file', async () => {
  const file = join(root, 'deep-tree.json');
  writeFileSync(file, JSON.stringify(DEEP));
  const out = join(root, 'deep');
  const { summary } = await runTraining(tinyConfig(data, { ...short, data: { tree: file } }), { out });
  assert.equal(summary.iterations, 4);
  writeFileSync(file, JSON.stringify(KNEE_TREE)); // the model does not depend on the file any more
  const model = loadModel(out);
  try {
    assert.deepEqual(model.tree.definition, DEEP);
    assert.equal(model.config.outChannels, 10, 'one output per node of the deeper tree');
    // dataset "tibia" (value 3 on disk) is the tree's node "tibia" (13)
    assert.deepEqual(
      [...model.structures],
      [
        [1, 'femur'],
        [2, 'femoral_cartilage'],
        [5, 'patella'],
        [6, 'patellar_cartilage'],
        [13, 'tibia'],
        [14, 'tibial_cartilage'],
      ],
    );
    const scan = join(data, 'imagesTs', readdirFirst(join(data, 'imagesTs')));
    const { labels } = predictVolume(model, await readVolume(scan), scan);
    assert.ok(
      [...new Set(labels.data)].every((v) => [0, 1, 2, 5, 6, 13, 14].includes(v)),
      'label values of the tree',
    );
  } finally {
    model.model.dispose();
  }
  // the validation Dice is reported under the dataset's names
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8');
  assert.match(log, /"tibial_cartilage":/);
});

test('a missing tree file, or a tree without a leaf for a dataset structure, is refused by name', async () => {
  const missing = join(root, 'no-such-tree.json');
  await assert.rejects(
    runTraining(tinyConfig(data, { ...short, data: { tree: missing } }), { out: join(root, 'missing') }),
    (e: unknown) => e instanceof InputError && e.file === missing && /is missing/.test(e.message),
  );
  const file = join(root, 'no-patella.json');
  writeFileSync(file, JSON.stringify({ roots: KNEE_TREE.roots.slice(1) }));
  await assert.rejects(
    runTraining(tinyConfig(data, { ...short, data: { tree: file } }), { out: join(root, 'partial') }),
    (e: unknown) =>
      e instanceof InputError && e.file === join(data, 'dataset.json') && /"patella"/.test(e.message),
  );
});

function readdirFirst(dir: string): string {
  return readdirSync(dir).sort()[0]!;
}
