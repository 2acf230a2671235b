/**
 * What `kneeseg view PATH` shows: the cases of PATH with their files. PATH is one of
 *
 *   a dataset (nnU-Net v2 layout, DIR/dataset.json): scans and ground truth, no predictions;
 *   a predict output folder ({case}.nii.gz label maps, measurements.json, probabilities/): the
 *     predictions, with scans and ground truth from `dataset` when given;
 *   a run folder (RUN/config.json of `kneeseg train`): its dataset (config data.dir) and its
 *     predictions RUN/pred/ when an experiment wrote them.
 *
 * A second folder of label maps (`compare`, e.g. another run's predictions) may be shown beside
 * the first. Reading only: nothing here writes.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { openDataset, readDatasetJson, type DatasetJson } from '../data/dataset.ts';
import { DEFAULT_LABELS } from '../data/dataset.ts';
import { InputError } from '../errors.ts';
import { listLabelMaps } from '../data/case-files.ts';
import type { MeasurementRow } from './api.ts';

export interface CatalogCase {
  readonly id: string;
  readonly image?: string;
  readonly prediction?: string;
  readonly groundTruth?: string;
  readonly compare?: string;
  /** structure name -> probability map (predict --probabilities) */
  readonly probabilities: ReadonlyMap<string, string>;
  /** where "save as labelled" writes: DATASET/labelsTr/{case}{ending}; absent when it cannot */
  readonly labelTarget?: string;
  readonly notSavable?: string;
  readonly measurements: readonly MeasurementRow[];
}

export interface Catalog {
  readonly kind: 'dataset' | 'predictions' | 'run';
  readonly title: string;
  readonly dataset?: { readonly dir: string; readonly json: DatasetJson };
  readonly predictions?: string;
  readonly compare?: string;
  /** the model the predictions came from, for provenance records */
  readonly model?: string;
  /** structure name -> label value, background included */
  readonly labels: Readonly<Record<string, number>>;
  readonly cases: readonly CatalogCase[];
}

export interface CatalogOptions {
  /** dataset holding the scans of a predictions folder */
  readonly dataset?: string;
  /** a second folder of label maps shown beside the first */
  readonly compare?: string;
}

const FIX =
  'give a dataset folder (with dataset.json), a `kneeseg predict` output folder (with --dataset DIR for its scans) or a run folder (with config.json)';

interface MeasurementsFile {
  model?: unknown;
  labels?: Record<string, number>;
  cases?: {
    case: string;
    volumes: { structure: string; volumeMm3: number | null }[];
    thickness: { plate: string; region: string; volumeMm3: number | null; meanMm: number | null }[];
  }[];
}

function readMeasurements(dir: string): MeasurementsFile {
  const file = join(dir, 'measurements.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as MeasurementsFile;
  } catch (err) {
    throw new InputError(file, `is not valid JSON (${(err as Error).message})`, 'run kneeseg measure again');
  }
}

/** One table row per structure (volume, and mean thickness for plates), then one per plate half. */
function measurementRows(m: NonNullable<MeasurementsFile['cases']>[number]): MeasurementRow[] {
  const rows: MeasurementRow[] = m.volumes.map((v) => ({
    structure: v.structure,
    region: 'all',
    volumeMm3: v.volumeMm3,
    meanThicknessMm: m.thickness.find((t) => t.plate === v.structure && t.region === 'all')?.meanMm ?? null,
  }));
  for (const t of m.thickness)
    if (t.region !== 'all')
      rows.push({ structure: t.plate, region: t.region, volumeMm3: t.volumeMm3, meanThicknessMm: t.meanMm });
  return rows;
}

/** structure -> file of DIR/probabilities/{case}_{structure}.nii.gz for the structures given. */
function probabilityFiles(dir: string, id: string, structures: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const folder = join(dir, 'probabilities');
  if (!existsSync(folder)) return out;
  for (const s of structures) {
    const file = join(folder, `${id}_${s}.nii.gz`);
    if (existsSync(file)) out.set(s, file);
  }
  return out;
}

