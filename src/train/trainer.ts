/**
 * The generic training loop (METHOD.md section 7). It knows no method by name: a Method turns a batch
 * into named loss terms; the loop steps Adam, validates, tracks EMA-VL, halves the learning rate on
 * plateaus, switches two-stage methods from the conditional to the unconditional stage, keeps the best
 * model, checkpoints atomically and resumes exactly.
 *
 * Determinism: batch i is a pure function of (seed, i) (see TrainingData), and libtorch's generator is
 * reseeded from (seed, i) before each step, so a resumed run repeats an uninterrupted one.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  Adam,
  describeBadWeight,
  firstBadWeight,
  manualSeed,
  noGrad,
  saveSafetensors,
  scope,
  setNumThreads,
  tensor,
  type Tensor,
} from '../engine/index.ts';
import type { LabelTree } from '../hierarchy/tree.ts';
import type { Batch, Method, StepContext } from '../methods/method.ts';
import type { TrainConfig } from './config.ts';
import type { SliceBatch, TrainingData } from './batches.ts';
import { initialPlateau, updatePlateau, type PlateauState } from './plateau.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { RunLog } from './run-log.ts';
import type { TrainListener } from './events.ts';
import { hashSeed } from '../data/random.ts';
import { removeStaleTemporaries, writeFileAtomic } from '../output/atomic.ts';

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

interface LogWindow {
  /** sums of the finite loss terms and how many steps they cover */
  losses: Record<string, number>;
  good: number;
  steps: number;
  stepSeconds: number;
  waitSeconds: number;
}

const emptyWindow = (): LogWindow => ({ losses: {}, good: 0, steps: 0, stepSeconds: 0, waitSeconds: 0 });

export interface TrainOptions {
  config: TrainConfig;
  method: Method;
  data: TrainingData;
  tree: LabelTree;
  /** structure name of each tree leaf label value, for Dice reporting */
  structureNames: ReadonlyMap<number, string>;
  out: string;
  resume?: boolean;
  listener?: TrainListener;
  /** set to request a clean stop (Ctrl-C): checkpoint and return */
  stopRequested?: () => boolean;
  /** the full resolved configuration stored in model.safetensors */
  modelMetadata: Record<string, string>;
}

export interface TrainResult {
  state: LoopState;
  totalIterations: number;
  parameters: number;
}

/** K of a batch's [L, K, H, W] level-set targets */
const sdfChannels = (b: SliceBatch): number =>
  b.numLabeled === 0 ? 0 : b.sdf!.length / (b.numLabeled * b.height * b.width);

export function toBatch(b: SliceBatch): Batch {
  return {
    image: tensor(b.image, [b.n, b.channels, b.height, b.width]),
    label: tensor(b.label, [b.numLabeled, b.height, b.width], { dtype: 'uint8' }).to('int64'),
    numLabeled: b.numLabeled,
    spacing: b.spacing,
    sdf: b.sdf && tensor(b.sdf, [b.numLabeled, sdfChannels(b), b.height, b.width]),
  };
}

