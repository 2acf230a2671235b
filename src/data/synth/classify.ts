/**
 * The tissue at a point of the synthetic knee. Structures are tested in order of precedence (bone
 * and cartilage first, then menisci, ligaments, tendons, fluid, fat pads, vessels, and last the limb's
 * layers: muscle or periarticular fat, subcutaneous fat, skin, air), each behind a cheap bounding test
 * so that the renderer stays fast.
 */
import { KneeBones } from './anatomy.ts';
import {
  femoralThickness,
  inDefect,
  patellarThickness,
  placeDefects,
  tibialThickness,
  type DefectSphere,
} from './cartilage.ts';
import { ellipsoidRadius2, ellipsoidSdf, segmentParam } from './shapes.ts';
import type { Subject } from './subject.ts';
import { Tissue } from './tissues.ts';

type P3 = readonly [number, number, number];

/** Cortical bone thickness (mm). */
const CORTEX = 1.3;
/** "No tissue of this region here": the next region decides. */
const NONE = -1;

export class KneeModel {
  readonly bones: KneeBones;
  readonly defects: readonly DefectSphere[];
  /** relative depth of the last cartilage point classified (0 at bone, 1 at the surface) */
  depth = 0;
  private readonly film: number;
  private readonly limb: { v: number; a: number; b: number; fat: number };
  private readonly quad: { p0: P3; p1: P3; ru: number; rv: number };
  private readonly ptendon: { p0: P3; p1: P3; ru: number; rv: number };
  private readonly acl: { p0: P3; p1: P3; r: number };
  private readonly pcl: { p0: P3; p1: P3; r: number };
  private readonly recess: { v: number; w: number; a: number; b: number; c: number };
  private readonly capsule: { v: number; w: number; a: number; b: number; c: number };
  private readonly hoffa: { v: number; w: number; a: number; b: number; c: number };
  private readonly vessels: { artery: [number, number, number]; vein: [number, number, number] };
  private readonly femurBottom: number;

  constructor(sub: Subject) {
    const k = new KneeBones(sub);
    this.bones = k;
    this.defects = placeDefects(k, sub);
    const s = k.s;
    const p = k.patella;
    const top = k.plateau.top;
    this.film = 0.4 + 1.2 * sub.effusion;
    const front = p.v + p.b + 3;
    this.limb = {
      v: -4 * s,
      a: 50 * s * sub.build,
      b: Math.max(52 * s * sub.build, front + 4 * s),
      fat: sub.fatThickness,
    };
    this.quad = {
      p0: [p.u, p.v + 2 * s, p.w + 15 * s],
      p1: [0, p.v - 5 * s, p.w + 110 * s],
      ru: 15 * s,
      rv: 3.5 * s,
    };
    this.ptendon = {
      p0: [p.u, p.v + 4 * s, p.w - 16 * s],
      p1: [0, 24 * s, top - 30 * s],
      ru: 12 * s,
      rv: 2.8 * s,
    };
    const wc = k.wc;
    this.acl = { p0: [8 * s, -14 * s, wc - 4 * s], p1: [-3 * s, 8 * s, top + 2 * s], r: 3.5 * s };
    this.pcl = { p0: [-8 * s, 2 * s, wc - 8 * s], p1: [0, -22 * s, top - 6 * s], r: 4 * s };
    this.recess = { v: 22 * s, w: wc + 36 * s, a: 20 * s, b: 2 + 5 * sub.effusion, c: 14 * s };
    this.capsule = { v: -2 * s, w: 2 * s, a: 44 * s, b: 34 * s, c: 36 * s };
    this.hoffa = { v: 14 * s, w: top + 8 * s, a: 20 * s, b: 10 * s, c: 14 * s };
    this.vessels = { artery: [-2 * s, -36 * s, 3 * s], vein: [5 * s, -40 * s, 4 * s] };
    this.femurBottom = Math.min(k.condyles[0].w - k.condyles[0].c, k.condyles[1].w - k.condyles[1].c) - 6;
  }

  /** Tissue code (see tissues.ts) at knee-frame point (u lateral, v anterior, w superior; mm). */
  classify(u: number, v: number, w: number): number {
    const L = this.limb;
    const lr = ellipsoidRadius2(u, v - L.v, 0, L.a + L.fat, L.b + L.fat, 1);
    if (lr >= 1) return Tissue.air;
    const femoral = this.femurRegion(u, v, w);
    if (femoral !== NONE) return femoral;
    const tibial = this.tibiaRegion(u, v, w);
    if (tibial !== NONE) return tibial;
    return this.softTissue(u, v, w, lr);
  }

