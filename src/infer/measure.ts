/**
 * Cartilage measurements of one label map, the quantities osteoarthritis studies read (pyKNEEr,
 * DOSMA and CartiMorph report the same): the volume of every structure, and for every cartilage
 * plate (femoral, tibial, patellar) the mean, median, 95th percentile and maximum thickness, with
 * the femoral and tibial plates also split into medial and lateral halves.
 *
 * Thickness is local thickness in 3-D in mm with the scan's anisotropic spacing (thickness.ts:
 * Hildebrand & Rüegsegger 1997; the README's "Cartilage thickness" section says why). It is computed
 * once per plate, and a half's statistics are read off the whole plate's map over the half's
 * voxels, so the cut between the halves does not make cartilage near it look thin.
 * Volumes are voxel counts times voxel volume (volume.ts).
 */
import { KNEE_CARTILAGES } from '../data/cartilages.ts';
import type { Volume } from '../data/volume.ts';
import { plateThickness, thicknessStats, type ThicknessStats } from './thickness.ts';
import { splitMedialLateral, volumeMm3, voxelVolumeMm3, type HalfName, type KneeSide } from './volume.ts';

/** Plates measured for thickness, and whether they are split medial/lateral. */
export const CARTILAGE_PLATES: readonly { readonly name: string; readonly split: boolean }[] =
  KNEE_CARTILAGES;

export type Region = 'all' | HalfName;

export interface StructureVolume {
  readonly structure: string;
  readonly label: number;
  readonly voxels: number;
  readonly volumeMm3: number;
}

export interface PlateThickness extends ThicknessStats {
  readonly plate: string;
  readonly region: Region;
  readonly volumeMm3: number;
}

export interface CaseMeasurements {
  readonly case: string;
  readonly side: KneeSide;
  readonly spacing: readonly [number, number, number];
  readonly volumes: readonly StructureVolume[];
  readonly thickness: readonly PlateThickness[];
}

export interface MeasureOptions {
  readonly side?: KneeSide;
  /** supersampling of the local-thickness computation (thickness.ts; default 2) */
  readonly supersample?: number;
}

/**
 * Measures a label map.
 * @param structures label value -> structure name (background excluded)
 * @returns the measurements and each plate's thickness map (mm, 0 outside the plate) for figures
 */
export function measureLabelMap(
  id: string,
  labels: Volume,
  structures: ReadonlyMap<number, string>,
  o: MeasureOptions = {},
): { measurements: CaseMeasurements; maps: Map<string, Float32Array> } {
  const side = o.side ?? 'unknown';
  const vv = voxelVolumeMm3(labels.spacing);
  const counts = new Map<number, number>();
  for (const v of labels.data) if (v !== 0) counts.set(v, (counts.get(v) ?? 0) + 1);
  const volumes: StructureVolume[] = [...structures].map(([label, structure]) => {
    const voxels = counts.get(label) ?? 0;
    return { structure, label, voxels, volumeMm3: voxels * vv };
  });

  const thickness: PlateThickness[] = [];
  const maps = new Map<string, Float32Array>();
  for (const plate of CARTILAGE_PLATES) {
    const label = [...structures].find(([, name]) => name === plate.name)?.[0];
    if (label === undefined) continue;
    const mask = new Uint8Array(labels.data.length);
    for (let i = 0; i < mask.length; i++) if (labels.data[i] === label) mask[i] = 1;
    const { map, stats } = plateThickness(mask, labels.shape, labels.spacing, { supersample: o.supersample });
    maps.set(plate.name, map);
    thickness.push({
      plate: plate.name,
      region: 'all',
      volumeMm3: volumeMm3(mask, labels.spacing),
      ...stats,
    });
    if (!plate.split) continue;
    for (const half of splitMedialLateral(mask, labels, side).halves) {
      thickness.push({
        plate: plate.name,
        region: half.name,
        volumeMm3: half.volumeMm3,
        ...thicknessStats(map, half.mask),
      });
    }
  }
  return { measurements: { case: id, side, spacing: labels.spacing, volumes, thickness }, maps };
}

const CSV_HEADER = [
  'case',
  'side',
  'structure',
  'region',
  'voxels',
  'volume_mm3',
  'mean_thickness_mm',
  'median_thickness_mm',
  'p95_thickness_mm',
  'max_thickness_mm',
];

const num = (x: number) => (Number.isFinite(x) ? String(+x.toPrecision(7)) : '');

/**
 * One row per case and structure (region `all`, thickness empty for non-plates), then one row per
 * plate half; empty cells where a value is undefined (an empty plate has no thickness).
 */
export function measurementsCsv(cases: readonly CaseMeasurements[]): string {
  const rows = [CSV_HEADER.join(',')];
  for (const c of cases) {
    for (const v of c.volumes) {
      const t = c.thickness.find((p) => p.plate === v.structure && p.region === 'all');
      const th = t ? [t.meanMm, t.medianMm, t.p95Mm, t.maxMm].map(num) : ['', '', '', ''];
      rows.push([c.case, c.side, v.structure, 'all', v.voxels, num(v.volumeMm3), ...th].join(','));
    }
    for (const t of c.thickness) {
      if (t.region === 'all') continue;
      rows.push(
        [
          c.case,
          c.side,
          t.plate,
          t.region,
          t.voxels,
          num(t.volumeMm3),
          ...[t.meanMm, t.medianMm, t.p95Mm, t.maxMm].map(num),
        ].join(','),
      );
    }
  }
  return `${rows.join('\n')}\n`;
}

/** The JSON file: units, definitions, label values, and every case (NaN written as null). */
export function measurementsJson(
  cases: readonly CaseMeasurements[],
  structures: ReadonlyMap<number, string>,
  extra: Record<string, unknown> = {},
): string {
  const body = {
    units: { volume: 'mm^3', thickness: 'mm' },
    thickness_definition:
      'local thickness (Hildebrand & Ruegsegger 1997): diameter of the largest ball inside the plate containing the voxel, 3-D, anisotropic spacing, 2x supersampled',
    halves:
      'medial/lateral split by a plane perpendicular to the patient left-right axis at the plate centroid; low/high = toward the patient right/left when the knee side is unknown',
    labels: Object.fromEntries([['background', 0], ...[...structures].map(([v, n]) => [n, v])]),
    ...extra,
    cases,
  };
  return `${JSON.stringify(body, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}
