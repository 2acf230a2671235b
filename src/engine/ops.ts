/**
 * Tensor creation and the multi-input / neural-network operators, as free functions named like
 * torch.* and torch.nn.functional.*. Each is one ATen operator (schema name in the call).
 */
import { native } from './native.ts';
import { DTYPES, dtypeOfArray, type DType, type TypedArray } from './dtype.ts';
import { call, callMany, Tensor } from './tensor.ts';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
}

type Pair = number | readonly [number, number];
const pair = (v: Pair): readonly number[] => (typeof v === 'number' ? [v, v] : v);

function shapeNumel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A tensor holding a copy of `values` (typed array or numbers) with the given shape.
 * The dtype defaults to the typed array's (float32 for plain numbers).
 */
export function tensor(
  values: TypedArray | ArrayLike<number> | readonly number[],
  shape: readonly number[] = [values.length],
  opts: CreateOptions = {},
): Tensor {
  const dtype = opts.dtype ?? dtypeOfArray(values as TypedArray);
  if (shapeNumel(shape) !== values.length)
    throw new RangeError(`tensor: ${values.length} values do not fill shape [${shape.join(', ')}]`);
  const info = DTYPES[dtype];
  let view: ArrayBufferView;
  if (dtype === 'bool' && !isZeroOne(values)) {
    // libtorch's bool is a byte holding exactly 0 or 1 (any other byte is undefined behaviour): map
    // truthy values to 1 as torch.tensor(..., dtype=torch.bool) does
    view = Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0));
  } else if (
    ArrayBuffer.isView(values) &&
    (values as TypedArray).BYTES_PER_ELEMENT === info.bytes &&
    dtypeOfArray(values as TypedArray) === (dtype === 'bool' ? 'uint8' : dtype)
  ) {
    view = values as TypedArray;
  } else if (dtype === 'int64') {
    view = BigInt64Array.from(Array.from(values as ArrayLike<number>, (v) => BigInt(Math.trunc(Number(v)))));
  } else {
    const Ctor = info.array as unknown as { from(a: ArrayLike<number>): TypedArray };
    view = Ctor.from(values as ArrayLike<number>);
  }
  return new Tensor(native.fromData(view, shape, info.code, opts.device));
}

function isZeroOne(values: ArrayLike<number | bigint>): boolean {
  if (!(values instanceof Uint8Array)) return false;
  for (let i = 0; i < values.length; i++) if (values[i]! > 1) return false;
  return true;
}