  // What the bone regions leave for the soft-tissue tests (scratch fields: classify runs per voxel,
  // so no object is allocated per call).
  private sdfF = 1e9;
  private tibTop = -1e9;
  private tibCart = 0;
  private inOutline = false;

  /** Femur, femoral and patellar cartilage, patella; NONE elsewhere (sets sdfF). */
  private femurRegion(u: number, v: number, w: number): number {
    const k = this.bones;
    const s = k.s;
    this.sdfF = 1e9;
    if (!(w > this.femurBottom && u > -48 * s && u < 48 * s && v > -40 * s && v < 70 * s)) return NONE;
    const sdfF = k.femurSdf(u, v, w);
    this.sdfF = sdfF;
    if (sdfF < 0) return sdfF > -CORTEX ? Tissue.femurCortex : Tissue.femurMarrow;
    const p = k.patella;
    const pe = ellipsoidSdf(u - p.u, v - p.v, w - p.w, p.a, p.b, p.c);
    if (pe < 0 && sdfF > p.offset) {
      const t = patellarThickness(k, u, w);
      const back = sdfF - p.offset - t;
      if (back > 0 || v > p.v) {
        return back < CORTEX || pe > -CORTEX ? Tissue.patellaCortex : Tissue.patellaMarrow;
      }
      return this.cartilage(u, v, w, 1 - (sdfF - p.offset) / t, Tissue.patellarCartilage);
    }
    if (sdfF < 5) {
      const t = femoralThickness(k, u, v, w);
      if (sdfF < t) return this.cartilage(u, v, w, sdfF / t, Tissue.femoralCartilage);
    }
    return NONE;
  }

  /** Cartilage at relative depth `depth`, or fluid where a defect removed it. */
  private cartilage(u: number, v: number, w: number, depth: number, tissue: number): number {
    if (inDefect(this.defects, u, v, w, depth)) return Tissue.fluid;
    this.depth = depth;
    return tissue;
  }

  /** Tibia, tibial cartilage, fibula, menisci; NONE elsewhere (sets tibTop, tibCart, inOutline). */
  private tibiaRegion(u: number, v: number, w: number): number {
    const k = this.bones;
    const s = k.s;
    const top = k.plateau.top;
    this.tibTop = -1e9;
    this.tibCart = 0;
    this.inOutline = false;
    if (w >= top + 12 * s) return NONE;
    const o = k.tibiaOutline(u, v, w);
    this.inOutline = o.r2 < 1;
    const tibTop = k.tibiaTop(u, v);
    this.tibTop = tibTop;
    if (this.inOutline) {
      if (w <= tibTop) {
        const edge = (1 - Math.sqrt(o.r2)) * o.halfMin;
        return edge < CORTEX || tibTop - w < CORTEX ? Tissue.tibiaCortex : Tissue.tibiaMarrow;
      }
      this.tibCart = tibialThickness(k, u, v);
      if (w < tibTop + this.tibCart) {
        return this.cartilage(u, v, w, (w - tibTop) / this.tibCart, Tissue.tibialCartilage);
      }
    }
    if (w < top - 8 * s) {
      const tb = k.tubercleSdf(u, v, w);
      if (tb < 0) return tb > -CORTEX ? Tissue.tibiaCortex : Tissue.tibiaMarrow;
      if (u > 15 * s) {
        const fb = k.fibulaSdf(u, v, w);
        if (fb < 0) return fb > -CORTEX ? Tissue.fibulaCortex : Tissue.fibulaMarrow;
      }
    }
    return w < top + 10 * s ? this.meniscus(u, v, w) : NONE;
  }

  /** Menisci: wedges on the rim of each compartment, open towards the notch. */
  private meniscus(u: number, v: number, w: number): number {
    const k = this.bones;
    const i = u < 0 ? 0 : 1;
    const c = k.compartments[i];
    const rm = Math.sqrt(ellipsoidRadius2(u - c.u, v - c.v, 0, c.a * 1.3, c.b * 1.3, 1));
    if (rm > 0.55 && rm < 1) {
      const towardNotch = (i === 0 ? 1 : -1) * (u - c.u);
      const open = Math.atan2(Math.abs(v - c.v), towardNotch) < (i === 0 ? 0.75 : 0.4);
      if (!open) {
        const base = this.tibTop + this.tibCart;
        const hgt = 6 * k.s * Math.min(1, (rm - 0.55) / 0.3);
        if (w >= base - 0.5 && w < base + hgt) return Tissue.meniscus;
      }
    }
    return NONE;
  }

