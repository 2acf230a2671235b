/**
 * A tiny world for the viewer's tests, made with kneeseg's own synthetic cohort and writers:
 *
 *   ROOT/dataset/      nnU-Net layout: knee_0000 (labelled), knee_0001 (unlabelled) in imagesTr,
 *                      knee_0002 in imagesTs with labelsTs
 *   ROOT/pred/         "predictions": each case's true label map with its femoral cartilage eroded
 *                      on some slices, measurements.json/.csv and probabilities/ as predict writes them
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeDatasetJson, imagePath, labelPath } from '../../src/data/dataset.ts';
import { writeLabelMap, writeVolume } from '../../src/data/io/index.ts';
import { renderCase, sampleSubject, SYNTH_LABELS, type SynthGrid } from '../../src/data/synth/index.ts';
import { geometryOf, type Volume } from '../../src/data/volume.ts';
import { measureCase, structuresOf, writeMeasurements } from '../../src/infer/run-measure.ts';
import type { CaseMeasurements } from '../../src/infer/measure.ts';

/** 16 x 40 x 40 voxels covering the default synthetic field of view */
export const TINY_GRID: SynthGrid = { shape: [16, 40, 40], spacing: [6, 2.88, 2.88] };

export interface ViewFixture {
  readonly root: string;
  readonly dataset: string;
  readonly pred: string;
  /** case id -> true label map */
  readonly truth: ReadonlyMap<string, Volume>;
  /** case id -> predicted label map */
  readonly predicted: ReadonlyMap<string, Volume>;
}

/** The prediction: the truth with femoral cartilage removed on every other sagittal slice x. */
function perturb(label: Volume, k: number): Volume {
  const [nx] = label.shape;
  const data = Uint8Array.from(label.data);
  for (let i = 0; i < data.length; i++) {
    const x = i % nx;
    if (data[i] === SYNTH_LABELS.femoral_cartilage && (x + k) % 2 === 0) data[i] = 0;
  }
  return { ...geometryOf(label), data };
}

export async function makeViewFixture(root: string, grid: SynthGrid = TINY_GRID): Promise<ViewFixture> {
  const dataset = join(root, 'dataset');
  const pred = join(root, 'pred');
  for (const d of ['imagesTr', 'labelsTr', 'imagesTs', 'labelsTs'])
    mkdirSync(join(dataset, d), { recursive: true });
  mkdirSync(join(pred, 'probabilities'), { recursive: true });
  writeDatasetJson(dataset, {
    channel_names: { '0': 'MRI' },
    labels: { ...SYNTH_LABELS },
    file_ending: '.nii.gz',
  });
  const structures = structuresOf(SYNTH_LABELS);
  const truth = new Map<string, Volume>();
  const predicted = new Map<string, Volume>();
  const measured: CaseMeasurements[] = [];
  const cases = [
    { id: 'knee_0000', folder: 'imagesTr', labels: 'labelsTr' },
    { id: 'knee_0001', folder: 'imagesTr', labels: null },
    { id: 'knee_0002', folder: 'imagesTs', labels: 'labelsTs' },
  ] as const;
  for (const [k, c] of cases.entries()) {
    const { image, label } = renderCase(sampleSubject(100 + k), grid);
    await writeVolume(imagePath(dataset, c.folder, c.id, '.nii.gz'), image);
    if (c.labels) await writeLabelMap(labelPath(dataset, c.labels, c.id, '.nii.gz'), label);
    truth.set(c.id, label);
    const p = perturb(label, k);
    predicted.set(c.id, p);
    await writeLabelMap(join(pred, `${c.id}.nii.gz`), p);
    measured.push(measureCase(c.id, p, structures, pred));
    // probabilities: confident for knee_0000, less so for the others (knee_0002 the least)
    const confidence = [0.95, 0.8, 0.6][k]!;
    for (const [value, name] of structures) {
      const prob = new Float32Array(p.data.length);
      for (let i = 0; i < prob.length; i++) prob[i] = p.data[i] === value ? confidence : 1 - confidence;
      await writeVolume(join(pred, 'probabilities', `${c.id}_${name}.nii.gz`), {
        ...geometryOf(p),
        data: prob,
      });
    }
  }
  writeMeasurements(pred, measured, structures, { model: '/runs/fixture-model' });
  return { root, dataset, pred, truth, predicted };
}
