import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.ts';
import { labelsToObservations, nodeTargets } from '../../src/hierarchy/targets.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { sdfFromMasks } from '../../src/levelset/sdf-targets.ts';
import { treeLevelSetTargets } from '../../src/levelset/target-spec.ts';
import { parseConfig } from '../../src/train/config.ts';
import { openTrainingData, type OpenedTrainingData } from '../../src/train/slice-data.ts';
import { toBatch } from '../../src/train/trainer.ts';
import { tempDir, tinyCohort, tinyConfig } from './helpers.ts';

const root = tempDir('level-set-targets');
const tree = defaultKneeTree();
let data = '';
const opened: OpenedTrainingData[] = [];
before(async () => {
  data = await tinyCohort(root);
});
after(async () => {
  for (const d of opened) await d.close();
});

async function open(augment: boolean): Promise<OpenedTrainingData> {
  const d = await openTrainingData(parseConfig(tinyConfig(data, { augment: { enabled: augment } })), tree);
  opened.push(d);
  return d;
}

/** the targets the training step would compute itself from the batch's labels */
function mainThreadTargets(
  label: Uint8Array,
  shape: [number, number, number],
  spacing: readonly [number, number],
  form: 'dtc' | 'thin',
) {
  const obs = labelsToObservations(tensor(label, shape, { dtype: 'uint8' }).to('int64'), tree);
  return sdfFromMasks(nodeTargets(obs, tree).target, spacing, form).data() as Float32Array;
}

for (const augment of [true, false])
  test(`batch SDF targets (${augment ? 'augmentation worker' : 'main thread, augmentation off'}) equal the step's own, bit for bit`, async () => {
    const d = await open(augment);
    const plain = await d.batch(0);
    assert.equal(plain.sdf, undefined, 'no spec, no targets');
    for (const form of ['dtc', 'thin'] as const) {
      d.setLevelSetTargets!(treeLevelSetTargets(tree, form));
      for (const it of [0, 1, 2]) {
        const b = await d.batch(it);
        const { numLabelled: L, height: H, width: W } = b;
        assert.ok(b.sdf, `${form} batch ${it} has targets`);
        assert.equal(b.sdf.length, L * tree.size * H * W);
        // the same batch as without targets: the targets ride along, they change nothing else
        if (it === 0) {
          assert.deepEqual(b.label, plain.label);
          assert.deepEqual(b.image, plain.image);
        }
        assert.ok(
          b.label.some((v) => v > 0),
          'labels hold structures',
        );
        assert.deepEqual(
          b.sdf,
          mainThreadTargets(b.label, [L, H, W], b.spacing, form),
          `${form} batch ${it}`,
        );
        const batch = toBatch(b);
        assert.deepEqual(batch.sdf!.shape, [L, tree.size, H, W]);
        assert.deepEqual(batch.sdf!.data(), b.sdf);
      }
    }
    d.setLevelSetTargets!(null);
    assert.equal((await d.batch(3)).sdf, undefined);
  });
