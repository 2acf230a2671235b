/**
 * Bones of the synthetic knee as implicit shapes in a knee frame (mm): u lateral, v anterior,
 * w superior, origin at the centre of the tibiofemoral joint space. Sizes follow adult averages
 * (femoral condyles about 80 mm wide, 50-60 mm deep; tibial plateau about 75 x 50 mm) times the
 * subject's scale.
 *
 * - Distal femur: two condyle ellipsoids (medial slightly larger), an anterior block carrying the
 *   trochlear groove, the metaphysis and the shaft, joined by smooth unions (leaving the
 *   intercondylar notch open below).
 * - Tibia: a plateau whose height varies (medial compartment concave, lateral slightly convex,
 *   intercondylar eminence, posterior slope) over an elliptic outline narrowing to the shaft, plus
 *   the tibial tubercle. The fibular head is bone but unlabelled.
 * - Patella: an ellipsoid whose back follows the trochlea at a fixed offset, so patellar and
 *   trochlear cartilage face each other across a thin joint space.
 */
import { capsuleSdf, ellipsoidRadius2, ellipsoidSdf, smin, taper } from './shapes.ts';
import type { Subject } from './subject.ts';

export interface Condyle {
  readonly u: number;
  readonly v: number;
  readonly w: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  /** half-width (mm) of the slab the ellipsoid is cut to */
  readonly half: number;
}

/** Angular window of femoral cartilage around a condyle centre (0 = distal, + anterior). */
export const CONDYLE_ARC = { centre: -0.6, halfWidth: 1.65 } as const;

export class KneeBones {
  readonly s: number;
  readonly condyles: readonly [Condyle, Condyle];
  /** mean condyle centre height */
  readonly wc: number;
  readonly block: { v: number; w: number; a: number; b: number; c: number };
  readonly groove: { v: number; r: number };
  readonly meta: { v: number; w: number; a: number; b: number; c: number };
  readonly shaft: { v: number; r: number; w0: number };
  /** tibial compartments: centre (u, v), cartilage patch semi-axes, bone height at centre */
  readonly compartments: readonly [
    { u: number; v: number; a: number; b: number; h: number },
    { u: number; v: number; a: number; b: number; h: number },
  ];
  readonly plateau: { v: number; a: number; b: number; top: number };
  readonly slopeTan: number;
  /** femoral cartilage peak per condyle and trochlea */
  readonly fcPeak: readonly [number, number, number];
  readonly tcPeak: readonly [number, number];
  readonly pcPeak: number;
  /** patella: ellipsoid centre and semi-axes, and its back's offset from the femur surface */
  readonly patella: { u: number; v: number; w: number; a: number; b: number; c: number; offset: number };
  readonly trochlea: { w: number; halfU: number; halfW: number; vMin: number };

  constructor(sub: Subject) {
    const s = sub.scale;
    this.s = s;
    const gap = sub.jointGap;
    const [thinM, thinL] = sub.thinning;
    this.fcPeak = [sub.femoralThickness * thinM, sub.femoralThickness * thinL, sub.femoralThickness * 1.05];
    this.tcPeak = [sub.tibialThickness * thinM, sub.tibialThickness * thinL];
    this.pcPeak = sub.patellarThickness;
    // Femoral cartilage thickness at the distal point of each condyle (theta = 0).
    const distal = taper((CONDYLE_ARC.centre / CONDYLE_ARC.halfWidth) ** 2);
    // Condyles are wide ellipsoids cut to 15 mm half-width, which gives the flat coronal profile
    // (curvature radius about 25 mm) of real condyles and a 14 mm wide notch between them.
    const medialC = { a: 24 * s, b: 26 * s, c: 21 * s, half: 15 * s };
    const lateralC = { a: 23 * s, b: 24 * s, c: 20 * s, half: 14.5 * s };
    this.condyles = [
      { u: -22 * s, v: -2 * s, w: gap / 2 + this.fcPeak[0] * distal + medialC.c, ...medialC },
      { u: 22 * s, v: -4 * s, w: gap / 2 + this.fcPeak[1] * distal + lateralC.c, ...lateralC },
    ];
    const wc = (this.condyles[0].w + this.condyles[1].w) / 2;
    this.wc = wc;
    this.block = { v: 4 * s, w: wc + 8 * s, a: 30 * s, b: 19 * s, c: 24 * s };
    const grooveR = 10 * s;
    this.groove = { v: this.block.v + this.block.b - sub.grooveDepth + grooveR, r: grooveR };
    this.meta = { v: -4 * s, w: wc + 30 * s, a: 33 * s, b: 22 * s, c: 28 * s };
    this.shaft = { v: -3 * s, r: 13 * s, w0: wc + 30 * s };
    const c0 = this.condyles[0];
    const c1 = this.condyles[1];
    this.compartments = [
      { u: c0.u, v: c0.v, a: 14 * s, b: 17 * s, h: -gap / 2 - this.tcPeak[0] },
      { u: c1.u, v: c1.v, a: 13 * s, b: 15 * s, h: -gap / 2 - this.tcPeak[1] },
    ];
    this.plateau = {
      v: -3 * s,
      a: 38 * s,
      b: 25 * s,
      top: (this.compartments[0].h + this.compartments[1].h) / 2,
    };
    this.slopeTan = Math.tan(sub.tibialSlope);
    this.trochlea = { w: wc + 6 * s, halfU: 21 * s, halfW: 17 * s, vMin: 0 };
    // Patella: find where the offset surface (trochlear cartilage + gap) crosses the midline at the
    // patella's height, and sink the ellipsoid's back into it so the back takes the trochlea's shape.
    const offset = this.fcPeak[2] + gap * 0.8;
    const pu = 2 * s;
    const pw = wc + 14 * s;
    let lo = 0;
    let hi = 90;
    for (let i = 0; i < 40; i++) {
      const mid = (lo + hi) / 2;
      if (this.femurSdf(pu, mid, pw) < offset) lo = mid;
      else hi = mid;
    }
    const pb = 12 * s;
    this.patella = {
      u: pu,
      v: lo + pb - (this.pcPeak + 2.5 * s),
      w: pw,
      a: 20 * s,
      b: pb,
      c: 19 * s,
      offset,
    };
  }

