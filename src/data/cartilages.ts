/** The knee's cartilage plates: the one list every table, measurement and figure of them reads. */
import type { KNEE_LABELS } from './labels.ts';

export interface Cartilage {
  /** structure name, a key of KNEE_LABELS */
  readonly name: Extract<keyof typeof KNEE_LABELS, `${string}_cartilage`>;
  /** the paper's abbreviation (column heads of its tables) */
  readonly abbreviation: 'FC' | 'TC' | 'PC';
  /** whether thickness is also reported for the medial and lateral halves */
  readonly split: boolean;
}

/** Femoral, tibial and patellar cartilage, in label-value order. */
export const KNEE_CARTILAGES: readonly Cartilage[] = [
  { name: 'femoral_cartilage', abbreviation: 'FC', split: true },
  { name: 'tibial_cartilage', abbreviation: 'TC', split: true },
  { name: 'patellar_cartilage', abbreviation: 'PC', split: false },
];
