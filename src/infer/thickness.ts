/**
 * Cartilage thickness in 3-D: local thickness (Hildebrand & Rüegsegger, "A new method for the
 * model-independent assessment of thickness in three-dimensional images", J. Microsc. 185 (1997)):
 * the thickness at a point p of a structure S is the diameter of the largest ball inside S that
 * contains p,
 *
 *   tau(p) = max { 2 r(c) : c in S, |p - c| < r(c) },   r(c) = distance from c to the background.
 *
 * Why this definition: it needs no surface pairing or normal direction, works for any plate shape
 * (femoral, tibial, patellar) and any orientation, is the one BoneJ and most bone/cartilage papers
 * use, and is defined per voxel, so the same map gives mean, median, p95, max and a thickness image.
 *
 * Computation (exact for the discrete definition, in physical units, anisotropic spacing honoured):
 * 1. supersampling: each voxel is split into f x f x f sub-voxels (f = 2 by default). Ball centres on
 *    voxel centres cannot sit in the middle of a plate an even number of voxels thick, so at f = 1 the
 *    thickness of an axis-aligned plate of n voxels comes out n (n even) or n + 1 (n odd) voxels; at
 *    f = 2 it is exactly n for both. A voxel's thickness is the mean of its sub-voxels'.
 * 2. r(c) from the exact EDT of the background (src/levelset/edt.ts) on the plate's bounding box
 *    grown by one voxel. The image border is not background: a plate cut by the field of view is not
 *    thinned where it is cut.
 * 3. centres whose ball lies inside a 26-neighbour's ball (r(n) >= r(c) + |n - c|) are dropped: they
 *    cannot raise any tau (the "distance ridge" of Dougherty & Kunzelmann's Local Thickness plugin).
 * 4. every remaining ball is painted, keeping the largest diameter per sub-voxel.
 * Cost: the EDT is O(f^3 V) for V voxels in the bounding box; painting is O(sum over ridge centres of
 * their ball volumes), about (ridge area) x (thickness^3) in sub-voxels. A femoral plate of an OAI
 * DESS scan (0.365 x 0.365 x 0.7 mm) takes seconds and a few hundred MB at f = 2.
 */
import { squaredDistanceToForeground, type Mask } from '../levelset/edt.ts';
import { percentileSorted } from '../eval/percentile.ts';

export type Shape3 = readonly [number, number, number];
export type Spacing3 = readonly [number, number, number];

/** Relative slack for float comparisons of squared distances (the EDT may store them in float32). */
const REL_EPS = 1e-6;

/**
 * Local thickness on the grid as given (no supersampling): tau per voxel in the units of `spacing`,
 * 0 outside the mask, NaN everywhere in the mask if the grid has no background voxel at all.
 */
export function localThicknessOnGrid(mask: Mask, shape: Shape3, spacing: Spacing3): Float32Array {
  const [nx, ny, nz] = shape;
  const n = nx * ny * nz;
  if (mask.length !== n)
    throw new RangeError(`localThickness: mask has ${mask.length} voxels, shape ${shape}`);
  const background = new Uint8Array(n);
  let nBackground = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) {
      background[i] = 1;
      nBackground++;
    }
  }
  const tau = new Float32Array(n);
  if (nBackground === n) return tau;
  if (nBackground === 0) return tau.fill(NaN);
  // Squared radius of the largest ball centred at each voxel: squared distance to the background.
  const r2 = squaredDistanceToForeground(background, shape, spacing, new Float32Array(n));

  const [hx, hy, hz] = spacing;
  const sxy = nx * ny;
  // Offsets and lengths of the 26 neighbours (13 pairs), for the ridge test.
  const nbr: { dx: number; dy: number; dz: number; len: number }[] = [];
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        if (dx || dy || dz) nbr.push({ dx, dy, dz, len: Math.hypot(dx * hx, dy * hy, dz * hz) });
      }

  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const c = x + nx * y + sxy * z;
        const rc2 = r2[c]!;
        if (rc2 === 0) continue;
        const rc = Math.sqrt(rc2);
        // Ridge test: skip c when a neighbour's ball contains c's ball.
        let covered = false;
        for (const { dx, dy, dz, len } of nbr) {
          const u = x + dx;
          const v = y + dy;
          const w = z + dz;
          if (u < 0 || v < 0 || w < 0 || u >= nx || v >= ny || w >= nz) continue;
          const rn = Math.sqrt(r2[u + nx * v + sxy * w]!);
          if (rn >= (rc + len) * (1 - REL_EPS)) {
            covered = true;
            break;
          }
        }
        if (covered) continue;
        paintBall(tau, shape, spacing, x, y, z, rc2 * (1 - REL_EPS), 2 * rc);
      }
    }
  }
  return tau;
}

/** tau = max(tau, diameter) on the voxels strictly within the ball (squared radius `rr2`) about (x,y,z). */
function paintBall(
  tau: Float32Array,
  shape: Shape3,
  spacing: Spacing3,
  x: number,
  y: number,
  z: number,
  rr2: number,
  diameter: number,
): void {
  const [nx, ny, nz] = shape;
  const [hx, hy, hz] = spacing;
  const r = Math.sqrt(rr2);
  const kz = Math.floor(r / hz);
  for (let w = Math.max(0, z - kz); w <= Math.min(nz - 1, z + kz); w++) {
    const remZ = rr2 - ((w - z) * hz) ** 2;
    if (remZ <= 0) continue;
    const ky = Math.floor(Math.sqrt(remZ) / hy);
    for (let v = Math.max(0, y - ky); v <= Math.min(ny - 1, y + ky); v++) {
      const remY = remZ - ((v - y) * hy) ** 2;
      if (remY <= 0) continue;
      const kx = Math.floor(Math.sqrt(remY) / hx);
      const row = nx * (v + ny * w);
      for (let u = Math.max(0, x - kx); u <= Math.min(nx - 1, x + kx); u++) {
        if (((u - x) * hx) ** 2 < remY && tau[row + u]! < diameter) tau[row + u] = diameter;
      }
    }
  }
}