  /** Approximate signed distance (mm) to the distal femur surface. */
  femurSdf(u: number, v: number, w: number): number {
    const [m, l] = this.condyles;
    const dm = Math.max(ellipsoidSdf(u - m.u, v - m.v, w - m.w, m.a, m.b, m.c), Math.abs(u - m.u) - m.half);
    const dl = Math.max(ellipsoidSdf(u - l.u, v - l.v, w - l.w, l.a, l.b, l.c), Math.abs(u - l.u) - l.half);
    const bk = this.block;
    let db = ellipsoidSdf(u, v - bk.v, w - bk.w, bk.a, bk.b, bk.c);
    const gv = v - this.groove.v;
    const dg = Math.sqrt(u * u + gv * gv) - this.groove.r;
    if (-dg > db) db = -dg;
    const mt = this.meta;
    const dmeta = ellipsoidSdf(u, v - mt.v, w - mt.w, mt.a, mt.b, mt.c);
    const sv = v - this.shaft.v;
    let dshaft = Math.sqrt(u * u + sv * sv) - this.shaft.r;
    if (this.shaft.w0 - w > dshaft) dshaft = this.shaft.w0 - w;
    const s = this.s;
    return smin(smin(smin(dm, dl, 4 * s), db, 6 * s), smin(dmeta, dshaft, 12 * s), 8 * s);
  }

  /** Weight of the lateral compartment (0 medial .. 1 lateral), smooth across the eminence. */
  lateralWeight(u: number): number {
    const t = (u + 6 * this.s) / (12 * this.s);
    const x = t < 0 ? 0 : t > 1 ? 1 : t;
    return x * x * (3 - 2 * x);
  }

  /** Height (w, mm) of the tibial bone surface under (u, v). */
  tibiaTop(u: number, v: number): number {
    const [m, l] = this.compartments;
    const wl = this.lateralWeight(u);
    const rm = Math.min(ellipsoidRadius2(u - m.u, v - m.v, 0, m.a, m.b, 1), 1.6);
    const rl = Math.min(ellipsoidRadius2(u - l.u, v - l.v, 0, l.a, l.b, 1), 1.6);
    const s = this.s;
    // medial plateau concave, lateral slightly convex
    let h = (1 - wl) * (m.h + 1.2 * s * rm) + wl * (l.h - 0.6 * s * rl);
    // intercondylar eminence
    h += 7 * s * taper((u / (7 * s)) ** 2, 1) * taper(((v + 2 * s) / (11 * s)) ** 2, 1);
    return h + this.slopeTan * (v - this.plateau.v);
  }

  /**
   * Normalized radius of the tibia's outline at height w (< 1 inside): the plateau ellipse, narrowing
   * to the round shaft 20-75 mm below the plateau.
   */
  tibiaOutline(u: number, v: number, w: number): { r2: number; halfMin: number } {
    const s = this.s;
    const p = this.plateau;
    const t0 = (p.top - 20 * s - w) / (55 * s);
    const t = t0 < 0 ? 0 : t0 > 1 ? 1 : t0;
    const a = p.a + (14 * s - p.a) * t;
    const b = p.b + (14 * s - p.b) * t;
    const cv = p.v + (-6 * s - p.v) * t;
    this.outline.r2 = ellipsoidRadius2(u, v - cv, 0, a, b, 1);
    this.outline.halfMin = a < b ? a : b;
    return this.outline;
  }
  private readonly outline = { r2: 0, halfMin: 0 };

  /** Signed distance to the tibial tubercle (anterior bump below the plateau). */
  tubercleSdf(u: number, v: number, w: number): number {
    const s = this.s;
    return ellipsoidSdf(u, v - 14 * s, w - (this.plateau.top - 28 * s), 12 * s, 10 * s, 16 * s);
  }

  /** Signed distance to the fibular head and neck (lateral, posterior, below the plateau). */
  fibulaSdf(u: number, v: number, w: number): number {
    const s = this.s;
    const top = this.plateau.top - 16 * s;
    const head = ellipsoidSdf(u - 29 * s, v + 19 * s, w - top, 9 * s, 9 * s, 10 * s);
    const neck = capsuleSdf(u, v, w, [29 * s, -19 * s, top], [31 * s, -21 * s, top - 150], 6 * s);
    return smin(head, neck, 4 * s);
  }
}
