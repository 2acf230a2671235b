/**
 * The paper's model selection and schedule signals (METHOD.md section 7): the validation loss is
 * smoothed by an exponential moving average (EMA-VL); the best checkpoint is the one with the lowest
 * EMA-VL; the learning rate halves after `lrPatience` epochs without improvement; training stops
 * after `stopPatience`. Pure state, serialisable into checkpoints.
 */
export interface PlateauOptions {
  /** weight of the previous EMA: ema = decay * ema + (1 - decay) * loss */
  emaDecay: number;
  lrPatience: number;
  stopPatience: number;
}

export interface PlateauState {
  ema: number | null;
  best: number;
  bestEpoch: number;
  /** epochs since the last improvement of EMA-VL (for stopping) */
  sinceBest: number;
  /** epochs since the last improvement or the last lr cut (for lr halving) */
  sinceLrChange: number;
}

export function initialPlateau(): PlateauState {
  return { ema: null, best: Infinity, bestEpoch: -1, sinceBest: 0, sinceLrChange: 0 };
}

export interface PlateauUpdate {
  state: PlateauState;
  ema: number;
  improved: boolean;
  halveLr: boolean;
  stop: boolean;
}

/** Folds one epoch's validation loss in. */
export function updatePlateau(
  s: PlateauState,
  loss: number,
  epoch: number,
  o: PlateauOptions,
): PlateauUpdate {
  const ema = s.ema === null ? loss : o.emaDecay * s.ema + (1 - o.emaDecay) * loss;
  const improved = ema < s.best;
  const next: PlateauState = improved
    ? { ema, best: ema, bestEpoch: epoch, sinceBest: 0, sinceLrChange: 0 }
    : { ...s, ema, sinceBest: s.sinceBest + 1, sinceLrChange: s.sinceLrChange + 1 };
  const halveLr = !improved && next.sinceLrChange >= o.lrPatience;
  if (halveLr) next.sinceLrChange = 0;
  return { state: next, ema, improved, halveLr, stop: next.sinceBest >= o.stopPatience };
}