  /** Ligaments, tendons, fluid, fat pad, vessels and the limb's layers (`lr`: limb radius^2). */
  private softTissue(u: number, v: number, w: number, lr: number): number {
    const k = this.bones;
    const s = k.s;
    const top = k.plateau.top;
    // --- cruciate ligaments in the notch
    if (w > top - 10 * s && w < k.wc && u > -14 * s && u < 14 * s) {
      if (capsuleDist2(u, v, w, this.acl.p0, this.acl.p1) < this.acl.r ** 2) return Tissue.ligament;
      if (capsuleDist2(u, v, w, this.pcl.p0, this.pcl.p1) < this.pcl.r ** 2) return Tissue.ligament;
    }
    // --- tendons of the extensor mechanism
    if (flatCapsule(u, v, w, this.quad.p0, this.quad.p1, this.quad.ru, this.quad.rv)) return Tissue.tendon;
    if (flatCapsule(u, v, w, this.ptendon.p0, this.ptendon.p1, this.ptendon.ru, this.ptendon.rv))
      return Tissue.tendon;
    // --- synovial fluid: a film over the articular surfaces inside the capsule, and the recess
    const cp = this.capsule;
    if (ellipsoidRadius2(u, v - cp.v, w - cp.w, cp.a, cp.b, cp.c) < 1) {
      const sdfF = this.sdfF;
      if (sdfF < 5 + this.film && sdfF < femoralThickness(k, u, v, w) + this.film) return Tissue.fluid;
      if (this.inOutline && w < this.tibTop + this.tibCart + this.film) return Tissue.fluid;
    }
    const rc = this.recess;
    if (ellipsoidRadius2(u, v - rc.v, w - rc.w, rc.a, rc.b, rc.c) < 1) return Tissue.fluid;
    // --- infrapatellar (Hoffa) fat pad, popliteal vessels
    const hf = this.hoffa;
    if (ellipsoidRadius2(u, v - hf.v, w - hf.w, hf.a, hf.b, hf.c) < 1) return Tissue.fatPad;
    const [au, av, ar] = this.vessels.artery;
    if ((u - au) ** 2 + (v - av) ** 2 < ar * ar) return Tissue.artery;
    const [vu, vv, vr] = this.vessels.vein;
    if ((u - vu) ** 2 + (v - vv) ** 2 < vr * vr) return Tissue.vein;
    // --- limb layers
    const L = this.limb;
    const outer = (1 - Math.sqrt(lr)) * Math.min(L.a + L.fat, L.b + L.fat);
    if (outer < 1.6) return Tissue.skin;
    if (ellipsoidRadius2(u, v - L.v, 0, L.a, L.b, 1) >= 1) return Tissue.subcutaneousFat;
    const thighOrCalf = w > k.wc + 34 * s || w < top - 22 * s || v < -26 * s;
    return thighOrCalf ? Tissue.muscle : Tissue.periarticularFat;
  }
}

function capsuleDist2(u: number, v: number, w: number, p0: P3, p1: P3): number {
  const t = segmentParam(u, v, w, p0, p1);
  const eu = u - (p0[0] + t * (p1[0] - p0[0]));
  const ev = v - (p0[1] + t * (p1[1] - p0[1]));
  const ew = w - (p0[2] + t * (p1[2] - p0[2]));
  return eu * eu + ev * ev + ew * ew;
}

/** A capsule with an elliptic cross-section: wide left-right (ru), thin front-back (rv). */
function flatCapsule(u: number, v: number, w: number, p0: P3, p1: P3, ru: number, rv: number): boolean {
  const t = segmentParam(u, v, w, p0, p1);
  const eu = (u - (p0[0] + t * (p1[0] - p0[0]))) / ru;
  const ev = v - (p0[1] + t * (p1[1] - p0[1]));
  const ew = w - (p0[2] + t * (p1[2] - p0[2]));
  return eu * eu + (ev * ev + ew * ew) / (rv * rv) < 1;
}
