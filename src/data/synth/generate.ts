/**
 * Renders one synthetic knee scan and its label map on a voxel grid.
 *
 * Grid: x left-right (sagittal slices along x, the thick axis), y anterior-posterior, z
 * inferior-superior, identity direction in ITK's LPS space (x towards the patient's left, y
 * posterior, z superior), centred on the knee. Defaults (see DEFAULT_SYNTH_GRID): 48 x 128 x 128
 * voxels of 2.0 x 0.9 x 0.9 mm, a 96 x 115 x 115 mm field of view, like a 2D sagittal fat-suppressed
 * PD sequence scaled down so training on two cores is feasible.
 *
 * Through-plane partial volume: each voxel's signal is a trapezoidal slice profile, 1/4, 1/2, 1/4
 * of the signal at its two faces and its centre; a face is classified only where the two slice
 * centres beside it differ in tissue (about 1.2 evaluations per voxel instead of 3). The label is the
 * tissue at the voxel centre. Then a smooth bias field multiplies
 * the signal and Rician noise is added. Intensities are stored as int16 (scanner-like units, fluid
 * about 1000).
 */
import { mulberry32 } from '../random.ts';
import { IDENTITY_DIRECTION, type Geometry, type Volume } from '../volume.ts';
import { KneeModel } from './classify.ts';
import { biasAt, rician, valueNoise } from './noise.ts';
import type { Subject } from './subject.ts';
import { CARTILAGE, TEXTURED, TISSUE_LABEL } from './tissues.ts';

export interface SynthGrid {
  readonly shape: readonly [number, number, number];
  readonly spacing: readonly [number, number, number];
}

export const DEFAULT_SYNTH_GRID: SynthGrid = { shape: [48, 128, 128], spacing: [2.0, 0.9, 0.9] };

/** Knee-frame point (u lateral, v anterior, w superior) at the centre of the field of view. */
const FOCUS = [0, -5, 8] as const;

export interface SynthCase {
  readonly image: Volume<Int16Array>;
  readonly label: Volume<Uint8Array>;
  /** tissue code per voxel (see tissues.ts), for figures and tests */
  readonly tissue: Uint8Array;
}

export function synthGeometry(grid: SynthGrid): Geometry {
  const { shape, spacing } = grid;
  return {
    shape,
    spacing,
    origin: [0, 1, 2].map((i) => (-(shape[i]! - 1) / 2) * spacing[i]!) as unknown as Geometry['origin'],
    direction: IDENTITY_DIRECTION,
  };
}

/**
 * The affine map from LPS world (mm) to the knee frame: mirror for the side, small rotation,
 * translation. Returned as a row-major 3x4 matrix.
 */
function worldToKnee(sub: Subject): Float64Array {
  // LPS -> knee axes for a right knee: u (lateral) = -x, v (anterior) = -y, w (superior) = z.
  const m = [-sub.side, 0, 0, 0, -1, 0, 0, 0, 1];
  const [a, b, c] = sub.rotation;
  const rx = [1, 0, 0, 0, Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a)];
  const ry = [Math.cos(b), 0, Math.sin(b), 0, 1, 0, -Math.sin(b), 0, Math.cos(b)];
  const rz = [Math.cos(c), -Math.sin(c), 0, Math.sin(c), Math.cos(c), 0, 0, 0, 1];
  const mul = (p: number[], q: number[]) =>
    Array.from({ length: 9 }, (_, i) => {
      const r = Math.floor(i / 3);
      const col = i % 3;
      return p[r * 3]! * q[col]! + p[r * 3 + 1]! * q[3 + col]! + p[r * 3 + 2]! * q[6 + col]!;
    });
  const r = mul(mul(mul(rz, ry), rx), m);
  const t = sub.translation;
  const out = new Float64Array(12);
  for (let i = 0; i < 3; i++) {
    out[i * 4] = r[i * 3]!;
    out[i * 4 + 1] = r[i * 3 + 1]!;
    out[i * 4 + 2] = r[i * 3 + 2]!;
    out[i * 4 + 3] = FOCUS[i]! + t[i]!;
  }
  return out;
}

