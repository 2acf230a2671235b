/**
 * Volumes and numbers the viewer derives from a case's files on demand, with the library's own
 * functions: the 3-D thickness map (local thickness of every cartilage plate, as predict measures
 * it), the disagreement of two label maps, Dice / HD95 per structure, and the uncertainty that
 * orders "review next". Nothing here writes outside the folder given to it.
 */
import { join } from 'node:path';
import { readVolume, writeLabelMap, writeVolume } from '../data/io/index.ts';
import { geometryOf, type Volume } from '../data/volume.ts';
import { labelMask, structureMetrics } from '../eval/metrics.ts';
import { CARTILAGE_PLATES } from '../infer/measure.ts';
import { plateThickness } from '../infer/thickness.ts';
import type { StructureScore } from './api.ts';

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

/** File name of a derived volume in the cache folder (ids are file names, see catalog.ts). */
export function cachePath(cache: string, kind: 'thickness' | 'disagreement', id: string): string {
  return join(cache, `${kind}_${id}.nii.gz`);
}
