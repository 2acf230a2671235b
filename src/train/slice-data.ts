/**
 * The data side of a training run: opens the dataset, splits it by seed, reads and preprocesses
 * every case once (slices cached in memory: the second epoch reads no file), maps the dataset's label
 * values onto the label tree's leaves, and serves deterministic batches of L labelled + U unlabelled
 * slices. Batch i depends only on (seed, i) (the sampler's streams are reshuffled per pass from
 * (seed, stream, pass); augmentation is seeded from (seed, i)), so a resumed run draws exactly the
 * batches an uninterrupted one would.
 */
import {
  DEFAULT_LABELS,
  DEFAULT_STRUCTURES,
  loadCase,
  openDataset,
  type CaseFiles,
  type Dataset,
} from '../data/dataset.ts';
import type { Split } from '../data/splits.ts';
import {
  AXIS_BY_NAME,
  prepareCase,
  stackChannels,
  labelSlice,
  type PreparedCase,
} from '../data/preprocess.ts';
import { hashSeed } from '../data/random.ts';
import { SemiSupervisedSampler } from '../data/sampler.ts';
import { ConfigError, InputError } from '../errors.ts';
import type { LabelTree } from '../hierarchy/tree.ts';
import type { LevelSetTargetSpec } from '../levelset/target-spec.ts';
import type { TrainConfig } from './config.ts';
import type { SliceBatch, TrainingData } from './batches.ts';
import { BatchAugmenter } from './augmenter.ts';
import { configSplit } from './run-split.ts';

export interface SliceRef {
  readonly c: number; // index into cases
  readonly s: number; // slice index
}

export interface OpenedTrainingData extends TrainingData {
  readonly split: Split;
  readonly dataset: Dataset;
  /** tree leaf label value -> structure name */
  readonly structureNames: ReadonlyMap<number, string>;
}

/**
 * The tree label value of a dataset structure name: the value of the tree node of that name, else the
 * default value of that name (DEFAULT_LABELS: "femur" is 1, ...) when the tree has a node with it.
 */
export function treeValueOf(tree: LabelTree, name: string): number | undefined {
  const node = tree.nodes.find((n) => n.name === name && n.label !== undefined);
  if (node) return node.label;
  const value = DEFAULT_LABELS[name];
  return value !== undefined && tree.nodeOfLabel(value) !== undefined ? value : undefined;
}

/** Structure names a dataset may use with `tree`: the default names and the names of the tree's labelled nodes. */
export function structureNamesFor(tree: LabelTree): string[] {
  const own = tree.nodes.filter((n) => n.label !== undefined).map((n) => n.name);
  return [...new Set([...DEFAULT_STRUCTURES, ...own])];
}

/** Dataset label value -> tree label value, by structure name (treeValueOf). */
export function labelLookup(ds: Dataset, tree: LabelTree): Uint8Array {
  const lut = new Uint8Array(256);
  for (const [value, name] of ds.structures) {
    const leafValue = treeValueOf(tree, name);
    if (leafValue === undefined)
      throw new InputError(
        `${ds.dir}/dataset.json`,
        `structure "${name}" has no leaf in the label tree`,
        'rename it after a tree leaf',
      );
    if (value > 255)
      throw new InputError(
        `${ds.dir}/dataset.json`,
        `label value ${value} of "${name}" is above 255`,
        'renumber labels from 1',
      );
    lut[value] = leafValue;
  }
  return lut;
}

function structureNamesOf(ds: Dataset, tree: LabelTree): Map<number, string> {
  return new Map([...ds.structures.values()].map((name) => [treeValueOf(tree, name)!, name]));
}

