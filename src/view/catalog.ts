/**
 * What `kneeseg view PATH` shows: the cases of PATH with their files. PATH is one of
 *
 *   a dataset (nnU-Net v2 layout, DIR/dataset.json): scans and ground truth, no predictions;
 *   a predict output folder ({case}.nii.gz label maps, measurements.json, probabilities/,
 *     uncertainty.json): the predictions, with scans and ground truth from `dataset` when given;
 *   a run folder (RUN/config.json of `kneeseg train`): its dataset (config data.dir) and its
 *     predictions RUN/pred/ when an experiment wrote them;
 *   an experiment folder (what `kneeseg experiment` writes: EXP/runs/{run}/ with config.json, pred/
 *     and evaluation.json): every run's predictions, the first run's as "the" prediction, the
 *     dataset of the first run.
 *
 * A second folder of label maps (`compare`, e.g. another run's predictions) may be shown beside
 * the first. Reading only: nothing here writes.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { openDataset, readDatasetJson, type DatasetJson } from '../data/dataset.ts';
import { DEFAULT_LABELS } from '../data/dataset.ts';
import { InputError } from '../errors.ts';
import { listLabelMaps } from '../data/case-files.ts';
import type { CaseMeasurements } from '../infer/measure.ts';
import type { KneeSide } from '../infer/volume.ts';
import type { MeasurementRow } from './api.ts';

export interface CatalogCase {
  readonly id: string;
  readonly image?: string;
  readonly prediction?: string;
  readonly groundTruth?: string;
  readonly compare?: string;
  /** experiment run name -> its prediction of this case (empty for other kinds) */
  readonly runs: ReadonlyMap<string, string>;
  /** structure name -> probability map (predict --probabilities) */
  readonly probabilities: ReadonlyMap<string, string>;
  /** fraction of foreground voxels whose label flips under left-right TTA (predict --tta flip) */
  readonly flipDisagreement?: number;
  /** where "save as labelled" writes; absent when it cannot */
  readonly labelTarget?: string;
  /**
   * the entry to add under dataset.json `dataset` when the dataset lists its cases and this one is
   * not listed yet (paths relative to the dataset folder)
   */
  readonly listEntry?: { readonly images: readonly string[]; readonly label: string };
  readonly notSavable?: string;
  readonly measurements: readonly MeasurementRow[];
  /** the knee side predict measured with (names the plate halves; recomputes use it too) */
  readonly side?: KneeSide;
}

export interface CatalogRun {
  readonly name: string;
  readonly dir: string;
  readonly pred: string;
  /** RUN/evaluation.json when the experiment wrote it */
  readonly evaluation?: string;
}

export interface Catalog {
  readonly kind: 'dataset' | 'predictions' | 'run' | 'experiment';
  readonly title: string;
  readonly dataset?: { readonly dir: string; readonly json: DatasetJson };
  readonly predictions?: string;
  readonly compare?: string;
  /** an experiment's runs with predictions, in name order (empty for other kinds) */
  readonly runs: readonly CatalogRun[];
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
  'give a dataset folder (with dataset.json), a `kneeseg predict` output folder (with --dataset DIR for its scans), a run folder (with config.json) or an experiment folder (with runs/)';

interface MeasurementsFile {
  model?: unknown;
  labels?: Record<string, number>;
  cases?: readonly (Pick<CaseMeasurements, 'case' | 'volumes' | 'thickness'> & { side?: KneeSide })[];
}

function readJson<T>(file: string, fix: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new InputError(file, `is not valid JSON (${(err as Error).message})`, fix);
  }
}

function readMeasurements(dir: string): MeasurementsFile {
  const file = join(dir, 'measurements.json');
  return existsSync(file) ? readJson<MeasurementsFile>(file, 'run kneeseg measure again') : {};
}

/** case id -> flip disagreement, from DIR/uncertainty.json (predict --tta flip). */
function readFlipDisagreement(dir: string): Map<string, number> {
  const file = join(dir, 'uncertainty.json');
  if (!existsSync(file)) return new Map();
  const u = readJson<{ cases?: { case: string; flip_disagreement: number | null }[] }>(
    file,
    'run kneeseg predict --tta flip again',
  );
  return new Map(
    (u.cases ?? [])
      .filter((c) => typeof c.flip_disagreement === 'number')
      .map((c) => [c.case, c.flip_disagreement!]),
  );
}

