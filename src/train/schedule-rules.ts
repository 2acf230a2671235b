/**
 * The loop's decisions as pure functions of its state (METHOD.md section 7): when an epoch ends, when
 * to validate, log and checkpoint, when a two-stage method switches stage by epoch or fraction, and
 * when a run stops at the end of an iteration. No tensors, no files, no clock: each is testable alone.
 */
import type { TrainConfig } from './config.ts';
import type { LoopState } from './loop-state.ts';

/** The loop's fixed rhythm, resolved once per run. */
export interface Cadence {
  iterationsPerEpoch: number;
  totalIterations: number;
  validateEvery: number;
  logEvery: number;
  checkpointEvery: number;
}

export function cadenceOf(config: TrainConfig, labelledSlices: number): Cadence {
  const s = config.schedule;
  const iterationsPerEpoch =
    s.iterationsPerEpoch ?? Math.max(1, Math.ceil(labelledSlices / config.batch.labelled));
  return {
    iterationsPerEpoch,
    totalIterations: s.maxIterations ?? s.maxEpochs * iterationsPerEpoch,
    validateEvery: s.validateEvery,
    logEvery: config.logEvery,
    checkpointEvery: config.checkpointEvery,
  };
}

type At = Pick<LoopState, 'iteration'>;

/** After iteration `st.iteration` (counted from 1): an epoch is complete, or the run's last one. */
export const endsEpoch = (st: At, c: Cadence): boolean =>
  st.iteration % c.iterationsPerEpoch === 0 || st.iteration === c.totalIterations;

/** At an epoch's end (`st.epoch` already counts it): validate every `validateEvery` epochs and last. */
export const validationDue = (st: Pick<LoopState, 'iteration' | 'epoch'>, c: Cadence): boolean =>
  st.epoch % c.validateEvery === 0 || st.iteration === c.totalIterations;

/** A training log entry closes the window here (when it holds a finite step). */
export const logDue = (st: At, c: Cadence): boolean => st.iteration % c.logEvery === 0;

/** Checkpoint every `checkpointEvery`, when the run stops (not for a non-finite streak) and at its end. */
export const checkpointDue = (st: Pick<LoopState, 'iteration' | 'stopped'>, c: Cadence): boolean =>
  st.iteration % c.checkpointEvery === 0 || st.stopped !== null || st.iteration === c.totalIterations;

/**
 * The run's length in iterations as schedules see it (beta(t) of Eq. 18, ramps, the stage switch by
 * fraction): the iteration budget, or under a time budget the iterations the budget will allow at
 * the speed so far (time budgets are not reproducible to the iteration anyway).
 */
export function progressTotal(p: {
  iteration: number;
  totalIterations: number;
  elapsedMs: number;
  budgetMs: number;
}): number {
  if (p.budgetMs === Infinity || p.iteration < 20) return p.totalIterations;
  return Math.max(
    p.iteration + 1,
    Math.min(p.totalIterations, Math.round((p.iteration * p.budgetMs) / p.elapsedMs)),
  );
}

/** The level-set head's own learning rate at `iteration` (optim.levelSetHead): lr * gamma^floor(i / every). */
export const headLr = (s: NonNullable<TrainConfig['optim']['levelSetHead']>, iteration: number): number =>
  s.lr * s.gamma ** Math.floor(iteration / s.every);

/**
 * The stage switch's guard: every leaf structure reached `minDice` at the last validation, so the
 * unconditional stage (lr x0.1) does not start before stage 1 has found the thin structures.
 */
export function stage1Learned(st: Pick<LoopState, 'lastDice'>, minDice: number): boolean {
  if (minDice <= 0) return true;
  if (!st.lastDice) return false;
  return Object.values(st.lastDice).every((d) => d >= minDice);
}

/** The switch of stageSwitch.mode 'epoch' or 'fraction', looked at when an epoch ends ('plateau' is the validation's). */
export function scheduledSwitchDue(
  st: Pick<LoopState, 'iteration' | 'epoch' | 'stage' | 'lastDice'>,
  r: { twoStage: boolean; stageSwitch: TrainConfig['schedule']['stageSwitch']; progressTotal: number },
): boolean {
  const sw = r.stageSwitch;
  return (
    r.twoStage &&
    st.stage === 1 &&
    stage1Learned(st, sw.minDice) &&
    ((sw.mode === 'epoch' && st.epoch >= sw.epoch) ||
      (sw.mode === 'fraction' && st.iteration >= sw.fraction * r.progressTotal))
  );
}

/** What happens at the end of an iteration once its epoch's validation (if any) is done. */
export interface IterationDecision {
  /** switch to stage 2 now (mode 'epoch' or 'fraction') */
  switchStage: boolean;
  /** the reason the run stops here (Ctrl-C, time budget), or null */
  stop: string | null;
  /** validate the last weights first: a time budget ended the run between epoch ends */
  validateLast: boolean;
}

export interface IterationFacts {
  st: Pick<LoopState, 'iteration' | 'epoch' | 'stage' | 'lastDice' | 'stopped'>;
  cadence: Cadence;
  schedule: Pick<TrainConfig['schedule'], 'stageSwitch' | 'minutes'>;
  twoStage: boolean;
  epochEnded: boolean;
  progressTotal: number;
  elapsedMs: number;
  budgetMs: number;
  /** asked only while the run has no other reason to stop */
  stopRequested?: () => boolean;
}

/** The stop reason of a run stopped by Ctrl-C: unfinished, a later `--resume` continues it. */
export const INTERRUPTED = 'interrupted';

export function decideIterationEnd(f: IterationFacts): IterationDecision {
  const switchStage =
    f.epochEnded &&
    scheduledSwitchDue(f.st, {
      twoStage: f.twoStage,
      stageSwitch: f.schedule.stageSwitch,
      progressTotal: f.progressTotal,
    });
  const none: IterationDecision = { switchStage, stop: null, validateLast: false };
  if (f.st.stopped !== null) return none;
  if (f.stopRequested?.()) return { ...none, stop: INTERRUPTED };
  if (f.elapsedMs >= f.budgetMs)
    return {
      switchStage,
      stop: `time budget of ${f.schedule.minutes} min reached`,
      // the run ends here: its last weights compete with the validated ones for the best model
      validateLast: f.st.iteration % f.cadence.iterationsPerEpoch !== 0,
    };
  return none;
}
