/**
 * The bookkeeping after each step: the non-finite streak and the log window, whose mean over the
 * finite steps becomes the next training log entry. Pure state updates, no tensors.
 */
import { emptyWindow, type LoopState } from './loop-state.ts';
import type { StepRecord } from './records.ts';

export interface StepOutcome {
  /** every loss term's value, `total` included */
  values: Record<string, number>;
  /** the non-finite terms by name: non-empty means the step was skipped */
  bad: string[];
}

export interface StepTiming {
  /** the step itself (forward, backward, optimizer) */
  stepSeconds: number;
  /** waiting for the batch */
  waitSeconds: number;
}

/**
 * Folds a step into the window (timing always, losses only when finite) and the non-finite streak.
 * Returns why the run must stop: `nanTolerance` skipped steps in a row; else null.
 */
export function foldStep(
  st: Pick<LoopState, 'window' | 'nanStreak'>,
  step: { outcome: StepOutcome; timing: StepTiming; nanTolerance: number },
): string | null {
  const { values, bad } = step.outcome;
  const w = st.window;
  w.steps++;
  w.stepSeconds += step.timing.stepSeconds;
  w.waitSeconds += step.timing.waitSeconds;
  if (bad.length === 0) {
    st.nanStreak = 0;
    for (const [k, v] of Object.entries(values)) w.losses[k] = (w.losses[k] ?? 0) + v;
    w.good++;
    return null;
  }
  st.nanStreak++;
  return st.nanStreak >= step.nanTolerance
    ? `${st.nanStreak} consecutive non-finite losses (term ${bad.join(', ')}); the last good checkpoint is kept`
    : null;
}

/**
 * At a log point: the window's means (null when it holds no finite step), and a new window. Elsewhere
 * null and the window goes on.
 */
export function closeWindow(
  st: Pick<LoopState, 'window'>,
  atLogPoint: boolean,
): Omit<StepRecord, 'skipped'> | null {
  if (!atLogPoint) return null;
  const w = st.window;
  st.window = emptyWindow();
  if (w.good === 0) return null;
  return {
    losses: Object.fromEntries(Object.entries(w.losses).map(([k, v]) => [k, v / w.good])),
    secondsPerStep: w.stepSeconds / w.steps,
    dataWaitSeconds: w.waitSeconds / w.steps,
  };
}