export function renderCase(sub: Subject, grid: SynthGrid = DEFAULT_SYNTH_GRID): SynthCase {
  const geom = synthGeometry(grid);
  const [nx, ny, nz] = geom.shape;
  const [sx, sy, sz] = geom.spacing;
  const [ox, oy, oz] = geom.origin;
  const model = new KneeModel(sub);
  const A = worldToKnee(sub);
  const n = nx * ny * nz;
  const image = new Int16Array(n);
  const label = new Uint8Array(n);
  const tissue = new Uint8Array(n);
  const texture = valueNoise(geom.shape, geom.spacing, 6, sub.textureSeed);
  const signal = sub.signal;
  const layering = sub.cartilageLayering;
  const sigma = sub.noise * signal[9]!; // relative to fluid
  const rng = mulberry32(sub.textureSeed ^ 0x5bd1e995);
  const rowT = new Uint8Array(nx);
  const rowD = new Float64Array(nx);
  const faceT = new Uint8Array(nx + 1);
  const faceD = new Float64Array(nx + 1);
  const sample = (t: number, depth: number, tex: number): number => {
    const sig = signal[t]!;
    if (TEXTURED[t] === 1) return sig * tex;
    if (CARTILAGE[t] === 1) return sig * (1 - layering * (1 - depth));
    return sig;
  };
  let o = 0;
  for (let iz = 0; iz < nz; iz++) {
    const z = oz + iz * sz;
    const Z = (2 * iz) / (nz - 1) - 1;
    for (let iy = 0; iy < ny; iy++) {
      const y = oy + iy * sy;
      const Y = (2 * iy) / (ny - 1) - 1;
      // knee coordinates of (x = 0, y, z); x enters linearly
      const u0 = A[1]! * y + A[2]! * z + A[3]!;
      const v0 = A[5]! * y + A[6]! * z + A[7]!;
      const w0 = A[9]! * y + A[10]! * z + A[11]!;
      // tissue at the voxel centres of this row
      for (let ix = 0; ix < nx; ix++) {
        const x = ox + ix * sx;
        rowT[ix] = model.classify(u0 + A[0]! * x, v0 + A[4]! * x, w0 + A[8]! * x);
        rowD[ix] = model.depth;
      }
      // tissue at the slice faces: classified only where the neighbouring centres differ (a face
      // between two centres of one tissue is taken to be that tissue), faces shared by neighbours
      for (let k = 0; k <= nx; k++) {
        const a = k > 0 ? k - 1 : 0;
        const b = k < nx ? k : nx - 1;
        if (rowT[a] === rowT[b]) {
          faceT[k] = rowT[b]!;
          faceD[k] = (rowD[a]! + rowD[b]!) / 2;
        } else {
          const x = ox + (k - 0.5) * sx;
          faceT[k] = model.classify(u0 + A[0]! * x, v0 + A[4]! * x, w0 + A[8]! * x);
          faceD[k] = model.depth;
        }
      }
      for (let ix = 0; ix < nx; ix++, o++) {
        const tex = 1 + 0.35 * texture[o]!;
        const tc = rowT[ix]!;
        const mean =
          0.25 * sample(faceT[ix]!, faceD[ix]!, tex) +
          0.5 * sample(tc, rowD[ix]!, tex) +
          0.25 * sample(faceT[ix + 1]!, faceD[ix + 1]!, tex);
        tissue[o] = tc;
        label[o] = TISSUE_LABEL[tc]!;
        const X = (2 * ix) / (nx - 1) - 1;
        const value = rician(rng, mean * biasAt(sub.bias, X, Y, Z), sigma);
        image[o] = Math.min(32767, Math.round(1000 * value));
      }
    }
  }
  return { image: { ...geom, data: image }, label: { ...geom, data: label }, tissue };
}
