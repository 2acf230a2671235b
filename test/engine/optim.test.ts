// Optimizers against their update formulas (as libtorch 1.13 / PyTorch implement them), computed in JS
// in float64 on a toy problem; parameter groups, learning-rate changes, state save and load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';

const START = [0.5, -1.2, 2.0];
const TARGET = [1, 0.3, -0.5];
const COEF = [1, 3, 0.5];

/** Toy loss sum(c (p - t)^2 + p^3 / 3): not quadratic, so each step sees a different curvature. */
function loss(p: E.Tensor): E.Tensor {
  const t = E.tensor(TARGET, [3], { dtype: 'float64' });
  const c = E.tensor(COEF, [3], { dtype: 'float64' });
  return p.sub(t).square().mul(c).add(p.pow(3).div(3)).sum();
}
const gradOf = (p: number[]) => p.map((v, i) => 2 * COEF[i]! * (v - TARGET[i]!) + v * v);

const param = (values = START) =>
  E.tensor(values, [values.length], { dtype: 'float64' }).keep().requiresGrad_();

function step(opt: E.Optimizer, params: E.Tensor[]): void {
  E.scope(() => {
    opt.zeroGrad();
    params.reduce((acc: E.Tensor | null, p) => (acc ? acc.add(loss(p)) : loss(p)), null)!.backward();
    opt.step();
  });
}

function assertClose(actual: number[], expected: number[], what: string): void {
  actual.forEach((a, i) =>
    assert.ok(
      Math.abs(a - expected[i]!) <= 1e-13 * Math.max(1, Math.abs(expected[i]!)),
      `${what}[${i}]: ${a} vs ${expected[i]}`,
    ),
  );
}

/** Adam / AdamW for one parameter vector; `decoupled` is AdamW's weight decay (Loshchilov & Hutter 2019). */
class AdamRef {
  m: number[];
  v: number[];
  t = 0;
  constructor(
    public p: number[],
    public lr: number,
    readonly b1: number,
    readonly b2: number,
    readonly eps: number,
    readonly wd: number,
    readonly decoupled: boolean,
  ) {
    this.m = p.map(() => 0);
    this.v = p.map(() => 0);
  }
  step(): void {
    this.t++;
    const g0 = gradOf(this.p);
    if (this.decoupled) this.p = this.p.map((x) => x * (1 - this.lr * this.wd));
    const g = this.decoupled ? g0 : g0.map((gi, i) => gi + this.wd * this.p[i]!);
    this.m = this.m.map((m, i) => this.b1 * m + (1 - this.b1) * g[i]!);
    this.v = this.v.map((v, i) => this.b2 * v + (1 - this.b2) * g[i]! ** 2);
    const bc1 = 1 - this.b1 ** this.t;
    const bc2 = 1 - this.b2 ** this.t;
    this.p = this.p.map(
      (x, i) => x - (this.lr / bc1) * (this.m[i]! / (Math.sqrt(this.v[i]!) / Math.sqrt(bc2) + this.eps)),
    );
  }
}

/** SGD with momentum, dampening, Nesterov and L2 weight decay, as torch.optim.SGD. */
class SGDRef {
  buf: number[] | null = null;
  constructor(
    public p: number[],
    public lr: number,
    readonly momentum: number,
    readonly dampening: number,
    readonly wd: number,
    readonly nesterov: boolean,
  ) {}
  step(): void {
    let d = gradOf(this.p).map((g, i) => g + this.wd * this.p[i]!);
    if (this.momentum !== 0) {
      const prev = this.buf;
      this.buf = prev === null ? d : prev.map((b, i) => this.momentum * b + (1 - this.dampening) * d[i]!);
      const buf = this.buf;
      d = this.nesterov ? d.map((di, i) => di + this.momentum * buf[i]!) : buf;
    }
    this.p = this.p.map((x, i) => x - this.lr * d[i]!);
  }
}

test('Adam matches its update formula over several steps (with and without L2 weight decay)', () => {
  for (const wd of [0, 0.1]) {
    const p = param();
    const opt = new E.Adam([p], { lr: 0.05, betas: [0.8, 0.95], eps: 1e-6, weightDecay: wd });
    const ref = new AdamRef([...START], 0.05, 0.8, 0.95, 1e-6, wd, false);
    for (let k = 0; k < 6; k++) {
      step(opt, [p]);
      ref.step();
      assertClose(p.toArray(), ref.p, `Adam wd=${wd} step ${k + 1}`);
    }
  }
});

test('Adam defaults are PyTorch defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, no decay)', () => {
  const p = param();
  const opt = new E.Adam([p]);
  assert.equal(opt.getLr(), 1e-3);
  const ref = new AdamRef([...START], 1e-3, 0.9, 0.999, 1e-8, 0, false);
  for (let k = 0; k < 3; k++) {
    step(opt, [p]);
    ref.step();
  }
  assertClose(p.toArray(), ref.p, 'Adam defaults');
});

