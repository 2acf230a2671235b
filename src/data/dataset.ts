/**
 * A dataset in nnU-Net v2's layout, the layout this field already uses:
 *   DIR/dataset.json, DIR/imagesTr/{case}_0000{ending}, DIR/labelsTr/{case}{ending},
 *   DIR/imagesTs/ and DIR/labelsTs/ (optional).
 * A case in imagesTr without a file in labelsTr is unlabelled (semi-supervised training uses it).
 * nnU-Net v2's `dataset` key in dataset.json names the labelled training cases explicitly, with their
 * image and label paths (relative to DIR or absolute, $VAR expanded as nnU-Net does); then labelsTr
 * is not read, every imagesTr case the list leaves out is unlabelled, and `numTraining` counts the list.
 * Label values map to label-tree structures by their names in dataset.json `labels`; a dataset that
 * lacks a structure (OAI-ZIB has no patella) simply leaves it out.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { readDatasetJson, type DatasetJson } from './dataset-json.ts';
import { readVolume } from './io/index.ts';
import { sameGeometry, type Geometry, type Volume } from './volume.ts';

import { KNEE_LABELS } from './labels.ts';

export { readDatasetJson, writeDatasetJson, DatasetJsonSchema, type DatasetJson } from './dataset-json.ts';

/** Default label values on disk (METHOD.md section 2): one integer per leaf of the label tree. */
export const DEFAULT_LABELS: Readonly<Record<string, number>> = KNEE_LABELS;

/** Structure names kneeseg knows by default (the leaves of the default label tree). */
export const DEFAULT_STRUCTURES: readonly string[] = Object.keys(DEFAULT_LABELS).filter(
  (n) => n !== 'background',
);

export type ImageFolder = 'imagesTr' | 'imagesTs';
export type LabelFolder = 'labelsTr' | 'labelsTs';

/** DIR/imagesTr/{id}_0000.nii.gz (channel 0 unless given). */
export function imagePath(dir: string, folder: ImageFolder, id: string, ending: string, channel = 0): string {
  return join(dir, folder, `${id}_${String(channel).padStart(4, '0')}${ending}`);
}

/** DIR/labelsTr/{id}.nii.gz */
export function labelPath(dir: string, folder: LabelFolder, id: string, ending: string): string {
  return join(dir, folder, `${id}${ending}`);
}

export interface CaseFiles {
  readonly id: string;
  /** one file per channel of dataset.json `channel_names`; kneeseg reads channel 0 */
  readonly images: readonly string[];
  readonly label?: string;
}

export interface Dataset {
  readonly dir: string;
  readonly json: DatasetJson;
  /** cases of imagesTr, sorted by id */
  readonly training: readonly CaseFiles[];
  /** cases of imagesTs, sorted by id (empty when there is no imagesTs) */
  readonly test: readonly CaseFiles[];
  /** label value -> structure name, background excluded */
  readonly structures: ReadonlyMap<number, string>;
}

export interface OpenOptions {
  /** structure names a label may carry (default: the six leaves of the default tree) */
  readonly structures?: readonly string[];
}

const LAYOUT_FIX =
  'use the nnU-Net v2 layout: imagesTr/{case}_0000{ending}, labelsTr/{case}{ending}, optional imagesTs/ and labelsTs/';

function listFiles(folder: string, ending: string): string[] {
  // A MetaImage header's data files (.raw, .zraw) sit beside it and are not cases.
  return readdirSync(folder)
    .filter((f) => !f.startsWith('.') && !(ending === '.mhd' && /\.(raw|zraw)$/i.test(f)))
    .sort();
}

function listCases(dir: string, folder: ImageFolder, json: DatasetJson): Map<string, string[]> {
  const path = join(dir, folder);
  const ending = json.file_ending;
  const channels = Object.keys(json.channel_names).length;
  const cases = new Map<string, string[]>();
  const pattern = /^(.+)_(\d{4})$/;
  for (const f of listFiles(path, ending)) {
    const file = join(path, f);
    const m = f.endsWith(ending) ? pattern.exec(f.slice(0, -ending.length)) : null;
    if (!m)
      throw new InputError(
        file,
        `is not named {case}_0000${ending} as dataset.json file_ending says`,
        LAYOUT_FIX,
      );
    const channel = Number(m[2]);
    if (channel >= channels) {
      throw new InputError(
        file,
        `ends in _${m[2]}, which nnU-Net names read as channel ${channel} of case "${m[1]}", but dataset.json declares ${channels} channel(s)`,
        `name every image {case}_0000${ending} (the channel suffix; e.g. ${f.slice(0, -ending.length)}_0000${ending}), or add the channel to channel_names`,
      );
    }
    const list = cases.get(m[1]!) ?? [];
    list[channel] = file;
    cases.set(m[1]!, list);
  }
  for (const [id, list] of cases) {
    for (let c = 0; c < channels; c++) {
      if (!list[c])
        throw new InputError(
          imagePath(dir, folder, id, ending, c),
          'is missing (channel of a case with other channels present)',
          LAYOUT_FIX,
        );
    }
  }
  return cases;
}

