/**
 * Slice montage (the 2-D half of the paper's Figure 4): chosen slices of the scan in grey with the
 * outlines of each labelled structure in its colour, the prediction on the left and the ground
 * truth on the right of each row.
 */
import { InputError } from '../../errors.ts';
import { DEFAULT_LABELS } from '../../data/dataset.ts';
import { structureColors, type Rgb } from '../../data/palette.ts';
import type { Axis, Volume } from '../../data/volume.ts';
import { percentileSorted } from '../../image/percentile.ts';
import type { Figure } from './figure.ts';
import { planeGrid, sliceAxisOf, voxelIndex, type PlaneGrid } from './plane.ts';
import { composeGrid, RgbImage } from './raster.ts';

export interface MontageOptions {
  /** index axis the slices cut (default sliceAxisOf: the axis of largest spacing) */
  readonly axis?: Axis;
  /** longer side of each panel in pixels (default 256) */
  readonly size?: number;
  /** structure name -> label value (default DEFAULT_LABELS) */
  readonly labels?: Readonly<Record<string, number>>;
  readonly title?: string;
}

/** Grey window of the scan: its 1st to 99th percentile (a few thousand voxels sampled evenly). */
function greyWindow(image: Volume): [number, number] {
  const n = image.data.length;
  const step = Math.max(1, Math.floor(n / 20000));
  const sample: number[] = [];
  for (let i = 0; i < n; i += step) sample.push(image.data[i]!);
  const sorted = Float64Array.from(sample).sort();
  const lo = percentileSorted(sorted, 1);
  const hi = percentileSorted(sorted, 99);
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

function slicePanel(
  image: Volume,
  labels: Volume,
  grid: PlaneGrid,
  axis: Axis,
  w: number,
  window: [number, number],
  colors: Map<number, { color: Rgb }>,
): RgbImage {
  const out = new RgbImage(grid.width, grid.height);
  const lab = new Int32Array(grid.width * grid.height);
  const c: [number, number, number] = [0, 0, 0];
  c[axis] = w;
  for (let py = 0; py < grid.height; py++) {
    for (let px = 0; px < grid.width; px++) {
      c[grid.u] = grid.col[px]!;
      c[grid.v] = grid.row[py]!;
      const i = voxelIndex(image.shape, c);
      const g = Math.round(
        255 * Math.min(1, Math.max(0, (image.data[i]! - window[0]) / (window[1] - window[0]))),
      );
      out.set(px, py, [g, g, g]);
      lab[px + grid.width * py] = labels.data[i]!;
    }
  }
  // Outline: a labelled pixel with a 4-neighbour of another label (display resolution, so 1 px wide).
  for (let py = 0; py < grid.height; py++) {
    for (let px = 0; px < grid.width; px++) {
      const l = lab[px + grid.width * py]!;
      const col = colors.get(l);
      if (!col) continue;
      const at = (x: number, y: number) =>
        x < 0 || y < 0 || x >= grid.width || y >= grid.height ? -1 : lab[x + grid.width * y]!;
      if (at(px - 1, py) !== l || at(px + 1, py) !== l || at(px, py - 1) !== l || at(px, py + 1) !== l)
        out.set(px, py, col.color);
    }
  }
  return out;
}

/** Montage of `sliceIndices` (indices along `axis`), one row per slice: prediction | ground truth. */
export function sliceMontage(
  image: Volume,
  pred: Volume,
  gt: Volume,
  sliceIndices: readonly number[],
  opts: MontageOptions = {},
): Figure {
  const axis = opts.axis ?? sliceAxisOf(image);
  for (const [name, v] of [
    ['prediction', pred],
    ['ground truth', gt],
  ] as const) {
    if (!v.shape.every((n, i) => n === image.shape[i])) {
      throw new InputError(
        name,
        `has shape ${v.shape.join('x')}, the scan ${image.shape.join('x')}`,
        'give label maps on the grid of the scan',
      );
    }
  }
  if (sliceIndices.length === 0) throw new RangeError('sliceMontage: no slices given');
  for (const s of sliceIndices) {
    if (!Number.isInteger(s) || s < 0 || s >= image.shape[axis])
      throw new RangeError(`sliceMontage: slice ${s} is outside 0..${image.shape[axis] - 1} of axis ${axis}`);
  }
  const grid = planeGrid(image, axis, opts.size ?? 256);
  const window = greyWindow(image);
  const colors = structureColors(opts.labels ?? DEFAULT_LABELS);
  const rows = sliceIndices.map((s) => [
    { image: slicePanel(image, pred, grid, axis, s, window, colors), title: `prediction, slice ${s}` },
    { image: slicePanel(image, gt, grid, axis, s, window, colors), title: `ground truth, slice ${s}` },
  ]);
  return composeGrid(rows, opts.title ?? 'Prediction against ground truth', [...colors.values()]);
}
