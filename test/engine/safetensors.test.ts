// safetensors: exact round trips, an independent reader of the layout, and PyTorch reading our files
// (and we reading files built in Python) when Debian's python3-torch is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../src/engine/index.ts';
import { needPythonTorch, PYTHON } from '../helpers/python-torch.ts';
import { InputError } from '../../src/errors.ts';

/** One tensor of every dtype the project stores, with awkward values and shapes (incl. 0-d, empty). */
function sample(): Map<string, E.Tensor> {
  return new Map<string, E.Tensor>([
    [
      'encoder.conv1.weight',
      E.tensor(Float32Array.from([1.5, -0, 3.4e38, -1e-45, Math.PI, -2]), [1, 2, 3, 1]),
    ],
    ['head.f64', E.tensor(Float64Array.from([Math.E, -1 / 3, 5e-324, Number.MAX_VALUE]), [2, 2])],
    ['bn.num_batches_tracked', E.tensor(BigInt64Array.from([9007199254740993n]), [], { dtype: 'int64' })],
    ['idx.int32', E.tensor(Int32Array.from([-2147483648, 2147483647, 0]), [3])],
    ['mask.u8', E.tensor(Uint8Array.from([0, 255, 7, 128]), [2, 2])],
    ['mask.bool', E.tensor(Uint8Array.from([1, 0, 0, 1, 1]), [5], { dtype: 'bool' })],
    ['misc.i8', E.tensor(Int8Array.from([-128, 127, -1]), [3], { dtype: 'int8' })],
    ['misc.i16', E.tensor(Int16Array.from([-32768, 32767]), [2], { dtype: 'int16' })],
    ['empty', E.zeros([0, 3])],
  ]);
}

const bytesOf = (t: E.Tensor) => Buffer.from(t.data().buffer);

