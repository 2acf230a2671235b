/**
 * predict --tta flip's per-case uncertainty: the pixels whose label differs between the prediction of
 * the slices and of their mirror images, and DIR/uncertainty.json, which `kneeseg view` ranks by.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setNumThreads } from '../../src/engine/index.ts';
import { writeVolume } from '../../src/data/io/index.ts';
import { prepareCase } from '../../src/data/preprocess.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { predictSlices, predictVolume } from '../../src/infer/predict.ts';
import { predictScans } from '../../src/infer/run-predict.ts';
import { syntheticScan, tempDir, writeTinyModel } from './helpers.ts';

setNumThreads(1);
const model = loadModel(writeTinyModel(tempDir()));

/** [count, H, W] planes with every row's columns reversed. */
function mirrorColumns<T extends Float32Array | Uint8Array | Int16Array>(a: T, H: number, W: number): T {
  const out = a.slice() as T;
  for (let q = 0; q < a.length / (H * W); q++)
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++) out[(q * H + r) * W + c] = a[(q * H + r) * W + (W - 1 - c)]!;
  return out;
}

test('tta flip counts the pixels whose label differs between the slices and their mirror images', () => {
  const image = syntheticScan([5, 32, 32], 3);
  const p = prepareCase('scan', image, undefined, model.preprocessing);
  const [H, W] = p.layout.size;
  const tta = predictSlices(model, p, { batch: 2, tta: 'flip' });
  const plain = predictSlices(model, p, { batch: 2 }).labels;
  const mirroredInput = { ...p, planes: mirrorColumns(p.planes, H, W) };
  const mirrored = mirrorColumns(predictSlices(model, mirroredInput, { batch: 2 }).labels, H, W);
  let changed = 0;
  let foreground = 0;
  for (let i = 0; i < plain.length; i++) {
    if (plain[i] !== 0 || mirrored[i] !== 0) foreground++;
    if (plain[i] !== mirrored[i]) changed++;
  }
  assert.deepEqual(tta.flip, { changed, foreground });
  assert.ok(
    changed > 0 && foreground > changed,
    `changed ${changed} of ${foreground}: an untrained model is not symmetric`,
  );
  assert.equal(predictSlices(model, p, { batch: 2 }).flip, undefined, 'no count without tta');
  const v = predictVolume(model, image, 'scan', { tta: 'flip' });
  assert.equal(v.flip!.fraction, changed / foreground);
});

test('predict --tta flip writes uncertainty.json per case; without tta there is none', async () => {
  const dir = tempDir();
  await writeVolume(join(dir, 'in', 'a.nii.gz'), syntheticScan([5, 20, 20], 1));
  await writeVolume(join(dir, 'in', 'b.nii.gz'), syntheticScan([5, 24, 20], 2));
  const r = await predictScans(model, join(dir, 'in'), {
    output: join(dir, 'flip'),
    tta: 'flip',
    measure: false,
  });
  assert.equal(r.uncertaintyFile, join(dir, 'flip', 'uncertainty.json'));
  const u = JSON.parse(readFileSync(r.uncertaintyFile!, 'utf8')) as {
    measure: string;
    cases: { case: string; flip_disagreement: number; changed_voxels: number; foreground_voxels: number }[];
  };
  assert.deepEqual(
    u.cases.map((c) => c.case),
    ['a', 'b'],
  );
  for (const c of u.cases) {
    const d = r.done.find((x) => x.scan.id === c.case)!;
    assert.equal(c.flip_disagreement, d.flip!.fraction);
    assert.equal(c.flip_disagreement, c.changed_voxels / c.foreground_voxels);
  }
  const none = await predictScans(model, join(dir, 'in'), { output: join(dir, 'plain'), measure: false });
  assert.equal(none.uncertaintyFile, undefined);
  assert.ok(!existsSync(join(dir, 'plain', 'uncertainty.json')));
});
