/**
 * Loads a trained predictor from its model file (RUN/model.safetensors, written by src/train/run.ts):
 * the weights plus string metadata that say everything inference needs, so a model file alone
 * segments a scan the way it was trained. The metadata's format is src/train/model-file.ts's.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeBadWeight,
  firstBadWeight,
  loadSafetensors,
  MAX_WEIGHT,
  tensor,
  type Tensor,
} from '../engine/index.ts';
import { DEFAULT_LABELS } from '../data/dataset.ts';
import { statFollowing } from '../data/io/paths.ts';
import { AXIS_BY_NAME, type PreprocessOptions } from '../data/preprocess.ts';
import { InputError } from '../errors.ts';
import { decodeFlat, decodeTree, nodeMarginals, type LabelTree } from '../hierarchy/index.ts';
import { buildModel, type ModelConfig, type SegmentationNet } from '../models/registry.ts';
import { foldBatchNorm } from '../models/fold-batchnorm.ts';
import { prefersChannelsLast, weightsToChannelsLast } from '../models/channels-last.ts';
import {
  checkModelFormat,
  decodeModelMetadata,
  type Decoding,
  type ModelFileContents,
} from '../train/model-file.ts';

export type { Decoding };

export interface LoadedModel {
  /** the model file read */
  readonly file: string;
  /** the predictor, in eval mode, batch norm folded (an inference copy: not for training or saving) */
  readonly model: SegmentationNet;
  /** whether inputs are given channels-last (the predictor's weights are: src/models/channels-last.ts) */
  readonly channelsLast: boolean;
  readonly config: ModelConfig;
  readonly tree: LabelTree;
  readonly decoding: Decoding;
  /** how scans were cut into slices for training (the same is done for prediction) */
  readonly preprocessing: PreprocessOptions & { readonly size: readonly [number, number] };
  /**
   * leaf label value -> structure name, one entry per leaf of the tree: names from the model's
   * `structures` metadata, else the default name of that value (DEFAULT_LABELS), else the node name.
   */
  readonly structures: ReadonlyMap<number, string>;
  /** logits [N, K, H, W] -> [N, H, W] int64 leaf label values (0 background) */
  decode(logits: Tensor): Tensor;
  /**
   * logits [N, K, H, W] -> [N, S, H, W] probability of each structure, in the order of `structures`
   * (leaf marginals, Eq. 5, for tree decoding; softmax classes for flat decoding).
   */
  probabilities(logits: Tensor): Tensor;
}

const FIX = 'give a model file written by `kneeseg train` (RUN/model.safetensors) or its run folder';

/** RUN folder -> RUN/model.safetensors; a file path is returned as it is. */
export function modelFilePath(path: string): string {
  const stat = statFollowing(path);
  if (!stat) throw new InputError(path, 'does not exist', FIX);
  if (!stat.isDirectory()) return path;
  const file = join(path, 'model.safetensors');
  if (!existsSync(file)) throw new InputError(path, 'is a folder without model.safetensors', FIX);
  return file;
}

/**
 * Reads a model file (or RUN folder, links followed) into a ready-to-run predictor. Refused with an
 * InputError naming the file: a file that breaks the safetensors format, one that is not a kneeseg
 * model, and weights left by a diverged run (NaN, infinite, or beyond MAX_WEIGHT; see checkWeights).
 */
export function loadModel(path: string): LoadedModel {
  const file = modelFilePath(path);
  let st: ReturnType<typeof loadSafetensors>;
  try {
    st = loadSafetensors(file);
  } catch (e) {
    const problem = e instanceof InputError ? e.problem : (e as Error).message;
    throw new InputError(file, `is not a safetensors file (${problem})`, FIX);
  }
  const { tensors, metadata } = st;
  try {
    checkModelFormat(file, metadata, FIX);
    checkWeights(file, tensors);
    const contents = decodeModelMetadata(file, metadata, FIX);
    const model = buildModel(contents.config);
    try {
      model.loadStateDict(tensors);
    } catch (e) {
      model.dispose();
      throw new InputError(file, `weights do not fit the model config (${(e as Error).message})`, FIX);
    }
    model.eval();
    // inference only from here: each conv + batch norm pair runs as one convolution, and the U-Net's
    // weights are stored channels-last (src/models/channels-last.ts)
    foldBatchNorm(model, { inPlace: true });
    if (prefersChannelsLast(model)) weightsToChannelsLast(model);
    return loaded(file, model, contents);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** The LoadedModel of an eval-mode predictor and its file's decoded metadata. */
function loaded(file: string, model: SegmentationNet, m: ModelFileContents): LoadedModel {
  const { tree, decoding, preprocessing: data } = m;
  // leaves by label value: the order of `structures` and of the probability channels
  const leafIndex = [...tree.leaves].sort((a, b) => tree.nodes[a]!.label! - tree.nodes[b]!.label!);
  const flatClass = leafIndex.map((k) => 1 + tree.leaves.indexOf(k));
  return {
    file,
    model,
    channelsLast: prefersChannelsLast(model),
    config: m.config,
    tree,
    decoding,
    preprocessing: {
      axis: AXIS_BY_NAME[data.axis],
      size: data.size,
      scaling: data.intensity,
      neighbours: data.neighbours,
    },
    structures: leafNames(tree, m.structures),
    decode: (logits) => (decoding === 'tree' ? decodeTree(logits, tree) : decodeFlat(logits, tree)),
    probabilities: (logits) => {
      // flat classes: 0 background, c the c-th leaf; tree: marginal of each leaf node
      if (decoding === 'softmax') return pick(logits.softmax(1), flatClass);
      return pick(nodeMarginals(logits, tree), leafIndex);
    },
  };
}

export { MAX_WEIGHT };

const DIVERGED_FIX =
  'the training run that wrote it diverged: retrain it (e.g. with a lower optim.lr) or use the ' +
  'model.safetensors of an earlier run';

/** Throws InputError naming `file` when a weight is NaN, infinite or beyond MAX_WEIGHT (engine/weight-check.ts). */
export function checkWeights(file: string, tensors: ReadonlyMap<string, Tensor>): void {
  const bad = firstBadWeight(tensors);
  if (bad) throw new InputError(file, describeBadWeight(bad), DIVERGED_FIX);
}

/** Channels `index` of [N, C, H, W], in that order. */
function pick(x: Tensor, index: readonly number[]): Tensor {
  return x.indexSelect(1, tensor(index, [index.length], { dtype: 'int64' }));
}

/** Leaf label value -> structure name for every leaf of the tree (see LoadedModel.structures). */
function leafNames(tree: LabelTree, named: Readonly<Record<string, string>>): Map<number, string> {
  const byDefault = new Map(Object.entries(DEFAULT_LABELS).map(([name, v]) => [v, name]));
  const out = new Map<number, string>();
  const leaves = [...tree.leaves].sort((a, b) => tree.nodes[a]!.label! - tree.nodes[b]!.label!);
  for (const k of leaves) {
    const node = tree.nodes[k]!;
    const v = node.label!;
    out.set(v, named[String(v)] ?? byDefault.get(v) ?? node.name);
  }
  return out;
}
