// nn.Module: PyTorch's parameter / buffer / state-dict names and order, train/eval, loading weights,
// and a forward pass that matches PyTorch's on weights PyTorch wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../../src/engine/index.ts';
import { needPythonTorch, PYTHON } from '../../helpers/python-torch.ts';

const { Conv2d, BatchNorm2d, BatchNorm1d, GroupNorm, ConvTranspose2d, Linear, ReLU, Dropout } = E.nn;

/** A conv block with a norm, as models nest them. */
class Block extends E.Layer {
  readonly conv = this.module('conv', new Conv2d(2, 4, 3, { padding: 1, bias: false }));
  readonly bn = this.module('bn', new BatchNorm2d(4));
  forward(x: E.Tensor): E.Tensor {
    return this.bn.forward(this.conv.forward(x)).relu();
  }
}

class Net extends E.Layer {
  readonly stem = this.module('stem', new Conv2d(1, 2, 3, { padding: 1 }));
  readonly block = this.module('block', new Block());
  readonly body = this.module(
    'body',
    new E.Sequential(new Conv2d(4, 4, 1), new BatchNorm2d(4), new ReLU(), new Dropout(0.5)),
  );
  readonly norm = this.module('norm', new GroupNorm(2, 4));
  readonly up = this.module('up', new ConvTranspose2d(4, 2, 2, { stride: 2 }));
  readonly head = this.module('head', new Linear(2, 3));
  readonly bn1 = this.module('bn1', new BatchNorm1d(3));
  forward(x: E.Tensor): E.Tensor {
    let y = this.body.forward(this.block.forward(this.stem.forward(x)));
    y = this.up.forward(this.norm.forward(y)); // [N, 2, 2H, 2W]
    y = this.head.forward(y.mean([2, 3])); // [N, 3]
    return this.bn1.forward(y);
  }
}

/** The same network in PyTorch (the Python source that the parity test runs). */
const PY_NET = String.raw`
import torch
from torch import nn
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3, padding=1)
        self.block = Block()
        self.body = nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5))
        self.norm = nn.GroupNorm(2, 4)
        self.up = nn.ConvTranspose2d(4, 2, 2, stride=2)
        self.head = nn.Linear(2, 3)
        self.bn1 = nn.BatchNorm1d(3)
    def forward(self, x):
        y = self.body(self.block(self.stem(x)))
        y = self.up(self.norm(y))
        return self.bn1(self.head(y.mean([2, 3])))
`;

// What PyTorch 1.13 reports for Net (checked against Python below when python3-torch is installed).
const TORCH_STATE_DICT = [
  ['stem.weight', [2, 1, 3, 3]],
  ['stem.bias', [2]],
  ['block.conv.weight', [4, 2, 3, 3]],
  ['block.bn.weight', [4]],
  ['block.bn.bias', [4]],
  ['block.bn.running_mean', [4]],
  ['block.bn.running_var', [4]],
  ['block.bn.num_batches_tracked', []],
  ['body.0.weight', [4, 4, 1, 1]],
  ['body.0.bias', [4]],
  ['body.1.weight', [4]],
  ['body.1.bias', [4]],
  ['body.1.running_mean', [4]],
  ['body.1.running_var', [4]],
  ['body.1.num_batches_tracked', []],
  ['norm.weight', [4]],
  ['norm.bias', [4]],
  ['up.weight', [4, 2, 2, 2]],
  ['up.bias', [2]],
  ['head.weight', [3, 2]],
  ['head.bias', [3]],
  ['bn1.weight', [3]],
  ['bn1.bias', [3]],
  ['bn1.running_mean', [3]],
  ['bn1.running_var', [3]],
  ['bn1.num_batches_tracked', []],
] as const;
const isBuffer = (k: string) => /running_|num_batches/.test(k);

