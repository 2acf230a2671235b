/**
 * The data-parallel wiring of one training run (src/train/run.ts): the process group's hooks into the
 * loop, the sharded data, the start-up agreement and the checkpoint rank 0 resumes from.
 *
 * What is synchronised: parameters and buffers at the start (after a resume too), the averaged
 * gradients of every applied step, the loss terms (their mean over ranks: the skip of a non-finite step
 * is taken by all ranks or none), every decision of the loop (rank 0's), and the buffers after each
 * step (rank 0's, as DDP's broadcast_buffers: batch-norm running statistics, CLD's confidence banks,
 * an EMA teacher's batch-norm statistics). What stays per rank: the batch statistics a batch-norm layer
 * normalises with during the forward pass (each rank's own part of the global batch, as in DDP without
 * SyncBatchNorm), so with batch norm a run is close to, not equal to, one process with the global
 * batch. EMA teachers need no broadcast: each rank updates them from the same averaged parameters.
 *
 * Rank 0 alone owns the run folder: the other ranks run the same code against a private scratch folder
 * (their logs, checkpoints and model files are thrown away), validate on no slices, and take rank 0's
 * verdict.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { noGrad, scope, tensor, type Module, type Tensor } from '../engine/index.ts';
import { ProcessGroup, type ProcessGroupOptions } from '../engine/distributed.ts';
import { KneesegError } from '../errors.ts';
import type { SliceBatch } from './batches.ts';
import type { TrainListener } from './events.ts';
import type { TrainHooks } from './hooks.ts';
import type { TrainConfig } from './config.ts';
import type { OpenedTrainingData } from './slice-data.ts';
import type { Method } from '../methods/method.ts';
import { lastCheckpoint } from './run-folder.ts';
import {
  allReduceGradients,
  broadcastBytes,
  broadcastDecision,
  broadcastParameters,
  commDevice,
} from './data-parallel.ts';

/** A rank's collective that failed: a peer exited, crashed or stopped answering within the timeout. */
export class DataParallelError extends KneesegError {}

/** Runs a collective; its failure becomes a DataParallelError that says what to do next. */
export function collective<T>(pg: ProcessGroup, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof KneesegError) throw err;
    throw new DataParallelError(
      `data-parallel training stopped on rank ${pg.rank} of ${pg.worldSize}: ${(err as Error).message}. ` +
        "Rank 0's last checkpoint is kept: continue with --resume",
    );
  }
}

/** Joins the group (every rank blocks until all have joined, or fails after the timeout). */
export function joinGroup(o: ProcessGroupOptions): ProcessGroup {
  try {
    return ProcessGroup.init(o);
  } catch (err) {
    throw new DataParallelError(
      `rank ${o.rank} of ${o.worldSize} could not join the group at ${o.masterAddr ?? '127.0.0.1'}:${o.masterPort}: ${(err as Error).message}`,
    );
  }
}

/**
 * Rank 0's start: its resolved configuration, or why it could not start (its run folder is locked,
 * its configuration invalid, ...). Every rank calls it once, rank 0 with its `start`, the others with
 * null: they get rank 0's configuration (so they need neither its config file nor its run folder) or
 * throw with rank 0's reason (rank 0 gets null then, and throws its own error).
 */
export function agreeToStart(
  pg: ProcessGroup,
  start: { config: TrainConfig } | { error: string } | null,
): TrainConfig | null {
  const agreed = collective(pg, () => broadcastDecision(pg, start));
  if (agreed !== null && 'config' in agreed) return agreed.config;
  if (pg.rank === 0) return null; // rank 0 throws its own error
  throw new DataParallelError(`rank 0 could not start the run: ${agreed?.error ?? 'no reason given'}`);
}

/** The configuration the data side and the loop see: batches `worldSize` times the per-rank ones. */
export function globalBatchConfig(config: TrainConfig, worldSize: number): TrainConfig {
  return {
    ...config,
    batch: {
      ...config.batch,
      labelled: config.batch.labelled * worldSize,
      unlabelled: config.batch.unlabelled * worldSize,
    },
  };
}

/**
 * Whether this rank resumes: rank 0 when asked to and its run folder holds a checkpoint, whose bytes
 * it sends; the others write them to their scratch folder, so every rank loads the same checkpoint.
 */
export function shareCheckpoint(pg: ProcessGroup, out: string, resume: boolean): boolean {
  const path = lastCheckpoint(out);
  const mine = pg.rank === 0 && resume && existsSync(path) ? readFileSync(path) : new Uint8Array(0);
  const bytes = collective(pg, () => broadcastBytes(pg, mine));
  if (bytes.length === 0) return false;
  if (pg.rank !== 0) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  }
  return true;
}

/** Every tensor a checkpoint holds of `modules`, in an order all ranks share. */
export function stateTensors(modules: Record<string, Module>): Tensor[] {
  return Object.keys(modules)
    .sort()
    .flatMap((k) => [...modules[k]!.stateDict().values()]);
}

/** Every buffer of `modules` (batch-norm statistics, banks), in an order all ranks share. */
export function bufferTensors(modules: Record<string, Module>): Tensor[] {
  return Object.keys(modules)
    .sort()
    .flatMap((k) => [...modules[k]!.namedBuffers()].map(([, b]) => b));
}

