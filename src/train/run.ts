/**
 * One training run from a configuration to a run folder: resolves and writes the configuration, opens
 * and splits the dataset, prepares the slices, builds the method's networks, trains, and writes
 * RUN/summary.json. Everything a run decided is written next to its results (nnU-Net's habit).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed } from '../engine/index.ts';
import { ProcessGroup, type ProcessGroupOptions } from '../engine/distributed.ts';
import { KneesegError } from '../errors.ts';
import { defaultKneeTree, readLabelTree, type LabelTree } from '../hierarchy/tree.ts';
import { buildModel } from '../models/registry.ts';
import type { Method } from '../methods/method.ts';
import { createMethod } from '../methods/registry.ts';
import { parseConfig, readConfigFile, type TrainConfig } from './config.ts';
import { encodeModelMetadata, MODEL_FILE_FORMAT } from './model-file.ts';
import { openTrainingData, type OpenedTrainingData } from './slice-data.ts';
import { makeRankFolder } from './rank-scratch.ts';
import { recordRunSplit, runSplitOf } from './run-split.ts';
import { train, writeJson, type TrainResult } from './trainer.ts';
import type { TrainListener } from './events.ts';
import { explainOutOfMemory, openRunFolder, type RunFolder } from './run-folder.ts';
import {
  agreeToStart,
  collective,
  dataParallelTraining,
  globalBatchConfig,
  joinGroup,
  shardedData,
} from './distributed-run.ts';

export interface RunOptions {
  out: string;
  /** continue from RUN/checkpoints/last.safetensors when it exists */
  resume?: boolean;
  /** replace the run a folder holds (without it, and without resume, such a folder is refused) */
  overwrite?: boolean;
  listener?: TrainListener;
  stopRequested?: () => boolean;
  /**
   * Data-parallel training: this process's place in a group of `worldSize` (see distributed-run.ts),
   * as options (the group is joined and left here) or a joined group (the caller's to close); absent
   * or a world of one: one process. Every rank calls runTraining; rank 0's input, resolved
   * configuration and run folder count, the other ranks' are ignored.
   */
  distributed?: ProcessGroupOptions | ProcessGroup;
  /** rank > 0: the folder its loop writes to (default: a temporary folder, removed afterwards) */
  rankFolder?: string;
}

type RunResult = { config: TrainConfig; result: TrainResult; summary: RunSummary };

export interface RunSummary {
  method: string;
  backbone: string;
  best_epoch: number;
  best_iteration: number;
  /** `schedule.selection` and the kept model's score under it (lower is better: 1 - Dice, or EMA-VL) */
  selection: string;
  best_score: number;
  best_validation: Record<string, number> | null;
  iterations: number;
  epochs: number;
  stopped: string;
  wall_seconds: number;
  parameters: number;
  predictor_parameters: number;
  labelled_cases: number;
  unlabelled_cases: number;
  validation_cases: number;
  test_cases: string[];
}

export async function runTraining(input: unknown, o: RunOptions): Promise<RunResult> {
  if (o.distributed && o.distributed.worldSize > 1) return runDataParallel(input, o, o.distributed);
  const config = checkedConfig(input);
  return inRunFolder(openRunFolder(o.out, o), config, () => runIn(config, o, null));
}

function checkedConfig(input: unknown): TrainConfig {
  const config = parseConfig(input);
  if (!config.data.dir) throw new KneesegError('no dataset: give --data DIR (a folder in nnU-Net layout)');
  return config;
}

async function inRunFolder(folder: RunFolder, config: TrainConfig, run: () => Promise<RunResult>) {
  try {
    return await run();
  } catch (err) {
    folder.discardIfEmpty(); // a run that failed before its first checkpoint leaves no stub folder
    throw explainOutOfMemory(err, config);
  } finally {
    folder.release();
  }
}