test('namedParameters, namedBuffers and stateDict use PyTorch keys, shapes and order', () => {
  const net = new Net();
  const entries = (it: Iterable<[string, E.Tensor]>) => [...it].map(([k, t]) => [k, [...t.shape]]);
  assert.deepEqual(
    entries(net.stateDict()),
    TORCH_STATE_DICT.map(([k, s]) => [k, [...s]]),
  );
  assert.deepEqual(
    entries(net.namedParameters()),
    TORCH_STATE_DICT.filter(([k]) => !isBuffer(k)).map(([k, s]) => [k, [...s]]),
  );
  assert.deepEqual(
    entries(net.namedBuffers()),
    TORCH_STATE_DICT.filter(([k]) => isBuffer(k)).map(([k, s]) => [k, [...s]]),
  );
  assert.equal(net.parameterCount(), 18 + 2 + 72 + 8 + 16 + 4 + 8 + 8 + 32 + 2 + 6 + 3 + 6);
  assert.ok(net.parameters().every((p) => p.requiresGrad && p.isLeaf));
  assert.ok([...net.namedBuffers()].every(([, b]) => !b.requiresGrad));
});

// One Python run serves both PyTorch checks (importing torch takes seconds): it prints the state-dict
// keys and writes random weights, an input and the eval-mode output to a safetensors file laid out by
// hand (struct + json; python3 has no `safetensors` package).
const PY_REFERENCE = `${PY_NET}
import json, struct, sys
torch.manual_seed(1)
net = Net().double()
x = torch.randn(4, 1, 5, 6, dtype=torch.float64)
net.train()
net(x)  # one train-mode forward, so running stats are not 0 and 1
net.eval()
tensors = dict(net.state_dict()); tensors['x'] = x; tensors['y'] = net(x).detach()
names = {torch.float64: 'F64', torch.int64: 'I64'}
hdr, off, blobs = {}, 0, []
for k in sorted(tensors):
    blob = tensors[k].contiguous().numpy().tobytes()
    hdr[k] = {'dtype': names[tensors[k].dtype], 'shape': list(tensors[k].shape), 'data_offsets': [off, off + len(blob)]}
    off += len(blob); blobs.append(blob)
h = json.dumps(hdr).encode()
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
print(json.dumps([[k, list(v.shape)] for k, v in Net().state_dict().items()]))
`;

let reference: { keys: unknown; file: Map<string, E.Tensor> } | undefined;
/** PyTorch's answers, or null (the test skipped) where python3-torch is absent outside CI. */
function pytorchReference(t: {
  skip(message?: string): void;
}): { keys: unknown; file: Map<string, E.Tensor> } | null {
  if (!needPythonTorch(t, 'the comparison with PyTorch')) return null;
  if (reference !== undefined) return reference;
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-module-'));
  try {
    writeFileSync(join(dir, 'net.py'), PY_REFERENCE);
    const file = join(dir, 'net.safetensors');
    const r = spawnSync(PYTHON, [join(dir, 'net.py'), file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const tensors = E.loadSafetensors(file).tensors;
    for (const [, v] of tensors) v.keep();
    return (reference = { keys: JSON.parse(r.stdout), file: tensors });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('PyTorch reports the same state-dict keys, shapes and order for the same network', (t) => {
  const ref = pytorchReference(t);
  if (ref === null) return;
  assert.deepEqual(
    ref.keys,
    TORCH_STATE_DICT.map(([k, s]) => [k, [...s]]),
  );
});

test('weights written by PyTorch load and give PyTorch’s eval-mode output', (t) => {
  const ref = pytorchReference(t);
  if (ref === null) return;
  const tensors = new Map(ref.file);
  const x = tensors.get('x')!;
  const expected = tensors.get('y')!.toArray();
  tensors.delete('x');
  tensors.delete('y');
  const net = new Net();
  net.loadStateDict(tensors); // float64 values into our float32 parameters
  assert.equal(net.block.bn.numBatchesTracked.item(), 1);
  assert.equal(net.stem.weight.dtype, 'float32');
  const y = E.noGrad(() => net.eval().forward(x.float()));
  y.toArray().forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]!) < 1e-5, `output [${i}]: ${v} vs ${expected[i]}`),
  );
});