/** A 0-d tensor. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return full([], value, opts);
}

const dtypeCode = (o: CreateOptions, fallback: DType = 'float32') => DTYPES[o.dtype ?? fallback].code;

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return call('aten::zeros', shape, dtypeCode(opts), null, opts.device ?? null, null);
}
export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return call('aten::ones', shape, dtypeCode(opts), null, opts.device ?? null, null);
}
export function empty(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return call('aten::empty.memory_format', shape, dtypeCode(opts), null, opts.device ?? null, null, null);
}
export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  return call('aten::full', shape, value, dtypeCode(opts), null, opts.device ?? null, null);
}
export function zerosLike(t: Tensor): Tensor {
  return call('aten::zeros_like', t, null, null, null, null, null);
}
export function onesLike(t: Tensor): Tensor {
  return call('aten::ones_like', t, null, null, null, null, null);
}
export function arange(start: number, end: number, step = 1, opts: CreateOptions = {}): Tensor {
  return call(
    'aten::arange.start_step',
    start,
    end,
    step,
    dtypeCode(opts, 'int64'),
    null,
    opts.device ?? null,
    null,
  );
}
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  return call('aten::linspace', start, end, steps, dtypeCode(opts), null, opts.device ?? null, null);
}
export function eye(n: number, opts: CreateOptions = {}): Tensor {
  return call('aten::eye', n, dtypeCode(opts), null, opts.device ?? null, null);
}
/** Standard normal samples (seeded by `manualSeed`). */
export function randn(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return call('aten::randn', shape, dtypeCode(opts), null, opts.device ?? null, null);
}
/** Uniform samples in [0, 1). */
export function rand(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return call('aten::rand', shape, dtypeCode(opts), null, opts.device ?? null, null);
}
/** Integers uniform in [low, high). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  opts: CreateOptions = {},
): Tensor {
  return call(
    'aten::randint.low',
    low,
    high,
    shape,
    dtypeCode(opts, 'int64'),
    null,
    opts.device ?? null,
    null,
  );
}
export function randperm(n: number): Tensor {
  return call('aten::randperm', n, DTYPES.int64.code, null, null, null);
}

// ---- combining tensors ---------------------------------------------------------------------------
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return call('aten::cat', tensors, dim);
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return call('aten::stack', tensors, dim);
}
export function where(condition: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return call('aten::where.self', condition, a, b);
  if (a instanceof Tensor) return call('aten::where.ScalarOther', condition, a, b as number);
  if (b instanceof Tensor) return call('aten::where.ScalarSelf', condition, a, b);
  return call('aten::where.Scalar', condition, a, b);
}
export function einsum(equation: string, ...tensors: Tensor[]): Tensor {
  return call('aten::einsum', equation, tensors);
}
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  return call('aten::one_hot', labels, numClasses);
}

// ---- neural-network functions --------------------------------------------------------------------
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return call('aten::linear', x, weight, bias);
}
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number } = {},
): Tensor {
  return call(
    'aten::conv2d',
    x,
    weight,
    bias,
    pair(opts.stride ?? 1),
    pair(opts.padding ?? 0),
    pair(opts.dilation ?? 1),
    opts.groups ?? 1,
  );
}
export function conv1d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: { stride?: number; padding?: number; dilation?: number; groups?: number } = {},
): Tensor {
  return call(
    'aten::conv1d',
    x,
    weight,
    bias,
    [opts.stride ?? 1],
    [opts.padding ?? 0],
    [opts.dilation ?? 1],
    opts.groups ?? 1,
  );
}
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: { stride?: Pair; padding?: Pair; outputPadding?: Pair; groups?: number; dilation?: Pair } = {},
): Tensor {
  return call(
    'aten::conv_transpose2d.input',
    x,
    weight,
    bias,
    pair(opts.stride ?? 1),
    pair(opts.padding ?? 0),
    pair(opts.outputPadding ?? 0),
    opts.groups ?? 1,
    pair(opts.dilation ?? 1),
  );
}
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  training: boolean,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  return call('aten::batch_norm', x, weight, bias, runningMean, runningVar, training, momentum, eps, true);
}
export function groupNorm(
  x: Tensor,
  groups: number,
  weight: Tensor | null,
  bias: Tensor | null,
  eps = 1e-5,
): Tensor {
  return call('aten::group_norm', x, groups, weight, bias, eps, true);
}
export function layerNorm(
  x: Tensor,
  shape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  eps = 1e-5,
): Tensor {
  return call('aten::layer_norm', x, shape, weight, bias, eps, true);
}
export function maxPool2d(x: Tensor, kernel: Pair, stride: Pair = kernel, padding: Pair = 0): Tensor {
  return call('aten::max_pool2d', x, pair(kernel), pair(stride), pair(padding), [1, 1], false);
}
export function avgPool2d(x: Tensor, kernel: Pair, stride: Pair = kernel, padding: Pair = 0): Tensor {
  return call('aten::avg_pool2d', x, pair(kernel), pair(stride), pair(padding), false, true, null);
}
/** Resizes [N, C, H, W] to `size` (or by `scale`), bilinear (align_corners=false) or nearest. */
export function interpolate(
  x: Tensor,
  opts: {
    size?: readonly [number, number];
    scale?: number;
    mode?: 'bilinear' | 'nearest';
    alignCorners?: boolean;
  },
): Tensor {
  const size = opts.size ?? null;
  const scales = opts.size ? null : [opts.scale ?? 1, opts.scale ?? 1];
  if ((opts.mode ?? 'bilinear') === 'nearest') return call('aten::upsample_nearest2d.vec', x, size, scales);
  return call('aten::upsample_bilinear2d.vec', x, size, opts.alignCorners ?? false, scales);
}
/** Pads the last dimensions: `pad` is [left, right, top, bottom, ...] as in torch.nn.functional.pad. */
export function pad(
  x: Tensor,
  padding: readonly number[],
  mode: 'constant' | 'reflect' | 'replicate' = 'constant',
  value = 0,
): Tensor {
  if (mode === 'constant') return call('aten::constant_pad_nd', x, padding, value);
  if (padding.length !== 4)
    throw new RangeError('pad: reflect/replicate padding takes [left, right, top, bottom]');
  return call(mode === 'reflect' ? 'aten::reflection_pad2d' : 'aten::replication_pad2d', x, padding);
}
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return call('aten::dropout', x, p, training);
}

type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

export function bceWithLogits(
  logits: Tensor,
  target: Tensor,
  opts: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  return call(
    'aten::binary_cross_entropy_with_logits',
    logits,
    target,
    opts.weight ?? null,
    opts.posWeight ?? null,
    REDUCTION[opts.reduction ?? 'mean'],
  );
}
/** Softmax cross-entropy over dim 1; `target` holds class indices (int64) or probabilities. */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  opts: { weight?: Tensor; reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number } = {},
): Tensor {
  return call(
    'aten::cross_entropy_loss',
    logits,
    target,
    opts.weight ?? null,
    REDUCTION[opts.reduction ?? 'mean'],
    opts.ignoreIndex ?? -100,
    opts.labelSmoothing ?? 0,
  );
}
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return call('aten::mse_loss', input, target, REDUCTION[reduction]);
}

export { callMany };