/** One rank of a data-parallel run: rank 0 owns the run folder, the others a scratch folder. */
async function runDataParallel(
  input: unknown,
  o: RunOptions,
  group: ProcessGroupOptions | ProcessGroup,
): Promise<RunResult> {
  const pg = group instanceof ProcessGroup ? group : joinGroup(group);
  try {
    if (pg.rank !== 0) return await runOtherRank(pg, o);
    let config: TrainConfig;
    let folder: RunFolder;
    try {
      config = checkedConfig(input);
      folder = openRunFolder(o.out, o);
    } catch (err) {
      agreeToStart(pg, { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    agreeToStart(pg, { config });
    return await inRunFolder(folder, config, () => runIn(config, o, pg));
  } finally {
    if (pg !== group) pg.close();
  }
}

async function runOtherRank(pg: ProcessGroup, o: RunOptions): Promise<RunResult> {
  const config = agreeToStart(pg, null)!;
  const out = o.rankFolder ?? makeRankFolder(pg.rank);
  try {
    return await runIn(config, { ...o, out, overwrite: false, listener: undefined }, pg);
  } finally {
    if (o.rankFolder === undefined) rmSync(out, { recursive: true, force: true });
  }
}

async function runIn(config: TrainConfig, o: RunOptions, pg: ProcessGroup | null): Promise<RunResult> {
  const configPath = join(o.out, 'config.json');
  if (o.resume && existsSync(configPath)) checkResumable(config, configPath);
  writeJson(configPath, config);
  manualSeed(config.seed);

  const tree = config.data.tree === null ? defaultKneeTree() : readLabelTree(config.data.tree);
  // data-parallel: the data side draws global batches, each rank trains on its part
  const loopConfig = pg ? globalBatchConfig(config, pg.worldSize) : config;
  const opened = await openTrainingData(loopConfig, tree);
  try {
    recordRunSplit(o.out, runSplitOf(opened.split, config), o.resume === true);
    const data = pg ? shardedData(opened, pg) : opened;
    const imageSize = config.data.size;
    const method = createMethod(
      config.method.name,
      {
        tree,
        treeOptions: config.tree,
        buildModel: ({ outChannels, levelSet }) =>
          buildModel({ ...config.model, inChannels: data.channels, outChannels, levelSet, imageSize }),
      },
      config.method.options,
    );
    const result = await train({
      config: loopConfig,
      method,
      data,
      tree,
      structureNames: data.structureNames,
      out: o.out,
      resume: o.resume,
      listener: o.listener,
      stopRequested: o.stopRequested,
      modelMetadata: modelMetadataOf(config, method, tree, opened),
      ...(pg ? dataParallelTraining(pg, method, o) : {}),
    });
    const summary = summaryOf(config, result, method.predictor.parameterCount(), data.split);
    writeJson(join(o.out, 'summary.json'), summary);
    // the other ranks end once rank 0's run folder is complete
    if (pg) collective(pg, () => pg.barrier());
    return { config, result, summary };
  } finally {
    await opened.close();
  }
}

/** --resume continues only a run of the same data, model, method, batch and seed. */
function checkResumable(config: TrainConfig, configPath: string): void {
  const before = parseConfig(readConfigFile(configPath)); // keys added since: their defaults
  const same = (k: keyof TrainConfig) => JSON.stringify(before[k]) === JSON.stringify(config[k]);
  for (const k of ['data', 'model', 'method', 'batch', 'seed'] as const)
    if (!same(k))
      throw new KneesegError(
        `--resume: "${k}" differs from ${configPath}; resume with the same settings or start a new run folder`,
      );
}

/** The model file's metadata (model-file.ts): what inference needs to rebuild and run the predictor. */
function modelMetadataOf(
  config: TrainConfig,
  method: Method,
  tree: LabelTree,
  data: OpenedTrainingData,
): Record<string, string> {
  const p = method.predictor;
  return encodeModelMetadata({
    format: MODEL_FILE_FORMAT,
    model: {
      ...config.model,
      inChannels: data.channels,
      outChannels: p.outChannels,
      levelSet: 'ls_head' in p && p.ls_head !== null,
      imageSize: config.data.size,
    },
    decoding: method.decoding,
    tree: tree.definition,
    preprocessing: config.data,
    structures: Object.fromEntries(data.structureNames),
    training: config,
  });
}

function summaryOf(
  config: TrainConfig,
  result: TrainResult,
  predictorParameters: number,
  split: OpenedTrainingData['split'],
): RunSummary {
  const st = result.state;
  return {
    method: config.method.name,
    backbone: config.model.backbone,
    best_epoch: st.bestEpoch,
    best_iteration: st.bestIteration,
    selection: config.schedule.selection,
    best_score: st.bestScore,
    best_validation: null,
    iterations: st.iteration,
    epochs: st.epoch,
    stopped: st.stopped ?? '',
    wall_seconds: st.elapsedSeconds,
    parameters: result.parameters,
    predictor_parameters: predictorParameters,
    labelled_cases: split.train.filter((c) => c.labelled).length,
    unlabelled_cases: split.train.filter((c) => !c.labelled).length,
    validation_cases: split.validation.length,
    test_cases: split.test.map((c) => c.id),
  };
}
