/**
 * FLOP counting by instrumentation: the models call convolutions, matmuls and einsums through these
 * wrappers, which add 2 x multiply-accumulates to a counter while `countFlops` runs. Only these
 * products are counted (they are >95% of the work); batch norm, softmax, pooling, interpolation and
 * elementwise ops are not, as in the usual "FLOPs" of papers (fvcore/ptflops count the same layers).
 * Outside `countFlops` the wrappers cost one null check.
 */
import { conv1d, einsum, type nn, type Tensor } from '../engine/index.ts';

let counter: { flops: number } | null = null;

/** Runs `fn` and returns the conv/matmul/einsum FLOPs it performed (multiply and add counted as 2). */
export function countFlops(fn: () => void): number {
  const prev = counter;
  counter = { flops: 0 };
  try {
    fn();
    return counter.flops;
  } finally {
    counter = prev;
  }
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** `layer.forward(x)` for Conv1d / Conv2d, counted: output elements x (C_in / groups) x kernel area. */
export function conv(layer: nn.Conv2d | nn.Conv1d, x: Tensor): Tensor {
  const y = layer.forward(x);
  if (counter) {
    const w = layer.weight.shape; // [out, in/groups, ...kernel]
    counter.flops += 2 * y.numel * prod(w.slice(1));
  }
  return y;
}

/** A 1x1 Conv1d applied through `conv1d` directly (the qkv projection), counted like `conv`. */
export function conv1x1d(weight: Tensor, x: Tensor): Tensor {
  const y = conv1d(x, weight);
  if (counter) counter.flops += 2 * y.numel * prod(weight.shape.slice(1));
  return y;
}

/** Transposed convolution, counted: input elements x (C_out / groups) x kernel area. */
export function convT(layer: nn.ConvTranspose2d, x: Tensor): Tensor {
  const y = layer.forward(x);
  if (counter) counter.flops += 2 * x.numel * prod(layer.weight.shape.slice(1));
  return y;
}

/** Adds `flops` for a product computed by other means (fused or elementwise) than these wrappers. */
export function addFlops(flops: number): void {
  if (counter) counter.flops += flops;
}

/** Batched matmul [..., m, k] @ [..., k, n], counted as 2 m k n per batch element. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const y = a.matmul(b);
  if (counter) counter.flops += 2 * y.numel * a.shape[a.ndim - 1]!;
  return y;
}

/** `einsum` counted as 2 x the product of the sizes of every index letter in the equation. */
export function einsumF(equation: string, ...tensors: Tensor[]): Tensor {
  const y = einsum(equation, ...tensors);
  if (counter) {
    const sizes = new Map<string, number>();
    const inputs = equation.split('->')[0]!.split(',');
    inputs.forEach((spec, t) => [...spec.trim()].forEach((ch, d) => sizes.set(ch, tensors[t]!.shape[d]!)));
    counter.flops += 2 * prod([...sizes.values()]);
  }
  return y;
}
