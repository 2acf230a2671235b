/**
 * Volumes and numbers the viewer derives from a case's files on demand, with the library's own
 * functions: the 3-D thickness map (local thickness of every cartilage plate, as predict measures
 * it), the disagreement of two label maps, Dice / HD95 per structure, and the uncertainty that
 * orders "review next". Nothing here writes outside the folder given to it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readVolume, writeLabelMap, writeVolume } from '../data/io/index.ts';
import { geometryOf, type Volume } from '../data/volume.ts';
import { EvaluationJsonSchema } from '../eval/evaluation-json.ts';
import { labelMask, structureMetrics } from '../eval/metrics.ts';
import { CARTILAGE_PLATES, measureLabelMap } from '../infer/measure.ts';
import { plateThickness } from '../infer/thickness.ts';
import type { KneeSide } from '../infer/volume.ts';
import type { MeasurementRow, StructureScore } from './api.ts';
import { measurementRows } from './catalog.ts';

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * The thickness map of a label map: every voxel of a cartilage plate holds its local thickness in mm
 * (src/infer/thickness.ts), every other voxel 0. Written as float32 NIfTI to `out`.
 */
export async function writeThicknessVolume(
  labelFile: string,
  labels: Readonly<Record<string, number>>,
  out: string,
): Promise<string> {
  const vol = await readVolume(labelFile);
  const map = new Float32Array(vol.data.length);
  for (const plate of CARTILAGE_PLATES) {
    const value = labels[plate.name];
    if (value === undefined) continue;
    const mask = labelMask(vol.data, value);
    if (!mask.some((v) => v !== 0)) continue;
    const t = plateThickness(mask, vol.shape, vol.spacing).map;
    for (let i = 0; i < map.length; i++) if (mask[i]) map[i] = t[i]!;
  }
  await writeVolume(out, { ...geometryOf(vol), data: map });
  return out;
}

/**
 * Thickness of a label map edited on the page (not saved): its measurements as predict computes
 * them (measureLabelMap, so the table's numbers stay comparable) and its thickness map, written to
 * `out` as writeThicknessVolume would.
 */
export async function measureEdited(
  vol: Volume,
  labels: Readonly<Record<string, number>>,
  out: string,
  side?: KneeSide,
): Promise<MeasurementRow[]> {
  const structures = new Map(
    Object.entries(labels)
      .filter(([name]) => name !== 'background')
      .map(([name, value]) => [value, name] as const),
  );
  const { measurements, maps } = measureLabelMap('edited', vol, structures, { side });
  const map = new Float32Array(vol.data.length);
  for (const [plate, t] of maps) {
    const value = labels[plate]!;
    for (let i = 0; i < map.length; i++) if (vol.data[i] === value) map[i] = t[i]!;
  }
  await writeVolume(out, { ...geometryOf(vol), data: map });
  return measurementRows(measurements);
}

/** 1 where two label maps of the same grid differ, else 0; written as a uint8 label map to `out`. */
export async function writeDisagreement(a: string, b: string, out: string): Promise<string> {
  const [va, vb] = [await readVolume(a), await readVolume(b)];
  if (va.data.length !== vb.data.length)
    throw new Error(`${a} and ${b} have different shapes (${va.shape.join('x')} vs ${vb.shape.join('x')})`);
  const d = new Uint8Array(va.data.length);
  for (let i = 0; i < d.length; i++) d[i] = va.data[i] !== vb.data[i] ? 1 : 0;
  await writeLabelMap(out, { ...geometryOf(va), data: d });
  return out;
}

/** Dice and HD95 (mm) of every structure of a prediction against its ground truth. */
export async function scoreCase(
  prediction: string,
  groundTruth: string,
  labels: Readonly<Record<string, number>>,
): Promise<Record<string, StructureScore>> {
  const [p, g] = [await readVolume(prediction), await readVolume(groundTruth)];
  const out: Record<string, StructureScore> = {};
  if (p.data.length !== g.data.length) return out;
  for (const [name, value] of Object.entries(labels)) {
    if (name === 'background') continue;
    const m = structureMetrics(labelMask(p.data, value), labelMask(g.data, value), g.shape, g.spacing);
    out[name] = { dice: finiteOrNull(m.dice), hd95Mm: finiteOrNull(m.hd95Mm) };
  }
  return out;
}

/**
 * Per-case scores of an experiment run from its evaluation.json (the same metrics as scoreCase);
 * null when the file does not parse, so the caller computes them instead.
 */
export function scoresFromEvaluation(file: string): Record<string, Record<string, StructureScore>> | null {
  let parsed;
  try {
    parsed = EvaluationJsonSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return null;
  }
  if (!parsed.success) return null;
  const out: Record<string, Record<string, StructureScore>> = {};
  for (const c of parsed.data.cases)
    out[c.case] = Object.fromEntries(
      Object.entries(c.structures).map(([s, m]) => [s, { dice: m.dice, hd95Mm: m.hd95_mm }]),
    );
  return out;
}

export const FLIP_MEASURE =
  'flip disagreement (predict --tta flip): fraction of the foreground voxels whose label differs between the prediction of the scan and of its left-right mirror image';

export const UNCERTAINTY_MEASURE =
  'binary entropy of every structure probability (predict --probabilities), summed over structures and voxels, per voxel where some structure has p >= 0.5';

/**
 * Uncertainty of a case from its probability maps: sum over voxels and structures of the binary
 * entropy H(p) = -p ln p - (1-p) ln(1-p) (nats), divided by the number of voxels where some structure
 * has p >= 0.5 (at least 1), so a case with large structures is not penalised for its size.
 */
export async function caseUncertainty(files: Iterable<string>): Promise<number> {
  let total = 0;
  let fg: Uint8Array | null = null;
  for (const f of files) {
    const v: Volume = await readVolume(f);
    fg ??= new Uint8Array(v.data.length);
    for (let i = 0; i < v.data.length; i++) {
      const p = Math.min(1, Math.max(0, v.data[i]!));
      if (p > 0 && p < 1) total -= p * Math.log(p) + (1 - p) * Math.log(1 - p);
      if (p >= 0.5) fg[i] = 1;
    }
  }
  let count = 0;
  for (const x of fg ?? []) count += x;
  return total / Math.max(1, count);
}

/**
 * File name of a derived volume in the cache folder (ids are file names, see catalog.ts); `variant`
 * (which label maps, which edit) is hashed so a run name never becomes part of a path.
 */
export function cachePath(
  cache: string,
  kind: 'thickness' | 'disagreement',
  id: string,
  variant = '',
): string {
  const tag = variant ? `_${createHash('sha256').update(variant).digest('hex').slice(0, 16)}` : '';
  return join(cache, `${kind}${tag}_${id}.nii.gz`);
}
