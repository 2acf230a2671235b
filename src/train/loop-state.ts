/**
 * What the training loop carries from one iteration to the next, and checkpoints: position, stage,
 * learning rate, EMA-VL plateau, model selection, the non-finite streak and the open log window.
 */
import { initialPlateau, type PlateauState } from './plateau.ts';

export interface LoopState {
  iteration: number;
  epoch: number;
  stage: 1 | 2;
  lr: number;
  plateau: PlateauState;
  /**
   * The selection score of the model kept so far, lower is better: 1 - mean leaf Dice
   * (`schedule.selection` 'dice') or EMA-VL ('ema-vl', restarted at the stage switch).
   */
  bestScore: number;
  /** validation Dice per structure at the last validation (the stage switch's guard) */
  lastDice: Record<string, number> | null;
  bestEpoch: number;
  bestIteration: number;
  nanStreak: number;
  elapsedSeconds: number;
  stopped: string | null;
  /**
   * The iterations since the last training log entry, whose mean the next entry reports. Part of the
   * checkpoint, so an entry after a resume averages the same iterations as without the interruption.
   */
  window: LogWindow;
}

export interface LogWindow {
  /** sums of the finite loss terms and how many steps they cover */
  losses: Record<string, number>;
  good: number;
  steps: number;
  stepSeconds: number;
  waitSeconds: number;
}

export const emptyWindow = (): LogWindow => ({
  losses: {},
  good: 0,
  steps: 0,
  stepSeconds: 0,
  waitSeconds: 0,
});

/** The state of a fresh run at stage-1 learning rate `lr`. */
export function initialLoopState(lr: number): LoopState {
  return {
    iteration: 0,
    epoch: 0,
    stage: 1,
    lr,
    plateau: initialPlateau(),
    bestScore: Infinity,
    lastDice: null,
    bestEpoch: -1,
    bestIteration: -1,
    nanStreak: 0,
    elapsedSeconds: 0,
    stopped: null,
    window: emptyWindow(),
  };
}

/**
 * A checkpoint's state made ready to go on: not stopped, fields of older checkpoints filled in, and
 * the "nothing yet" bests put back to Infinity: the checkpoint holds the state as JSON, which writes
 * Infinity as null, and `score < null` is never true (no model would ever be kept after such a resume).
 */
export function resumedLoopState(saved: LoopState): LoopState {
  const st = saved;
  st.stopped = null;
  // checkpoints written before selection by Dice held EMA-VL as `bestEma`
  const legacy = st as LoopState & { bestEma?: number | null };
  if (st.bestScore === undefined) st.bestScore = legacy.bestEma ?? Infinity;
  st.bestScore ??= Infinity;
  st.plateau.best ??= Infinity;
  st.lastDice ??= null;
  return st;
}
