/**
 * Tissue classes of the synthetic knee and what each becomes: a label value (the dataset's leaves,
 * METHOD.md section 2) and a mean signal in a fat-suppressed proton-density / DESS-like contrast:
 * fluid brightest, cartilage intermediate-bright, muscle intermediate, fat and fatty marrow dark
 * (suppressed), cortex, menisci, tendons and ligaments near black.
 */
import { KNEE_LABELS } from '../labels.ts';

export const Tissue = {
  air: 0,
  skin: 1,
  subcutaneousFat: 2,
  muscle: 3,
  periarticularFat: 4,
  fatPad: 5,
  tendon: 6,
  ligament: 7,
  meniscus: 8,
  fluid: 9,
  artery: 10,
  vein: 11,
  femurCortex: 12,
  femurMarrow: 13,
  tibiaCortex: 14,
  tibiaMarrow: 15,
  patellaCortex: 16,
  patellaMarrow: 17,
  fibulaCortex: 18,
  fibulaMarrow: 19,
  femoralCartilage: 20,
  tibialCartilage: 21,
  patellarCartilage: 22,
} as const;
export type TissueName = keyof typeof Tissue;
export const TISSUE_COUNT = 23;

/** Label values written to labelsTr (nnU-Net dataset.json `labels`). */
export const SYNTH_LABELS = KNEE_LABELS;

/** Label of each tissue (index = tissue code). The fibula is bone but not a labelled structure. */
export const TISSUE_LABEL: Uint8Array = (() => {
  const t = new Uint8Array(TISSUE_COUNT);
  t[Tissue.femurCortex] = t[Tissue.femurMarrow] = SYNTH_LABELS.femur;
  t[Tissue.femoralCartilage] = SYNTH_LABELS.femoral_cartilage;
  t[Tissue.tibiaCortex] = t[Tissue.tibiaMarrow] = SYNTH_LABELS.tibia;
  t[Tissue.tibialCartilage] = SYNTH_LABELS.tibial_cartilage;
  t[Tissue.patellaCortex] = t[Tissue.patellaMarrow] = SYNTH_LABELS.patella;
  t[Tissue.patellarCartilage] = SYNTH_LABELS.patellar_cartilage;
  return t;
})();

/** Typical mean signal per tissue (arbitrary units, fluid about 1). Subjects jitter these. */
export const BASE_SIGNAL: Record<TissueName, number> = {
  air: 0,
  skin: 0.4,
  subcutaneousFat: 0.1,
  muscle: 0.3,
  periarticularFat: 0.13,
  fatPad: 0.12,
  tendon: 0.04,
  ligament: 0.08,
  meniscus: 0.06,
  fluid: 0.95,
  artery: 0.55,
  vein: 0.75,
  femurCortex: 0.04,
  femurMarrow: 0.2,
  tibiaCortex: 0.04,
  tibiaMarrow: 0.2,
  patellaCortex: 0.04,
  patellaMarrow: 0.2,
  fibulaCortex: 0.04,
  fibulaMarrow: 0.2,
  femoralCartilage: 0.46,
  tibialCartilage: 0.46,
  patellarCartilage: 0.46,
};

/** Tissues whose signal carries a low-frequency texture (marrow heterogeneity, fat septa). */
export const TEXTURED: Uint8Array = (() => {
  const t = new Uint8Array(TISSUE_COUNT);
  for (const k of [
    'femurMarrow',
    'tibiaMarrow',
    'patellaMarrow',
    'fibulaMarrow',
    'fatPad',
    'muscle',
  ] as const)
    t[Tissue[k]] = 1;
  return t;
})();

export const CARTILAGE: Uint8Array = (() => {
  const t = new Uint8Array(TISSUE_COUNT);
  t[Tissue.femoralCartilage] = t[Tissue.tibialCartilage] = t[Tissue.patellarCartilage] = 1;
  return t;
})();
