/**
 * nn.Module as in PyTorch: named parameters, buffers and submodules, train()/eval(), state dicts with
 * PyTorch's key names (`encoder.conv1.weight`, `bn.running_mean`), so weights move to and from PyTorch.
 */
import { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd.ts';

export abstract class Module {
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #modules = new Map<string, Module>();

  /** Registers a trainable tensor (kept out of scopes, requires grad). */
  protected param(name: string, t: Tensor): Tensor {
    t.keep().requiresGrad_(true);
    this.#params.set(name, t);
    return t;
  }
  protected buffer(name: string, t: Tensor): Tensor {
    t.keep();
    this.#buffers.set(name, t);
    return t;
  }
  protected module<M extends Module>(name: string, m: M): M {
    this.#modules.set(name, m);
    return m;
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this.#params) yield [prefix + n, p];
    for (const [n, m] of this.#modules) yield* m.namedParameters(`${prefix}${n}.`);
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, b] of this.#buffers) yield [prefix + n, b];
    for (const [n, m] of this.#modules) yield* m.namedBuffers(`${prefix}${n}.`);
  }
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix.replace(/\.$/, ''), this];
    for (const [n, m] of this.#modules) yield* m.namedModules(`${prefix}${n}.`);
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.numel, 0);
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /**
   * Parameters and buffers by PyTorch key, in PyTorch's order (each module's parameters, then its
   * buffers, then its submodules'). The tensors are the module's own (not copies).
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.#stateEntries(''));
  }
  *#stateEntries(prefix: string): Generator<[string, Tensor]> {
    for (const [n, p] of this.#params) yield [prefix + n, p];
    for (const [n, b] of this.#buffers) yield [prefix + n, b];
    for (const [n, m] of this.#modules) yield* m.#stateEntries(`${prefix}${n}.`);
  }

  /** Copies values in; with `strict`, missing or unexpected keys and shape mismatches are errors. */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, strict = true): void {
    const src = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    if (strict) {
      const missing = [...own.keys()].filter((k) => !src.has(k));
      const unexpected = [...src.keys()].filter((k) => !own.has(k));
      if (missing.length || unexpected.length)
        throw new Error(
          `loadStateDict: ${missing.length ? `missing keys ${missing.join(', ')}` : ''}` +
            `${missing.length && unexpected.length ? '; ' : ''}${unexpected.length ? `unexpected keys ${unexpected.join(', ')}` : ''}`,
        );
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const v = src.get(k);
        if (!v) continue;
        if (v.shape.join() !== t.shape.join())
          throw new Error(
            `loadStateDict: ${k} has shape [${v.shape}] in the file, [${t.shape}] in the model`,
          );
        t.copy_(v);
      }
    });
  }

  /** Releases every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}

/** A module whose forward maps one tensor to one tensor (most layers). */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;
}

export class Sequential extends Layer {
  readonly layers: Layer[];
  constructor(...layers: Layer[]) {
    super();
    this.layers = layers.map((l, i) => this.module(String(i), l));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }
}
