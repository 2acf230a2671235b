/**
 * Semi-supervised batches (METHOD.md section 7): each batch holds L labelled and U unlabelled items
 * (2 + 2 by default). Each stream walks through its items in an order reshuffled every pass,
 * independently of the other stream; an epoch is one pass over the labelled stream (or over the
 * unlabelled one, `epochBy`).
 *
 * Item k of a stream (k = step * batch + j) is item permutation(seed, stream, pass)[k mod n] with
 * pass = floor(k / n), so the whole state is the seed and the step: it serializes to a small JSON
 * object and a resumed run continues with exactly the batches it would have drawn.
 *
 * Class-aware foreground oversampling (nnU-Net's oversample_foreground_percent, `foreground`): with
 * share s, labelled item k is a foreground draw iff floor((k + 1) s) > floor(k s), so exactly
 * floor(N s) of the first N labelled items are foreground draws whatever the batch size. A
 * foreground draw picks a structure uniformly among those with at least one item, then an item
 * uniformly among the items holding it, from mulberry32(hashSeed(seed, 4, k)). The other labelled
 * items walk the shuffled stream above at position k - floor(k s), so s = 0 draws exactly the plain
 * batches and every pass of the uniform draws still covers each item once.
 */
import { ConfigError } from '../errors.ts';
import { hashSeed, mulberry32, shuffle } from './random.ts';

/** Foreground oversampling of the labelled stream (see the file comment). */
export interface ForegroundSampling {
  /** fraction of labelled items drawn from the items holding a chosen structure, in [0, 1] */
  readonly share: number;
  /** per structure, the labelled item indices that hold it; structures with none are skipped */
  readonly slicesByStructure: readonly (readonly number[])[];
}

const NO_FOREGROUND: ForegroundSampling = { share: 0, slicesByStructure: [] };
/** hashSeed stream ids: 1 and 2 the shuffled streams, 3 augmentation (slice-data.ts), 4 foreground */
const LABELLED = 1;
const UNLABELLED = 2;
const FOREGROUND = 4;

export interface SamplerConfig {
  /** number of labelled items (e.g. labelled slices) */
  readonly labelled: number;
  /** number of unlabelled items (0: purely supervised batches) */
  readonly unlabelled: number;
  readonly batchLabelled?: number;
  readonly batchUnlabelled?: number;
  readonly seed: number;
  /** which stream's pass defines an epoch (default 'labelled') */
  readonly epochBy?: 'labelled' | 'unlabelled';
  /** foreground oversampling of the labelled items (default: none, share 0) */
  readonly foreground?: ForegroundSampling;
}

/** JSON-serializable sampler state, for resumable training. */
export interface SamplerState {
  readonly config: Required<SamplerConfig>;
  /** batches drawn so far */
  readonly step: number;
  /** derived, for reading: epoch and batch index within it */
  readonly epoch: number;
  readonly position: number;
}

export interface SamplerBatch {
  /** indices into the labelled and unlabelled item lists */
  readonly labelled: number[];
  readonly unlabelled: number[];
  /** per labelled item, the index into `foreground.slicesByStructure` it was drawn for (null: uniform) */
  readonly foreground: (number | null)[];
  /** 0-based step of this batch, its epoch, and whether it is the epoch's last batch */
  readonly step: number;
  readonly epoch: number;
  readonly epochEnd: boolean;
}

class Stream {
  private pass = -1;
  private order: number[] = [];
  constructor(
    private readonly n: number,
    private readonly seed: number,
    private readonly id: number,
  ) {}

  at(k: number): number {
    const pass = Math.floor(k / this.n);
    if (pass !== this.pass) {
      this.pass = pass;
      this.order = shuffle([...Array(this.n).keys()], mulberry32(hashSeed(this.seed, this.id, pass)));
    }
    return this.order[k - pass * this.n]!;
  }
}

export class SemiSupervisedSampler {
  readonly config: Required<SamplerConfig>;
  private stepCount: number;
  private readonly lab: Stream;
  private readonly unl: Stream | undefined;
  /** indices of the structures that have at least one item */
  private readonly present: number[];

