/**
 * Cartilage plates of the synthetic knee: where each plate lies and how thick it is. Plates cover
 * only articulating surfaces, are thickest centrally and taper to zero at their rims:
 * - femoral: the distal and posterior arc of each condyle plus the trochlea;
 * - tibial: the medial and lateral compartments of the plateau (not the eminence);
 * - patellar: the central back of the patella.
 * Focal defects replace the outer part of a plate with fluid, as full- or partial-thickness lesions
 * look on fat-suppressed MR.
 */
import { CONDYLE_ARC, type KneeBones } from './anatomy.ts';
import { ellipsoidRadius2, taper } from './shapes.ts';
import type { Subject } from './subject.ts';

/** Femoral cartilage thickness (mm) at a point near the femur surface. */
export function femoralThickness(k: KneeBones, u: number, v: number, w: number): number {
  let t = 0;
  for (let i = 0; i < 2; i++) {
    const c = k.condyles[i]!;
    const su = (u - c.u) / (c.half * 1.02);
    if (su * su >= 1) continue;
    const theta = Math.atan2((v - c.v) / c.b, (c.w - w) / c.c);
    const st = (theta - CONDYLE_ARC.centre) / CONDYLE_ARC.halfWidth;
    const ti = k.fcPeak[i]! * taper(st * st) * taper(su * su, 0.5);
    if (ti > t) t = ti;
  }
  const tr = k.trochlea;
  if (v > tr.vMin) {
    const su = u / tr.halfU;
    const sw = (w - tr.w) / tr.halfW;
    const ti = k.fcPeak[2] * taper(su * su, 0.5) * taper(sw * sw);
    if (ti > t) t = ti;
  }
  return t;
}

/** Tibial cartilage thickness (mm) over (u, v) of the plateau. */
export function tibialThickness(k: KneeBones, u: number, v: number): number {
  const i = u < 0 ? 0 : 1;
  const c = k.compartments[i];
  const r2 = ellipsoidRadius2(u - c.u, v - c.v, 0, c.a, c.b, 1);
  return r2 >= 1 ? 0 : k.tcPeak[i]! * taper(r2);
}

/** Patellar cartilage thickness (mm) behind the patella at (u, w). */
export function patellarThickness(k: KneeBones, u: number, w: number): number {
  const p = k.patella;
  const r2 = ellipsoidRadius2(u - p.u, 0, w - p.w, p.a * 0.85, 1, p.c * 0.85);
  return k.pcPeak * taper(r2);
}

/** A defect resolved to a sphere in the knee frame. */
export interface DefectSphere {
  readonly u: number;
  readonly v: number;
  readonly w: number;
  readonly r2: number;
  /** cartilage deeper than this fraction of the local thickness survives */
  readonly keep: number;
}

/** Where a ray from an inside point leaves the level set f = level (bisection). */
function crossing(
  f: (u: number, v: number, w: number) => number,
  level: number,
  p: readonly [number, number, number],
  d: readonly [number, number, number],
  reach: number,
): [number, number, number] {
  let lo = 0;
  let hi = reach;
  for (let i = 0; i < 40; i++) {
    const m = (lo + hi) / 2;
    if (f(p[0] + m * d[0], p[1] + m * d[1], p[2] + m * d[2]) < level) lo = m;
    else hi = m;
  }
  return [p[0] + lo * d[0], p[1] + lo * d[1], p[2] + lo * d[2]];
}

/** Places each of the subject's defects on its plate's surface. */
export function placeDefects(k: KneeBones, sub: Subject): DefectSphere[] {
  const femur = (u: number, v: number, w: number) => k.femurSdf(u, v, w);
  return sub.defects.map((d) => {
    let centre: [number, number, number];
    if (d.plate === 'femoral' && d.region < 2) {
      const c = k.condyles[d.region]!;
      const dir = [0, Math.sin(d.a), -Math.cos(d.a)] as const;
      centre = crossing(femur, 0, [c.u + d.b, c.v, c.w], dir, 80);
    } else if (d.plate === 'femoral') {
      centre = crossing(femur, 0, [d.b, 0, k.trochlea.w + d.a], [0, 1, 0], 90);
    } else if (d.plate === 'tibial') {
      const c = k.compartments[d.region === 0 ? 0 : 1];
      const u = c.u + d.a * 0.6;
      const v = c.v + d.b;
      centre = [u, v, k.tibiaTop(u, v) + tibialThickness(k, u, v)];
    } else {
      const p = k.patella;
      centre = crossing(femur, p.offset + k.pcPeak, [p.u + d.a, 0, p.w + d.b], [0, 1, 0], 90);
    }
    return { u: centre[0], v: centre[1], w: centre[2], r2: d.radius * d.radius, keep: 1 - d.depth };
  });
}

/** True when a cartilage point at relative depth `depth` (0 bone .. 1 surface) lies in a defect. */
export function inDefect(
  defects: readonly DefectSphere[],
  u: number,
  v: number,
  w: number,
  depth: number,
): boolean {
  for (let i = 0; i < defects.length; i++) {
    const d = defects[i]!;
    if (depth <= d.keep) continue;
    const du = u - d.u;
    const dv = v - d.v;
    const dw = w - d.w;
    if (du * du + dv * dv + dw * dw < d.r2) return true;
  }
  return false;
}
