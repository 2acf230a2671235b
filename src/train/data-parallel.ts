/**
 * Data-parallel training helpers (the approach of PyTorch's DistributedDataParallel, Li et al. 2020,
 * "PyTorch Distributed: Experiences on Accelerating Data Parallel Training"): every rank holds the
 * whole model, computes gradients on its own share of the global batch, and the gradients are averaged
 * over ranks before each optimizer step. Starting from the same parameters and applying the same
 * averaged gradients, all ranks stay identical, and the run is one process with a batch `worldSize`
 * times larger (up to floating-point summation order).
 *
 * Pure helpers over a ProcessGroup: the trainer decides when to call them. Every rank must call the
 * same collectives in the same order with tensors of the same shapes and dtypes, which holds when
 * they run the same model and the same code.
 */
import {
  DTYPES,
  Tensor,
  cat,
  noGrad,
  scope,
  tensor,
  zeros,
  zerosLike,
  type DType,
  type Module,
} from '../engine/index.ts';
import type { ProcessGroup } from '../engine/distributed.ts';
import { hashSeed, mulberry32, shuffle } from '../data/random.ts';
import type { SamplerBatch, SamplerConfig } from '../data/sampler.ts';

/** Where small bookkeeping tensors must live to travel: NCCL moves CUDA tensors only. */
export function commDevice(pg: ProcessGroup): string {
  return pg.backend === 'nccl' ? 'cuda' : 'cpu';
}

/** PyTorch DDP's default bucket size: large enough to amortise a collective's latency. */
export const DEFAULT_BUCKET_BYTES = 25 * 2 ** 20;

/**
 * Consecutive runs of tensors of one dtype, cut once a run holds at least `bucketBytes`. It depends on
 * shapes and dtypes only, so every rank cuts the same buckets.
 */