function isDir(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** The dataset folder a run was trained on (RUN/config.json `data.dir`). */
function runDataset(run: string): string | undefined {
  const file = join(run, 'config.json');
  let config: { data?: { dir?: unknown } };
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as typeof config;
  } catch (err) {
    throw new InputError(file, `is not valid JSON (${(err as Error).message})`, FIX);
  }
  const dir = config.data?.dir;
  return typeof dir === 'string' && dir !== '' ? resolve(dir) : undefined;
}

/** Opens PATH; InputError naming it when it is none of the three kinds. */
export function openCatalog(path: string, o: CatalogOptions = {}): Catalog {
  const root = resolve(path);
  if (!isDir(root)) throw new InputError(root, 'is not a folder', FIX);
  let kind: Catalog['kind'];
  let datasetDir = o.dataset ? resolve(o.dataset) : undefined;
  let predictions: string | undefined;
  let model: string | undefined;
  if (existsSync(join(root, 'dataset.json'))) {
    kind = 'dataset';
    datasetDir = root;
  } else if (existsSync(join(root, 'config.json'))) {
    kind = 'run';
    datasetDir ??= runDataset(root);
    if (isDir(join(root, 'pred'))) predictions = join(root, 'pred');
    model = root;
  } else {
    kind = 'predictions';
    predictions = root;
    if (listLabelMaps(root).size === 0) {
      const runs = runFoldersOf(root);
      if (runs.length > 0)
        throw new InputError(root, 'is an experiment folder', `view one of its runs: ${runs.join(', ')}`);
      throw new InputError(root, 'holds no label maps or dataset.json', FIX);
    }
  }

  let dataset: Catalog['dataset'];
  const images = new Map<string, { image: string; label?: string; training: boolean }>();
  if (datasetDir) {
    const json = readDatasetJson(datasetDir);
    const names = Object.keys(json.labels).filter((n) => n !== 'background');
    const ds = openDataset(datasetDir, { structures: names });
    dataset = { dir: datasetDir, json };
    for (const [list, training] of [
      [ds.training, true],
      [ds.test, false],
    ] as const)
      for (const c of list) images.set(c.id, { image: c.images[0]!, label: c.label, training });
  }

  const meas = predictions ? readMeasurements(predictions) : {};
  if (predictions && typeof meas.model === 'string') model ??= meas.model;
  const labels: Record<string, number> = dataset?.json.labels ?? meas.labels ?? { ...DEFAULT_LABELS };
  const structures = Object.keys(labels).filter((n) => n !== 'background');
  const predicted = predictions ? listLabelMaps(predictions) : new Map<string, string>();
  const compared = o.compare ? listLabelMaps(resolve(o.compare)) : new Map<string, string>();
  const measured = new Map((meas.cases ?? []).map((c) => [c.case, measurementRows(c)]));

  const ids = [...new Set([...images.keys(), ...predicted.keys()])].sort();
  const cases = ids.map((id): CatalogCase => {
    const img = images.get(id);
    let labelTarget: string | undefined;
    let notSavable: string | undefined;
    if (!dataset) notSavable = 'no dataset: start kneeseg view with --dataset DIR to save corrections';
    else if (!img) notSavable = `the dataset has no scan ${id}`;
    else if (!img.training) notSavable = 'a test case (imagesTs): only imagesTr cases are saved as labelled';
    else if (dataset.json['dataset'] !== undefined)
      notSavable = 'dataset.json lists its files (`dataset` key): edit the listed label map instead';
    else labelTarget = join(dataset.dir, 'labelsTr', `${id}${dataset.json.file_ending}`);
    return {
      id,
      image: img?.image,
      groundTruth: img?.label,
      prediction: predicted.get(id),
      compare: compared.get(id),
      probabilities: predictions ? probabilityFiles(predictions, id, structures) : new Map(),
      labelTarget,
      notSavable,
      measurements: measured.get(id) ?? [],
    };
  });
  return {
    kind,
    title: basename(root),
    dataset,
    predictions,
    compare: o.compare ? resolve(o.compare) : undefined,
    model,
    labels,
    cases,
  };
}

/** The names of the run folders in an experiment folder (for the error message of a wrong PATH). */
export function runFoldersOf(dir: string): string[] {
  return readdirSync(dir).filter((f) => existsSync(join(dir, f, 'config.json')));
}
