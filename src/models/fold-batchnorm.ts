/**
 * Batch norm folded into the convolution before it, for inference. In eval mode batch norm is affine
 * per channel, y = a (z - mean) + beta with a = gamma / sqrt(var + eps), and z = W x + b is linear, so
 * the pair is one convolution with W' = a W (per output channel) and b' = a (b - mean) + beta: one pass
 * over the activations instead of two, and no normalised copy.
 *
 * Which batch norm follows which convolution is found by running the network once on a probe input
 * and matching tensors: a batch norm whose input is exactly a convolution's output (the same tensor
 * object), with every call of that convolution feeding that batch norm and nothing else feeding it,
 * is folded. So any network built of nn.Conv1d / nn.Conv2d and nn.BatchNorm1d / nn.BatchNorm2d folds
 * without a list of pairs (U-Net's double convs, MedT's stems, blocks, shortcuts and qkv projections).
 * The convolution's raw output must not be used elsewhere (true of every network here; the tests
 * compare folded and unfolded networks).
 */
import { noGrad, nn, scope, zeros, type Module, type Tensor } from '../engine/index.ts';
import { buildModel, type SegmentationNet } from './registry.ts';

type Conv = nn.Conv1d | nn.Conv2d;
type BatchNorm = nn.BatchNorm1d | nn.BatchNorm2d;

/** Puts back a module's own `forward` (a folded batch norm has one) or its class's. */
function restorer(m: Module): () => void {
  const own = Object.getOwnPropertyDescriptor(m, 'forward');
  return () => (own ? Object.defineProperty(m, 'forward', own) : Reflect.deleteProperty(m, 'forward'));
}

/** The Conv -> BatchNorm pairs of `net`, found by running it on `probe` (eval mode, no grad). */
export function convBatchNormPairs(
  net: Module & { forward(x: Tensor): unknown },
  probe: Tensor,
): [Conv, BatchNorm][] {
  const convOf = new Map<Tensor, Conv>(); // conv output -> the conv that made it
  const convCalls = new Map<Conv, number>();
  const bnInputs = new Map<BatchNorm, (Conv | null)[]>(); // per call: the conv its input came from
  const restore: (() => void)[] = [];
  for (const [, m] of net.namedModules()) {
    if (m instanceof nn.Conv1d || m instanceof nn.Conv2d) {
      const f = m.forward;
      restore.push(restorer(m));
      m.forward = (x: Tensor) => {
        const y = f.call(m, x);
        convOf.set(y, m);
        convCalls.set(m, (convCalls.get(m) ?? 0) + 1);
        return y;
      };
    } else if (m instanceof nn.BatchNorm1d || m instanceof nn.BatchNorm2d) {
      const f = m.forward;
      restore.push(restorer(m));
      m.forward = (x: Tensor) => {
        bnInputs.set(m, [...(bnInputs.get(m) ?? []), convOf.get(x) ?? null]);
        return f.call(m, x);
      };
    }
  }
  const training = net.training;
  try {
    net.eval();
    scope(() => void noGrad(() => net.forward(probe)));
  } finally {
    restore.forEach((r) => r());
    net.train(training);
  }
  // one call each, the batch norm's input the conv's output: a module called more than once could
  // see other inputs or feed other layers, which folding would change
  const pairs: [Conv, BatchNorm][] = [];
  for (const [bn, inputs] of bnInputs) {
    const conv = inputs[0];
    if (inputs.length === 1 && conv && convCalls.get(conv) === 1) pairs.push([conv, bn]);
  }
  return pairs;
}

/** Folds `bn` (its running statistics and affine weights) into `conv`'s weight and bias, in place. */
function fold(conv: Conv, bn: BatchNorm): void {
  scope(() =>
    noGrad(() => {
      const a = bn.weight.double().div(bn.runningVar.double().add(bn.eps).sqrt()); // [out]
      const shape = [a.size(0), ...conv.weight.shape.slice(1).map(() => 1)];
      const dtype = conv.weight.dtype;
      conv.weight.copy_(
        conv.weight
          .double()
          .mul(a.view(...shape))
          .to(dtype),
      );
      const b = conv.bias ? conv.bias.double() : zeros([a.size(0)], { dtype: 'float64' });
      const bias = b.sub(bn.runningMean.double()).mul(a).add(bn.bias.double()).to(dtype);
      if (conv.bias) conv.bias.copy_(bias);
      else (conv as { bias: Tensor | null }).bias = bias.keep();
    }),
  );
  bn.forward = (x: Tensor) => {
    if (bn.training) throw new Error('a batch norm folded into its convolution is for inference only');
    return x;
  };
}

/**
 * Folds every Conv + BatchNorm pair of `net` in place (found on `probe`, see `convBatchNormPairs`),
 * leaves `net` in eval mode, and returns the number of pairs folded.
 */
export function foldBatchNormInPlace(net: Module & { forward(x: Tensor): unknown }, probe: Tensor): number {
  const pairs = convBatchNormPairs(net, probe);
  for (const [conv, bn] of pairs) fold(conv, bn);
  net.eval();
  return pairs.length;
}

/**
 * An inference copy of `net` (eval mode) with every Conv + BatchNorm pair replaced by one convolution
 * of folded weight and bias; `net` itself is not changed. With `inPlace`, `net` itself is folded and
 * returned (no copy: for a network that is only run from then on, like a loaded predictor). Either
 * computes the eval-mode network to float rounding, and is not for training or for saving (its
 * folded biases are not in its state dict).
 */
export function foldBatchNorm(net: SegmentationNet, opts: { inPlace?: boolean } = {}): SegmentationNet {
  let target = net;
  if (!opts.inPlace) {
    target = buildModel(net.config);
    target.loadStateDict(net.stateDict());
  }
  const [h, w] = net.config.imageSize;
  const probe = zeros([1, net.config.inChannels, h, w]);
  try {
    foldBatchNormInPlace(target, probe);
  } finally {
    probe.dispose();
  }
  return target;
}
