/**
 * From a 3D scan to the 2D network inputs of METHOD.md section 1, and back.
 *
 * - Slicing axis: sagittal by default, i.e. the voxel axis whose direction column is most aligned
 *   with world x (left-right), read from the direction matrix, so it is right whatever the storage order.
 * - In-plane layout: of the two remaining axes, the higher one gives rows (H) and the lower one
 *   columns (W), which keeps memory order (x fastest). For the synthetic cohort's sagittal slices
 *   rows run along z (inferior-superior) and columns along y (anterior-posterior).
 * - Crop or pad each plane to [H, W] (paper: 288 x 240) around the knee: the window is centred on
 *   the intensity mass of the scan (voxels brighter than its mean), the same window for every slice
 *   so slices restack into the volume; where the scan is smaller than the window it is padded.
 * - Per-slice intensity scaling: 'minmax255' maps each slice's window to 0..255 (the paper);
 *   'zscore' to zero mean, unit variance. Padding gets the value of the slice's minimum.
 * - 2.5D input: a slice plus `neighbours` slices on each side as channels (3 channels by default);
 *   at the ends of the stack the edge slice repeats.
 */
import { ConfigError } from '../errors.ts';
import { geometryOf, type Axis, type Geometry, type Volume, type VoxelArray } from './volume.ts';

/** A slicing axis as configurations name it: `auto` = the sagittal axis from the direction matrix. */
export const AXIS_BY_NAME: Readonly<Record<'auto' | 'x' | 'y' | 'z', Axis | undefined>> = {
  auto: undefined,
  x: 0,
  y: 1,
  z: 2,
};
export type Scaling = 'minmax255' | 'zscore';

export interface PreprocessOptions {
  /** slicing axis; default: the sagittal axis found from the direction matrix */
  readonly axis?: Axis;
  /** [H, W] of each slice (default [288, 240]) */
  readonly size?: readonly [number, number];
  readonly scaling?: Scaling;
  /** slices on each side stacked as channels (default 1, i.e. 3 channels; 0 gives 1 channel) */
  readonly neighbours?: number;
}

export const DEFAULT_SLICE_SIZE: readonly [number, number] = [288, 240];

/** Where the slices of a volume come from: enough to cut them out and to put predictions back. */
export interface SliceLayout {
  readonly axis: Axis;
  /** voxel axes along the rows (H) and columns (W) of a slice */
  readonly rowAxis: Axis;
  readonly colAxis: Axis;
  /** shape of the source volume */
  readonly shape: readonly [number, number, number];
  readonly size: readonly [number, number];
  /** source row and column of slice pixel (0, 0); negative where the window pads */
  readonly start: readonly [number, number];
  /** number of slices (the volume's extent along `axis`) */
  readonly count: number;
}

/** A scan cut into scaled slices (and its label map, when it has one), ready for batching. */
export interface PreparedCase {
  readonly id: string;
  readonly layout: SliceLayout;
  readonly geometry: Geometry;
  readonly scaling: Scaling;
  readonly neighbours: number;
  /** [count, H, W] scaled intensities */
  readonly planes: Float32Array;
  /** [count, H, W] label values, when the case is labelled */
  readonly labels?: Uint8Array;
}

/** The voxel axis whose direction is most aligned with world x (left-right): the sagittal axis. */
export function sagittalAxis(direction: Geometry['direction']): Axis {
  let best: Axis = 0;
  for (const j of [1, 2] as const) if (Math.abs(direction[j]) > Math.abs(direction[best])) best = j;
  return best;
}

const strides = (shape: readonly number[]) => [1, shape[0]!, shape[0]! * shape[1]!];

/** In-plane centre (row, column) of the scan's intensity mass: voxels above the mean, weighted by the excess. */
export function kneeCentre(image: Volume, axis: Axis): [number, number] {
  const others = ([0, 1, 2] as const).filter((a) => a !== axis);
  const [colAxis, rowAxis] = [others[0]!, others[1]!];
  const [nx, ny] = image.shape;
  const d = image.data;
  let mean = 0;
  for (let i = 0; i < d.length; i++) mean += d[i]!;
  mean /= d.length;
  let sw = 0;
  let sr = 0;
  let sc = 0;
  for (let i = 0; i < d.length; i++) {
    const w = d[i]! - mean;
    if (w <= 0) continue;
    const idx = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
    sw += w;
    sr += w * idx[rowAxis]!;
    sc += w * idx[colAxis]!;
  }
  if (sw === 0) return [(image.shape[rowAxis] - 1) / 2, (image.shape[colAxis] - 1) / 2];
  return [sr / sw, sc / sw];
}

/** The crop/pad window of a volume for the given slicing axis and size. */
export function sliceLayout(image: Volume, axis: Axis, size: readonly [number, number]): SliceLayout {
  const others = ([0, 1, 2] as const).filter((a) => a !== axis);
  const colAxis = others[0]!;
  const rowAxis = others[1]!;
  const [cr, cc] = kneeCentre(image, axis);
  const place = (n: number, target: number, centre: number) =>
    n <= target
      ? Math.floor((n - target) / 2)
      : Math.min(n - target, Math.max(0, Math.round(centre - (target - 1) / 2)));
  return {
    axis,
    rowAxis,
    colAxis,
    shape: image.shape,
    size,
    start: [place(image.shape[rowAxis], size[0], cr), place(image.shape[colAxis], size[1], cc)],
    count: image.shape[axis],
  };
}

function checkOptions(o: PreprocessOptions): void {
  const size = o.size ?? DEFAULT_SLICE_SIZE;
  if (size.length !== 2 || size.some((n) => !Number.isInteger(n) || n < 1))
    throw new ConfigError('size', `needs [H, W] positive integers, got ${size.join(',')}`);
  const nb = o.neighbours ?? 1;
  if (!Number.isInteger(nb) || nb < 0)
    throw new ConfigError('neighbours', `must be a whole number >= 0, got ${nb}`);
}