export function buckets(tensors: readonly Tensor[], bucketBytes: number): Tensor[][] {
  if (!(bucketBytes > 0)) throw new RangeError(`bucketBytes must be > 0, got ${bucketBytes}`);
  const out: Tensor[][] = [];
  let current: Tensor[] = [];
  let bytes = 0;
  let dtype: DType | null = null;
  for (const t of tensors) {
    if (current.length > 0 && (t.dtype !== dtype || bytes >= bucketBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    dtype = t.dtype;
    current.push(t);
    bytes += t.numel * DTYPES[t.dtype].bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Runs `collective` on one flat copy of each bucket, then copies the results back into the tensors.
 * Gloo has no bool type, so bool buckets travel as uint8.
 */
function throughBuckets(
  tensors: readonly Tensor[],
  bucketBytes: number,
  collective: (flat: Tensor) => void,
): void {
  noGrad(() => {
    for (const bucket of buckets(tensors, bucketBytes)) {
      scope(() => {
        let flat =
          bucket.length === 1 ? bucket[0]!.reshape(-1).clone() : cat(bucket.map((t) => t.reshape(-1)));
        if (flat.dtype === 'bool') flat = flat.to('uint8');
        collective(flat);
        const pieces = flat.split(bucket.map((t) => t.numel));
        bucket.forEach((t, i) => t.copy_(pieces[i]!.view(...t.shape)));
      });
    }
  });
}

export interface BucketOptions {
  /** bytes per flattened bucket (default 25 MiB, as PyTorch's DDP) */
  bucketBytes?: number;
}

/**
 * Makes every rank's parameters and buffers equal to `root`'s (call once after building the model and
 * after loading a checkpoint on `root` only). Takes a module (its state dict: parameters, then
 * buffers) or the tensors themselves, which must be listed in the same order on every rank.
 */
export function broadcastParameters(
  pg: ProcessGroup,
  model: Module | readonly Tensor[],
  opts: BucketOptions & { root?: number } = {},
): void {
  const tensors = Array.isArray(model)
    ? (model as readonly Tensor[])
    : [...(model as Module).stateDict().values()];
  const root = opts.root ?? 0;
  throughBuckets(tensors, opts.bucketBytes ?? DEFAULT_BUCKET_BYTES, (flat) => pg.broadcast(flat, root));
}

export interface AllReduceGradientsOptions extends BucketOptions {
  /** divide the sums by the world size (default true): the gradient of the global batch's mean loss */
  average?: boolean;
}

/**
 * Sums (by default: averages) the parameters' gradients over all ranks, in place: one all-reduce per
 * bucket of flattened gradients, after one small all-reduce of which parameters have a gradient.
 * A parameter no rank has a gradient for (a head unused in this stage) keeps none, so the optimizer
 * skips it as it would in one process (Adam would otherwise move it by its momentum). One that only
 * some ranks have (a branch only their batches took) takes part with zeros elsewhere, as in DDP.
 */
export function allReduceGradients(
  pg: ProcessGroup,
  params: readonly Tensor[],
  opts: AllReduceGradientsOptions = {},
): void {
  if (pg.worldSize === 1) return; // the sum and the mean over one rank are the gradients themselves
  const grads = scope(() =>
    noGrad(() => {
      const local = params.map((p) => p.grad);
      const used = tensor(
        local.map((g) => (g === null ? 0 : 1)),
        [params.length],
        { dtype: 'int32', device: commDevice(pg) },
      );
      pg.allReduceSum(used);
      const anyRank = used.toArray();
      const out: Tensor[] = [];
      params.forEach((p, i) => {
        if (anyRank[i] === 0) return;
        let g: Tensor | null = local[i] ?? null;
        if (g === null) {
          p.grad = zerosLike(p);
          g = p.grad!;
        }
        out.push(g.keep());
      });
      return out;
    }),
  );
  try {
    const average = opts.average ?? true;
    throughBuckets(grads, opts.bucketBytes ?? DEFAULT_BUCKET_BYTES, (flat) =>
      average ? pg.allReduceMean(flat) : pg.allReduceSum(flat),
    );
  } finally {
    // handles on the parameters' own gradients: releasing them leaves the gradients in place
    for (const g of grads) g.dispose();
  }
}

/** The samplers' stream ids (src/data/sampler.ts), so that one rank's shard is the sampler's order. */
const STREAM_IDS = { labelled: 1, unlabelled: 2 } as const;

export interface ShardOptions {
  seed: number;
  /** the pass over the items: each epoch is reshuffled */
  epoch: number;
  /** which stream's shuffle (default 'labelled'): the streams are shuffled independently */
  stream?: keyof typeof STREAM_IDS;
  /** default true; false keeps the items in order */
  shuffle?: boolean;
  /**
   * What to do when `n` is not a multiple of `worldSize`: false (default) repeats the first items of
   * the shuffled order so every rank gets ceil(n / worldSize); true drops the tail instead.
   */
  dropLast?: boolean;
}

/**
 * This rank's items for one epoch (PyTorch's DistributedSampler scheme): one permutation of [0, n)
 * shared by every rank (the one SemiSupervisedSampler walks in that pass), dealt round-robin, item k
 * of rank r being position k * worldSize + r. So batch s of size B on every rank together is
 * positions [s B W, (s + 1) B W): batch s of one process with batch B W. Every rank gets the same
 * count, so no rank waits in a collective for a batch another rank never draws.
 */
export function shardIndices(n: number, rank: number, worldSize: number, opts: ShardOptions): number[] {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`shardIndices: n must be a whole number >= 0, got ${n}`);
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new RangeError(`shardIndices: worldSize must be a whole number >= 1, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new RangeError(`shardIndices: rank ${rank} is not in [0, ${worldSize})`);
  if (n === 0) return [];
  const order = [...Array(n).keys()];
  if (opts.shuffle ?? true)
    shuffle(order, mulberry32(hashSeed(opts.seed, STREAM_IDS[opts.stream ?? 'labelled'], opts.epoch)));
  const total = opts.dropLast ? Math.floor(n / worldSize) * worldSize : Math.ceil(n / worldSize) * worldSize;
  const out: number[] = [];
  for (let k = rank; k < total; k += worldSize) out.push(order[k % n]!);
  return out;
}

/**
 * The sampler configuration whose batches are the global batches: `worldSize` times the per-rank batch
 * sizes. Every rank runs this same sampler (same seed, same state) and keeps its part with
 * `shardBatch`, so resuming, epochs and foreground draws are exactly those of one process.
 */
export function globalSamplerConfig(perRank: SamplerConfig, worldSize: number): SamplerConfig {
  return {
    ...perRank,
    batchLabelled: (perRank.batchLabelled ?? 2) * worldSize,
    batchUnlabelled: (perRank.batchUnlabelled ?? 2) * worldSize,
  };
}

/** Rank `rank`'s contiguous part of a global batch (see `globalSamplerConfig`). */
export function shardBatch(batch: SamplerBatch, rank: number, worldSize: number): SamplerBatch {
  const part = <T>(items: readonly T[], what: string): T[] => {
    if (items.length % worldSize !== 0)
      throw new RangeError(
        `shardBatch: ${items.length} ${what} items do not split into ${worldSize} equal parts`,
      );
    const size = items.length / worldSize;
    return items.slice(rank * size, (rank + 1) * size);
  };
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new RangeError(`shardBatch: rank ${rank} is not in [0, ${worldSize})`);
  return {
    ...batch,
    labelled: part(batch.labelled, 'labelled'),
    unlabelled: part(batch.unlabelled, 'unlabelled'),
    foreground: part(batch.foreground, 'labelled'),
  };
}

/** The key that marks a non-finite number in a decision's JSON (plain JSON writes NaN and Infinity as null). */
const NON_FINITE = '$nonFinite';

/** JSON with NaN, Infinity and -Infinity kept as `{"$nonFinite": "NaN"}` and so on. */
export function encodeDecision(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? { [NON_FINITE]: String(v) } : v,
  );
}

/** The inverse of `encodeDecision`. */
export function decodeDecision<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    const tag = (v as Record<string, unknown>)[NON_FINITE];
    return keys.length === 1 && typeof tag === 'string' ? Number(tag) : v;
  }) as T;
}

/**
 * Rank `root`'s decision (stop, switch stage, a new best model: any JSON value, whose numbers may be
 * NaN or +-Infinity: a diverged loss, no best score yet) on every rank, so that ranks never diverge on
 * control flow. Every rank calls it at the same point; the others' `decision` is ignored. Two
 * broadcasts: the length, then the UTF-8 bytes.
 */
export function broadcastDecision<T>(pg: ProcessGroup, decision: T | undefined, root = 0): T {
  let bytes = new Uint8Array(0);
  if (pg.rank === root) {
    const text = encodeDecision(decision);
    if (text === undefined) throw new TypeError('broadcastDecision: the decision must be a JSON value');
    // a copy, as the other ranks receive: the caller's object is never shared
    if (pg.worldSize === 1) return decodeDecision<T>(text);
    bytes = new TextEncoder().encode(text);
  }
  return decodeDecision<T>(new TextDecoder().decode(broadcastBytes(pg, bytes, root)));
}

/** `root`'s bytes on every rank (the others' `bytes` are ignored): the length, then the payload. */
export function broadcastBytes(pg: ProcessGroup, bytes: Uint8Array, root = 0): Uint8Array {
  return scope(() => {
    const device = commDevice(pg);
    const length = tensor([bytes.length], [1], { dtype: 'int64', device });
    pg.broadcast(length, root);
    const n = length.item();
    if (n === 0) return new Uint8Array(0);
    const payload =
      pg.rank === root
        ? tensor(bytes, [n], { dtype: 'uint8', device })
        : zeros([n], { dtype: 'uint8', device });
    pg.broadcast(payload, root);
    return (pg.rank === root ? bytes : (payload.data() as Uint8Array)).slice();
  });
}
