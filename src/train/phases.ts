/**
 * The loop's phases after a step, as nnU-Net's trainer hooks or MONAI's engine handlers split them:
 * on_step_end (window, non-finite streak), on_iteration_end (epoch end, stage switch, stops,
 * checkpoint), on_validation_end (selection, lr halving, plateau switch) and the checkpoint and
 * best-model writers. Every decision comes from a pure rule (schedule-rules.ts, validation.ts) and
 * passes through `hooks.decide`, the point where a data-parallel run takes rank 0's.
 */
import { join } from 'node:path';
import {
  describeBadWeight,
  firstBadWeight,
  saveSafetensors,
  type Adam,
  type Module,
} from '../engine/index.ts';
import type { Method, StepContext } from '../methods/method.ts';
import { saveCheckpoint } from './checkpoint.ts';
import type { TrainConfig } from './config.ts';
import type { TrainHooks } from './hooks.ts';
import { closeWindow, foldStep, type StepOutcome, type StepTiming } from './log-window.ts';
import type { LoopState } from './loop-state.ts';
import { initialPlateau } from './plateau.ts';
import type { Reporter } from './records.ts';
import {
  checkpointDue,
  decideIterationEnd,
  endsEpoch,
  logDue,
  progressTotal,
  validationDue,
  type Cadence,
} from './schedule-rules.ts';
import { judgeValidation, validate, type ValidationSource, type ValidationVerdict } from './validation.ts';

/** Everything the phases share: the state, the run's fixed parts, and where results go. */
export interface Loop {
  st: LoopState;
  readonly config: TrainConfig;
  readonly method: Method;
  readonly optimizer: Adam;
  readonly cadence: Cadence;
  readonly validation: ValidationSource;
  readonly report: Reporter;
  readonly hooks: TrainHooks;
  /** Date.now() at the run's (virtual) start: a resumed run counts its earlier time */
  readonly started: number;
  /** the time budget in ms (Infinity: none) */
  readonly budgetMs: number;
  readonly stopRequested?: () => boolean;
  /** what a checkpoint holds: trained modules and the method's own (EMA teachers, banks) */
  readonly saved: Record<string, Module>;
  readonly out: string;
  readonly modelMetadata: Record<string, string>;
}

const elapsedMs = (loop: Loop): number => Date.now() - loop.started;

/** The run's length as schedules see it now (schedule-rules.ts progressTotal). */
export const loopProgressTotal = (loop: Loop): number =>
  progressTotal({
    iteration: loop.st.iteration,
    totalIterations: loop.cadence.totalIterations,
    elapsedMs: elapsedMs(loop),
    budgetMs: loop.budgetMs,
  });

export const stepContext = (loop: Loop): StepContext => ({
  iteration: loop.st.iteration,
  maxIterations: loopProgressTotal(loop),
  epoch: loop.st.epoch,
  stage: loop.st.stage,
});

/**
 * After a step (`st.iteration` already counts it): log a skipped step, stop on a non-finite streak,
 * write the log window's mean at log points. True when the run must stop at once (no checkpoint:
 * the last one holds good weights).
 */
export function onStepEnd(loop: Loop, outcome: StepOutcome, timing: StepTiming): boolean {
  const { st, report } = loop;
  const streakStop = foldStep(st, { outcome, timing, nanTolerance: loop.config.nanTolerance });
  if (outcome.bad.length)
    report.skipped(
      st,
      { losses: outcome.values, secondsPerStep: timing.stepSeconds, dataWaitSeconds: timing.waitSeconds },
      outcome.bad,
    );
  const { stop } = loop.hooks.decide({ stop: streakStop });
  if (stop !== null) {
    st.stopped = stop;
    return true;
  }
  const mean = closeWindow(st, logDue(st, loop.cadence));
  if (mean) report.window(st, mean, loop.cadence.totalIterations);
  return false;
}

