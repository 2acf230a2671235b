/**
 * The validation phase: measure the validation loss and Dice, then judge them (EMA-VL plateau, model
 * selection, lr halving, the plateau stage switch, early stopping). `judgeValidation` is pure; the loop
 * applies its verdict (src/train/phases.ts).
 */
import { noGrad, scope, tensor } from '../engine/index.ts';
import { addLabelOverlaps, diceFromOverlap, type Overlap } from '../image/dice.ts';
import type { Method, StepContext } from '../methods/method.ts';
import type { SliceBatch, TrainingData } from './batches.ts';
import type { TrainConfig } from './config.ts';
import type { LoopState } from './loop-state.ts';
import { updatePlateau, type PlateauState } from './plateau.ts';
import { stage1Learned } from './schedule-rules.ts';
import { toBatch } from './step.ts';

export interface Measured {
  /** mean validation loss per slice (NaN without validation slices) */
  loss: number;
  /** Dice per structure pooled over all validation slices */
  dice: Record<string, number>;
}

export interface ValidationSource {
  method: Pick<Method, 'predictor' | 'modules' | 'frozen' | 'validationLoss' | 'decode'>;
  data: Pick<TrainingData, 'validation'>;
  /** structure name of each tree leaf label value */
  structureNames: ReadonlyMap<number, string>;
  /** validation batch size: the labelled training batch size */
  batchSize: number;
}

/** Validation loss (mean over batches) and Dice per structure pooled over all validation slices. */
export function validate(v: ValidationSource, ctx: StepContext): Measured {
  const { method } = v;
  const labels = [...v.structureNames.keys()];
  const overlaps = new Map<number, Overlap>();
  let lossSum = 0;
  let slices = 0;
  method.predictor.eval();
  const all = [...Object.values(method.modules), ...Object.values(method.frozen ?? {})];
  for (const m of all) m.eval();
  try {
    // A scope keeps every tensor made inside it until it ends, the activations of a forward pass
    // included: the loss and the prediction get a scope each, over batches of the labelled batch size,
    // so validation never needs more memory than a training step (MedT, 288 x 240, batch 4: ~11 GB).
    for (const b of v.data.validation(Math.max(1, v.batchSize))) {
      const loss = noGrad(() => scope(() => method.validationLoss(toBatch(b), ctx).item()));
      const pred = noGrad(() => scope(() => predictLabels(method, b)));
      lossSum += loss * b.n;
      slices += b.n;
      addLabelOverlaps(pred, b.label, labels, overlaps);
    }
  } finally {
    for (const m of all) m.train();
    method.predictor.train();
  }
  const dice: Record<string, number> = {};
  // pooled over every slice; a structure absent from both prediction and truth scores 1
  for (const [value, name] of v.structureNames) {
    dice[name] = diceFromOverlap(overlaps.get(value) ?? { pred: 0, gt: 0, both: 0 });
  }
  return { loss: slices ? lossSum / slices : NaN, dice };
}

function predictLabels(method: ValidationSource['method'], b: SliceBatch): Uint8Array {
  const image = tensor(b.image, [b.n, b.channels, b.height, b.width]);
  const labels = method.decode(method.predictor.forward(image).logits);
  return labels.to('uint8').data() as Uint8Array;
}

/** What one validation decides; applied by the loop in this order: best, lr halving, switch, stop. */
export interface ValidationVerdict extends Measured {
  plateau: PlateauState;
  /** EMA-VL after this validation */
  ema: number;
  /** the selection score, lower is better (1 - mean Dice, or EMA-VL) */
  score: number;
  /** better than the kept model: these weights become the model if they can be written */
  improves: boolean;
  halveLr: boolean;
  /** stage 1 has plateaued with every structure found (stageSwitch.mode 'plateau') */
  switchStage: boolean;
  stop: string | null;
}

export interface ValidationRules {
  schedule: Pick<
    TrainConfig['schedule'],
    'emaDecay' | 'lrPatience' | 'stopPatience' | 'selection' | 'stageSwitch'
  >;
  twoStage: boolean;
}

export function judgeValidation(
  st: Pick<LoopState, 'plateau' | 'epoch' | 'stage' | 'bestScore'>,
  m: Measured,
  r: ValidationRules,
): ValidationVerdict {
  const { schedule } = r;
  const sw = schedule.stageSwitch;
  const inStage1 = r.twoStage && st.stage === 1;
  const u = updatePlateau(st.plateau, m.loss, st.epoch, {
    emaDecay: schedule.emaDecay,
    lrPatience: schedule.lrPatience,
    stopPatience: inStage1 ? sw.patience : schedule.stopPatience,
  });
  const score = schedule.selection === 'dice' ? 1 - meanOf(Object.values(m.dice)) : u.ema;
  const plateauStop = `EMA-VL has not improved for ${schedule.stopPatience} epochs`;
  let switchStage = false;
  let stop: string | null = null;
  if (u.stop) {
    if (inStage1 && sw.mode === 'plateau') {
      if (stage1Learned({ lastDice: m.dice }, sw.minDice)) switchStage = true;
      // stage 1 has plateaued without finding every structure: it goes on, as it would in the
      // other modes; stopPatience (longer than the switch's patience) ends a run that never gets there
      else if (u.state.sinceBest >= schedule.stopPatience) stop = plateauStop;
    } else stop = plateauStop;
  }
  return {
    ...m,
    plateau: u.state,
    ema: u.ema,
    score,
    // a NaN score (diverged validation) is never best
    improves: Number.isFinite(score) && score < st.bestScore,
    halveLr: u.halveLr,
    switchStage,
    stop,
  };
}

const meanOf = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
