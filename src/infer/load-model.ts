/**
 * Loads a trained predictor from its model file (RUN/model.safetensors, written by src/train/run.ts):
 * the weights plus string metadata that say everything inference needs, so a model file alone
 * segments a scan the way it was trained (nnU-Net's habit of keeping the plans with the weights).
 *
 * Metadata keys: `format` = 'kneeseg-model', `model` (JSON model config for buildModel), `decoding`
 * ('tree' | 'softmax'), `tree` (JSON label tree), `preprocessing` (JSON data config: axis, size,
 * neighbours, intensity), `structures` (JSON {leaf label value: structure name}), `training`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
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
import { decodeFlat, decodeTree, nodeMarginals, parseLabelTree, type LabelTree } from '../hierarchy/index.ts';
import { buildModel, parseModelConfig, type ModelConfig, type SegmentationNet } from '../models/registry.ts';
import { DataConfigSchema } from '../train/config.ts';

export type Decoding = 'tree' | 'softmax';

export interface LoadedModel {
  /** the model file read */
  readonly file: string;
  /** the predictor, in eval mode */
  readonly model: SegmentationNet;
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

function parseJson(file: string, key: string, text: string | undefined): unknown {
  if (text === undefined) throw new InputError(file, `has no "${key}" metadata`, FIX);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InputError(file, `metadata "${key}" is not valid JSON`, FIX);
  }
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
    if (metadata.format !== 'kneeseg-model')
      throw new InputError(
        file,
        `is not a kneeseg model (metadata format is ${JSON.stringify(metadata.format ?? null)})`,
        FIX,
      );
    checkWeights(file, tensors);
    const config = wrap(file, 'model', () => parseModelConfig(parseJson(file, 'model', metadata.model)));
    const tree = parseLabelTree(parseJson(file, 'tree', metadata.tree), `${file} (tree metadata)`);
    const decoding = metadata.decoding;
    if (decoding !== 'tree' && decoding !== 'softmax')
      throw new InputError(
        file,
        `metadata "decoding" is ${JSON.stringify(decoding ?? null)}, not "tree" or "softmax"`,
        FIX,
      );
    const data = wrap(file, 'preprocessing', () =>
      DataConfigSchema.parse(parseJson(file, 'preprocessing', metadata.preprocessing)),
    );
    const channels = 2 * data.neighbours + 1;
    if (config.inChannels !== channels)
      throw new InputError(
        file,
        `the network takes ${config.inChannels} channels but preprocessing stacks ${channels} (neighbours ${data.neighbours})`,
        FIX,
      );
    const expected = decoding === 'tree' ? tree.size : tree.leaves.length + 1;
    if (config.outChannels !== expected)
      throw new InputError(
        file,
        `the network has ${config.outChannels} outputs, ${decoding} decoding of its tree needs ${expected}`,
        FIX,
      );
    const named = wrap(file, 'structures', () =>
      z
        .record(z.string(), z.string())
        .parse(metadata.structures === undefined ? {} : parseJson(file, 'structures', metadata.structures)),
    );
    const structures = leafNames(tree, named);

    const model = buildModel(config);
    try {
      model.loadStateDict(tensors);
    } catch (e) {
      model.dispose();
      throw new InputError(file, `weights do not fit the model config (${(e as Error).message})`, FIX);
    }
    model.eval();
    // leaves by label value: the order of `structures` and of the probability channels
    const leafIndex = [...tree.leaves].sort((a, b) => tree.nodes[a]!.label! - tree.nodes[b]!.label!);
    const flatClass = leafIndex.map((k) => 1 + tree.leaves.indexOf(k));
    return {
      file,
      model,
      config,
      tree,
      decoding,
      preprocessing: {
        axis: AXIS_BY_NAME[data.axis],
        size: data.size,
        scaling: data.intensity,
        neighbours: data.neighbours,
      },
      structures,
      decode: (logits) => (decoding === 'tree' ? decodeTree(logits, tree) : decodeFlat(logits, tree)),
      probabilities: (logits) => {
        // flat classes: 0 background, c the c-th leaf; tree: marginal of each leaf node
        if (decoding === 'softmax') return pick(logits.softmax(1), flatClass);
        return pick(nodeMarginals(logits, tree), leafIndex);
      },
    };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
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

function wrap<T>(file: string, key: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(file, `metadata "${key}" is invalid (${(e as Error).message.split('\n')[0]})`, FIX);
  }
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