function attachLabels(
  dir: string,
  folder: LabelFolder,
  cases: Map<string, string[]>,
  ending: string,
  imagesFolder: ImageFolder,
): CaseFiles[] {
  const labels = new Map<string, string>();
  const path = join(dir, folder);
  if (existsSync(path)) {
    for (const f of listFiles(path, ending)) {
      const file = join(path, f);
      if (!f.endsWith(ending))
        throw new InputError(file, `does not end in ${ending} as dataset.json file_ending says`, LAYOUT_FIX);
      const id = f.slice(0, -ending.length);
      if (!cases.has(id))
        throw new InputError(
          file,
          `has no image ${id}_0000${ending} in ${imagesFolder}`,
          'add the image or remove the label map',
        );
      labels.set(id, file);
    }
  }
  return [...cases.keys()].sort().map((id) => {
    const label = labels.get(id);
    return label ? { id, images: cases.get(id)!, label } : { id, images: cases.get(id)! };
  });
}

/** A path of the `dataset` listing: $VAR and ${VAR} expanded (unknown ones kept, as Python's expandvars), relative to DIR. */
function listedPath(dir: string, path: string): string {
  const expanded = path.replace(
    /\$(?:\{(\w+)\}|(\w+))/g,
    (whole, braced?: string, bare?: string) => process.env[(braced ?? bare)!] ?? whole,
  );
  return isAbsolute(expanded) ? expanded : resolve(dir, expanded);
}

/**
 * Training cases of a dataset.json with nnU-Net v2's `dataset` key: the listed cases with their
 * files (each checked to exist and end in file_ending), then the cases of imagesTr the list leaves
 * out, unlabelled; sorted by id.
 */
