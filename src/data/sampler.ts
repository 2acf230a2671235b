/**
 * Semi-supervised batches (METHOD.md section 7): each batch holds L labelled and U unlabelled items
 * (2 + 2 by default). Each stream walks through its items in an order reshuffled every pass,
 * independently of the other stream; an epoch is one pass over the labelled stream (or over the
 * unlabelled one, `epochBy`).
 *
 * Item k of a stream (k = step * batch + j) is item permutation(seed, stream, pass)[k mod n] with
 * pass = floor(k / n), so the whole state is the seed and the step: it serializes to a small JSON
 * object and a resumed run continues with exactly the batches it would have drawn.
 */
import { ConfigError } from '../errors.ts';
import { hashSeed, mulberry32, shuffle } from './random.ts';

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

  constructor(config: SamplerConfig, step = 0) {
    const c: Required<SamplerConfig> = {
      batchLabelled: 2,
      batchUnlabelled: 2,
      epochBy: 'labelled',
      ...config,
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
    this.config = c;
    this.stepCount = step;
    this.lab = new Stream(c.labelled, c.seed, 1);
    this.unl = c.batchUnlabelled > 0 ? new Stream(c.unlabelled, c.seed, 2) : undefined;
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
    const labelled = Array.from({ length: c.batchLabelled }, (_, j) =>
      this.lab.at(step * c.batchLabelled + j),
    );
    const unlabelled = Array.from({ length: c.batchUnlabelled }, (_, j) =>
      this.unl!.at(step * c.batchUnlabelled + j),
    );
    const spe = this.stepsPerEpoch;
    return { labelled, unlabelled, step, epoch: Math.floor(step / spe), epochEnd: (step + 1) % spe === 0 };
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