  constructor(config: SamplerConfig, step = 0) {
    const c: Required<SamplerConfig> = {
      batchLabelled: 2,
      batchUnlabelled: 2,
      epochBy: 'labelled',
      ...config,
      foreground: config.foreground ?? NO_FOREGROUND,
    };
    for (const k of ['labelled', 'unlabelled', 'batchLabelled', 'batchUnlabelled'] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 0)
        throw new ConfigError(k, `must be a whole number >= 0, got ${c[k]}`);
    }
    if (c.labelled === 0 || c.batchLabelled === 0)
      throw new ConfigError('labelled', 'at least one labelled item per batch is needed');
    if (c.batchUnlabelled > 0 && c.unlabelled === 0)
      throw new ConfigError(
        'unlabelled',
        'no unlabelled items for the unlabelled half of the batch; set batchUnlabelled to 0',
      );
    if (c.epochBy === 'unlabelled' && c.batchUnlabelled === 0)
      throw new ConfigError('epochBy', 'an epoch cannot be defined by an empty unlabelled stream');
    const fg = c.foreground;
    if (!(fg.share >= 0 && fg.share <= 1))
      throw new ConfigError('foreground.share', `must be in [0, 1], got ${fg.share}`);
    for (const items of fg.slicesByStructure)
      for (const i of items)
        if (!Number.isInteger(i) || i < 0 || i >= c.labelled)
          throw new ConfigError(
            'foreground.slicesByStructure',
            `item ${i} is not a labelled item index in [0, ${c.labelled})`,
          );
    this.present = [...fg.slicesByStructure.keys()].filter((t) => fg.slicesByStructure[t]!.length > 0);
    if (fg.share > 0 && this.present.length === 0)
      throw new ConfigError(
        'foreground',
        'no labelled item holds a foreground structure; set the foreground share to 0',
      );
    this.config = c;
    this.stepCount = step;
    this.lab = new Stream(c.labelled, c.seed, LABELLED);
    this.unl = c.batchUnlabelled > 0 ? new Stream(c.unlabelled, c.seed, UNLABELLED) : undefined;
  }

  static fromState(state: SamplerState): SemiSupervisedSampler {
    return new SemiSupervisedSampler(state.config, state.step);
  }

  /** Batches per epoch: one pass over the defining stream, the last batch wrapping into the next pass. */
  get stepsPerEpoch(): number {
    const c = this.config;
    return c.epochBy === 'labelled'
      ? Math.ceil(c.labelled / c.batchLabelled)
      : Math.ceil(c.unlabelled / c.batchUnlabelled);
  }

  get step(): number {
    return this.stepCount;
  }

  get epoch(): number {
    return Math.floor(this.stepCount / this.stepsPerEpoch);
  }

  next(): SamplerBatch {
    const c = this.config;
    const step = this.stepCount++;
    const labelled: number[] = [];
    const foreground: (number | null)[] = [];
    for (let j = 0; j < c.batchLabelled; j++) {
      const [item, structure] = this.labelledItem(step * c.batchLabelled + j);
      labelled.push(item);
      foreground.push(structure);
    }
    const unlabelled = Array.from({ length: c.batchUnlabelled }, (_, j) =>
      this.unl!.at(step * c.batchUnlabelled + j),
    );
    const spe = this.stepsPerEpoch;
    return {
      labelled,
      unlabelled,
      foreground,
      step,
      epoch: Math.floor(step / spe),
      epochEnd: (step + 1) % spe === 0,
    };
  }

  /** Labelled item k: [item index, structure index or null for a uniform draw]; a function of (seed, k). */
  private labelledItem(k: number): [number, number | null] {
    const { share, slicesByStructure } = this.config.foreground;
    const before = Math.floor(k * share);
    if (Math.floor((k + 1) * share) === before) return [this.lab.at(k - before), null];
    const rng = mulberry32(hashSeed(this.config.seed, FOREGROUND, k));
    const structure = this.present[Math.floor(rng() * this.present.length)]!;
    const items = slicesByStructure[structure]!;
    return [items[Math.floor(rng() * items.length)]!, structure];
  }

  state(): SamplerState {
    const spe = this.stepsPerEpoch;
    return {
      config: this.config,
      step: this.stepCount,
      epoch: Math.floor(this.stepCount / spe),
      position: this.stepCount % spe,
    };
  }
}
