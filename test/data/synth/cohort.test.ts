import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { readDatasetJson } from '../../../src/data/dataset-json.ts';
import { readVolume } from '../../../src/data/io/index.ts';
import { writeSynthCohort } from '../../../src/data/synth/cohort.ts';
import { renderCase } from '../../../src/data/synth/generate.ts';
import { caseSeed } from '../../../src/data/synth/job.ts';
import { structureColors } from '../../../src/data/palette.ts';
import { sliceFigurePng } from '../../../src/data/synth/render.ts';
import { sampleSubject } from '../../../src/data/synth/subject.ts';
import { SYNTH_LABELS } from '../../../src/data/synth/tissues.ts';
import { sameGeometry } from '../../../src/data/volume.ts';
import { InputError, OutputError } from '../../../src/errors.ts';
import { diskWithFreeBytes, simulateDisk } from '../../../src/output/atomic.ts';

const grid = { shape: [12, 40, 40], spacing: [8, 2.8, 2.8] } as const;

test('writes the nnU-Net layout; files hold the rendered case with its geometry', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kneeseg-synth-'));
  const out = join(root, 'cohort');
  const summary = await writeSynthCohort({
    out,
    labelled: 2,
    unlabelled: 1,
    test: 1,
    seed: 9,
    grid,
    workers: 2,
  });
  assert.deepEqual(readdirSync(out).sort(), ['dataset.json', 'imagesTr', 'imagesTs', 'labelsTr', 'labelsTs']);
  assert.deepEqual(readdirSync(join(out, 'imagesTr')).sort(), [
    'knee_0000_0000.nii.gz',
    'knee_0001_0000.nii.gz',
    'knee_0002_0000.nii.gz',
  ]);
  assert.deepEqual(readdirSync(join(out, 'labelsTr')).sort(), ['knee_0000.nii.gz', 'knee_0001.nii.gz']);
  assert.deepEqual(readdirSync(join(out, 'imagesTs')), ['knee_0003_0000.nii.gz']);
  assert.deepEqual(readdirSync(join(out, 'labelsTs')), ['knee_0003.nii.gz']);
  const json = readDatasetJson(out);
  assert.equal(json.numTraining, 3);
  assert.deepEqual(json.channel_names, { '0': 'MRI' });
  assert.equal(json.labels['patellar_cartilage'], 6);
  assert.deepEqual(
    summary.cases.map((c) => c.kind),
    ['labelled', 'labelled', 'unlabelled', 'test'],
  );
  const expected = renderCase(sampleSubject(caseSeed(9, 3)), grid);
  const label = await readVolume(join(out, 'labelsTs', 'knee_0003.nii.gz'));
  const image = await readVolume(join(out, 'imagesTs', 'knee_0003_0000.nii.gz'));
  assert.deepEqual(Array.from(label.data), Array.from(expected.label.data));
  assert.deepEqual(Array.from(image.data), Array.from(expected.image.data));
  assert.ok(sameGeometry(image, expected.image)); // NIfTI keeps spacing in float32
  assert.ok(!readdirSync(root).some((f) => f.includes('partial')));
});

test('refuses a non-empty output folder and leaves it untouched', async () => {
  const out = mkdtempSync(join(tmpdir(), 'kneeseg-synth-'));
  writeFileSync(join(out, 'keep.txt'), 'x');
  await assert.rejects(
    writeSynthCohort({ out, labelled: 1, unlabelled: 0, test: 0, seed: 1, grid }),
    InputError,
  );
  assert.deepEqual(readdirSync(out), ['keep.txt']);
  // nor the hidden temporary folder it would have been written in
  assert.ok(!readdirSync(dirname(out)).some((f) => f.startsWith(`.kneeseg-tmp-${process.pid}-`)));
});