test('a round trip through a file is exact for every dtype and keeps shapes and metadata', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-st-'));
  try {
    const path = join(dir, 'w.safetensors');
    const src = sample();
    E.saveSafetensors(path, src, { format: 'pt', epoch: '12' });
    const { tensors, metadata } = E.loadSafetensors(path);
    assert.deepEqual(metadata, { format: 'pt', epoch: '12' });
    assert.deepEqual([...tensors.keys()].sort(), [...src.keys()].sort());
    for (const [name, t] of src) {
      const u = tensors.get(name)!;
      assert.equal(u.dtype, t.dtype, name);
      assert.deepEqual(u.shape, t.shape, name);
      assert.ok(bytesOf(u).equals(bytesOf(t)), `${name}: bytes differ`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The format by its specification, independently of src/engine/safetensors.ts: u64 LE header size N,
 * N bytes of JSON, then a byte buffer; each entry's data_offsets are relative to the buffer, and the
 * entries together cover it exactly, without gaps or overlaps.
 */
function readSpec(file: Buffer) {
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.toString('utf8', 8, 8 + n)) as Record<string, unknown>;
  const buffer = file.subarray(8 + n);
  const { __metadata__: metadata, ...entries } = header as { __metadata__?: Record<string, string> };
  const ranges: [number, number][] = [];
  const out = new Map<string, { dtype: string; shape: number[]; values: (number | bigint)[] }>();
  const size: Record<string, number> = { F64: 8, F32: 4, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
  for (const [name, e] of Object.entries(
    entries as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>,
  )) {
    const [begin, end] = e.data_offsets;
    ranges.push([begin, end]);
    const count = e.shape.reduce((a, b) => a * b, 1);
    assert.equal(end - begin, count * size[e.dtype]!, `${name}: byte length`);
    const view = new DataView(buffer.buffer, buffer.byteOffset + begin, end - begin);
    const read: Record<string, (i: number) => number | bigint> = {
      F64: (i) => view.getFloat64(8 * i, true),
      F32: (i) => view.getFloat32(4 * i, true),
      I64: (i) => view.getBigInt64(8 * i, true),
      I32: (i) => view.getInt32(4 * i, true),
      I16: (i) => view.getInt16(2 * i, true),
      I8: (i) => view.getInt8(i),
      U8: (i) => view.getUint8(i),
      BOOL: (i) => view.getUint8(i),
    };
    out.set(name, {
      dtype: e.dtype,
      shape: e.shape,
      values: Array.from({ length: count }, (_, i) => read[e.dtype]!(i)),
    });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let cursor = 0;
  for (const [b, e] of ranges) {
    assert.equal(b, cursor, 'entries must tile the buffer');
    cursor = e;
  }
  assert.equal(cursor, buffer.length, 'no trailing bytes');
  return { n, metadata, tensors: out };
}

test('our files parse with an independent reader: header, dtype names, little-endian values', () => {
  const src = sample();
  const file = Buffer.concat(E.encodeSafetensors(src, { note: 'x' }));
  const spec = readSpec(file);
  assert.equal((8 + spec.n) % 8, 0, 'data starts 8-byte aligned');
  assert.deepEqual(spec.metadata, { note: 'x' });
  const names: Record<string, string> = {
    'encoder.conv1.weight': 'F32',
    'head.f64': 'F64',
    'bn.num_batches_tracked': 'I64',
    'idx.int32': 'I32',
    'mask.u8': 'U8',
    'mask.bool': 'BOOL',
    'misc.i8': 'I8',
    'misc.i16': 'I16',
    empty: 'F32',
  };
  for (const [name, t] of src) {
    const e = spec.tensors.get(name)!;
    assert.equal(e.dtype, names[name], name);
    assert.deepEqual(e.shape, t.shape);
    const expected = Array.from(t.data() as ArrayLike<number | bigint>);
    assert.deepEqual(e.values, expected, name);
  }
});

test('a file assembled by hand (as another writer would) loads', () => {
  const header = JSON.stringify({
    b: { dtype: 'I32', shape: [2], data_offsets: [8, 16] },
    a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
  });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(16);
  data.writeDoubleLE(-2.5, 0);
  data.writeInt32LE(7, 8);
  data.writeInt32LE(-9, 12);
  const { tensors, metadata } = E.decodeSafetensors(Buffer.concat([len, Buffer.from(header), data]));
  assert.deepEqual(metadata, {});
  assert.deepEqual(tensors.get('a')!.toArray(), [-2.5]);
  assert.equal(tensors.get('b')!.dtype, 'int32');
  assert.deepEqual(tensors.get('b')!.toArray(), [7, -9]);
});

test('corrupt files are refused with a message naming the file', () => {
  assert.throws(() => E.decodeSafetensors(Buffer.alloc(4), 'x.safetensors'), /x.safetensors: too short/);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(1000n);
  assert.throws(
    () => E.decodeSafetensors(Buffer.concat([len, Buffer.alloc(10)]), 'y'),
    /y: header length 1000 exceeds/,
  );
  const bad = JSON.stringify({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } });
  len.writeBigUInt64LE(BigInt(bad.length));
  assert.throws(
    () => E.decodeSafetensors(Buffer.concat([len, Buffer.from(bad), Buffer.alloc(16)]), 'z'),
    /z: tensor a has inconsistent offsets/,
  );
});

/** A file from a hand-written header and `dataBytes` bytes of data (values 1, 2, 3, ...). */
function fileOf(header: unknown, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.from(Array.from({ length: dataBytes }, (_, i) => i + 1))]);
}

test('headers that break the format are refused naming the file: offsets must tile the data exactly', () => {
  const f32 = (shape: number[], offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });
  const cases: [string, unknown, number, RegExp][] = [
    [
      'negative begin',
      { a: f32([2], [-8, 0]) },
      8,
      /tensor a has inconsistent offsets: .*not two non-negative integers/,
    ],
    [
      'fractional end',
      { a: f32([2], [0, 7.5]) },
      8,
      /tensor a has inconsistent offsets: .*not two non-negative integers/,
    ],
    ['one offset', { a: f32([2], [8]) }, 8, /tensor a has inconsistent offsets/],
    [
      'begin after end',
      { a: f32([0], [8, 0]) },
      8,
      /tensor a has inconsistent offsets: data_offsets \[8, 0\] end before they begin/,
    ],
    [
      'past the data',
      { a: f32([4], [0, 16]) },
      8,
      /tensor a has inconsistent offsets: data_offsets \[0, 16\] run past the 8 bytes/,
    ],
    [
      'length vs shape',
      { a: f32([3], [0, 8]) },
      8,
      /tensor a has inconsistent offsets: it holds 8 bytes, its shape \[3\] of F32 needs 12/,
    ],
    [
      'overlap',
      { a: f32([2], [0, 8]), b: f32([2], [4, 12]) },
      12,
      /tensors a and b overlap \(bytes 0\.\.8 and 4\.\.12\)/,
    ],
    ['same bytes twice', { a: f32([2], [0, 8]), b: f32([2], [0, 8]) }, 8, /tensors a and b overlap/],
    [
      'gap',
      { a: f32([2], [0, 8]), b: f32([2], [12, 20]) },
      20,
      /bytes 8\.\.12 of the data belong to no tensor \(a gap before b\)/,
    ],
    ['gap at the start', { a: f32([2], [4, 12]) }, 12, /bytes 0\.\.4 of the data belong to no tensor/],
    [
      'bytes after the last tensor',
      { a: f32([2], [0, 8]) },
      12,
      /the last 4 bytes of the data belong to no tensor/,
    ],
    ['negative shape', { a: f32([-2], [0, 8]) }, 8, /tensor a has the invalid shape \[-2\]/],
    [
      'unknown dtype',
      { a: { dtype: 'F8', shape: [8], data_offsets: [0, 8] } },
      8,
      /tensor a has the unknown dtype "F8"/,
    ],
    ['entry not an object', { a: 3 }, 0, /tensor a has the unknown dtype null/],
    ['header an array', [1, 2], 0, /the header is not a JSON object/],
    [
      'metadata not strings',
      { __metadata__: { epoch: 3 } },
      0,
      /__metadata__ is not a map of names to strings/,
    ],
  ];
  for (const [what, header, bytes, re] of cases) {
    assert.throws(
      () => E.decodeSafetensors(fileOf(header, bytes), 'w.safetensors'),
      (e: unknown) =>
        e instanceof InputError &&
        e.file === 'w.safetensors' &&
        e.message.startsWith('w.safetensors: ') &&
        re.test(e.message) &&
        /Fix: /.test(e.message),
      what,
    );
  }
  // what the format allows: empty tensors anywhere in the order, in any key order
  const ok = E.decodeSafetensors(
    fileOf({ b: f32([2], [8, 16]), e: f32([0], [8, 8]), a: f32([2], [0, 8]), z: f32([0, 5], [16, 16]) }, 16),
  );
  assert.deepEqual([...ok.tensors.keys()].sort(), ['a', 'b', 'e', 'z']);
  // a file on disk is named by its path
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-st-'));
  try {
    const path = join(dir, 'gap.safetensors');
    writeFileSync(path, fileOf({ a: f32([2], [0, 8]) }, 9));
    assert.throws(
      () => E.loadSafetensors(path),
      (e: unknown) => e instanceof InputError && e.file === path && /belong to no tensor/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Parses the file by hand in Python (struct + json + torch.frombuffer, so no `safetensors` package is
// needed), prints each tensor as JSON, and writes a file of its own the same way for us to read.
const PY_CHECK = String.raw`
import json, struct, sys, torch
path, out = sys.argv[1], sys.argv[2]
raw = open(path, 'rb').read()
n, = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n])
meta = header.pop('__metadata__', {})
dt = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16,
      'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool}
res = {}
for name, e in header.items():
    b, end = e['data_offsets']
    buf = bytearray(raw[8 + n + b: 8 + n + end])
    t = torch.frombuffer(buf, dtype=dt[e['dtype']]) if end > b else torch.empty(0, dtype=dt[e['dtype']])
    t = t.reshape(e['shape'])
    vals = t.double().flatten().tolist() if t.is_floating_point() else [str(v) for v in t.long().flatten().tolist()]
    res[name] = {'shape': list(t.shape), 'dtype': str(t.dtype), 'values': vals}
# a PyTorch-made file: a module's state dict, laid out by hand the same way
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
sd = {k: v.contiguous() for k, v in m.state_dict().items()}
names = {torch.float32: 'F32', torch.int64: 'I64'}
hdr, off, blobs = {}, 0, []
for k in sorted(sd):
    blob = sd[k].numpy().tobytes()
    hdr[k] = {'dtype': names[sd[k].dtype], 'shape': list(sd[k].shape), 'data_offsets': [off, off + len(blob)]}
    off += len(blob); blobs.append(blob)
hdr['__metadata__'] = {'format': 'pt'}
h = json.dumps(hdr).encode()
open(out, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
print(json.dumps({'meta': meta, 'tensors': res, 'theirs': {k: v.double().flatten().tolist() for k, v in sd.items()}}))
`;

test('PyTorch (python3-torch) reads our file, and we read a file PyTorch wrote', (t) => {
  if (!needPythonTorch(t, 'the cross-check with PyTorch')) return;
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-st-py-'));
  try {
    const ours = join(dir, 'ours.safetensors');
    const theirs = join(dir, 'theirs.safetensors');
    const src = sample();
    E.saveSafetensors(ours, src, { format: 'pt' });
    writeFileSync(join(dir, 'check.py'), PY_CHECK);
    const r = spawnSync(PYTHON, [join(dir, 'check.py'), ours, theirs], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as {
      meta: Record<string, string>;
      tensors: Record<string, { shape: number[]; dtype: string; values: (number | string)[] }>;
      theirs: Record<string, number[]>;
    };
    assert.deepEqual(got.meta, { format: 'pt' });
    for (const [name, tensor] of src) {
      const py = got.tensors[name]!;
      assert.deepEqual(py.shape, tensor.shape, name);
      assert.equal(py.dtype, `torch.${tensor.dtype}`, name);
      const expected = Array.from(tensor.data() as ArrayLike<number | bigint>, (v) =>
        typeof v === 'bigint' || !E.isFloating(tensor.dtype) ? String(v) : v,
      );
      assert.deepEqual(py.values, expected, name);
    }
    // and the other direction: a PyTorch state dict, key for key
    const loaded = E.loadSafetensors(theirs);
    assert.deepEqual(loaded.metadata, { format: 'pt' });
    assert.deepEqual([...loaded.tensors.keys()].sort(), Object.keys(got.theirs).sort());
    for (const [k, values] of Object.entries(got.theirs))
      assert.deepEqual(loaded.tensors.get(k)!.double().toArray(), values, k);
    assert.equal(loaded.tensors.get('1.num_batches_tracked')!.dtype, 'int64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
