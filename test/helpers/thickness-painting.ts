/**
 * The ball painting that src/infer/thickness.ts used before its largest-first method, kept verbatim
 * as the reference the new method must equal value for value (test/infer/thickness.test.ts) and as
 * the baseline of bench/thickness/. Every ridge ball is painted, keeping the largest diameter per
 * voxel: O(sum of the ridge balls' volumes).
 */
import { squaredDistanceToForeground, type Mask } from '../../src/image/edt.ts';
import type { Shape3, Spacing3 } from '../../src/data/volume.ts';

const REL_EPS = 1e-6;

/** Local thickness on the grid as given, by painting every ridge ball (see the module comment). */
export function localThicknessByPainting(mask: Mask, shape: Shape3, spacing: Spacing3): Float32Array {
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