/** After the step's bookkeeping: epoch end and validation, stage switch, stops, checkpoint. */
export function onIterationEnd(loop: Loop): void {
  const { st, cadence } = loop;
  const epochEnded = endsEpoch(st, cadence);
  if (epochEnded) {
    st.epoch++;
    if (validationDue(st, cadence)) onValidation(loop);
  }
  const d = loop.hooks.decide(
    decideIterationEnd({
      st,
      cadence,
      schedule: loop.config.schedule,
      twoStage: loop.method.twoStage,
      epochEnded,
      progressTotal: loopProgressTotal(loop),
      elapsedMs: elapsedMs(loop),
      budgetMs: loop.budgetMs,
      stopRequested: loop.stopRequested,
    }),
  );
  if (d.switchStage) switchStage(loop);
  st.elapsedSeconds = elapsedMs(loop) / 1000;
  if (d.stop !== null) {
    st.stopped = d.stop;
    if (d.validateLast) onValidation(loop);
  }
  if (checkpointDue(st, cadence)) writeCheckpoint(loop);
}

/** Validates the current weights and applies the verdict (on_validation_end). */
export function onValidation(loop: Loop): void {
  const { st } = loop;
  const measured = validate(loop.validation, {
    iteration: st.iteration,
    maxIterations: loop.cadence.totalIterations,
    epoch: st.epoch,
    stage: st.stage,
  });
  const verdict = judgeValidation(st, measured, {
    schedule: loop.config.schedule,
    twoStage: loop.method.twoStage,
  });
  applyVerdict(loop, loop.hooks.decide(verdict));
}

export function applyVerdict(loop: Loop, v: ValidationVerdict): void {
  const { st, report } = loop;
  st.plateau = v.plateau;
  st.lastDice = v.dice;
  // weights that cannot be written are not best either
  const best = v.improves && saveBest(loop);
  if (best) {
    st.bestScore = v.score;
    st.bestEpoch = st.epoch;
    st.bestIteration = st.iteration;
  }
  report.validation(
    st,
    { valLoss: v.loss, emaVl: v.ema, best, dice: v.dice },
    loop.config.schedule.selection,
  );
  if (v.halveLr) {
    st.lr /= 2;
    setStageLr(loop.optimizer, st.lr);
    report.event(st, `lr halved to ${st.lr}`);
  }
  if (v.switchStage) switchStage(loop);
  if (v.stop !== null) st.stopped = v.stop;
}

/** Sets the stage learning rate: every parameter but the level-set head's own group (group 1). */
function setStageLr(optimizer: Pick<Adam, 'setLr'>, lr: number): void {
  optimizer.setLr(lr, 0);
}

/** From the conditional stage to unconditional fine-tuning at optim.lrStage2, with a fresh plateau. */
export function switchStage(loop: Pick<Loop, 'st' | 'config' | 'optimizer' | 'report'>): void {
  const { st, config } = loop;
  st.stage = 2;
  st.lr = config.optim.lrStage2;
  setStageLr(loop.optimizer, st.lr);
  st.plateau = initialPlateau();
  // EMA-VL changes form with the stage (cond + cp -> cp + up): compare stage 2 with itself only
  if (config.schedule.selection === 'ema-vl') st.bestScore = Infinity;
  loop.report.event(st, `stage 2 (unconditional fine-tuning) from epoch ${st.epoch}, lr ${st.lr}`, true);
}

export const modelPath = (loop: Pick<Loop, 'out'>): string => join(loop.out, 'model.safetensors');
export const checkpointPath = (out: string): string => join(out, 'checkpoints', 'last.safetensors');

/** Writes model.safetensors unless the weights are what a diverged run leaves (then says so). */
export function saveBest(loop: Loop): boolean {
  const weights = loop.method.predictor.stateDict();
  const bad = firstBadWeight(weights);
  if (bad) {
    loop.report.event(loop.st, `model.safetensors not written: ${describeBadWeight(bad)}`, true);
    return false;
  }
  saveSafetensors(modelPath(loop), weights, loop.modelMetadata);
  return true;
}

export function writeCheckpoint(loop: Loop): void {
  saveCheckpoint(checkpointPath(loop.out), {
    modules: loop.saved,
    optimizer: loop.optimizer,
    state: loop.st,
  });
}