test('loadStateDict: strict key checks, shape checks, non-strict partial loads', () => {
  const a = new Net();
  const b = new Net();
  b.loadStateDict(a.stateDict());
  for (const [k, t] of a.stateDict()) assert.deepEqual(b.stateDict().get(k)!.toArray(), t.toArray(), k);
  // values are copied, not shared
  E.noGrad(() => a.stem.bias!.fill_(3));
  assert.notDeepEqual(b.stem.bias!.toArray(), [3, 3]);

  const partial = new Map(a.stateDict());
  partial.delete('head.bias');
  partial.set('extra.weight', E.zeros([1]));
  assert.throws(() => b.loadStateDict(partial), /missing keys head\.bias; unexpected keys extra\.weight/);
  partial.delete('extra.weight');
  b.loadStateDict(partial, false); // non-strict: loads what is there
  assert.deepEqual(b.stem.bias!.toArray(), [3, 3]);
  const wrong = new Map(a.stateDict());
  wrong.set('head.weight', E.zeros([2, 3]));
  assert.throws(
    () => b.loadStateDict(wrong),
    /head\.weight has shape \[2,3\] in the file, \[3,2\] in the model/,
  );
});

test('train() / eval() switch every submodule; BatchNorm and Dropout change behaviour', () => {
  const net = new Net();
  assert.ok([...net.namedModules()].every(([, m]) => m.training));
  net.eval();
  assert.ok([...net.namedModules()].every(([, m]) => !m.training));
  net.train();
  assert.ok(net.body.layers[3]!.training);

  // BatchNorm: batch statistics and running-stat updates in training, running statistics in eval
  const bn = new BatchNorm2d(2);
  const x = E.tensor(Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40]), [2, 2, 2, 1]); // N=2, C=2, H=2
  // channel 0 holds 1, 2, 10, 20; channel 1 holds 3, 4, 30, 40
  const ch0 = [1, 2, 10, 20];
  const mean0 = 8.25;
  const var0 = ch0.reduce((s, v) => s + (v - mean0) ** 2, 0) / 4;
  const yTrain = E.noGrad(() => bn.forward(x)).toArray();
  [0, 1, 4, 5].forEach((flat, j) =>
    assert.ok(Math.abs(yTrain[flat]! - (ch0[j]! - mean0) / Math.sqrt(var0 + 1e-5)) < 1e-5),
  );
  assert.ok(Math.abs(bn.runningMean.toArray()[0]! - 0.1 * mean0) < 1e-6);
  assert.ok(Math.abs(bn.runningVar.toArray()[0]! - (0.9 + 0.1 * var0 * (4 / 3))) < 1e-4);
  assert.equal(bn.numBatchesTracked.item(), 1);
  bn.eval();
  const before = bn.runningMean.toArray();
  const yEval = E.noGrad(() => bn.forward(x)).toArray();
  const [rm, rv] = [bn.runningMean.toArray()[0]!, bn.runningVar.toArray()[0]!];
  [0, 1, 4, 5].forEach((flat, j) =>
    assert.ok(Math.abs(yEval[flat]! - (ch0[j]! - rm) / Math.sqrt(rv + 1e-5)) < 1e-5),
  );
  assert.deepEqual(bn.runningMean.toArray(), before, 'eval does not update running statistics');
  assert.equal(bn.numBatchesTracked.item(), 1);

  // Dropout: zeroes about p of the elements and scales the rest by 1/(1-p) in training; identity in eval
  const drop = new Dropout(0.25);
  const ones = E.ones([4000]);
  const d = drop.forward(ones).toArray();
  const zeros = d.filter((v) => v === 0).length;
  assert.ok(d.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
  assert.ok(Math.abs(zeros / 4000 - 0.25) < 0.04, `dropped ${zeros / 4000}`);
  drop.eval();
  assert.deepEqual(drop.forward(ones).toArray(), ones.toArray());
});
