/**
 * Implicit-shape primitives for the synthetic knee: signed distances (negative inside, mm) and
 * smooth windows. Hand-written because they are a few lines each and run billions of times in the
 * renderer's inner loop, where a general geometry library would cost more than it saves.
 */

/**
 * Approximate signed distance to an axis-aligned ellipsoid centred at the origin with semi-axes
 * (a, b, c): Quilez's "k0 (k0 - 1) / k1" bound, exact on the surface and close near it, which is
 * where cartilage thickness is measured.
 */
export function ellipsoidSdf(x: number, y: number, z: number, a: number, b: number, c: number): number {
  const px = x / a;
  const py = y / b;
  const pz = z / c;
  const k0 = Math.sqrt(px * px + py * py + pz * pz);
  const qx = px / a;
  const qy = py / b;
  const qz = pz / c;
  const k1 = Math.sqrt(qx * qx + qy * qy + qz * qz);
  return k1 > 1e-12 ? (k0 * (k0 - 1)) / k1 : -Math.min(a, b, c);
}

/** Normalized ellipsoid radius: < 1 inside. Cheaper than the distance when only membership matters. */
export function ellipsoidRadius2(x: number, y: number, z: number, a: number, b: number, c: number): number {
  const px = x / a;
  const py = y / b;
  const pz = z / c;
  return px * px + py * py + pz * pz;
}

/** Polynomial smooth minimum (union with a fillet of width k mm). */
export function smin(a: number, b: number, k: number): number {
  const h = Math.max(k - Math.abs(a - b), 0) / k;
  return Math.min(a, b) - h * h * k * 0.25;
}

/**
 * Parameter t in [0, 1] of the point on segment p0 -> p1 nearest to (x, y, z); used for tendons,
 * ligaments and vessels, which are capsules with elliptic cross-sections.
 */
export function segmentParam(
  x: number,
  y: number,
  z: number,
  p0: readonly [number, number, number],
  p1: readonly [number, number, number],
): number {
  const dx = p1[0] - p0[0];
  const dy = p1[1] - p0[1];
  const dz = p1[2] - p0[2];
  const t = ((x - p0[0]) * dx + (y - p0[1]) * dy + (z - p0[2]) * dz) / (dx * dx + dy * dy + dz * dz);
  return t < 0 ? 0 : t > 1 ? 1 : t;
}

/** Distance from (x, y, z) to segment p0 -> p1 minus radius r. */
export function capsuleSdf(
  x: number,
  y: number,
  z: number,
  p0: readonly [number, number, number],
  p1: readonly [number, number, number],
  r: number,
): number {
  const t = segmentParam(x, y, z, p0, p1);
  const ex = x - (p0[0] + t * (p1[0] - p0[0]));
  const ey = y - (p0[1] + t * (p1[1] - p0[1]));
  const ez = z - (p0[2] + t * (p1[2] - p0[2]));
  return Math.sqrt(ex * ex + ey * ey + ez * ez) - r;
}

/**
 * Thickness profile of a cartilage plate along a normalized coordinate: 1 at the centre, falling
 * smoothly to exactly 0 at |s| = 1 and beyond ("thickest centrally, tapering to zero").
 */
export function taper(s2: number, power = 0.7): number {
  return s2 >= 1 ? 0 : Math.pow(1 - s2, power);
}