test('the slice figure shows grey values left and label colours right', () => {
  const c = renderCase(sampleSubject(2), grid);
  const png = PNG.sync.read(sliceFigurePng(c.image, c.label, { slice: 6, zoom: 2 }));
  assert.equal(png.width, 2 * 40 * 2);
  assert.equal(png.height, 40 * 2);
  // a femur pixel: grey on the left; on the right the grey blended with the figures' femur colour
  // at the default bone opacity 0.45
  const femur = structureColors(SYNTH_LABELS).get(SYNTH_LABELS.femur)!.color;
  const [nx, ny, nz] = c.label.shape;
  let found = false;
  for (let z = 0; z < nz && !found; z++)
    for (let y = 0; y < ny && !found; y++) {
      if (c.label.data[6 + nx * (y + ny * z)] !== SYNTH_LABELS.femur) continue;
      const r = (nz - 1 - z) * 2;
      const left = (r * png.width + y * 2) * 4;
      const right = left + 40 * 2 * 4;
      const g = png.data[left]!;
      assert.equal(png.data[left + 1], g);
      assert.equal(png.data[left + 2], g);
      for (let k = 0; k < 3; k++)
        assert.equal(png.data[right + k], Math.round((1 - 0.45) * g + 0.45 * femur[k]!));
      found = true;
    }
  assert.ok(found);
});

/** `err` is a one-line OutputError naming `file`, the temporary path written and the cause. */
function namesBoth(err: unknown, file: string, written: RegExp, cause: RegExp): true {
  assert.ok(err instanceof OutputError, String(err));
  assert.equal(err.file, file);
  assert.ok(err.message.startsWith(`${file}: cannot be written`), err.message);
  assert.ok(!err.message.includes('\n'), err.message);
  assert.match(err.message, written);
  assert.match(err.message, cause);
  assert.match(err.message, /the partial cohort was removed\)\. Fix: /);
  return true;
}

const tmpOf = (root: string) =>
  `${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.kneeseg-tmp-${process.pid}-[0-9a-f]{8}-cohort`;

test('a full disk while a case is written: the error names the final file, the temporary one and ENOSPC; nothing is left', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kneeseg-synth-'));
  const out = join(root, 'cohort');
  simulateDisk(diskWithFreeBytes(0));
  try {
    await assert.rejects(
      writeSynthCohort({ out, labelled: 1, unlabelled: 0, test: 0, seed: 1, grid, workers: 0 }),
      (e) =>
        namesBoth(
          e,
          join(out, 'imagesTr', 'knee_0000_0000.nii.gz'),
          new RegExp(`\\(writing ${tmpOf(root)}/imagesTr/knee_0000_0000\\.nii\\.gz;`),
          /: no space left on the disk \(ENOSPC\) .*Fix: free space on that disk/,
        ),
    );
  } finally {
    simulateDisk(null);
  }
  assert.deepEqual(readdirSync(root), []);
});

test('a file-system error in a worker thread is named, not "failed": the final file, the temporary one, the cause', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kneeseg-synth-'));
  const out = join(root, 'cohort');
  await assert.rejects(
    writeSynthCohort({
      out,
      labelled: 2,
      unlabelled: 0,
      test: 0,
      seed: 1,
      grid,
      workers: 1,
      // after the first case, a file takes the place of imagesTr/ in the temporary folder
      onCase: () => {
        const tmp = join(
          root,
          readdirSync(root).find((f) => f.startsWith('.kneeseg-tmp-'))!,
        );
        rmSync(join(tmp, 'imagesTr'), { recursive: true });
        writeFileSync(join(tmp, 'imagesTr'), '');
      },
    }),
    (e) =>
      namesBoth(
        e,
        join(out, 'imagesTr', 'knee_0001_0000.nii.gz'),
        new RegExp(`\\(writing ${tmpOf(root)}/imagesTr/knee_0001_0000\\.nii\\.gz;`),
        /\b(EEXIST|ENOTDIR)\b/,
      ),
  );
  assert.deepEqual(readdirSync(root), []);
});

test('dataset.json on a full disk: named in the final folder and the temporary one; nothing is left', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kneeseg-synth-'));
  const out = join(root, 'cohort');
  simulateDisk((output, n) => (output.endsWith('dataset.json') ? 0 : n));
  try {
    await assert.rejects(
      writeSynthCohort({ out, labelled: 1, unlabelled: 0, test: 0, seed: 1, grid, workers: 1 }),
      (e) =>
        namesBoth(
          e,
          join(out, 'dataset.json'),
          new RegExp(`\\(writing ${tmpOf(root)}/dataset\\.json;`),
          /no space left on the disk \(ENOSPC\)/,
        ),
    );
  } finally {
    simulateDisk(null);
  }
  assert.deepEqual(readdirSync(root), []);
});