/** Non-finite loss terms by name (empty when all are finite). */
function nonFinite(values: Record<string, number>): string[] {
  return Object.entries(values)
    .filter(([, v]) => !Number.isFinite(v))
    .map(([k]) => k);
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { config, method, data, out } = o;
  const emit = o.listener ?? (() => {});
  // the method's level-set targets are computed with each batch, in the data side's worker
  data.setLevelSetTargets?.(method.levelSetTargets ?? null);
  if (config.threads) setNumThreads(config.threads);
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  removeStaleTemporaries(out); // a process killed mid-write leaves its temporary file (src/output/atomic.ts)
  const log = new RunLog(join(out, 'log.jsonl'));
  const lastPath = join(out, 'checkpoints', 'last.safetensors');

  const iterationsPerEpoch =
    config.schedule.iterationsPerEpoch ?? Math.max(1, Math.ceil(data.labeledSlices / config.batch.labeled));
  const totalIterations = config.schedule.maxIterations ?? config.schedule.maxEpochs * iterationsPerEpoch;

  const named = Object.values(method.modules).flatMap((m) => [...m.namedParameters()]);
  const parameters = named.reduce((s, [, p]) => s + p.numel, 0);
  // group 0 follows the stage learning rate; group 1, when the paper's own schedule of the
  // semi-supervised branch is on (optim.levelSetHead), is the level-set head
  const headSchedule = config.optim.levelSetHead;
  const isHead = (name: string) => headSchedule !== null && name.startsWith('ls_head.');
  const groups = [named.filter(([n]) => !isHead(n)), named.filter(([n]) => isHead(n))]
    .filter((g) => g.length > 0)
    .map((g) => ({ params: g.map(([, p]) => p) }));
  const optimizer = new Adam(groups, {
    lr: config.optim.lr,
    betas: config.optim.betas,
    weightDecay: config.optim.weightDecay,
  });
  const headGroup = groups.length > 1 ? 1 : null;

  let st: LoopState = {
    iteration: 0,
    epoch: 0,
    stage: 1,
    lr: config.optim.lr,
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
  // everything a checkpoint holds: trained modules and the method's own (EMA teachers, banks)
  const saved = { ...method.modules, ...(method.frozen ?? {}) };
  // buffers a step changes as it runs (batch-norm statistics, CLD's banks): a skipped step restores them
  const buffers = Object.values(saved).flatMap((m) => [...m.namedBuffers()].map(([, b]) => b));
  const resumed = Boolean(o.resume && existsSync(lastPath));
  if (resumed) {
    st = loadCheckpoint<LoopState>(lastPath, saved, optimizer);
    st.stopped = null;
    // checkpoints written before selection by Dice held EMA-VL as `bestEma`
    const legacy = st as LoopState & { bestEma?: number };
    if (st.bestScore === undefined) st.bestScore = legacy.bestEma ?? Infinity;
    st.lastDice ??= null;
    log.truncateAfter(st.iteration);
    log.append({ type: 'event', iteration: st.iteration, epoch: st.epoch, message: 'resumed' });
  } else {
    // a fresh start owns the folder: the log and model of an earlier attempt would mix with this run's
    log.truncateAfter(-1);
    rmSync(join(out, 'model.safetensors'), { force: true });
  }
  emit({ type: 'start', totalIterations, startIteration: st.iteration, parameters, resumed });

  const checkpoint = () => saveCheckpoint(lastPath, { modules: saved, optimizer, state: st });
  /** Writes model.safetensors unless the weights are what a diverged run leaves (then says so). */
  const saveBest = (): boolean => {
    const weights = method.predictor.stateDict();
    const bad = firstBadWeight(weights);
    if (bad) {
      const text = `model.safetensors not written: ${describeBadWeight(bad)}`;
      log.append({ type: 'event', iteration: st.iteration, epoch: st.epoch, message: text });
      emit({ type: 'message', text });
      return false;
    }
    saveSafetensors(join(out, 'model.safetensors'), weights, o.modelMetadata);
    return true;
  };

  const started = Date.now() - st.elapsedSeconds * 1000;
  const budgetMs = config.schedule.minutes === null ? Infinity : config.schedule.minutes * 60_000;
  /**
   * The run's length in iterations as schedules see it (beta(t) of Eq. 18, ramps, the stage switch by
   * fraction): the iteration budget, or under a time budget the iterations the budget will allow at
   * the speed so far (time budgets are not reproducible to the iteration anyway).
   */
  const progressTotal = (): number => {
    if (budgetMs === Infinity || st.iteration < 20) return totalIterations;
    const elapsed = Date.now() - started;
    return Math.max(
      st.iteration + 1,
      Math.min(totalIterations, Math.round((st.iteration * budgetMs) / elapsed)),
    );
  };
  let pending: Promise<SliceBatch> | null = null;

  while (st.iteration < totalIterations && st.stopped === null) {
    // Let the event loop turn once per step: awaiting an already prepared batch does not, and signals
    // (Ctrl-C -> stopRequested) and worker messages are only delivered when it does.
    await new Promise((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    const sliceBatch = await (pending ?? data.batch(st.iteration));
    const t1 = performance.now();
    // prepare the next batch (worker threads) while this step runs
    pending = st.iteration + 1 < totalIterations ? data.batch(st.iteration + 1) : null;
    const ctx: StepContext = {
      iteration: st.iteration,
      maxIterations: progressTotal(),
      epoch: st.epoch,
      stage: st.stage,
    };
    manualSeed(hashSeed(config.seed, st.iteration));
    if (headGroup !== null && headSchedule !== null)
      optimizer.setLr(
        headSchedule.lr * headSchedule.gamma ** Math.floor(st.iteration / headSchedule.every),
        headGroup,
      );
    const values = scope(() => {
      optimizer.zeroGrad();
      const before = noGrad(() => buffers.map((b) => b.clone()));
      const terms = method.step(toBatch(sliceBatch), ctx);
      const v = Object.fromEntries(Object.entries(terms).map(([k, t]) => [k, (t as Tensor).item()]));
      if (nonFinite(v).length === 0) {
        terms.total.backward();
        optimizer.step();
        method.afterStep?.(ctx);
      } else noGrad(() => buffers.forEach((b, i) => b.copy_(before[i]!))); // NaN statistics would outlive the skip
      return v;
    });
    const bad = nonFinite(values);
    st.iteration++;
    const t2 = performance.now();
    const w = st.window;
    w.steps++;
    w.stepSeconds += (t2 - t1) / 1000;
    w.waitSeconds += (t1 - t0) / 1000;
    if (bad.length) {
      st.nanStreak++;
      log.append({
        type: 'train',
        iteration: st.iteration,
        epoch: st.epoch,
        stage: st.stage,
        lr: st.lr,
        losses: values,
        seconds_per_step: (t2 - t1) / 1000,
        data_wait_seconds: (t1 - t0) / 1000,
        skipped: `non-finite ${bad.join(', ')}`,
      });
      emit({
        type: 'message',
        text: `iteration ${st.iteration}: non-finite loss term(s) ${bad.join(', ')}; step skipped`,
      });
      if (st.nanStreak >= config.nanTolerance) {
        st.stopped = `${st.nanStreak} consecutive non-finite losses (term ${bad.join(', ')}); the last good checkpoint is kept`;
        break; // no checkpoint: the last one holds good weights
      }
    } else {
      st.nanStreak = 0;
      for (const [k, v] of Object.entries(values)) w.losses[k] = (w.losses[k] ?? 0) + v;
      w.good++;
    }

    if (st.iteration % config.logEvery === 0 && w.good > 0) {
      const losses = Object.fromEntries(Object.entries(w.losses).map(([k, v]) => [k, v / w.good]));
      log.append({
        type: 'train',
        iteration: st.iteration,
        epoch: st.epoch,
        stage: st.stage,
        lr: st.lr,
        losses,
        seconds_per_step: w.stepSeconds / w.steps,
        data_wait_seconds: w.waitSeconds / w.steps,
      });
      emit({
        type: 'step',
        iteration: st.iteration,
        totalIterations,
        epoch: st.epoch,
        stage: st.stage,
        lr: st.lr,
        losses,
        secondsPerStep: w.stepSeconds / w.steps,
      });
    }
    if (st.iteration % config.logEvery === 0) st.window = emptyWindow();

    if (st.iteration % iterationsPerEpoch === 0 || st.iteration === totalIterations) {
      st.epoch++;
      if (st.epoch % config.schedule.validateEvery === 0 || st.iteration === totalIterations)
        endOfEpochValidation(o, st, optimizer, totalIterations, log, saveBest, emit);
      const sw = config.schedule.stageSwitch;
      if (
        method.twoStage &&
        st.stage === 1 &&
        stage1Learned(st, sw.minDice) &&
        ((sw.mode === 'epoch' && st.epoch >= sw.epoch) ||
          (sw.mode === 'fraction' && st.iteration >= sw.fraction * progressTotal()))
      )
        switchStage(st, optimizer, config, log, emit);
    }
    st.elapsedSeconds = (Date.now() - started) / 1000;
    if (st.stopped === null && o.stopRequested?.()) st.stopped = 'interrupted';
    if (st.stopped === null && Date.now() - started >= budgetMs) {
      st.stopped = `time budget of ${config.schedule.minutes} min reached`;
      // the run ends here: its last weights compete with the validated ones for the best model
      if (st.iteration % iterationsPerEpoch !== 0)
        endOfEpochValidation(o, st, optimizer, totalIterations, log, saveBest, emit);
    }
    if (
      st.iteration % config.checkpointEvery === 0 ||
      st.stopped !== null ||
      st.iteration === totalIterations
    )
      checkpoint();
  }
  await pending?.catch(() => undefined);
  if (st.stopped === null) st.stopped = 'iteration budget reached';
  if (!existsSync(join(out, 'model.safetensors'))) saveBest(); // a run too short to validate still yields a model
  emit({ type: 'end', iteration: st.iteration, reason: st.stopped, seconds: st.elapsedSeconds });
  return { state: st, totalIterations, parameters };
}

/**
 * The stage switch's guard: every leaf structure reached `minDice` at the last validation, so the
 * unconditional stage (lr x0.1) does not start before stage 1 has found the thin structures.
 */
export function stage1Learned(st: Pick<LoopState, 'lastDice'>, minDice: number): boolean {
  if (minDice <= 0) return true;
  if (!st.lastDice) return false;
  return Object.values(st.lastDice).every((d) => d >= minDice);
}

/** Sets the stage learning rate: every parameter but the level-set head's own group (group 1). */
function setStageLr(optimizer: Adam, lr: number): void {
  optimizer.setLr(lr, 0);
}

function switchStage(
  st: LoopState,
  optimizer: Adam,
  config: TrainConfig,
  log: RunLog,
  emit: TrainListener,
): void {
  st.stage = 2;
  st.lr = config.optim.lrStage2;
  setStageLr(optimizer, st.lr);
  st.plateau = initialPlateau();
  // EMA-VL changes form with the stage (cond + cp -> cp + up): compare stage 2 with itself only
  if (config.schedule.selection === 'ema-vl') st.bestScore = Infinity;
  const message = `stage 2 (unconditional fine-tuning) from epoch ${st.epoch}, lr ${st.lr}`;
  log.append({ type: 'event', iteration: st.iteration, epoch: st.epoch, message });
  emit({ type: 'message', text: message });
}

function endOfEpochValidation(
  o: TrainOptions,
  st: LoopState,
  optimizer: Adam,
  totalIterations: number,
  log: RunLog,
  saveBest: () => boolean,
  emit: TrainListener,
): void {
  const { config, method } = o;
  const { loss, dice } = validate(o, st, totalIterations);
  const u = updatePlateau(st.plateau, loss, st.epoch, {
    emaDecay: config.schedule.emaDecay,
    lrPatience: config.schedule.lrPatience,
    stopPatience:
      method.twoStage && st.stage === 1 ? config.schedule.stageSwitch.patience : config.schedule.stopPatience,
  });
  st.plateau = u.state;
  st.lastDice = dice;
  const score = config.schedule.selection === 'dice' ? 1 - meanOf(Object.values(dice)) : u.ema;
  // a NaN score (diverged validation) is never best, and weights that cannot be written are not either
  const best = Number.isFinite(score) && score < st.bestScore && saveBest();
  if (best) {
    st.bestScore = score;
    st.bestEpoch = st.epoch;
    st.bestIteration = st.iteration;
  }
  log.append({
    type: 'validation',
    iteration: st.iteration,
    epoch: st.epoch,
    stage: st.stage,
    val_loss: loss,
    ema_vl: u.ema,
    best,
    dice,
    lr: st.lr,
  });
  emit({
    type: 'validation',
    iteration: st.iteration,
    epoch: st.epoch,
    valLoss: loss,
    emaVl: u.ema,
    selection: config.schedule.selection,
    best,
    dice,
  });
  if (u.halveLr) {
    st.lr /= 2;
    setStageLr(optimizer, st.lr);
    log.append({ type: 'event', iteration: st.iteration, epoch: st.epoch, message: `lr halved to ${st.lr}` });
  }
  if (u.stop) {
    const sw = config.schedule.stageSwitch;
    if (method.twoStage && st.stage === 1 && sw.mode === 'plateau') {
      if (stage1Learned(st, sw.minDice)) switchStage(st, optimizer, config, log, emit);
      // stage 1 has plateaued without finding every structure: it goes on, as it would in the
      // other modes; stopPatience (longer than the switch's patience) ends a run that never gets there
      else if (u.state.sinceBest >= config.schedule.stopPatience)
        st.stopped = `EMA-VL has not improved for ${config.schedule.stopPatience} epochs`;
    } else st.stopped = `EMA-VL has not improved for ${config.schedule.stopPatience} epochs`;
  }
}

/** Validation loss (mean over batches) and Dice per structure pooled over all validation slices. */
export function validate(
  o: TrainOptions,
  st: LoopState,
  totalIterations: number,
): { loss: number; dice: Record<string, number> } {
  const { method, data } = o;
  const ctx: StepContext = {
    iteration: st.iteration,
    maxIterations: totalIterations,
    epoch: st.epoch,
    stage: st.stage,
  };
  const inter = new Map<number, number>();
  const sizes = new Map<number, number>();
  let lossSum = 0;
  let slices = 0;
  method.predictor.eval();
  const all = [...Object.values(method.modules), ...Object.values(method.frozen ?? {})];
  for (const m of all) m.eval();
  try {
    // A scope keeps every tensor made inside it until it ends, the activations of a forward pass
    // included: the loss and the prediction get a scope each, over batches of the labelled batch size,
    // so validation never needs more memory than a training step (MedT, 288 x 240, batch 4: ~11 GB).
    for (const b of data.validation(Math.max(1, o.config.batch.labeled))) {
      const loss = noGrad(() => scope(() => method.validationLoss(toBatch(b), ctx).item()));
      const pred = noGrad(() =>
        scope(() => {
          const image = tensor(b.image, [b.n, b.channels, b.height, b.width]);
          const labels = method.decode(method.predictor.forward(image).logits);
          return labels.to('uint8').data() as Uint8Array;
        }),
      );
      lossSum += loss * b.n;
      slices += b.n;
      for (let i = 0; i < pred.length; i++) {
        const p = pred[i]!;
        const g = b.label[i]!;
        if (p) sizes.set(p, (sizes.get(p) ?? 0) + 1);
        if (g) sizes.set(g, (sizes.get(g) ?? 0) + 1);
        if (p && p === g) inter.set(p, (inter.get(p) ?? 0) + 1);
      }
    }
  } finally {
    for (const m of all) m.train();
    method.predictor.train();
  }
  const dice: Record<string, number> = {};
  for (const [value, name] of o.structureNames) {
    const s = sizes.get(value) ?? 0;
    dice[name] = s === 0 ? 1 : (2 * (inter.get(value) ?? 0)) / s;
  }
  return { loss: slices ? lossSum / slices : NaN, dice };
}

const meanOf = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
