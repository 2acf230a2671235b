/** A tiny nnU-Net-layout dataset on disk for the dataset and inspect tests. */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDatasetJson, type DatasetJson } from '../../src/data/dataset-json.ts';
import { imagePath, labelPath } from '../../src/data/dataset.ts';
import { writeLabelMap, writeVolume } from '../../src/data/io/index.ts';
import type { Geometry, Volume } from '../../src/data/volume.ts';

export const GEOMETRY: Geometry = {
  shape: [6, 5, 4],
  spacing: [0.5, 0.5, 1.5],
  origin: [1, 2, 3],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};

export function scan(seed: number, g: Geometry = GEOMETRY): Volume<Float32Array> {
  const n = g.shape[0] * g.shape[1] * g.shape[2];
  return { ...g, data: Float32Array.from({ length: n }, (_, i) => ((i * 7 + seed * 13) % 50) + 0.5) };
}

/** Label map whose voxel i holds values[i % values.length]. */
export function labels(values: number[], g: Geometry = GEOMETRY): Volume<Uint8Array> {
  const n = g.shape[0] * g.shape[1] * g.shape[2];
  return { ...g, data: Uint8Array.from({ length: n }, (_, i) => values[i % values.length]!) };
}

export const JSON_ALL: DatasetJson = {
  channel_names: { '0': 'MRI' },
  labels: {
    background: 0,
    femur: 1,
    femoral_cartilage: 2,
    tibia: 3,
    tibial_cartilage: 4,
    patella: 5,
    patellar_cartilage: 6,
  },
  file_ending: '.nii.gz',
};

/** 3 labelled + 2 unlabelled training cases, 2 test cases (one labelled). */
export async function makeDataset(json: DatasetJson = JSON_ALL): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-ds-'));
  for (const f of ['imagesTr', 'labelsTr', 'imagesTs', 'labelsTs']) mkdirSync(join(dir, f));
  const e = json.file_ending;
  const values = [0, ...Object.values(json.labels).filter((v) => v > 0)];
  for (const [i, id] of ['k01', 'k02', 'k03', 'k04', 'k05'].entries()) {
    await writeVolume(imagePath(dir, 'imagesTr', id, e), scan(i));
    if (i < 3) await writeLabelMap(labelPath(dir, 'labelsTr', id, e), labels(values.slice(0, i + 2)));
  }
  for (const [i, id] of ['t01', 't02'].entries()) {
    await writeVolume(imagePath(dir, 'imagesTs', id, e), scan(10 + i));
    if (i === 0) await writeLabelMap(labelPath(dir, 'labelsTs', id, e), labels(values));
  }
  writeDatasetJson(dir, { ...json, numTraining: 5 });
  return dir;
}