export async function openTrainingData(config: TrainConfig, tree: LabelTree): Promise<OpenedTrainingData> {
  const ds = openDataset(config.data.dir, { structures: structureNamesFor(tree) });
  const split = configSplit(ds, config);
  const byId = new Map<string, CaseFiles>(ds.training.map((c) => [c.id, c]));
  const lut = labelLookup(ds, tree);
  const opts = {
    axis: AXIS_BY_NAME[config.data.axis],
    size: config.data.size,
    scaling: config.data.intensity,
    neighbours: config.data.neighbours,
  };
  const prepare = async (id: string, useLabel: boolean): Promise<PreparedCase> => {
    const files = byId.get(id)!;
    const loaded = await loadCase(ds, useLabel ? files : { id: files.id, images: files.images });
    const p = prepareCase(id, loaded.image, loaded.label, opts);
    if (p.labels) for (let i = 0; i < p.labels.length; i++) p.labels[i] = lut[p.labels[i]!]!;
    return p;
  };
  const labelled: PreparedCase[] = [];
  const unlabelled: PreparedCase[] = [];
  for (const c of split.train) (c.labelled ? labelled : unlabelled).push(await prepare(c.id, c.labelled));
  const validation: PreparedCase[] = [];
  for (const c of split.validation) validation.push(await prepare(c.id, true));
  if (labelled.length === 0)
    throw new InputError(
      ds.dir,
      'the training split has no labelled case',
      'label at least one case of imagesTr',
    );
  return new SliceData(config, ds, split, labelled, unlabelled, validation, structureNamesOf(ds, tree));
}

/**
 * For foreground oversampling (config.batch.foreground): per structure (tree leaf label value,
 * ascending; only `structures` when given, in that order), the indices into the labelled slice list
 * (cases in order, slices in order) of the slices whose cropped label holds it.
 */
function slicesByStructure(
  cases: readonly PreparedCase[],
  structures: readonly number[] | null,
  names: ReadonlyMap<number, string>,
): number[][] {
  const byValue = new Map<number, number[]>();
  const seen = new Uint8Array(256);
  let index = 0;
  for (const p of cases)
    for (let s = 0; s < p.layout.count; s++, index++) {
      const slice = labelSlice(p, s);
      seen.fill(0);
      for (let i = 0; i < slice.length; i++) seen[slice[i]!] = 1;
      for (let v = 1; v < 256; v++)
        if (seen[v]) {
          const list = byValue.get(v);
          if (list) list.push(index);
          else byValue.set(v, [index]);
        }
    }
  const values = structures ? [...new Set(structures)] : [...byValue.keys()].sort((a, b) => a - b);
  return values.map((v) => {
    const list = byValue.get(v);
    if (!list)
      throw new ConfigError(
        'batch.foreground.structures',
        `no labelled training slice holds ${v} (${names.get(v)})`,
      );
    return list;
  });
}

class SliceData implements OpenedTrainingData {
  readonly labelledSlices: number;
  readonly unlabelledSlices: number;
  readonly channels: number;
  readonly #lRefs: SliceRef[];
  readonly #uRefs: SliceRef[];
  /** per oversampled structure, indices into #lRefs of the slices holding it (empty: share 0) */
  readonly #slicesByStructure: number[][];
  #sampler: SemiSupervisedSampler | null = null;
  readonly #augmenter: BatchAugmenter;
  readonly spacing: readonly [number, number];

