/** The knee label values on disk (METHOD.md section 2): 0 background and one integer per leaf. */
export const KNEE_LABELS = {
  background: 0,
  femur: 1,
  femoral_cartilage: 2,
  tibia: 3,
  tibial_cartilage: 4,
  patella: 5,
  patellar_cartilage: 6,
} as const;