test('AdamW decays weights decoupled from the gradient (default weight decay 1e-2)', () => {
  const p = param();
  const opt = new E.AdamW([p], { lr: 0.05 });
  const ref = new AdamRef([...START], 0.05, 0.9, 0.999, 1e-8, 1e-2, true);
  for (let k = 0; k < 6; k++) {
    step(opt, [p]);
    ref.step();
    assertClose(p.toArray(), ref.p, `AdamW step ${k + 1}`);
  }
  // and it differs from Adam with L2 decay of the same strength
  const q = param();
  const adam = new E.Adam([q], { lr: 0.05, weightDecay: 1e-2 });
  for (let k = 0; k < 6; k++) step(adam, [q]);
  assert.ok(Math.abs(q.toArray()[0]! - p.toArray()[0]!) > 1e-9);
});

test('SGD: plain, momentum, dampening, Nesterov, weight decay', () => {
  const configs = [
    { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false },
    { momentum: 0.9, dampening: 0.3, weightDecay: 0.05, nesterov: false },
    { momentum: 0.8, dampening: 0, weightDecay: 0.01, nesterov: true },
  ];
  for (const c of configs) {
    const p = param();
    const opt = new E.SGD([p], { lr: 0.02, ...c });
    const ref = new SGDRef([...START], 0.02, c.momentum, c.dampening, c.weightDecay, c.nesterov);
    for (let k = 0; k < 6; k++) {
      step(opt, [p]);
      ref.step();
      assertClose(p.toArray(), ref.p, `SGD ${JSON.stringify(c)} step ${k + 1}`);
    }
  }
});

test('parameter groups keep their own options; setLr changes one group or all', () => {
  const a = param();
  const b = param([1, 2, -1]);
  const opt = new E.Adam(
    [
      { params: [a], lr: 0.1 },
      { params: [b], lr: 0.01, weightDecay: 0.5 },
    ],
    { betas: [0.9, 0.99] },
  );
  const ra = new AdamRef([...START], 0.1, 0.9, 0.99, 1e-8, 0, false);
  const rb = new AdamRef([1, 2, -1], 0.01, 0.9, 0.99, 1e-8, 0.5, false);
  const both = () => {
    step(opt, [a, b]);
    ra.step();
    rb.step();
    assertClose(a.toArray(), ra.p, 'group 0');
    assertClose(b.toArray(), rb.p, 'group 1');
  };
  both();
  both();
  opt.setLr(0.03, 1);
  rb.lr = 0.03;
  assert.deepEqual([opt.getLr(0), opt.getLr(1)], [0.1, 0.03]);
  both();
  opt.setLr(0.002);
  ra.lr = rb.lr = 0.002;
  assert.deepEqual([opt.getLr(0), opt.getLr(1)], [0.002, 0.002]);
  both();
  assert.throws(() => opt.getLr(2), /no parameter group 2/);
});

test('optimizer state saved, moved through safetensors and loaded gives identical next steps', () => {
  const kinds = [
    (ps: E.Tensor[]) => new E.Adam(ps, { lr: 0.05 }),
    (ps: E.Tensor[]) => new E.AdamW(ps, { lr: 0.05, weightDecay: 0.1 }),
    (ps: E.Tensor[]) => new E.SGD(ps, { lr: 0.02, momentum: 0.9 }),
  ];
  for (const make of kinds) {
    const p1 = param();
    const opt1 = make([p1]);
    for (let k = 0; k < 3; k++) step(opt1, [p1]);
    const state = opt1.stateDict();
    // a checkpoint holds the tensors in a file: take them through the safetensors encoding
    const flat = new Map<string, E.Tensor>();
    state.params.forEach((s, i) => Object.entries(s!.tensors).forEach(([k, t]) => flat.set(`${i}.${k}`, t)));
    const decoded = E.decodeSafetensors(Buffer.concat(E.encodeSafetensors(flat))).tensors;
    const restored: E.OptimizerState = {
      ...state,
      params: state.params.map((s, i) => ({
        step: s!.step,
        tensors: Object.fromEntries(Object.keys(s!.tensors).map((k) => [k, decoded.get(`${i}.${k}`)!])),
      })),
    };
    const p2 = param(p1.toArray());
    const opt2 = make([p2]);
    opt2.loadStateDict(restored);
    const fresh = param(p1.toArray());
    const opt3 = make([fresh]);
    for (let k = 0; k < 3; k++) {
      step(opt1, [p1]);
      step(opt2, [p2]);
      step(opt3, [fresh]);
      assert.deepEqual(p2.toArray(), p1.toArray(), `${opt1.kind}: step ${k + 1} after loading`);
    }
    // without the state the trajectory differs, so the comparison above is not vacuous
    assert.notDeepEqual(fresh.toArray(), p1.toArray());
    if (opt1.kind !== 'sgd') assert.equal(opt1.stateDict().params[0]!.step, 6);
  }
});

test('state for the wrong optimizer kind or parameter count is refused', () => {
  const p = param();
  const adam = new E.Adam([p]);
  step(adam, [p]);
  const sgd = new E.SGD([param()], { lr: 0.1 });
  assert.throws(() => sgd.loadStateDict(adam.stateDict()), /state is for adam/);
  const two = new E.Adam([param(), param()]);
  assert.throws(() => two.loadStateDict(adam.stateDict()), /1 entries, expected 2/);
});

test('zeroGrad drops gradients (set to None, as PyTorch)', () => {
  const p = param();
  const opt = new E.SGD([p], { lr: 0.1 });
  loss(p).backward();
  assert.ok(p.grad !== null);
  opt.zeroGrad();
  assert.equal(p.grad, null);
});
