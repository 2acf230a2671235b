/**
 * The generic training loop (METHOD.md section 7). It knows no method by name: a Method turns a batch
 * into named loss terms; the loop steps Adam, validates, tracks EMA-VL, halves the learning rate on
 * plateaus, switches two-stage methods from the conditional to the unconditional stage, keeps the best
 * model, checkpoints atomically and resumes exactly.
 *
 * The loop is a short engine over named phases, like nnU-Net's trainer hooks: train_step (step.ts),
 * on_step_end and on_iteration_end with validation, stage switch, stops and checkpoints (phases.ts),
 * whose decisions are pure rules (schedule-rules.ts, log-window.ts, validation.ts). `TrainHooks`
 * (hooks.ts) marks where data-parallel training reduces gradients and takes rank 0's decisions.
 *
 * Determinism: batch i is a pure function of (seed, i) (see TrainingData), and libtorch's generator is
 * reseeded from (seed, i) before each step, so a resumed run repeats an uninterrupted one.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Adam, setNumThreads, type Module, type Tensor } from '../engine/index.ts';
import type { LabelTree } from '../hierarchy/tree.ts';
import type { Method } from '../methods/method.ts';
import type { TrainConfig } from './config.ts';
import type { SliceBatch, TrainingData } from './batches.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { RunLog } from './run-log.ts';
import type { TrainListener } from './events.ts';
import { removeStaleTemporaries, writeFileAtomic } from '../output/atomic.ts';
import { singleProcessHooks, type TrainHooks } from './hooks.ts';
import { initialLoopState, resumedLoopState, type LoopState } from './loop-state.ts';
import { Reporter } from './records.ts';
import { cadenceOf, headLr } from './schedule-rules.ts';
import { trainStep, type StepParts } from './step.ts';
import {
  checkpointPath,
  modelPath,
  onIterationEnd,
  onStepEnd,
  saveBest,
  stepContext,
  type Loop,
} from './phases.ts';

export type { LoopState } from './loop-state.ts';
export type { TrainHooks } from './hooks.ts';
export { toBatch } from './step.ts';
export { stage1Learned } from './schedule-rules.ts';
export { validate } from './validation.ts';

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
  /** gradient reduction and shared decisions of a data-parallel run (default: one process) */
  hooks?: TrainHooks;
}

export interface TrainResult {
  state: LoopState;
  totalIterations: number;
  parameters: number;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { loop, step, parameters } = openLoop(o);
  const { cadence } = loop;
  const st = loop.st;
  let pending: Promise<SliceBatch> | null = null;
  while (st.iteration < cadence.totalIterations && st.stopped === null) {
    // Let the event loop turn once per step: awaiting an already prepared batch does not, and signals
    // (Ctrl-C -> stopRequested) and worker messages are only delivered when it does.
    await new Promise((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    const batch = await (pending ?? o.data.batch(st.iteration));
    const t1 = performance.now();
    // prepare the next batch (worker threads) while this step runs
    pending = st.iteration + 1 < cadence.totalIterations ? o.data.batch(st.iteration + 1) : null;
    const outcome = trainStep(step, batch, stepContext(loop));
    st.iteration++;
    const timing = { stepSeconds: (performance.now() - t1) / 1000, waitSeconds: (t1 - t0) / 1000 };
    if (onStepEnd(loop, outcome, timing)) break;
    onIterationEnd(loop);
  }
  await pending?.catch(() => undefined);
  if (st.stopped === null) st.stopped = 'iteration budget reached';
  if (!existsSync(modelPath(loop))) saveBest(loop); // a run too short to validate still yields a model
  loop.report.emit({ type: 'end', iteration: st.iteration, reason: st.stopped, seconds: st.elapsedSeconds });
  return { state: st, totalIterations: cadence.totalIterations, parameters };
}

/** Prepares the run folder, optimizer and state (fresh or resumed) and announces the start. */
function openLoop(o: TrainOptions): { loop: Loop; step: StepParts; parameters: number } {
  const { config, method, out } = o;
  // the method's level-set targets are computed with each batch, in the data side's worker
  o.data.setLevelSetTargets?.(method.levelSetTargets ?? null);
  if (config.threads) setNumThreads(config.threads);
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  removeStaleTemporaries(out); // a process killed mid-write leaves its temporary file (src/output/atomic.ts)
  const log = new RunLog(join(out, 'log.jsonl'));
  const report = new Reporter(log, o.listener ?? (() => {}));
  const cadence = cadenceOf(config, o.data.labelledSlices);
  const opt = buildOptimizer(config, method);
  const saved = { ...method.modules, ...(method.frozen ?? {}) };
  const resumed = Boolean(o.resume && existsSync(checkpointPath(out)));
  const st = resumed
    ? resumeState({ out, log, report, saved, optimizer: opt.optimizer })
    : freshState({ out, log, lr: config.optim.lr });
  report.emit({
    type: 'start',
    totalIterations: cadence.totalIterations,
    startIteration: st.iteration,
    parameters: opt.count,
    resumed,
  });
  const hooks = o.hooks ?? singleProcessHooks;
  const step: StepParts = {
    method,
    optimizer: opt.optimizer,
    parameters: opt.parameters,
    // buffers a step changes as it runs (batch-norm statistics, CLD's banks): a skipped step restores them
    buffers: Object.values(saved).flatMap((m) => [...m.namedBuffers()].map(([, b]) => b)),
    hooks,
    seed: config.seed,
    head: opt.head,
  };
  const loop: Loop = {
    st,
    config,
    method,
    optimizer: opt.optimizer,
    cadence,
    validation: { method, data: o.data, structureNames: o.structureNames, batchSize: config.batch.labelled },
    report,
    hooks,
    started: Date.now() - st.elapsedSeconds * 1000,
    budgetMs: config.schedule.minutes === null ? Infinity : config.schedule.minutes * 60_000,
    stopRequested: o.stopRequested,
    saved,
    out,
    modelMetadata: o.modelMetadata,
  };
  return { loop, step, parameters: opt.count };
}

/** The state of RUN/checkpoints/last.safetensors, its weights loaded; the log cut back to it. */
function resumeState(r: {
  out: string;
  log: RunLog;
  report: Reporter;
  saved: Record<string, Module>;
  optimizer: Adam;
}): LoopState {
  const st = resumedLoopState(loadCheckpoint<LoopState>(checkpointPath(r.out), r.saved, r.optimizer));
  r.log.truncateAfter(st.iteration);
  r.report.event(st, 'resumed');
  return st;
}

/** A fresh start owns the folder: the log and model of an earlier attempt would mix with this run's. */
function freshState(f: { out: string; log: RunLog; lr: number }): LoopState {
  f.log.truncateAfter(-1);
  rmSync(join(f.out, 'model.safetensors'), { force: true });
  return initialLoopState(f.lr);
}

/**
 * Adam over the method's trained modules. Group 0 follows the stage learning rate; group 1, when the
 * paper's own schedule of the semi-supervised branch is on (optim.levelSetHead), is the level-set head.
 */
function buildOptimizer(
  config: TrainConfig,
  method: Method,
): { optimizer: Adam; parameters: Tensor[]; count: number; head: StepParts['head'] } {
  const named = Object.values(method.modules).flatMap((m) => [...m.namedParameters()]);
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
  const head =
    groups.length > 1 && headSchedule !== null
      ? { group: 1, lr: (iteration: number) => headLr(headSchedule, iteration) }
      : null;
  return {
    optimizer,
    parameters: groups.flatMap((g) => g.params),
    count: named.reduce((s, [, p]) => s + p.numel, 0),
    head,
  };
}

export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
