/**
 * Optimizers: libtorch's Adam, AdamW and SGD (torch::optim) over parameter groups. JavaScript changes
 * learning rates and saves / restores the per-parameter state for resumable training.
 */
import { native, type OptimizerHandle, type NativeParamState } from './native.ts';
import { Tensor } from './tensor.ts';

export interface GroupOptions {
  lr?: number;
  weightDecay?: number;
}
export interface AdamOptions extends GroupOptions {
  betas?: readonly [number, number];
  eps?: number;
  amsgrad?: boolean;
}
export interface SGDOptions extends GroupOptions {
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}
export type ParamGroup<O> = { params: Tensor[] } & O;

/** Per-parameter state in a form a checkpoint can hold: tensors by name plus the step count. */
export interface OptimizerState {
  kind: string;
  lrs: number[];
  params: ({ step: number; tensors: Record<string, Tensor> } | null)[];
}

export abstract class Optimizer {
  readonly #handle: OptimizerHandle;
  readonly params: Tensor[];

  protected constructor(
    readonly kind: 'adam' | 'adamw' | 'sgd',
    groups: ParamGroup<AdamOptions & SGDOptions>[],
  ) {
    this.params = groups.flatMap((g) => g.params);
    this.#handle = native.optimCreate(
      kind,
      groups.map((g) => ({
        params: g.params.map((p) => p.handle),
        lr: g.lr,
        beta1: g.betas?.[0],
        beta2: g.betas?.[1],
        eps: g.eps,
        weightDecay: g.weightDecay,
        amsgrad: g.amsgrad,
        momentum: g.momentum,
        dampening: g.dampening,
        nesterov: g.nesterov,
      })),
    );
    this.groupCount = groups.length;
  }
  readonly groupCount: number;

  step(): void {
    native.optimStep(this.#handle);
  }
  /** Drops the gradients (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    native.optimZeroGrad(this.#handle);
  }
  getLr(group = 0): number {
    return native.optimLr(this.#handle, group);
  }
  /** Sets the learning rate of one group, or of all groups when `group` is omitted. */
  setLr(lr: number, group?: number): void {
    if (group !== undefined) native.optimLr(this.#handle, group, lr);
    else for (let g = 0; g < this.groupCount; g++) native.optimLr(this.#handle, g, lr);
  }

  /** A copy of the state (tensors owned by the caller). */
  stateDict(): OptimizerState {
    const raw = native.optimGetState(this.#handle);
    return {
      kind: this.kind,
      lrs: Array.from({ length: this.groupCount }, (_, g) => this.getLr(g)),
      params: raw.map((s) =>
        s === null
          ? null
          : {
              step: s.step,
              tensors: Object.fromEntries(Object.entries(s.tensors).map(([k, h]) => [k, new Tensor(h)])),
            },
      ),
    };
  }

  loadStateDict(state: OptimizerState): void {
    if (state.kind !== this.kind)
      throw new Error(`optimizer state is for ${state.kind}, this optimizer is ${this.kind}`);
    const raw: (NativeParamState | null)[] = state.params.map((s) =>
      s === null
        ? null
        : {
            step: s.step,
            tensors: Object.fromEntries(Object.entries(s.tensors).map(([k, t]) => [k, t.handle])),
          },
    );
    native.optimSetState(this.#handle, raw);
    state.lrs.forEach((lr, g) => this.setLr(lr, g));
  }
}

function groupsOf<O>(params: Tensor[] | ParamGroup<O>[], opts: O): ParamGroup<O>[] {
  if (params.length > 0 && params[0] instanceof Tensor) return [{ params: params as Tensor[], ...opts }];
  return (params as ParamGroup<O>[]).map((g) => ({ ...opts, ...g }));
}

export class Adam extends Optimizer {
  constructor(params: Tensor[] | ParamGroup<AdamOptions>[], opts: AdamOptions = {}) {
    super('adam', groupsOf(params, opts));
  }
}
export class AdamW extends Optimizer {
  constructor(params: Tensor[] | ParamGroup<AdamOptions>[], opts: AdamOptions = {}) {
    super('adamw', groupsOf(params, opts));
  }
}
export class SGD extends Optimizer {
  constructor(params: Tensor[] | ParamGroup<SGDOptions>[], opts: SGDOptions = {}) {
    super('sgd', groupsOf(params, opts));
  }
}
