/**
 * A PNG picture of one sagittal slice of a scan beside the same slice with its labels overlaid
 * (README figure, visual checks). Displayed the radiological way: superior up, anterior left.
 */
import { PNG } from 'pngjs';
import { structureColors, type Rgb } from '../palette.ts';
import type { Volume } from '../volume.ts';
import { SYNTH_LABELS } from './tissues.ts';

/** Overlay colour and name per label value: the figures' palette. */
const STRUCTURES = structureColors(SYNTH_LABELS);
/** a label value that is not a synthetic structure */
const UNKNOWN: Rgb = [255, 255, 255];

export interface SliceFigureOptions {
  /** index along x (the sagittal slice) */
  readonly slice: number;
  /** pixels per voxel along each in-plane axis (nearest neighbour) */
  readonly zoom?: number;
  /** overlay opacity for bone labels; cartilage is drawn opaque so thin plates stay visible */
  readonly alpha?: number;
}

/** Encodes [grey | grey + labels] of sagittal slice `slice` as PNG bytes. */
export function sliceFigurePng(image: Volume, label: Volume, opts: SliceFigureOptions): Buffer {
  const [nx, ny, nz] = image.shape;
  const zoom = opts.zoom ?? 3;
  const alpha = opts.alpha ?? 0.45;
  const x = opts.slice;
  // robust grey window: 1st..99.5th percentile of the slice
  const values: number[] = [];
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) values.push(image.data[x + nx * (y + ny * z)]!);
  values.sort((a, b) => a - b);
  const lo = values[Math.floor(values.length * 0.01)]!;
  const hi = values[Math.floor(values.length * 0.995)]!;
  // pixel spacing may differ between y and z; keep the physical aspect ratio
  const zoomY = zoom;
  const zoomZ = Math.max(1, Math.round((zoom * image.spacing[2]) / image.spacing[1]));
  const w = ny * zoomY;
  const h = nz * zoomZ;
  const png = new PNG({ width: 2 * w, height: h });
  for (let r = 0; r < h; r++) {
    const z = nz - 1 - Math.floor(r / zoomZ);
    for (let c = 0; c < w; c++) {
      const y = Math.floor(c / zoomY);
      const i = x + nx * (y + ny * z);
      const g = Math.max(0, Math.min(255, Math.round(((image.data[i]! - lo) / (hi - lo)) * 255)));
      const l = label.data[i]!;
      const left = (r * 2 * w + c) * 4;
      const right = left + w * 4;
      png.data[left] = png.data[left + 1] = png.data[left + 2] = g;
      png.data[left + 3] = 255;
      const s = STRUCTURES.get(l);
      const a = l === 0 ? 0 : s?.name.endsWith('_cartilage') ? 0.9 : alpha;
      const col = s?.color ?? UNKNOWN;
      for (let k = 0; k < 3; k++) png.data[right + k] = Math.round((1 - a) * g + a * col[k]!);
      png.data[right + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}
