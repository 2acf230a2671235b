/** Foreground oversampling on the data side: slice lists per structure and the batches they give. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { parseConfig } from '../../src/train/config.ts';
import { openTrainingData } from '../../src/train/slice-data.ts';
import type { SliceBatch } from '../../src/train/batches.ts';
import { tempDir, tinyCohort, tinyConfig } from './helpers.ts';

const root = tempDir('foreground');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

/** tibial cartilage: in 10 of the 24 labelled training slices of the tiny cohort */
const TIBIAL_CARTILAGE = 4;
/** patellar cartilage: a structure of the dataset that the tiny cohort's slices never hold */
const PATELLAR_CARTILAGE = 6;

/** The labelled label planes of the first `n` batches (augmentation off: the slices as cropped). */
async function labelledPlanes(foreground: Record<string, unknown>, n: number): Promise<Uint8Array[]> {
  const config = parseConfig(tinyConfig(data, { batch: { foreground }, augment: { enabled: false } }));
  const opened = await openTrainingData(config, defaultKneeTree());
  try {
    const planes: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const b: SliceBatch = await opened.batch(i);
      const plane = b.height * b.width;
      for (let j = 0; j < b.numLabelled; j++) planes.push(b.label.subarray(j * plane, (j + 1) * plane));
    }
    return planes;
  } finally {
    await opened.close();
  }
}

test('share 1 on one structure: every labelled slice holds it, unlike uniform sampling', async () => {
  const holds = (p: Uint8Array) => p.includes(TIBIAL_CARTILAGE);
  const uniform = await labelledPlanes({ share: 0 }, 30);
  assert.ok(!uniform.every(holds), 'some slices of the cohort lack tibial cartilage');
  const forced = await labelledPlanes({ share: 1, structures: [TIBIAL_CARTILAGE] }, 30);
  assert.equal(forced.length, 60);
  assert.ok(forced.every(holds));
});

test('the default share: uniform slots keep the plain stream, foreground slots differ, all from the seed', async () => {
  const share = 0.33;
  const plain = await labelledPlanes({ share: 0 }, 12);
  const a = await labelledPlanes({}, 12);
  assert.deepEqual(await labelledPlanes({}, 12), a);
  assert.notDeepEqual(a, plain);
  for (let k = 0; k < a.length; k++)
    if (Math.floor((k + 1) * share) === Math.floor(k * share))
      assert.deepEqual(a[k], plain[k - Math.floor(k * share)], `labelled item ${k}`);
});

test('a structure unknown to the dataset, or held by no labelled slice, is a config error naming the key', async () => {
  const named = (pattern: RegExp) => (e: unknown) =>
    e instanceof ConfigError && e.key === 'batch.foreground.structures' && pattern.test(e.message);
  await assert.rejects(
    labelledPlanes({ share: 0.5, structures: [TIBIAL_CARTILAGE, 9] }, 1),
    named(/9 is not a structure/),
  );
  // unknown even when oversampling is off
  await assert.rejects(labelledPlanes({ share: 0, structures: [9] }, 1), named(/9 is not a structure/));
  await assert.rejects(
    labelledPlanes({ share: 0.5, structures: [PATELLAR_CARTILAGE] }, 1),
    named(/no labelled training slice holds 6/),
  );
  // background is not a structure to oversample
  await assert.rejects(
    labelledPlanes({ share: 0.5, structures: [0] }, 1),
    (e: unknown) => e instanceof ConfigError && e.key.startsWith('batch.foreground.structures'),
  );
});