const orNull = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);

/** One table row per structure (volume, and mean thickness for plates), then one per plate half. */
export function measurementRows(m: Pick<CaseMeasurements, 'volumes' | 'thickness'>): MeasurementRow[] {
  const rows: MeasurementRow[] = m.volumes.map((v) => ({
    structure: v.structure,
    region: 'all',
    volumeMm3: orNull(v.volumeMm3),
    meanThicknessMm: orNull(
      m.thickness.find((t) => t.plate === v.structure && t.region === 'all')?.meanMm ?? null,
    ),
  }));
  for (const t of m.thickness)
    if (t.region !== 'all')
      rows.push({
        structure: t.plate,
        region: t.region,
        volumeMm3: orNull(t.volumeMm3),
        meanThicknessMm: orNull(t.meanMm),
      });
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
  const config = readJson<{ data?: { dir?: unknown } }>(join(run, 'config.json'), FIX);
  const dir = config.data?.dir;
  return typeof dir === 'string' && dir !== '' ? resolve(dir) : undefined;
}

/** The names of the run folders in a folder (those holding config.json), sorted. */
export function runFoldersOf(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => existsSync(join(dir, f, 'config.json')))
    .sort();
}

/** The runs of an experiment that have predictions: EXP/runs/{run}/pred, or EXP/{run}/pred. */
function experimentRuns(root: string): CatalogRun[] {
  const base = isDir(join(root, 'runs')) ? join(root, 'runs') : root;
  return runFoldersOf(base)
    .map((name) => ({ name, dir: join(base, name), pred: join(base, name, 'pred') }))
    .filter((r) => isDir(r.pred))
    .map((r) => {
      const evaluation = join(r.dir, 'evaluation.json');
      return existsSync(evaluation) ? { ...r, evaluation } : r;
    });
}

interface Source {
  kind: Catalog['kind'];
  datasetDir?: string;
  predictions?: string;
  model?: string;
  runs: CatalogRun[];
}

/** What kind of folder `root` is, and where its dataset and predictions are. */
function classify(root: string, o: CatalogOptions): Source {
  const given = o.dataset ? resolve(o.dataset) : undefined;
  if (existsSync(join(root, 'dataset.json'))) return { kind: 'dataset', datasetDir: root, runs: [] };
  if (existsSync(join(root, 'config.json'))) {
    const pred = join(root, 'pred');
    return {
      kind: 'run',
      datasetDir: given ?? runDataset(root),
      predictions: isDir(pred) ? pred : undefined,
      model: root,
      runs: [],
    };
  }
  if (listLabelMaps(root).size > 0)
    return { kind: 'predictions', datasetDir: given, predictions: root, runs: [] };
  const runs = experimentRuns(root);
  if (runs.length > 0) {
    const first = runs[0]!;
    return {
      kind: 'experiment',
      datasetDir: given ?? runDataset(first.dir),
      predictions: first.pred,
      model: first.dir,
      runs,
    };
  }
  const bare = isDir(join(root, 'runs')) ? runFoldersOf(join(root, 'runs')) : runFoldersOf(root);
  if (bare.length > 0)
    throw new InputError(root, 'is an experiment folder whose runs have no predictions (pred/) yet', FIX);
  throw new InputError(root, 'holds no label maps or dataset.json', FIX);
}

interface DatasetCase {
  images: readonly string[];
  label?: string;
  training: boolean;
}

function datasetCases(dir: string): { json: DatasetJson; cases: Map<string, DatasetCase> } {
  const json = readDatasetJson(dir);
  const names = Object.keys(json.labels).filter((n) => n !== 'background');
  const ds = openDataset(dir, { structures: names });
  const cases = new Map<string, DatasetCase>();
  for (const [list, training] of [
    [ds.training, true],
    [ds.test, false],
  ] as const)
    for (const c of list) cases.set(c.id, { images: c.images, label: c.label, training });
  return { json, cases };
}

