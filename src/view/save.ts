/**
 * "Save as labelled": a corrected label map from the page becomes the case's ground truth in the
 * dataset, DATASET/labelsTr/{case}{file_ending}, so the next `kneeseg train` uses it. When
 * dataset.json lists its cases (nnU-Net v2's `dataset` key, which train then reads instead of
 * labelsTr), a listed case is written to the label path its entry names, and an unlisted one to
 * labelsTr with an entry added to the listing (numTraining kept equal to its length), dataset.json
 * rewritten atomically after the label map, so the entry never names a missing file. The page sends
 * the voxels only (x fastest, little-endian, uint8 or int16); geometry is the scan's, never the
 * page's. Refused, with nothing written: a case that cannot be saved (no dataset, a test case), a
 * voxel type other than uint8/int16, a shape other than the scan's, a body of the wrong length, a
 * label value not in dataset.json `labels`. The label map is written atomically (writeLabelMap), and
 * DATASET/provenance/{case}.json records who saved it, when, from which prediction and model.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, relative } from 'node:path';
import { readDatasetJson, unknownLabelValues, writeDatasetJson } from '../data/dataset.ts';
import { readVolume, writeLabelMap } from '../data/io/index.ts';
import { geometryOf, voxelCount, type Volume } from '../data/volume.ts';
import { KneesegError } from '../errors.ts';
import { SAVE_DTYPES, type SaveDtype, type SaveResult } from './api.ts';
import type { Catalog, CatalogCase } from './catalog.ts';

/** A request the viewer refuses; `status` is the HTTP status the server answers with. */
export class ViewRequestError extends KneesegError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface SaveRequest {
  /** the shape the page claims, [nx, ny, nz] */
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly body: Uint8Array;
}

export interface SaveOptions {
  /** who saved it (default: the user running the server) */
  readonly user?: string;
  readonly now?: Date;
}

/** The header "nx,ny,nz" as numbers; ViewRequestError for anything else. */
export function parseShape(header: string | undefined): number[] {
  const parts = (header ?? '').split(',').map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 1))
    throw new ViewRequestError(400, `the shape header must be "nx,ny,nz", got "${header ?? ''}"`);
  return parts;
}

function voxels(dtype: SaveDtype, body: Uint8Array): Uint8Array | Int16Array {
  if (dtype === 'uint8') return Uint8Array.from(body);
  const copy = new Uint8Array(body.length); // aligned, and little-endian as the page sends it
  copy.set(body);
  return new Int16Array(copy.buffer);
}

function countChanged(a: Volume, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) if (a.data[i] !== b[i]) n++;
  return n;
}

/**
 * The label map of `req` on the grid of `image` (the page sends voxels only), checked against it and
 * against the label values; ViewRequestError otherwise. Shared by save and thickness recompute.
 */
export async function labelsOfRequest(
  image: string,
  id: string,
  labels: Readonly<Record<string, number>>,
  req: SaveRequest,
): Promise<Volume> {
  if (!(SAVE_DTYPES as readonly string[]).includes(req.dtype))
    throw new ViewRequestError(
      400,
      `voxel type "${req.dtype}" refused: a label map is saved as ${SAVE_DTYPES.join(' or ')}`,
    );
  const dtype = req.dtype as SaveDtype;
  const scan = await readVolume(image);
  if (req.shape.length !== 3 || req.shape.some((n, i) => n !== scan.shape[i]))
    throw new ViewRequestError(
      422,
      `shape ${req.shape.join('x')} refused: the scan ${id} is ${scan.shape.join('x')}; nothing was written`,
    );
  const n = voxelCount(scan.shape);
  const bytes = dtype === 'uint8' ? 1 : 2;
  if (req.body.length !== n * bytes)
    throw new ViewRequestError(
      422,
      `${req.body.length} bytes refused: ${scan.shape.join('x')} ${dtype} voxels take ${n * bytes}; nothing was written`,
    );
  const data = voxels(dtype, req.body);
  const label: Volume = { ...geometryOf(scan), data };
  const allowed = new Set(Object.values(labels));
  const unknown = unknownLabelValues(label, allowed);
  if (unknown.length > 0)
    throw new ViewRequestError(
      422,
      `label value(s) ${unknown.join(', ')} refused: dataset.json labels are ${[...allowed].sort((a, b) => a - b).join(', ')}; nothing was written`,
    );
  return label;
}

/** Adds the case's entry to dataset.json `dataset` unless it is there (re-read: the file may have changed). */
function addListEntry(dir: string, id: string, entry: NonNullable<CatalogCase['listEntry']>): boolean {
  const json = readDatasetJson(dir);
  const listing = { ...(json.dataset ?? {}) };
  if (listing[id] !== undefined) return false;
  listing[id] = { images: [...entry.images], label: entry.label };
  const numTraining = json.numTraining === undefined ? {} : { numTraining: Object.keys(listing).length };
  writeDatasetJson(dir, { ...json, ...numTraining, dataset: listing });
  return true;
}

/** Checks `req` against the case's scan and dataset.json, then writes it; see the module comment. */
export async function saveCorrection(
  catalog: Catalog,
  c: CatalogCase,
  req: SaveRequest,
  o: SaveOptions = {},
): Promise<SaveResult> {
  if (!c.labelTarget || !c.image || !catalog.dataset)
    throw new ViewRequestError(409, `case ${c.id} cannot be saved: ${c.notSavable ?? 'no dataset'}`);
  const label = await labelsOfRequest(c.image, c.id, catalog.labels, req);
  const data = label.data;
  const n = data.length;
  const source = c.prediction ?? c.groundTruth;
  let changedVoxels: number | null = null;
  if (source) {
    const before = await readVolume(source);
    if (before.data.length === n) changedVoxels = countChanged(before, data);
  }
  const dsDir = catalog.dataset.dir;
  const provenance = join(dsDir, 'provenance', `${c.id}.json`);
  const record = {
    case: c.id,
    file: relative(dsDir, c.labelTarget),
    saved_at: (o.now ?? new Date()).toISOString(),
    saved_by: o.user ?? userInfo().username,
    tool: 'kneeseg view',
    corrected_from: source ?? null,
    model: catalog.model ?? null,
    replaced_ground_truth: c.groundTruth !== undefined,
    changed_voxels: changedVoxels,
    dataset_json_entry: catalog.dataset.json.dataset === undefined ? null : c.listEntry ? 'added' : 'listed',
  };
  mkdirSync(join(dsDir, 'provenance'), { recursive: true });
  const tmp = `${provenance}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await writeLabelMap(c.labelTarget, label);
    if (c.listEntry) addListEntry(dsDir, c.id, c.listEntry);
    renameSync(tmp, provenance);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { file: c.labelTarget, provenance, changedVoxels };
}