  constructor(
    readonly config: TrainConfig,
    readonly dataset: Dataset,
    readonly split: Split,
    readonly labelled: PreparedCase[],
    readonly unlabelled: PreparedCase[],
    readonly validationCases: PreparedCase[],
    readonly structureNames: ReadonlyMap<number, string>,
  ) {
    const refs = (cases: PreparedCase[]) =>
      cases.flatMap((p, c) => Array.from({ length: p.layout.count }, (_, s) => ({ c, s })));
    this.#lRefs = refs(labelled);
    this.#uRefs = refs(unlabelled);
    this.labelledSlices = this.#lRefs.length;
    this.unlabelledSlices = this.#uRefs.length;
    const { share, structures } = config.batch.foreground;
    if (structures)
      for (const v of structures)
        if (!structureNames.has(v))
          throw new ConfigError(
            'batch.foreground.structures',
            `${v} is not a structure of this dataset; known: ${[...structureNames].map(([k, n]) => `${k} (${n})`).join(', ')}`,
          );
    this.#slicesByStructure = share > 0 ? slicesByStructure(labelled, structures, structureNames) : [];
    if (share > 0 && this.#slicesByStructure.length === 0)
      throw new ConfigError(
        'batch.foreground.share',
        'no labelled training slice holds a foreground structure; set it to 0',
      );
    this.channels = 2 * config.data.neighbours + 1;
    const first = labelled[0]!;
    this.spacing = [
      first.geometry.spacing[first.layout.rowAxis],
      first.geometry.spacing[first.layout.colAxis],
    ];
    this.#augmenter = new BatchAugmenter(config.augment, [...labelled, ...unlabelled]);
  }

  /** level-set targets to compute (in the batch worker) with every training batch; null: none */
  setLevelSetTargets(spec: LevelSetTargetSpec | null): void {
    this.#augmenter.setLevelSetTargets(spec && { spec, spacing: this.spacing });
  }

  async batch(iteration: number): Promise<SliceBatch> {
    const { labelled: L, unlabelled } = this.config.batch;
    const U = this.#uRefs.length ? unlabelled : 0;
    if (this.#sampler?.step !== iteration)
      this.#sampler = new SemiSupervisedSampler(
        {
          labelled: this.#lRefs.length,
          unlabelled: this.#uRefs.length,
          batchLabelled: L,
          batchUnlabelled: U,
          seed: this.config.seed,
          foreground: {
            share: this.config.batch.foreground.share,
            slicesByStructure: this.#slicesByStructure,
          },
        },
        iteration,
      );
    const draw = this.#sampler.next();
    const items = [
      ...draw.labelled.map((i) => ({ labelled: true, ref: this.#lRefs[i]! })),
      ...draw.unlabelled.map((i) => ({ labelled: false, ref: this.#uRefs[i]! })),
    ];
    const [H, W] = this.config.data.size;
    const out = await this.#augmenter.batch(
      items.map((it) => ({
        caseIndex: it.labelled ? it.ref.c : this.labelled.length + it.ref.c,
        slice: it.ref.s,
        labelled: it.labelled,
      })),
      hashSeed(this.config.seed, 3, iteration),
    );
    return {
      ...out,
      n: L + U,
      numLabelled: L,
      channels: this.channels,
      height: H,
      width: W,
      spacing: this.spacing,
    };
  }

  *validation(size: number): Iterable<SliceBatch> {
    const refs = this.validationCases.flatMap((p, c) =>
      Array.from({ length: p.layout.count }, (_, s) => ({ c, s })),
    );
    const limit = this.config.schedule.validationSlices;
    const chosen =
      limit !== null && refs.length > limit
        ? Array.from({ length: limit }, (_, i) => refs[Math.floor(((i + 0.5) * refs.length) / limit)]!)
        : refs;
    const [H, W] = this.config.data.size;
    const plane = H * W;
    for (let i = 0; i < chosen.length; i += size) {
      const part = chosen.slice(i, i + size);
      const image = new Float32Array(part.length * this.channels * plane);
      const label = new Uint8Array(part.length * plane);
      part.forEach((r, k) => {
        const p = this.validationCases[r.c]!;
        stackChannels(p, r.s, image.subarray(k * this.channels * plane, (k + 1) * this.channels * plane));
        label.set(labelSlice(p, r.s), k * plane);
      });
      yield {
        image,
        label,
        n: part.length,
        numLabelled: part.length,
        channels: this.channels,
        height: H,
        width: W,
        spacing: this.spacing,
      };
    }
  }

  async close(): Promise<void> {
    await this.#augmenter.close();
  }
}