type SaveTarget = Pick<CatalogCase, 'labelTarget' | 'listEntry' | 'notSavable'>;

/**
 * Where a correction of case `id` goes. With dataset.json's `dataset` listing, a listed case is
 * saved to the label path its entry names, and an unlisted one to labelsTr/ with an entry added, so
 * `kneeseg train` (which then reads only the listing) picks it up either way.
 */
function saveTarget(dataset: Catalog['dataset'], img: DatasetCase | undefined, id: string): SaveTarget {
  if (!dataset)
    return { notSavable: 'no dataset: start kneeseg view with --dataset DIR to save corrections' };
  if (!img) return { notSavable: `the dataset has no scan ${id}` };
  if (!img.training)
    return { notSavable: 'a test case (imagesTs): only training cases are saved as labelled' };
  const target = join(dataset.dir, 'labelsTr', `${id}${dataset.json.file_ending}`);
  const listing = dataset.json.dataset;
  if (listing === undefined) return { labelTarget: target };
  if (listing[id] !== undefined && img.label) return { labelTarget: img.label };
  const images = img.images.map((f) => relative(dataset.dir, f));
  return { labelTarget: target, listEntry: { images, label: relative(dataset.dir, target) } };
}

/** Opens PATH; InputError naming it when it is none of the four kinds. */
export function openCatalog(path: string, o: CatalogOptions = {}): Catalog {
  const root = resolve(path);
  if (!isDir(root)) throw new InputError(root, 'is not a folder', FIX);
  const src = classify(root, o);
  const ds = src.datasetDir ? datasetCases(src.datasetDir) : undefined;
  const dataset = ds && src.datasetDir ? { dir: src.datasetDir, json: ds.json } : undefined;
  const meas = src.predictions ? readMeasurements(src.predictions) : {};
  const model = src.model ?? (typeof meas.model === 'string' ? meas.model : undefined);
  const labels: Record<string, number> = dataset?.json.labels ?? meas.labels ?? { ...DEFAULT_LABELS };
  const cases = catalogCases(src, ds?.cases ?? new Map(), dataset, meas, labels, o.compare);
  return {
    kind: src.kind,
    title: basename(root),
    dataset,
    predictions: src.predictions,
    compare: o.compare ? resolve(o.compare) : undefined,
    runs: src.runs,
    model,
    labels,
    cases,
  };
}

function catalogCases(
  src: Source,
  images: ReadonlyMap<string, DatasetCase>,
  dataset: Catalog['dataset'],
  meas: MeasurementsFile,
  labels: Readonly<Record<string, number>>,
  compare: string | undefined,
): CatalogCase[] {
  const structures = Object.keys(labels).filter((n) => n !== 'background');
  const pred = src.predictions;
  const predicted = pred ? listLabelMaps(pred) : new Map<string, string>();
  const compared = compare ? listLabelMaps(resolve(compare)) : new Map<string, string>();
  const runMaps = src.runs.map((r) => [r.name, listLabelMaps(r.pred)] as const);
  const measured = new Map((meas.cases ?? []).map((c) => [c.case, measurementRows(c)]));
  const sides = new Map((meas.cases ?? []).map((c) => [c.case, c.side]));
  const flips = pred ? readFlipDisagreement(pred) : new Map<string, number>();
  const runIds = runMaps.flatMap(([, m]) => [...m.keys()]);
  const ids = [...new Set([...images.keys(), ...predicted.keys(), ...runIds])].sort();
  return ids.map((id): CatalogCase => {
    const img = images.get(id);
    const runs = new Map<string, string>();
    for (const [name, m] of runMaps) if (m.has(id)) runs.set(name, m.get(id)!);
    return {
      id,
      image: img?.images[0],
      groundTruth: img?.label,
      prediction: predicted.get(id),
      compare: compared.get(id),
      runs,
      probabilities: pred ? probabilityFiles(pred, id, structures) : new Map(),
      flipDisagreement: flips.get(id),
      ...saveTarget(dataset, img, id),
      measurements: measured.get(id) ?? [],
      side: sides.get(id),
    };
  });
}
