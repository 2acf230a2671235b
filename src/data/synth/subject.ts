/**
 * Per-subject variation of the synthetic knee: size, pose, side, cartilage thickness and defects,
 * effusion, soft-tissue build and image contrast. Everything downstream is a pure function of this
 * object, and this object is a pure function of the seed.
 */
import { gaussian, mulberry32, uniform, type Rng } from '../random.ts';
import { BASE_SIGNAL, TISSUE_COUNT, Tissue, type TissueName } from './tissues.ts';

export type Plate = 'femoral' | 'tibial' | 'patellar';

/** A focal cartilage defect: inside the sphere the outer `depth` fraction of the plate is fluid. */
export interface Defect {
  readonly plate: Plate;
  /** which plate region: 0 medial condyle/compartment, 1 lateral, 2 trochlea (femoral only) */
  readonly region: number;
  /** position on the plate: angle (rad, femoral condyles) or offsets (mm) from the plate centre */
  readonly a: number;
  readonly b: number;
  readonly radius: number;
  readonly depth: number;
}

export interface Subject {
  /** overall size factor (1 = an average adult knee) */
  readonly scale: number;
  /** +1 right knee, -1 left knee (a mirror of the left-right axis) */
  readonly side: 1 | -1;
  /** small rotations (rad) about the knee's left-right, anterior-posterior and superior axes */
  readonly rotation: readonly [number, number, number];
  /** offset (mm) of the knee from the centre of the field of view */
  readonly translation: readonly [number, number, number];
  /** peak cartilage thickness (mm) before thinning */
  readonly femoralThickness: number;
  readonly tibialThickness: number;
  readonly patellarThickness: number;
  /** multiplicative thinning per compartment: [medial, lateral] (osteoarthritis thins medial first) */
  readonly thinning: readonly [number, number];
  /** tibiofemoral joint space between the cartilage surfaces at contact (mm) */
  readonly jointGap: number;
  /** posterior tibial slope (rad) */
  readonly tibialSlope: number;
  /** depth of the trochlear groove (mm) */
  readonly grooveDepth: number;
  readonly defects: readonly Defect[];
  /** 0 = dry joint, 1 = marked effusion (thicker fluid film, larger suprapatellar recess) */
  readonly effusion: number;
  /** subcutaneous fat thickness (mm) */
  readonly fatThickness: number;
  /** limb half-width factor (muscle bulk) */
  readonly build: number;
  /** mean signal per tissue code (after contrast variation) */
  readonly signal: Float64Array;
  /** depth contrast inside cartilage: signal falls by this fraction from surface to bone */
  readonly cartilageLayering: number;
  /** noise standard deviation relative to fluid signal (Rician) */
  readonly noise: number;
  /** coefficients of the smooth log bias field (quadratic polynomial in normalized coordinates) */
  readonly bias: readonly number[];
  /** seed of the texture field (marrow, fat and muscle heterogeneity) */
  readonly textureSeed: number;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function sampleDefects(rng: Rng, scale: number): Defect[] {
  const count = rng() < 0.35 ? 0 : rng() < 0.7 ? 1 : 2;
  const out: Defect[] = [];
  for (let i = 0; i < count; i++) {
    const r = rng();
    const plate: Plate = r < 0.55 ? 'femoral' : r < 0.85 ? 'tibial' : 'patellar';
    const region = plate === 'patellar' ? 0 : plate === 'femoral' && rng() < 0.2 ? 2 : rng() < 0.65 ? 0 : 1;
    out.push({
      plate,
      region,
      a: plate === 'femoral' && region < 2 ? uniform(rng, -0.9, 0.3) : uniform(rng, -6, 6) * scale,
      b: uniform(rng, -5, 5) * scale,
      radius: uniform(rng, 2, 5.5) * scale,
      depth: uniform(rng, 0.4, 1),
    });
  }
  return out;
}

/** Draws a subject; the same seed always gives the same knee. */
export function sampleSubject(seed: number): Subject {
  const rng = mulberry32(seed);
  const g = (sd: number) => gaussian(rng) * sd;
  const scale = clamp(0.93 + g(0.05), 0.82, 1.05);
  const degrees = Math.PI / 180;
  // Contrast: each tissue's signal varies by about 8 %, and the cartilage/fluid/muscle balance
  // shifts between scanners and protocols.
  const signal = new Float64Array(TISSUE_COUNT);
  const cartilageGain = clamp(1 + g(0.12), 0.75, 1.3);
  for (const [name, base] of Object.entries(BASE_SIGNAL) as [TissueName, number][]) {
    const code = Tissue[name];
    signal[code] = base * Math.exp(g(0.08));
  }
  for (const code of [Tissue.femoralCartilage, Tissue.tibialCartilage, Tissue.patellarCartilage])
    signal[code] = signal[code]! * cartilageGain;
  // Popliteal artery: bright with slow flow in some scans, a flow void in others.
  if (rng() < 0.5) signal[Tissue.artery] = 0.05;
  const medialThin = clamp(1 - Math.abs(g(0.18)), 0.45, 1.05);
  return {
    scale,
    side: rng() < 0.5 ? 1 : -1,
    rotation: [g(3) * degrees, g(3) * degrees, g(4) * degrees],
    translation: [g(2), g(3), g(3)],
    femoralThickness: clamp(2.4 + g(0.25), 1.8, 3.0) * scale,
    tibialThickness: clamp(2.8 + g(0.3), 2.0, 3.6) * scale,
    patellarThickness: clamp(3.6 + g(0.4), 2.6, 4.6) * scale,
    thinning: [medialThin, clamp(1 - Math.abs(g(0.08)), 0.75, 1.05)],
    jointGap: clamp(0.7 + g(0.25), 0.25, 1.3),
    tibialSlope: clamp(6 + g(2.5), 1, 11) * degrees,
    grooveDepth: clamp(5 + g(1), 3, 7) * scale,
    defects: sampleDefects(rng, scale),
    effusion: clamp(Math.abs(g(0.45)), 0, 1),
    fatThickness: clamp(6 + g(2.5), 2, 12),
    build: clamp(1 + g(0.07), 0.85, 1.15),
    signal,
    cartilageLayering: clamp(0.25 + g(0.08), 0.05, 0.45),
    noise: clamp(0.045 + g(0.012), 0.025, 0.08),
    bias: Array.from({ length: 9 }, () => g(0.12)),
    textureSeed: (rng() * 2 ** 32) >>> 0,
  };
}
