/**
 * One training run from a configuration to a run folder: resolves and writes the configuration, opens
 * and splits the dataset, prepares the slices, builds the method's networks, trains, and writes
 * RUN/summary.json. Everything a run decided is written next to its results (nnU-Net's habit).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed } from '../engine/index.ts';
import { KneesegError } from '../errors.ts';
import { defaultKneeTree, readLabelTree, type LabelTree } from '../hierarchy/tree.ts';
import { buildModel } from '../models/registry.ts';
import type { Method } from '../methods/method.ts';
import { createMethod } from '../methods/registry.ts';
import { parseConfig, readConfigFile, type TrainConfig } from './config.ts';
import { encodeModelMetadata, MODEL_FILE_FORMAT } from './model-file.ts';
import { openTrainingData, type OpenedTrainingData } from './slice-data.ts';
import { recordRunSplit, runSplitOf } from './run-split.ts';
import { train, writeJson, type TrainResult } from './trainer.ts';
import type { TrainListener } from './events.ts';
import { explainOutOfMemory, openRunFolder } from './run-folder.ts';

export interface RunOptions {
  out: string;
  /** continue from RUN/checkpoints/last.safetensors when it exists */
  resume?: boolean;
  /** replace the run a folder holds (without it, and without resume, such a folder is refused) */
  overwrite?: boolean;
  listener?: TrainListener;
  stopRequested?: () => boolean;
}

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
  labeled_cases: number;
  unlabeled_cases: number;
  validation_cases: number;
  test_cases: string[];
}

export async function runTraining(
  input: unknown,
  o: RunOptions,
): Promise<{ config: TrainConfig; result: TrainResult; summary: RunSummary }> {
  const config = parseConfig(input);
  if (!config.data.dir) throw new KneesegError('no dataset: give --data DIR (a folder in nnU-Net layout)');
  const folder = openRunFolder(o.out, o);
  try {
    return await runIn(config, o);
  } catch (err) {
    folder.discardIfEmpty(); // a run that failed before its first checkpoint leaves no stub folder
    throw explainOutOfMemory(err, config);
  } finally {
    folder.release();
  }
}

async function runIn(
  config: TrainConfig,
  o: RunOptions,
): Promise<{ config: TrainConfig; result: TrainResult; summary: RunSummary }> {
  const configPath = join(o.out, 'config.json');
  if (o.resume && existsSync(configPath)) checkResumable(config, configPath);
  writeJson(configPath, config);
  manualSeed(config.seed);

  const tree = config.data.tree === null ? defaultKneeTree() : readLabelTree(config.data.tree);
  const data = await openTrainingData(config, tree);
  try {
    recordRunSplit(o.out, runSplitOf(data.split, config), o.resume === true);
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
      config,
      method,
      data,
      tree,
      structureNames: data.structureNames,
      out: o.out,
      resume: o.resume,
      listener: o.listener,
      stopRequested: o.stopRequested,
      modelMetadata: modelMetadataOf(config, method, tree, data),
    });
    const summary = summaryOf(config, result, method.predictor.parameterCount(), data.split);
    writeJson(join(o.out, 'summary.json'), summary);
    return { config, result, summary };
  } finally {
    await data.close();
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
    labeled_cases: split.train.filter((c) => c.labelled).length,
    unlabeled_cases: split.train.filter((c) => !c.labelled).length,
    validation_cases: split.validation.length,
    test_cases: split.test.map((c) => c.id),
  };
}
