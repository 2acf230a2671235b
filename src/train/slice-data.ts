/**
 * The data side of a training run: opens the dataset, splits it by seed, reads and preprocesses
 * every case once (slices cached in memory: the second epoch reads no file), maps the dataset's label
 * values onto the label tree's leaves, and serves deterministic batches of L labelled + U unlabelled
 * slices. Batch i depends only on (seed, i) (the sampler's streams are reshuffled per pass from
 * (seed, stream, pass); augmentation is seeded from (seed, i)), so a resumed run draws exactly the
 * batches an uninterrupted one would.
 */
import { DEFAULT_LABELS, loadCase, openDataset, type CaseFiles, type Dataset } from '../data/dataset.ts';
import { makeSplit, type Split } from '../data/splits.ts';
import {
  AXIS_BY_NAME,
  prepareCase,
  stackChannels,
  labelSlice,
  type PreparedCase,
} from '../data/preprocess.ts';
import { hashSeed } from '../data/random.ts';
import { SemiSupervisedSampler } from '../data/sampler.ts';
import { InputError } from '../errors.ts';
import type { LabelTree } from '../hierarchy/tree.ts';
import type { TrainConfig } from './config.ts';
import type { SliceBatch, TrainingData } from './batches.ts';
import { BatchAugmenter } from './augmenter.ts';

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

/** Dataset label value -> tree leaf label value, by structure name (DEFAULT_LABELS names the leaves). */
export function labelLookup(ds: Dataset, tree: LabelTree): Uint8Array {
  const lut = new Uint8Array(256);
  for (const [value, name] of ds.structures) {
    const leafValue = DEFAULT_LABELS[name];
    if (leafValue === undefined || tree.nodeOfLabel(leafValue) === undefined)
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

function structureNamesOf(ds: Dataset): Map<number, string> {
  return new Map([...ds.structures.values()].map((name) => [DEFAULT_LABELS[name]!, name]));
}

export async function openTrainingData(config: TrainConfig, tree: LabelTree): Promise<OpenedTrainingData> {
  const ds = openDataset(config.data.dir);
  const split = makeSplit(
    ds.training.map((c) => ({ id: c.id, labelled: c.label !== undefined })),
    ds.test.map((c) => ({ id: c.id, labelled: c.label !== undefined })),
    {
      seed: config.seed,
      labeled: config.data.labeled ?? undefined,
      subjectPattern: config.data.subjectPattern ?? undefined,
    },
  );
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
  return new SliceData(config, ds, split, labelled, unlabelled, validation, structureNamesOf(ds));
}

class SliceData implements OpenedTrainingData {
  readonly labeledSlices: number;
  readonly unlabeledSlices: number;
  readonly channels: number;
  readonly #lRefs: SliceRef[];
  readonly #uRefs: SliceRef[];
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
    this.labeledSlices = this.#lRefs.length;
    this.unlabeledSlices = this.#uRefs.length;
    this.channels = 2 * config.data.neighbours + 1;
    const first = labelled[0]!;
    this.spacing = [
      first.geometry.spacing[first.layout.rowAxis],
      first.geometry.spacing[first.layout.colAxis],
    ];
    this.#augmenter = new BatchAugmenter(config.augment, [...labelled, ...unlabelled]);
  }

  async batch(iteration: number): Promise<SliceBatch> {
    const { labeled: L, unlabeled } = this.config.batch;
    const U = this.#uRefs.length ? unlabeled : 0;
    if (this.#sampler?.step !== iteration)
      this.#sampler = new SemiSupervisedSampler(
        {
          labelled: this.#lRefs.length,
          unlabelled: this.#uRefs.length,
          batchLabelled: L,
          batchUnlabelled: U,
          seed: this.config.seed,
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
      numLabeled: L,
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
        numLabeled: part.length,
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