function listedTraining(
  dir: string,
  json: DatasetJson,
  listing: NonNullable<DatasetJson['dataset']>,
  imagesTr: ReadonlyMap<string, string[]>,
): CaseFiles[] {
  const jsonPath = join(dir, 'dataset.json');
  const ending = json.file_ending;
  const channels = Object.keys(json.channel_names).length;
  const fix = 'list existing files, one image per channel of channel_names, as in nnU-Net v2';
  const cases: CaseFiles[] = [];
  for (const [id, entry] of Object.entries(listing)) {
    // the id names output files (predictions, ground-truth copies): a file name, not a path
    if (/[/\\]/.test(id) || id === '.' || id === '..')
      throw new InputError(jsonPath, `dataset."${id}": a case id is a file name, without "/" or "\\"`, fix);
    if (entry.images.length !== channels)
      throw new InputError(
        jsonPath,
        `dataset.${id}.images lists ${entry.images.length} file(s), but channel_names declares ${channels} channel(s)`,
        fix,
      );
    const images = entry.images.map((p) => listedPath(dir, p));
    const label = listedPath(dir, entry.label);
    const files: [string, string][] = [
      ...images.map((f, c): [string, string] => [`images.${c}`, f]),
      ['label', label],
    ];
    for (const [key, file] of files) {
      if (!file.endsWith(ending))
        throw new InputError(
          jsonPath,
          `dataset.${id}.${key} (${file}) does not end in ${ending} as file_ending says`,
          fix,
        );
      if (!existsSync(file) || !statSync(file).isFile())
        throw new InputError(file, `is missing (listed as dataset.${id}.${key} in ${jsonPath})`, fix);
    }
    cases.push({ id, images, label });
  }
  for (const [id, images] of imagesTr) if (!(id in listing)) cases.push({ id, images });
  return cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function requireFolder(dir: string, name: string, required: boolean): boolean {
  const path = join(dir, name);
  if (existsSync(path)) {
    if (!statSync(path).isDirectory()) throw new InputError(path, 'is not a folder', LAYOUT_FIX);
    return true;
  }
  if (!required) return false;
  const near = readdirSync(dir).find(
    (f) => f.toLowerCase() === name.toLowerCase() || f.toLowerCase() === name.slice(0, -2).toLowerCase(),
  );
  throw new InputError(
    path,
    `is missing${near ? ` (found "${near}": folder names are case-sensitive)` : ''}`,
    LAYOUT_FIX,
  );
}

/**
 * Lists and validates a dataset's layout and dataset.json without reading any image: every file
 * named as nnU-Net expects, every label map with its image, label names known, numTraining right.
 */
export function openDataset(dir: string, options: OpenOptions = {}): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new InputError(dir, 'is not a folder', 'give the dataset folder (the one holding dataset.json)');
  const json = readDatasetJson(dir);
  const jsonPath = join(dir, 'dataset.json');
  const known = options.structures ?? DEFAULT_STRUCTURES;
  const structures = new Map<number, string>();
  for (const [name, value] of Object.entries(json.labels)) {
    if (name === 'background') continue;
    if (!known.includes(name)) {
      throw new InputError(
        jsonPath,
        `label "${name}" is not a structure of the label tree`,
        `name labels after ${known.join(', ')}`,
      );
    }
    if (value === 0)
      throw new InputError(
        jsonPath,
        `label "${name}" uses value 0, which is background`,
        'give it a positive value',
      );
    structures.set(value, name);
  }
  const listing = json.dataset;
  // with a `dataset` listing, imagesTr only adds unlabelled cases and may be absent
  const trCases = requireFolder(dir, 'imagesTr', listing === undefined)
    ? listCases(dir, 'imagesTr', json)
    : new Map<string, string[]>();
  if (trCases.size === 0 && (listing === undefined || Object.keys(listing).length === 0))
    throw new InputError(
      join(dir, 'imagesTr'),
      `holds no images ({case}_0000${json.file_ending})`,
      LAYOUT_FIX,
    );
  const training = listing
    ? listedTraining(dir, json, listing, trCases)
    : attachLabels(dir, 'labelsTr', trCases, json.file_ending, 'imagesTr');
  const counted = listing ? Object.keys(listing).length : training.length;
  if (json.numTraining !== undefined && json.numTraining !== counted) {
    throw new InputError(
      jsonPath,
      listing
        ? `numTraining is ${json.numTraining} but "dataset" lists ${counted} cases`
        : `numTraining is ${json.numTraining} but imagesTr holds ${counted} cases`,
      listing
        ? 'set numTraining to the number of cases under "dataset" (nnU-Net v2 counts the listed cases)'
        : 'correct numTraining',
    );
  }
  let test: CaseFiles[] = [];
  if (requireFolder(dir, 'imagesTs', false)) {
    test = attachLabels(dir, 'labelsTs', listCases(dir, 'imagesTs', json), json.file_ending, 'imagesTs');
  } else if (existsSync(join(dir, 'labelsTs'))) {
    throw new InputError(join(dir, 'labelsTs'), 'exists without imagesTs', LAYOUT_FIX);
  }
  return { dir, json, training, test, structures };
}

export interface LoadedCase {
  readonly id: string;
  /** channel 0 */
  readonly image: Volume;
  readonly label?: Volume;
}

function describe(g: Geometry): string {
  const f = (v: readonly number[]) => v.map((x) => +x.toFixed(4)).join(',');
  return `shape ${g.shape.join('x')}, spacing ${f(g.spacing)}, origin ${f(g.origin)}, direction ${f(g.direction)}`;
}

/**
 * Values of `label` that are not background or a value of dataset.json `labels`, sorted
 * (a non-integer value counts as not allowed).
 */
export function unknownLabelValues(label: Volume, allowed: ReadonlySet<number>): number[] {
  const bad = new Set<number>();
  for (const v of label.data) if (!allowed.has(v)) bad.add(v);
  return [...bad].sort((a, b) => a - b);
}

/**
 * Reads a case's image (channel 0) and label map, checking that the label map lies on the image's
 * voxel grid and holds only values of dataset.json `labels`; InputError naming the label file otherwise.
 */
export async function loadCase(ds: Dataset, c: CaseFiles): Promise<LoadedCase> {
  const image = await readVolume(c.images[0]!);
  if (!c.label) return { id: c.id, image };
  const label = await readVolume(c.label);
  if (!sameGeometry(image, label)) {
    throw new InputError(
      c.label,
      `label map geometry differs from its image ${c.images[0]}: label ${describe(label)}; image ${describe(image)}`,
      'resample the label map onto the image grid (nearest neighbour) or re-export it from the image',
    );
  }
  const allowed = new Set<number>([0, ...ds.structures.keys()]);
  const bad = unknownLabelValues(label, allowed);
  if (bad.length > 0) {
    const shown = bad.slice(0, 10).join(', ') + (bad.length > 10 ? ', ...' : '');
    throw new InputError(
      c.label,
      `holds label values ${shown} that are not in dataset.json labels (allowed: ${[...allowed].sort((a, b) => a - b).join(', ')})`,
      'add them to dataset.json labels or relabel the map',
    );
  }
  return { id: c.id, image, label };
}
