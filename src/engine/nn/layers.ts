/**
 * Layers with PyTorch's parameter names, shapes and default initialisation
 * (kaiming_uniform(a=sqrt(5)) weights, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for
 * biases; norms start at weight 1, bias 0).
 */
import { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd.ts';
import * as F from '../ops.ts';
import { Layer } from './module.ts';

function uniformInit(shape: number[], fanIn: number): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return noGrad(() => F.empty(shape).uniform_(-bound, bound));
}

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

export class Conv2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: Pair,
    readonly opts: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number; bias?: boolean } = {},
  ) {
    super();
    const [kh, kw] = pair(kernel);
    const groups = opts.groups ?? 1;
    const fanIn = (inChannels / groups) * kh * kw;
    this.weight = this.param('weight', uniformInit([outChannels, inChannels / groups, kh, kw], fanIn));
    this.bias = opts.bias === false ? null : this.param('bias', uniformInit([outChannels], fanIn));
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.opts);
  }
}

export class Conv1d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: number,
    readonly opts: {
      stride?: number;
      padding?: number;
      dilation?: number;
      groups?: number;
      bias?: boolean;
    } = {},
  ) {
    super();
    const groups = opts.groups ?? 1;
    const fanIn = (inChannels / groups) * kernel;
    this.weight = this.param('weight', uniformInit([outChannels, inChannels / groups, kernel], fanIn));
    this.bias = opts.bias === false ? null : this.param('bias', uniformInit([outChannels], fanIn));
  }
  forward(x: Tensor): Tensor {
    return F.conv1d(x, this.weight, this.bias, this.opts);
  }
}

export class ConvTranspose2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: Pair,
    readonly opts: {
      stride?: Pair;
      padding?: Pair;
      outputPadding?: Pair;
      groups?: number;
      bias?: boolean;
    } = {},
  ) {
    super();
    const [kh, kw] = pair(kernel);
    const groups = opts.groups ?? 1;
    // PyTorch takes fan_in from dim 1 of the [in, out/groups, kh, kw] weight.
    const fanIn = (outChannels / groups) * kh * kw;
    this.weight = this.param('weight', uniformInit([inChannels, outChannels / groups, kh, kw], fanIn));
    this.bias = opts.bias === false ? null : this.param('bias', uniformInit([outChannels], fanIn));
  }
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, this.opts);
  }
}

export class Linear extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    this.weight = this.param('weight', uniformInit([outFeatures, inFeatures], inFeatures));
    this.bias = bias ? this.param('bias', uniformInit([outFeatures], inFeatures)) : null;
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/** Batch norm over dim 1 of [N, C], [N, C, L] (1d) or [N, C, H, W] (2d); the same op serves both. */
class BatchNorm extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.param('weight', F.ones([numFeatures]));
    this.bias = this.param('bias', F.zeros([numFeatures]));
    this.runningMean = this.buffer('running_mean', F.zeros([numFeatures]));
    this.runningVar = this.buffer('running_var', F.ones([numFeatures]));
    this.numBatchesTracked = this.buffer('num_batches_tracked', F.zeros([], { dtype: 'int64' }));
  }
  forward(x: Tensor): Tensor {
    if (this.training) noGrad(() => this.numBatchesTracked.add_(1));
    return F.batchNorm(
      x,
      this.runningMean,
      this.runningVar,
      this.weight,
      this.bias,
      this.training,
      this.momentum,
      this.eps,
    );
  }
}
export class BatchNorm1d extends BatchNorm {}
export class BatchNorm2d extends BatchNorm {}

export class GroupNorm extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', F.ones([numChannels]));
    this.bias = this.param('bias', F.zeros([numChannels]));
  }
  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

export class Dropout extends Layer {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.p > 0 && this.training ? F.dropout(x, this.p, true) : x;
  }
}

export class ReLU extends Layer {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}
