/**
 * The Tensor: a JavaScript handle on a libtorch tensor, with PyTorch's method names.
 *
 * Every method is one ATen operator called through the dispatcher by its schema name (see
 * native/src/dispatch.cc): argument order is the schema's, so `opSchema` documents each call.
 * Shapes are validated by libtorch; an error names the operator and the argument shapes.
 */
import { native, type Handle, type NativeArg, type NativeResult } from './native.ts';
import { track, untrack, type Disposable, type Scope } from './scope.ts';
import { DTYPES, dtypeFromCode, type DType, type TypedArray } from './dtype.ts';

export type Arg =
  Tensor | number | boolean | string | null | undefined | readonly (number | boolean | Tensor | null)[];
export type Scalar = number | boolean;
export type Dims = number | readonly number[];

const opIds = new Map<string, number>();

/** The dispatcher id of an operator named like `aten::add.Tensor` (overload after the last dot). */
export function opId(name: string): number {
  let id = opIds.get(name);
  if (id === undefined) {
    const colon = name.indexOf('::');
    const dot = name.indexOf('.', colon);
    id = dot < 0 ? native.opLookup(name, '') : native.opLookup(name.slice(0, dot), name.slice(dot + 1));
    opIds.set(name, id);
  }
  return id;
}

function toNative(a: Arg): NativeArg {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a) && a.some((x) => x instanceof Tensor))
    return a.map((x: number | boolean | Tensor | null) => (x instanceof Tensor ? x.handle : x));
  return a as NativeArg;
}

function fromNative(r: NativeResult): unknown {
  if (Array.isArray(r)) return r.map(fromNative);
  if (r !== null && typeof r === 'object') return new Tensor(r);
  return r;
}

function rawCall(name: string, args: Arg[]): NativeResult {
  const id = opId(name);
  switch (args.length) {
    // the common arities avoid building an intermediate array
    case 1:
      return native.opCall(id, toNative(args[0]));
    case 2:
      return native.opCall(id, toNative(args[0]), toNative(args[1]));
    case 3:
      return native.opCall(id, toNative(args[0]), toNative(args[1]), toNative(args[2]));
    default:
      return native.opCall(id, ...args.map(toNative));
  }
}

/** Calls an operator that returns one tensor. */
export function call(name: string, ...args: Arg[]): Tensor {
  const r = rawCall(name, args);
  if (r === null || typeof r !== 'object' || Array.isArray(r))
    throw new Error(`${name} did not return a tensor`);
  return new Tensor(r as Handle);
}

/** Calls an operator that returns several tensors (a tuple or a list). */
export function callMany(name: string, ...args: Arg[]): Tensor[] {
  const r = rawCall(name, args);
  if (!Array.isArray(r)) throw new Error(`${name} did not return a list`);
  return r.map((h) => new Tensor(h as Handle));
}

/** Calls an operator and returns whatever it returns (numbers, booleans, tensors). */
export function callAny(name: string, ...args: Arg[]): unknown {
  return fromNative(rawCall(name, args));
}

/** Calls an in-place operator (`foo_`) and drops its result, which aliases the input. */
export function callInPlace(name: string, ...args: Arg[]): void {
  native.opCallVoid(opId(name), ...args.map(toNative));
}

function dimList(d: Dims): readonly number[] {
  return typeof d === 'number' ? [d] : d;
}

/** An ATen binary op in its `.Tensor` or `.Scalar` overload, by the type of `other`. */
function binary(op: string, self: Tensor, other: Tensor | Scalar): Tensor {
  return other instanceof Tensor
    ? call(`aten::${op}.Tensor`, self, other)
    : call(`aten::${op}.Scalar`, self, other);
}

export class Tensor implements Disposable {
  _scope: Scope | null = null;
  #handle: Handle | null;
  #shape: readonly number[] | undefined;

  constructor(handle: Handle) {
    this.#handle = handle;
    track(this);
  }