/**
 * The listener of a rank: at the loop's start (weights built or loaded from the checkpoint) every
 * rank takes rank 0's parameters and buffers; the events reach `listener` on rank 0 only.
 */
export function startListener(
  pg: ProcessGroup,
  state: () => Tensor[],
  listener?: TrainListener,
): TrainListener {
  return (e) => {
    if (e.type === 'start') collective(pg, () => broadcastParameters(pg, state()));
    if (pg.rank === 0) listener?.(e);
  };
}

/** What train() takes for a data-parallel run on this rank (TrainOptions' hooks, listener, resume). */
export function dataParallelTraining(
  pg: ProcessGroup,
  method: Pick<Method, 'modules' | 'frozen'>,
  o: { out: string; resume?: boolean; listener?: TrainListener },
): { hooks: TrainHooks; listener: TrainListener; resume: boolean } {
  const saved = { ...method.modules, ...(method.frozen ?? {}) };
  return {
    resume: shareCheckpoint(pg, o.out, o.resume === true),
    hooks: dataParallelHooks(pg, () => bufferTensors(saved)),
    listener: startListener(pg, () => stateTensors(saved), o.listener),
  };
}

/** The loop's data-parallel hooks (see the file's comment for what each synchronises). */
export function dataParallelHooks(pg: ProcessGroup, buffers: () => Tensor[]): TrainHooks {
  return {
    afterBackward: (parameters) =>
      collective(pg, () => {
        allReduceGradients(pg, parameters);
        broadcastParameters(pg, buffers());
      }),
    decide: (d) => collective(pg, () => broadcastDecision(pg, d)),
    reduceLosses: (values) => collective(pg, () => meanOverRanks(pg, values)),
  };
}

/** The mean of each loss term over ranks, in float64 (NaN or infinite where any rank's is). */
function meanOverRanks(pg: ProcessGroup, values: Record<string, number>): Record<string, number> {
  const keys = Object.keys(values);
  const mean = scope(() =>
    noGrad(() => {
      const t = tensor(
        keys.map((k) => values[k]!),
        [keys.length],
        { dtype: 'float64', device: commDevice(pg) },
      );
      pg.allReduceMean(t);
      return t.toArray();
    }),
  );
  return Object.fromEntries(keys.map((k, i) => [k, mean[i]!]));
}

/**
 * Rank `rank`'s contiguous part of a global batch (labelled items first, then unlabelled, as
 * SliceData builds them): the slices `shardBatch` (data-parallel.ts) picks from a global sampler draw.
 */
export function shardSliceBatch(b: SliceBatch, rank: number, worldSize: number): SliceBatch {
  const U = b.n - b.numLabelled;
  if (b.numLabelled % worldSize !== 0 || U % worldSize !== 0)
    throw new RangeError(
      `shardSliceBatch: ${b.numLabelled} labelled + ${U} unlabelled slices do not split into ${worldSize} equal parts`,
    );
  const l = b.numLabelled / worldSize;
  const u = U / worldSize;
  const plane = b.height * b.width;
  const item = b.channels * plane;
  const image = new Float32Array((l + u) * item);
  image.set(b.image.subarray(rank * l * item, (rank + 1) * l * item));
  const uStart = b.numLabelled + rank * u;
  image.set(b.image.subarray(uStart * item, (uStart + u) * item), l * item);
  const part: SliceBatch = {
    ...b,
    image,
    label: b.label.slice(rank * l * plane, (rank + 1) * l * plane),
    n: l + u,
    numLabelled: l,
  };
  if (b.sdf && b.numLabelled > 0) {
    const perItem = b.sdf.length / b.numLabelled;
    part.sdf = b.sdf.slice(rank * l * perItem, (rank + 1) * l * perItem);
  }
  return part;
}

/**
 * The data one rank trains on: its part of each global batch (the data side draws global batches from
 * `globalBatchConfig`), and validation slices on rank 0 only. While rank 0 validates, it says "one
 * more batch" before each, so the others wait one validation batch at a time, never the whole
 * validation, and the group's timeout need only exceed one step.
 */
export function shardedData(data: OpenedTrainingData, pg: ProcessGroup): OpenedTrainingData {
  const more = (flag: number): boolean =>
    collective(pg, () =>
      scope(() => {
        const t = tensor([flag], [1], { dtype: 'int32', device: commDevice(pg) });
        pg.broadcast(t, 0);
        return t.item() === 1;
      }),
    );
  return {
    split: data.split,
    dataset: data.dataset,
    structureNames: data.structureNames,
    labelledSlices: data.labelledSlices,
    unlabelledSlices: data.unlabelledSlices,
    channels: data.channels,
    batch: async (iteration) => shardSliceBatch(await data.batch(iteration), pg.rank, pg.worldSize),
    setLevelSetTargets: (spec) => data.setLevelSetTargets?.(spec),
    validation: function* (size) {
      if (pg.rank === 0) {
        // `size` is the global labelled batch: validate in per-rank batches, a step's memory
        for (const b of data.validation(Math.max(1, Math.floor(size / pg.worldSize)))) {
          more(1);
          yield b;
        }
        more(0);
      } else while (more(0));
    },
    close: () => data.close(),
  };
}
