/**
 * A tiny world for the viewer's tests, made with kneeseg's own synthetic cohort and writers:
 *
 *   ROOT/dataset/      nnU-Net layout: knee_0000 (labelled), knee_0001 (unlabelled) in imagesTr,
 *                      knee_0002 in imagesTs with labelsTs
 *   ROOT/pred/         "predictions": each case's true label map with its femoral cartilage eroded
 *                      on some slices, measurements.json/.csv and probabilities/ as predict writes them
 *   ROOT/experiment/   (makeExperimentFixture) two runs' predictions of the dataset
 */
import { mkdirSync, writeFileSync } from 'node:fs';
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

export interface ExperimentFixture {
  readonly root: string;
  /** run names, sorted */
  readonly runs: readonly [string, string];
  /** run name -> case id -> predicted label map */
  readonly predicted: ReadonlyMap<string, ReadonlyMap<string, Volume>>;
  /** case id -> flip disagreement written to the first run's pred/uncertainty.json */
  readonly flip: ReadonlyMap<string, number>;
  /** the Dice every case and structure has in the first run's evaluation.json */
  readonly storedDice: number;
}

/** A schema-valid evaluation.json giving every case and structure the same Dice and HD95. */
function fakeEvaluation(ids: readonly string[], dice: number): unknown {
  const metrics = { dice, hd95_mm: 1.5, hd95_vox: 1, assd_mm: 0.5, volume_error_pct: 2 };
  const names = structuresOf(SYNTH_LABELS);
  const summary = Object.fromEntries(
    Object.entries(metrics).map(([k, v]) => [k, { mean: v, sd: 0, n: ids.length, n_undefined: 0 }]),
  );
  return {
    structures: Object.fromEntries([...names.values()].map((s) => [s, summary])),
    cases: ids.map((id) => ({
      case: id,
      structures: Object.fromEntries(
        [...names.values()].map((s) => [s, { ...metrics, hd_mm: 2, pred_voxels: 10, gt_voxels: 10 }]),
      ),
    })),
    empty: {},
    missing: [],
    labels: { ...SYNTH_LABELS },
  };
}

/**
 * An experiment folder as `kneeseg experiment` leaves it, on the dataset of `fx`:
 *   ROOT/experiment/runs/alpha-l1-s0/  config.json, pred/ (fx's predictions), evaluation.json,
 *                                      pred/uncertainty.json (predict --tta flip's file)
 *   ROOT/experiment/runs/beta-l1-s0/   config.json, pred/ (the truth with tibial cartilage eroded)
 */
export async function makeExperimentFixture(fx: ViewFixture): Promise<ExperimentFixture> {
  const root = join(fx.root, 'experiment');
  const runs = ['alpha-l1-s0', 'beta-l1-s0'] as const;
  const predicted = new Map<string, Map<string, Volume>>();
  const ids = [...fx.truth.keys()];
  for (const run of runs) {
    const dir = join(root, 'runs', run);
    mkdirSync(join(dir, 'pred'), { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ data: { dir: fx.dataset }, seed: 0 }));
    const maps = new Map<string, Volume>();
    for (const [k, id] of ids.entries()) {
      const v = run === runs[0] ? fx.predicted.get(id)! : erode(fx.truth.get(id)!, k);
      maps.set(id, v);
      await writeLabelMap(join(dir, 'pred', `${id}.nii.gz`), v);
    }
    predicted.set(run, maps);
  }
  const storedDice = 0.5;
  const first = join(root, 'runs', runs[0]);
  writeFileSync(join(first, 'evaluation.json'), JSON.stringify(fakeEvaluation(ids, storedDice)));
  // knee_0001 the most uncertain under the flip, unlike the probability maps' order
  const flip = new Map([
    ['knee_0000', 0.02],
    ['knee_0001', 0.09],
    ['knee_0002', 0.01],
  ]);
  const cases = [...flip].map(([id, f]) => ({ case: id, flip_disagreement: f }));
  writeFileSync(join(first, 'pred', 'uncertainty.json'), JSON.stringify({ measure: 'flip', cases }));
  return { root, runs: [...runs], predicted, flip, storedDice };
}

/** The truth with tibial cartilage removed on every third coronal row y. */
function erode(label: Volume, k: number): Volume {
  const [nx, ny] = label.shape;
  const data = Uint8Array.from(label.data);
  for (let i = 0; i < data.length; i++)
    if (data[i] === SYNTH_LABELS.tibial_cartilage && (Math.floor(i / nx) % ny) % 3 === k % 3) data[i] = 0;
  return { ...geometryOf(label), data };
}
