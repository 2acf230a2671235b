/**
 * Image-formation effects of the synthetic scans: smooth tissue texture (value noise), a smooth
 * multiplicative bias field (receive-coil shading) and Rician noise (the magnitude of complex
 * Gaussian noise, as in magnitude MR images).
 */
import { gaussian, mulberry32, type Rng } from '../random.ts';

/**
 * Value noise on a voxel grid: random values on a coarse lattice (cell `cellMm`), trilinearly
 * interpolated, summed over two octaves; zero mean, about unit amplitude.
 */
export function valueNoise(
  shape: readonly [number, number, number],
  spacing: readonly [number, number, number],
  cellMm: number,
  seed: number,
): Float32Array {
  const [nx, ny, nz] = shape;
  const out = new Float32Array(nx * ny * nz);
  const rng = mulberry32(seed);
  for (const [cell, amp] of [
    [cellMm, 0.7],
    [cellMm / 2, 0.3],
  ] as const) {
    const gx = Math.ceil((nx * spacing[0]) / cell) + 2;
    const gy = Math.ceil((ny * spacing[1]) / cell) + 2;
    const gz = Math.ceil((nz * spacing[2]) / cell) + 2;
    const lattice = new Float32Array(gx * gy * gz);
    for (let i = 0; i < lattice.length; i++) lattice[i] = 2 * rng() - 1;
    const fx = spacing[0] / cell;
    const fy = spacing[1] / cell;
    const fz = spacing[2] / cell;
    let o = 0;
    for (let z = 0; z < nz; z++) {
      const cz = z * fz;
      const kz = Math.floor(cz);
      const tz = cz - kz;
      for (let y = 0; y < ny; y++) {
        const cy = y * fy;
        const ky = Math.floor(cy);
        const ty = cy - ky;
        const r00 = (kz * gy + ky) * gx;
        const r01 = (kz * gy + ky + 1) * gx;
        const r10 = ((kz + 1) * gy + ky) * gx;
        const r11 = ((kz + 1) * gy + ky + 1) * gx;
        for (let x = 0; x < nx; x++, o++) {
          const cx = x * fx;
          const kx = Math.floor(cx);
          const tx = cx - kx;
          const a = lattice[r00 + kx]! + tx * (lattice[r00 + kx + 1]! - lattice[r00 + kx]!);
          const b = lattice[r01 + kx]! + tx * (lattice[r01 + kx + 1]! - lattice[r01 + kx]!);
          const c = lattice[r10 + kx]! + tx * (lattice[r10 + kx + 1]! - lattice[r10 + kx]!);
          const d = lattice[r11 + kx]! + tx * (lattice[r11 + kx + 1]! - lattice[r11 + kx]!);
          const ab = a + ty * (b - a);
          const cd = c + ty * (d - c);
          out[o] = out[o]! + amp * (ab + tz * (cd - ab));
        }
      }
    }
  }
  return out;
}

/**
 * Multiplicative bias field exp(sum_i c_i * basis_i) over normalized coordinates in [-1, 1], with the
 * nine first- and second-order monomials as basis: smooth shading across the field of view.
 */
export function biasAt(coeffs: readonly number[], X: number, Y: number, Z: number): number {
  const c = coeffs;
  return Math.exp(
    c[0]! * X +
      c[1]! * Y +
      c[2]! * Z +
      c[3]! * X * X +
      c[4]! * Y * Y +
      c[5]! * Z * Z +
      c[6]! * X * Y +
      c[7]! * Y * Z +
      c[8]! * X * Z,
  );
}

/** A Rician sample: the magnitude of (signal + n1) + i n2 with n1, n2 ~ N(0, sigma^2). */
export function rician(rng: Rng, signal: number, sigma: number): number {
  const re = signal + sigma * gaussian(rng);
  const im = sigma * gaussian(rng);
  return Math.sqrt(re * re + im * im);
}
