/**
 * Weights of the level-set terms over training (METHOD.md section 6).
 *
 * SSHCPS (Eq. 17-18): L_t = L_CTU + alpha L_C + beta(t) L_LS, alpha = 1,
 *   beta(t) = 0.1 exp(-5 (1 - t / t_max)^2).
 * DTC convention (HiLab-git/DTC code/train_la_dtc.py): fixed 0.3 (`--beta`) on L_LS and the ramp
 *   `consistency * sigmoid_rampup(iter // 150, 40)` (consistency = 1.0) on L_C.
 */
import { z } from 'zod';

/** exp(-5 (1 - t / length)^2) with t clipped to [0, length] (Laine & Aila 2017, as in DTC/SSL4MIS). */
export function sigmoidRampup(current: number, length: number): number {
  if (length <= 0) return 1;
  const t = Math.min(Math.max(current, 0), length);
  const phase = 1 - t / length;
  return Math.exp(-5 * phase * phase);
}

/**
 * The consistency weight of SSL4MIS / DTC / UA-MT: `final * sigmoid_rampup(iter // 150, rampup)`
 * (Laine & Aila's ramp, counted in "epochs" of `iterationsPerEpoch` iterations).
 */
export function rampedWeight(
  final: number,
  iteration: number,
  rampupEpochs: number,
  iterationsPerEpoch = 150,
): number {
  return final * sigmoidRampup(Math.floor(iteration / iterationsPerEpoch), rampupEpochs);
}

/** beta(t) of Eq. 18. */
export function sshcpsBeta(t: number, tMax: number, scale = 0.1): number {
  return scale * sigmoidRampup(t, tMax);
}

export const levelSetScheduleSchema = z.discriminatedUnion('convention', [
  z.strictObject({
    convention: z.literal('sshcps'),
    /** alpha of Eq. 17 (paper: 1) */
    alpha: z.number().nonnegative().default(1),
    /** scale of beta(t), Eq. 18 (paper: 0.1) */
    betaScale: z.number().nonnegative().default(0.1),
  }),
  z.strictObject({
    convention: z.literal('dtc'),
    /** fixed weight of L_LS (DTC `--beta` 0.3) */
    levelSetWeight: z.number().nonnegative().default(0.3),
    /** final weight of L_C (DTC `--consistency` 1.0) */
    consistencyWeight: z.number().nonnegative().default(1),
    /** ramp length in "epochs" of `iterationsPerEpoch` iterations (DTC `--consistency_rampup` 40) */
    rampupEpochs: z.number().nonnegative().default(40),
    /** DTC ramps on iter // 150 */
    iterationsPerEpoch: z.number().int().positive().default(150),
  }),
]);
export type LevelSetSchedule = z.infer<typeof levelSetScheduleSchema>;

export const DEFAULT_LEVEL_SET_SCHEDULE: LevelSetSchedule = {
  convention: 'sshcps',
  alpha: 1,
  betaScale: 0.1,
};

/** The weights of L_LS and L_C at iteration t of t_max. */
export function levelSetWeights(
  s: LevelSetSchedule,
  t: number,
  tMax: number,
): { levelSet: number; consistency: number } {
  if (s.convention === 'sshcps') return { levelSet: sshcpsBeta(t, tMax, s.betaScale), consistency: s.alpha };
  return {
    levelSet: s.levelSetWeight,
    consistency: rampedWeight(s.consistencyWeight, t, s.rampupEpochs, s.iterationsPerEpoch),
  };
}
