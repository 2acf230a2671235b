/**
 * A shaded surface rendering of a label map (the 3-D half of the paper's Figure 4), drawn without a
 * GPU: each display ray runs along one index axis and stops at the first labelled voxel; the depth
 * map that gives is smoothed, its gradient gives the surface normal, and Lambert's cosine law with
 * a light from over the viewer's shoulder gives the shade of the structure's colour. A marching-
 * cubes mesh with a rasteriser would look smoother; a depth map is enough to compare shapes side by
 * side and keeps this a few dozen lines.
 */
import { DEFAULT_LABELS } from '../../data/dataset.ts';
import { structureColors, type Rgb } from '../../data/palette.ts';
import { sameGeometry, type Axis, type Volume } from '../../data/volume.ts';
import { InputError } from '../../errors.ts';
import type { Figure } from './figure.ts';
import { planeGrid, sliceAxisOf, voxelIndex, type PlaneGrid } from './plane.ts';
import { composeGrid, RgbImage } from './raster.ts';

export interface SurfaceOptions {
  /** index axis the view looks along, from index 0 (default sliceAxisOf: the axis of largest spacing) */
  readonly axis?: Axis;
  /** longer side of each panel in pixels (default 256) */
  readonly size?: number;
  /** structure name -> label value (default DEFAULT_LABELS) */
  readonly labels?: Readonly<Record<string, number>>;
  /** only these structures are drawn (default all), e.g. the cartilages alone */
  readonly structures?: readonly string[];
  readonly title?: string;
}

const BACKGROUND: Rgb = [245, 245, 245];
/** unit vector towards the light: from the viewer, up and to the left */
const LIGHT = (() => {
  const l = [-0.4, -0.5, 1];
  const n = Math.hypot(...l);
  return l.map((x) => x / n) as [number, number, number];
})();

/** Shaded depth-map rendering of one label map. */
export function renderSurface(labels: Volume, opts: SurfaceOptions = {}): RgbImage {
  const axis = opts.axis ?? sliceAxisOf(labels);
  const colors = structureColors(opts.labels ?? DEFAULT_LABELS);
  const drawn = new Set(
    [...colors.entries()]
      .filter(([, c]) => !opts.structures || opts.structures.includes(c.name))
      .map(([v]) => v),
  );
  const grid = planeGrid(labels, axis, opts.size ?? 256);
  const { depth, hit } = firstHits(labels, axis, grid, drawn);
  const smooth = smoothDepth(depth, hit, grid);
  const shade = shadeDepth(smooth, hit, grid, labels.spacing[grid.u], labels.spacing[grid.v]);
  const out = new RgbImage(grid.width, grid.height, BACKGROUND);
  for (let py = 0; py < grid.height; py++) {
    for (let px = 0; px < grid.width; px++) {
      const i = grid.col[px]! + grid.nu * grid.row[py]!;
      const col = colors.get(hit[i]!);
      if (Number.isNaN(smooth[i]!) || !col) continue;
      const s = shade[i]!;
      out.set(px, py, [
        Math.round(col.color[0] * s),
        Math.round(col.color[1] * s),
        Math.round(col.color[2] * s),
      ]);
    }
  }
  return out;
}

/** First hit per voxel ray along `axis`: depth in mm (NaN for a miss) and label. */
function firstHits(
  labels: Volume,
  axis: Axis,
  grid: PlaneGrid,
  drawn: ReadonlySet<number>,
): { depth: Float64Array; hit: Int32Array } {
  const { nu, nv } = grid;
  const n = labels.shape[axis];
  const depth = new Float64Array(nu * nv).fill(NaN);
  const hit = new Int32Array(nu * nv);
  const c: [number, number, number] = [0, 0, 0];
  for (let b = 0; b < nv; b++) {
    for (let a = 0; a < nu; a++) {
      c[grid.u] = a;
      c[grid.v] = b;
      for (let w = 0; w < n; w++) {
        c[axis] = w;
        const l = labels.data[voxelIndex(labels.shape, c)]!;
        if (drawn.has(l)) {
          depth[a + nu * b] = w * labels.spacing[axis];
          hit[a + nu * b] = l;
          break;
        }
      }
    }
  }
  return { depth, hit };
}