  get handle(): Handle {
    if (this.#handle === null) throw new Error('tensor used after dispose()');
    return this.#handle;
  }

  get isDisposed(): boolean {
    return this.#handle === null;
  }

  /** Releases the native memory now (a view keeps its base alive until the base is released too). */
  dispose(): void {
    if (this.#handle !== null) {
      native.dispose(this.#handle);
      this.#handle = null;
    }
  }

  /** Reports its bytes to V8 once it outlives every scope (scope.ts). */
  _escape(): void {
    if (this.#handle !== null) native.reportExternal(this.#handle);
  }

  /** Takes this tensor out of scope tracking: it lives until `dispose()`. */
  keep(): this {
    untrack(this);
    return this;
  }

  get shape(): readonly number[] {
    return (this.#shape ??= native.shape(this.handle));
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return dtypeFromCode(native.dtype(this.handle));
  }
  get device(): string {
    return native.device(this.handle);
  }
  size(dim: number): number {
    const s = this.shape;
    return s[dim < 0 ? s.length + dim : dim]!;
  }

  // ---- data in and out -------------------------------------------------------------------------
  /** A copy of the values as the dtype's typed array, row-major. */
  data(): TypedArray {
    const buf = native.toData(this.handle);
    return new DTYPES[this.dtype].array(buf);
  }
  /** The values as plain numbers (int64 converted, bool as 0/1). */
  toArray(): number[] {
    return Array.from(this.data() as ArrayLike<number | bigint>, Number);
  }
  item(): number {
    return Number(native.item(this.handle));
  }

  // ---- autograd --------------------------------------------------------------------------------
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** made in inference mode (autograd.ts, inferenceMode): never part of a recorded graph */
  get isInference(): boolean {
    return native.isInference(this.handle);
  }
  requiresGrad_(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** The accumulated gradient (a new handle on it), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.handle, g === null ? null : g.handle);
  }
  backward(gradient: Tensor | null = null, retainGraph = false): void {
    native.backward(this.handle, gradient === null ? null : gradient.handle, retainGraph);
  }
  detach(): Tensor {
    return call('aten::detach', this);
  }

  // ---- conversion ------------------------------------------------------------------------------
  to(dtype: DType): Tensor {
    return call('aten::to.dtype', this, DTYPES[dtype].code);
  }
  toDevice(device: string): Tensor {
    return call('aten::to.device', this, device, DTYPES[this.dtype].code);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  clone(): Tensor {
    return call('aten::clone', this);
  }
  contiguous(): Tensor {
    return call('aten::contiguous', this);
  }

  // ---- elementwise arithmetic (broadcasting) ---------------------------------------------------
  add(other: Tensor | number, alpha: number = 1): Tensor {
    return other instanceof Tensor
      ? call('aten::add.Tensor', this, other, alpha)
      : call('aten::add.Scalar', this, other, alpha);
  }
  sub(other: Tensor | number, alpha: number = 1): Tensor {
    return other instanceof Tensor
      ? call('aten::sub.Tensor', this, other, alpha)
      : call('aten::sub.Scalar', this, other, alpha);
  }
  mul(other: Tensor | number): Tensor {
    return other instanceof Tensor
      ? call('aten::mul.Tensor', this, other)
      : call('aten::mul.Scalar', this, other);
  }
  div(other: Tensor | number): Tensor {
    return other instanceof Tensor
      ? call('aten::div.Tensor', this, other)
      : call('aten::div.Scalar', this, other);
  }
  /** other - this */
  rsub(other: number): Tensor {
    return call('aten::rsub.Scalar', this, other);
  }
  pow(exponent: Tensor | number): Tensor {
    return exponent instanceof Tensor
      ? call('aten::pow.Tensor_Tensor', this, exponent)
      : call('aten::pow.Tensor_Scalar', this, exponent);
  }
  neg(): Tensor {
    return call('aten::neg', this);
  }
  abs(): Tensor {
    return call('aten::abs', this);
  }
  square(): Tensor {
    return call('aten::square', this);
  }
  sqrt(): Tensor {
    return call('aten::sqrt', this);
  }
  rsqrt(): Tensor {
    return call('aten::rsqrt', this);
  }
  exp(): Tensor {
    return call('aten::exp', this);
  }
  log(): Tensor {
    return call('aten::log', this);
  }
  log1p(): Tensor {
    return call('aten::log1p', this);
  }
  expm1(): Tensor {
    return call('aten::expm1', this);
  }
  sign(): Tensor {
    return call('aten::sign', this);
  }
  floor(): Tensor {
    return call('aten::floor', this);
  }
  round(): Tensor {
    return call('aten::round', this);
  }
  sin(): Tensor {
    return call('aten::sin', this);
  }
  cos(): Tensor {
    return call('aten::cos', this);
  }
  reciprocal(): Tensor {
    return call('aten::reciprocal', this);
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return call('aten::clamp', this, min, max);
  }
  minimum(other: Tensor): Tensor {
    return call('aten::minimum', this, other);
  }
  maximum(other: Tensor): Tensor {
    return call('aten::maximum', this, other);
  }

  // ---- activations -----------------------------------------------------------------------------
  sigmoid(): Tensor {
    return call('aten::sigmoid', this);
  }
  logSigmoid(): Tensor {
    return call('aten::log_sigmoid', this);
  }
  softplus(beta = 1, threshold = 20): Tensor {
    return call('aten::softplus', this, beta, threshold);
  }
  relu(): Tensor {
    return call('aten::relu', this);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return call('aten::gelu', this, approximate);
  }
  tanh(): Tensor {
    return call('aten::tanh', this);
  }
  softmax(dim: number): Tensor {
    return call('aten::softmax.int', this, dim, null);
  }
  logSoftmax(dim: number): Tensor {
    return call('aten::log_softmax.int', this, dim, null);
  }

  // ---- comparisons and masks -------------------------------------------------------------------
  eq(other: Tensor | Scalar): Tensor {
    return binary('eq', this, other);
  }
  ne(other: Tensor | Scalar): Tensor {
    return binary('ne', this, other);
  }
  lt(other: Tensor | Scalar): Tensor {
    return binary('lt', this, other);
  }
  le(other: Tensor | Scalar): Tensor {
    return binary('le', this, other);
  }
  gt(other: Tensor | Scalar): Tensor {
    return binary('gt', this, other);
  }
  ge(other: Tensor | Scalar): Tensor {
    return binary('ge', this, other);
  }
  logicalAnd(other: Tensor): Tensor {
    return call('aten::logical_and', this, other);
  }
  logicalOr(other: Tensor): Tensor {
    return call('aten::logical_or', this, other);
  }
  logicalNot(): Tensor {
    return call('aten::logical_not', this);
  }
  isnan(): Tensor {
    return call('aten::isnan', this);
  }
  isfinite(): Tensor {
    return call('aten::isfinite', this);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return call('aten::masked_fill.Scalar', this, mask, value);
  }

  // ---- reductions ------------------------------------------------------------------------------
  sum(dim?: Dims, keepdim = false): Tensor {
    return dim === undefined
      ? call('aten::sum', this, null)
      : call('aten::sum.dim_IntList', this, dimList(dim), keepdim, null);
  }
  mean(dim?: Dims, keepdim = false): Tensor {
    return dim === undefined
      ? call('aten::mean', this, null)
      : call('aten::mean.dim', this, dimList(dim), keepdim, null);
  }
  /** Maximum over all elements, or over `dim` (values only; see `maxWithIndices`). */
  max(dim?: Dims, keepdim = false): Tensor {
    return dim === undefined ? call('aten::max', this) : call('aten::amax', this, dimList(dim), keepdim);
  }
  min(dim?: Dims, keepdim = false): Tensor {
    return dim === undefined ? call('aten::min', this) : call('aten::amin', this, dimList(dim), keepdim);
  }
  maxWithIndices(dim: number, keepdim = false): [Tensor, Tensor] {
    const [v, i] = callMany('aten::max.dim', this, dim, keepdim);
    return [v!, i!];
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return call('aten::argmax', this, dim ?? null, keepdim);
  }
  logsumexp(dim: Dims, keepdim = false): Tensor {
    return call('aten::logsumexp', this, dimList(dim), keepdim);
  }
  any(): Tensor {
    return call('aten::any', this);
  }
  all(): Tensor {
    return call('aten::all', this);
  }

  // ---- linear algebra --------------------------------------------------------------------------
  matmul(other: Tensor): Tensor {
    return call('aten::matmul', this, other);
  }
  bmm(other: Tensor): Tensor {
    return call('aten::bmm', this, other);
  }

  // ---- shape -----------------------------------------------------------------------------------
  reshape(...shape: number[]): Tensor {
    return call('aten::reshape', this, shape);
  }
  view(...shape: number[]): Tensor {
    return call('aten::view', this, shape);
  }
  permute(...dims: number[]): Tensor {
    return call('aten::permute', this, dims);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return call('aten::transpose.int', this, dim0, dim1);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? call('aten::squeeze', this) : call('aten::squeeze.dim', this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return call('aten::unsqueeze', this, dim);
  }
  expand(...shape: number[]): Tensor {
    return call('aten::expand', this, shape);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return call('aten::flatten.using_ints', this, startDim, endDim);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return call('aten::narrow', this, dim, start, length);
  }
  /** Splits into chunks of `size` along `dim` (the last may be smaller), or into the given sizes. */
  split(size: number | readonly number[], dim = 0): Tensor[] {
    return typeof size === 'number'
      ? callMany('aten::split.Tensor', this, size, dim)
      : callMany('aten::split_with_sizes', this, size, dim);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return call('aten::index_select', this, dim, index);
  }
  gather(dim: number, index: Tensor): Tensor {
    return call('aten::gather', this, dim, index);
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return call('aten::scatter.src', this, dim, index, src);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return call('aten::scatter_add', this, dim, index, src);
  }
  flip(dims: Dims): Tensor {
    return call('aten::flip', this, dimList(dims));
  }

  // ---- in place (used under noGrad for initialisation and optimisation bookkeeping) -----------
  zero_(): this {
    callInPlace('aten::zero_', this);
    return this;
  }
  fill_(value: number): this {
    callInPlace('aten::fill_.Scalar', this, value);
    return this;
  }
  copy_(src: Tensor): this {
    callInPlace('aten::copy_', this, src);
    return this;
  }
  uniform_(from: number, to: number): this {
    callInPlace('aten::uniform_', this, from, to, null);
    return this;
  }
  normal_(mean: number, std: number): this {
    callInPlace('aten::normal_', this, mean, std, null);
    return this;
  }
  add_(other: Tensor | number, alpha: number = 1): this {
    if (other instanceof Tensor) callInPlace('aten::add_.Tensor', this, other, alpha);
    else callInPlace('aten::add_.Scalar', this, other, alpha);
    return this;
  }
  mul_(value: number): this {
    callInPlace('aten::mul_.Scalar', this, value);
    return this;
  }

  toString(): string {
    return `Tensor(${this.isDisposed ? 'disposed' : `[${this.shape.join(', ')}] ${this.dtype}`})`;
  }
}
