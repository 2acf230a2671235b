/**
 * The loop's one record builder: every RUN/log.jsonl entry and listener event of the training loop is
 * made here from the loop state, so an entry's fields and their order are defined once.
 */
import type { TrainConfig } from './config.ts';
import type { TrainListener } from './events.ts';
import type { LoopState } from './loop-state.ts';
import type { LogEntry, RunLog } from './run-log.ts';

type Entry<T extends LogEntry['type']> = Extract<LogEntry, { type: T }>;
/** where the run stands: the fields every entry starts with */
export type Position = Pick<LoopState, 'iteration' | 'epoch' | 'stage' | 'lr'>;

export interface StepRecord {
  /** the mean loss terms of the window, or a skipped step's own values */
  losses: Record<string, number>;
  secondsPerStep: number;
  dataWaitSeconds: number;
  /** why the step was skipped; absent for a window's mean */
  skipped?: string;
}

export interface ValidationRecord {
  valLoss: number;
  emaVl: number;
  best: boolean;
  dice: Record<string, number>;
}

export function trainRecord(at: Position, r: StepRecord): Entry<'train'> {
  const e: Entry<'train'> = {
    type: 'train',
    iteration: at.iteration,
    epoch: at.epoch,
    stage: at.stage,
    lr: at.lr,
    losses: r.losses,
    seconds_per_step: r.secondsPerStep,
    data_wait_seconds: r.dataWaitSeconds,
  };
  if (r.skipped !== undefined) e.skipped = r.skipped;
  return e;
}

export function validationRecord(at: Position, v: ValidationRecord): Entry<'validation'> {
  return {
    type: 'validation',
    iteration: at.iteration,
    epoch: at.epoch,
    stage: at.stage,
    val_loss: v.valLoss,
    ema_vl: v.emaVl,
    best: v.best,
    dice: v.dice,
    lr: at.lr,
  };
}

export function eventRecord(at: Pick<Position, 'iteration' | 'epoch'>, message: string): Entry<'event'> {
  return { type: 'event', iteration: at.iteration, epoch: at.epoch, message };
}

/** Writes the records to the run log and tells the listener; never prints. */
export class Reporter {
  constructor(
    private readonly log: RunLog,
    readonly emit: TrainListener,
  ) {}

  /** A log window's mean losses (a `step` event for the progress display). */
  window(at: Position, r: StepRecord, totalIterations: number): void {
    this.log.append(trainRecord(at, r));
    this.emit({
      type: 'step',
      iteration: at.iteration,
      totalIterations,
      epoch: at.epoch,
      stage: at.stage,
      lr: at.lr,
      losses: r.losses,
      secondsPerStep: r.secondsPerStep,
    });
  }

  /** A step whose loss terms `bad` were non-finite and that therefore did not change the model. */
  skipped(at: Position, r: Omit<StepRecord, 'skipped'>, bad: readonly string[]): void {
    this.log.append(trainRecord(at, { ...r, skipped: `non-finite ${bad.join(', ')}` }));
    this.message(`iteration ${at.iteration}: non-finite loss term(s) ${bad.join(', ')}; step skipped`);
  }

  validation(at: Position, v: ValidationRecord, selection: TrainConfig['schedule']['selection']): void {
    this.log.append(validationRecord(at, v));
    this.emit({
      type: 'validation',
      iteration: at.iteration,
      epoch: at.epoch,
      valLoss: v.valLoss,
      emaVl: v.emaVl,
      selection,
      best: v.best,
      dice: v.dice,
    });
  }

  /** A log event; `announce` also tells the listener (the user sees it). */
  event(at: Pick<Position, 'iteration' | 'epoch'>, message: string, announce = false): void {
    this.log.append(eventRecord(at, message));
    if (announce) this.message(message);
  }

  message(text: string): void {
    this.emit({ type: 'message', text });
  }
}