/** Cuts a case into scaled slices (and label slices) per the options. */
export function prepareCase(
  id: string,
  image: Volume,
  label: Volume | undefined,
  opts: PreprocessOptions = {},
): PreparedCase {
  checkOptions(opts);
  const axis = opts.axis ?? sagittalAxis(image.direction);
  const size = opts.size ?? DEFAULT_SLICE_SIZE;
  const scaling = opts.scaling ?? 'minmax255';
  const layout = sliceLayout(image, axis, size);
  const [H, W] = size;
  const plane = H * W;
  const planes = new Float32Array(layout.count * plane);
  const labels = label ? new Uint8Array(layout.count * plane) : undefined;
  const st = strides(image.shape);
  const [sa, sr, sc] = [st[axis]!, st[layout.rowAxis]!, st[layout.colAxis]!];
  const nr = image.shape[layout.rowAxis];
  const nc = image.shape[layout.colAxis];
  const [r0, c0] = layout.start;
  // the window's part inside the scan
  const rLo = Math.max(0, -r0);
  const rHi = Math.min(H, nr - r0);
  const cLo = Math.max(0, -c0);
  const cHi = Math.min(W, nc - c0);
  for (let s = 0; s < layout.count; s++) {
    const out = planes.subarray(s * plane, (s + 1) * plane);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    let sum2 = 0;
    for (let r = rLo; r < rHi; r++) {
      const base = s * sa + (r + r0) * sr;
      for (let c = cLo; c < cHi; c++) {
        const v = image.data[base + (c + c0) * sc]!;
        out[r * W + c] = v;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
        sum2 += v * v;
      }
      if (labels) {
        const lo = labels.subarray(s * plane, (s + 1) * plane);
        for (let c = cLo; c < cHi; c++) lo[r * W + c] = label!.data[base + (c + c0) * sc]!;
      }
    }
    const n = (rHi - rLo) * (cHi - cLo);
    let a: number;
    let b: number;
    if (scaling === 'minmax255') {
      a = max > min ? 255 / (max - min) : 0;
      b = -min * a;
    } else {
      const mean = sum / n;
      const sd = Math.sqrt(Math.max(0, sum2 / n - mean * mean));
      a = sd > 0 ? 1 / sd : 0;
      b = -mean * a;
    }
    const pad = n > 0 ? min * a + b : 0;
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++) {
        const i = r * W + c;
        out[i] = r >= rLo && r < rHi && c >= cLo && c < cHi ? out[i]! * a + b : pad;
      }
  }
  return {
    id,
    layout,
    geometry: geometryOf(image),
    scaling,
    neighbours: opts.neighbours ?? 1,
    planes,
    labels,
  };
}

/** Channels of the 2.5D input for slice `index`: [2n+1, H, W], edge slices repeated. */
export function stackChannels(p: PreparedCase, index: number, out?: Float32Array): Float32Array {
  const [H, W] = p.layout.size;
  const plane = H * W;
  const C = 2 * p.neighbours + 1;
  const dst = out ?? new Float32Array(C * plane);
  for (let k = 0; k < C; k++) {
    const s = Math.min(p.layout.count - 1, Math.max(0, index + k - p.neighbours));
    dst.set(p.planes.subarray(s * plane, (s + 1) * plane), k * plane);
  }
  return dst;
}

/** The [H, W] label slice `index` (a view; copy before changing it). */
export function labelSlice(p: PreparedCase, index: number): Uint8Array {
  if (!p.labels) throw new ConfigError('labels', `case ${p.id} has no label map`);
  const plane = p.layout.size[0] * p.layout.size[1];
  return p.labels.subarray(index * plane, (index + 1) * plane);
}

/**
 * Puts [count, H, W] slices back on the source grid: undoes crop and pad and restacks along the
 * slicing axis. Voxels outside the window get `fill`. The result has the type of `slices`.
 */
export function restoreVolume<T extends VoxelArray>(layout: SliceLayout, slices: T, fill = 0): T {
  const [H, W] = layout.size;
  if (slices.length !== layout.count * H * W) {
    throw new ConfigError('slices', `expected ${layout.count} x ${H} x ${W} values, got ${slices.length}`);
  }
  const n = layout.shape[0] * layout.shape[1] * layout.shape[2];
  const out = new (slices.constructor as new (n: number) => T)(n);
  if (fill !== 0) out.fill(fill);
  const st = strides(layout.shape);
  const [sa, sr, sc] = [st[layout.axis]!, st[layout.rowAxis]!, st[layout.colAxis]!];
  const [r0, c0] = layout.start;
  const rLo = Math.max(0, -r0);
  const rHi = Math.min(H, layout.shape[layout.rowAxis] - r0);
  const cLo = Math.max(0, -c0);
  const cHi = Math.min(W, layout.shape[layout.colAxis] - c0);
  for (let s = 0; s < layout.count; s++)
    for (let r = rLo; r < rHi; r++) {
      const base = s * sa + (r + r0) * sr;
      const src = (s * H + r) * W;
      for (let c = cLo; c < cHi; c++) out[base + (c + c0) * sc] = slices[src + c]!;
    }
  return out;
}

/** A predicted label map on the scan's grid, from predicted [count, H, W] label slices. */
export function restoreLabelMap(
  p: Pick<PreparedCase, 'layout' | 'geometry'>,
  slices: Uint8Array,
): Volume<Uint8Array> {
  const g = p.geometry;
  return {
    shape: g.shape,
    spacing: g.spacing,
    origin: g.origin,
    direction: g.direction,
    data: restoreVolume(p.layout, slices),
  };
}