export interface ThicknessOptions {
  /** sub-voxels per voxel along each axis (default 2; 1 is faster and biased, see the module comment) */
  supersample?: number;
}

/**
 * Local thickness map of one plate in mm (0 outside the plate), computed on its bounding box with
 * supersampling (see the module comment).
 *
 * @param mask    binary plate mask, x fastest
 * @param shape   [nx, ny, nz]
 * @param spacing [sx, sy, sz] voxel size in mm
 */
export function localThickness(
  mask: Mask,
  shape: Shape3,
  spacing: Spacing3,
  options: ThicknessOptions = {},
): Float32Array {
  const f = options.supersample ?? 2;
  if (!Number.isInteger(f) || f < 1)
    throw new RangeError(`localThickness: supersample ${f} must be an integer >= 1`);
  const [nx, ny, nz] = shape;
  const n = nx * ny * nz;
  if (mask.length !== n)
    throw new RangeError(`localThickness: mask has ${mask.length} voxels, shape ${shape}`);
  const out = new Float32Array(n);

  // Bounding box grown by one voxel (clamped to the image), so the plate's background is in it.
  const lo = [nx, ny, nz];
  const hi = [-1, -1, -1];
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0, i = nx * (y + ny * z); x < nx; x++, i++) {
        if (!mask[i]) continue;
        if (x < lo[0]!) lo[0] = x;
        if (x > hi[0]!) hi[0] = x;
        if (y < lo[1]!) lo[1] = y;
        if (y > hi[1]!) hi[1] = y;
        if (z < lo[2]!) lo[2] = z;
        if (z > hi[2]!) hi[2] = z;
      }
  if (hi[0]! < 0) return out;
  for (let a = 0; a < 3; a++) {
    lo[a] = Math.max(0, lo[a]! - 1);
    hi[a] = Math.min(shape[a]! - 1, hi[a]! + 1);
  }
  const [bx, by, bz] = [hi[0]! - lo[0]! + 1, hi[1]! - lo[1]! + 1, hi[2]! - lo[2]! + 1];
  const sub: Shape3 = [bx * f, by * f, bz * f];
  const subSpacing: Spacing3 = [spacing[0] / f, spacing[1] / f, spacing[2] / f];

  const subMask = new Uint8Array(sub[0] * sub[1] * sub[2]);
  for (let z = 0; z < sub[2]; z++)
    for (let y = 0; y < sub[1]; y++) {
      const src = lo[0]! + nx * (lo[1]! + Math.floor(y / f) + ny * (lo[2]! + Math.floor(z / f)));
      const dst = sub[0] * (y + sub[1] * z);
      for (let x = 0; x < sub[0]; x++) subMask[dst + x] = mask[src + Math.floor(x / f)]!;
    }
  const tau = localThicknessOnGrid(subMask, sub, subSpacing);

  // Each voxel: mean of its f^3 sub-voxels.
  const inv = 1 / (f * f * f);
  for (let z = 0; z < bz; z++)
    for (let y = 0; y < by; y++)
      for (let x = 0; x < bx; x++) {
        const i = lo[0]! + x + nx * (lo[1]! + y + ny * (lo[2]! + z));
        if (!mask[i]) continue;
        let s = 0;
        for (let c = 0; c < f; c++)
          for (let b = 0; b < f; b++) {
            const row = sub[0] * (f * y + b + sub[1] * (f * z + c)) + f * x;
            for (let a = 0; a < f; a++) s += tau[row + a]!;
          }
        out[i] = s * inv;
      }
  return out;
}

/** Summary of a thickness map over a plate, in mm. All NaN for an empty plate. */
export interface ThicknessStats {
  meanMm: number;
  medianMm: number;
  p95Mm: number;
  maxMm: number;
  voxels: number;
}

/** Mean, median, 95th percentile (numpy "linear") and max of `thickness` over the voxels of `mask`. */
export function thicknessStats(thickness: Float32Array, mask: Mask): ThicknessStats {
  let count = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) count++;
  const values = new Float64Array(count);
  let k = 0;
  let sum = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    values[k++] = thickness[i]!;
    sum += thickness[i]!;
  }
  values.sort();
  return {
    meanMm: count ? sum / count : NaN,
    medianMm: percentileSorted(values, 50),
    p95Mm: percentileSorted(values, 95),
    maxMm: count ? values[count - 1]! : NaN,
    voxels: count,
  };
}

/** Thickness map (mm) and its summary for one plate. */
export function plateThickness(
  mask: Mask,
  shape: Shape3,
  spacing: Spacing3,
  options: ThicknessOptions = {},
): { map: Float32Array; stats: ThicknessStats } {
  const map = localThickness(mask, shape, spacing, options);
  return { map, stats: thicknessStats(map, mask) };
}