/** 3x3 mean over hits of the same structure, against the staircase of voxel depths. */
function smoothDepth(depth: Float64Array, hit: Int32Array, { nu, nv }: PlaneGrid): Float64Array {
  const smooth = new Float64Array(depth.length).fill(NaN);
  for (let b = 0; b < nv; b++) {
    for (let a = 0; a < nu; a++) {
      const i = a + nu * b;
      if (Number.isNaN(depth[i]!)) continue;
      let s = 0;
      let k = 0;
      for (let db = -1; db <= 1; db++) {
        for (let da = -1; da <= 1; da++) {
          const [x, y] = [a + da, b + db];
          if (x < 0 || y < 0 || x >= nu || y >= nv) continue;
          const j = x + nu * y;
          if (hit[j] === hit[i] && !Number.isNaN(depth[j]!)) {
            s += depth[j]!;
            k++;
          }
        }
      }
      smooth[i] = s / k;
    }
  }
  return smooth;
}

/** Brightness in [0, 1] per ray: Lambert shading of the depth surface, dimmed with distance. */
function shadeDepth(
  smooth: Float64Array,
  hit: Int32Array,
  { nu, nv }: PlaneGrid,
  su: number,
  sv: number,
): Float64Array {
  // Depth slope (mm per mm) by central differences, one-sided at the edge of a structure.
  const slope = (a: number, b: number, da: number, db: number, step: number): number => {
    const i = a + nu * b;
    const at = (x: number, y: number) =>
      x < 0 || y < 0 || x >= nu || y >= nv || hit[x + nu * y] !== hit[i] ? NaN : smooth[x + nu * y]!;
    const fwd = at(a + da, b + db);
    const back = at(a - da, b - db);
    if (!Number.isNaN(fwd) && !Number.isNaN(back)) return (fwd - back) / (2 * step);
    if (!Number.isNaN(fwd)) return (fwd - smooth[i]!) / step;
    if (!Number.isNaN(back)) return (smooth[i]! - back) / step;
    return 0;
  };
  const dmin = Math.min(...Array.from(smooth).filter((d) => !Number.isNaN(d)), Infinity);
  const dmax = Math.max(...Array.from(smooth).filter((d) => !Number.isNaN(d)), -Infinity);
  const shade = new Float64Array(nu * nv);
  for (let b = 0; b < nv; b++) {
    for (let a = 0; a < nu; a++) {
      const i = a + nu * b;
      if (Number.isNaN(smooth[i]!)) continue;
      // Surface z = -depth seen from the viewer: normal ∝ (dd/du, dd/dv, 1).
      const gx = slope(a, b, 1, 0, su);
      const gy = slope(a, b, 0, 1, sv);
      const norm = Math.hypot(gx, gy, 1);
      const lambert = Math.max(0, (gx * LIGHT[0] + gy * LIGHT[1] + LIGHT[2]) / norm);
      const fog = dmax > dmin ? 1 - (0.35 * (smooth[i]! - dmin)) / (dmax - dmin) : 1; // nearer is brighter
      shade[i] = (0.2 + 0.8 * lambert) * fog;
    }
  }
  return shade;
}

/** Surface renderings of a prediction (left) and its ground truth (right). */
export function surfaceRendering(pred: Volume, gt: Volume, opts: SurfaceOptions = {}): Figure {
  if (!sameGeometry(pred, gt))
    throw new InputError(
      'prediction',
      'lies on another voxel grid than the ground truth',
      'give both on the same grid',
    );
  const colors = structureColors(opts.labels ?? DEFAULT_LABELS);
  const legend = [...colors.values()].filter((c) => !opts.structures || opts.structures.includes(c.name));
  return composeGrid(
    [
      [
        { image: renderSurface(pred, opts), title: 'prediction' },
        { image: renderSurface(gt, opts), title: 'ground truth' },
      ],
    ],
    opts.title ?? 'Surface rendering',
    legend,
  );
}
