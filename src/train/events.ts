/** What a training run reports while it goes; the CLI turns these into a progress bar or log lines. */
export type TrainEvent =
  | { type: 'start'; totalIterations: number; startIteration: number; parameters: number; resumed: boolean }
  | {
      type: 'step';
      iteration: number;
      totalIterations: number;
      epoch: number;
      stage: number;
      lr: number;
      losses: Record<string, number>;
      secondsPerStep: number;
    }
  | {
      type: 'validation';
      iteration: number;
      epoch: number;
      valLoss: number;
      emaVl: number;
      /** what `best` is judged by (schedule.selection) */
      selection: 'dice' | 'ema-vl';
      best: boolean;
      dice: Record<string, number>;
    }
  | { type: 'message'; text: string }
  | { type: 'end'; iteration: number; reason: string; seconds: number };

export type TrainListener = (e: TrainEvent) => void;
