import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isInferenceModeEnabled, noGrad, scope, setNumThreads, tensor } from '../../src/engine/index.ts';
import { readVolume, writeVolume } from '../../src/data/io/index.ts';
import { prepareCase, sagittalAxis, stackChannels } from '../../src/data/preprocess.ts';
import type { Volume } from '../../src/data/volume.ts';
import { InputError } from '../../src/errors.ts';
import { loadModel, type LoadedModel } from '../../src/infer/load-model.ts';
import { checkScan, defaultBatch, predictSlices, predictVolume } from '../../src/infer/predict.ts';
import { predictScans } from '../../src/infer/run-predict.ts';
import { assertClose, writeDicomSeries } from '../data/io/helpers.ts';
import { syntheticScan, tempDir, writeTinyModel } from './helpers.ts';

// tiny tensors: one thread avoids contention with other jobs on a shared 2-core machine
setNumThreads(1);
const model = loadModel(writeTinyModel(tempDir()));

/** Leaf labels of one prepared slice by a batch-1 forward pass, as int array [H*W]. */
function sliceLabels(m: LoadedModel, x: Float32Array, H: number, W: number): Int32Array {
  return noGrad(() =>
    scope(() => {
      const logits = m.model.forward(tensor(x, [1, x.length / (H * W), H, W])).logits;
      return Int32Array.from(m.decode(logits).data() as BigInt64Array, Number);
    }),
  );
}

test('predicted labels on the scan grid equal a slice-by-slice computation placed back by hand (crop and pad)', () => {
  const image = syntheticScan([9, 40, 24]); // in-plane 40 > 32 is cropped, 24 < 32 is padded
  const pred = predictVolume(model, image, 'scan', { batch: 4 });
  const p = prepareCase('scan', image, undefined, model.preprocessing);
  const { axis, rowAxis, colAxis, start } = p.layout;
  assert.equal(axis, sagittalAxis(image.direction));
  assert.ok(
    start.some((s) => s < 0) && start.some((s) => s > 0),
    `layout start ${start} should crop and pad`,
  );
  const [H, W] = p.layout.size;
  const C = 3;
  const expected = new Uint8Array(image.data.length);
  const [nx, ny] = image.shape;
  for (let s = 0; s < p.layout.count; s++) {
    // 2.5D input by hand: slices s-1, s, s+1 with the ends repeated
    const x = new Float32Array(C * H * W);
    for (let k = 0; k < C; k++) {
      const src = Math.min(p.layout.count - 1, Math.max(0, s + k - 1));
      x.set(p.planes.subarray(src * H * W, (src + 1) * H * W), k * H * W);
    }
    const lab = sliceLabels(model, x, H, W);
    for (let i = 0; i < expected.length; i++) {
      const idx = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
      if (idx[axis] !== s) continue;
      const r = idx[rowAxis]! - start[0];
      const c = idx[colAxis]! - start[1];
      if (r >= 0 && r < H && c >= 0 && c < W) expected[i] = lab[r * W + c]!;
    }
  }
  assert.deepEqual(pred.labels.data, expected);
  assert.ok(new Set(expected).size >= 2, 'the untrained model predicts more than one label here');
  assert.deepEqual(pred.labels.shape, image.shape);
});

test('the default batch holds about 64 Ki pixels (1 to 8 slices) and predicts what batch 1 predicts', () => {
  assert.equal(defaultBatch([288, 240]), 1);
  assert.equal(defaultBatch([128, 128]), 4);
  assert.equal(defaultBatch([64, 64]), 8);
  assert.equal(defaultBatch([32, 32]), 8);
  assert.equal(defaultBatch([1024, 1024]), 1);
  const image = syntheticScan([9, 40, 24]);
  const p = prepareCase('scan', image, undefined, model.preprocessing);
  assert.ok(defaultBatch(p.layout.size) > 1, 'the tiny model runs several slices per batch');
  const batches: number[] = [];
  const auto = predictSlices(model, p, {}, (done) => batches.push(done));
  const b = defaultBatch(p.layout.size);
  assert.equal(batches[0], b);
  assert.equal(batches.length, Math.ceil(p.layout.count / b));
  assert.deepEqual(auto.labels, predictSlices(model, p, { batch: 1 }).labels);
});

test('the network runs in inference mode, and the predictor stays usable outside it', () => {
  const p = prepareCase('scan', syntheticScan([4, 40, 24]), undefined, model.preprocessing);
  const net = model.model.backbone;
  const forward = net.forward.bind(net);
  const modes: boolean[] = [];
  net.forward = (x) => {
    modes.push(isInferenceModeEnabled());
    return forward(x);
  };
  let labels: ReturnType<typeof predictSlices>['labels'];
  try {
    labels = predictSlices(model, p, { batch: 2 }).labels;
  } finally {
    net.forward = forward;
  }
  assert.deepEqual(modes, [true, true]);
  assert.equal(isInferenceModeEnabled(), false);
  // the same labels from a forward outside inference mode (noGrad), slice by slice
  const [H, W] = p.layout.size;
  for (let s = 0; s < p.layout.count; s++) {
    const x = new Float32Array((2 * p.neighbours + 1) * H * W);
    stackChannels(p, s, x);
    assert.deepEqual(
      Array.from(sliceLabels(model, x, H, W)),
      Array.from(labels.subarray(s * H * W, (s + 1) * H * W)),
      `slice ${s}`,
    );
  }
});

test('--tta flip equals the average of the logits of the slice and of its mirrored slice, mirrored back', () => {
  const image = syntheticScan([5, 32, 32], 3);
  const p = prepareCase('scan', image, undefined, model.preprocessing);
  const [H, W] = p.layout.size;
  const C = 3;
  const tta = predictSlices(model, p, { batch: 2, tta: 'flip', probabilities: true });
  const plain = predictSlices(model, p, { batch: 2, probabilities: true });
  const flipW = (a: Float32Array, planes: number) => {
    const out = new Float32Array(a.length);
    for (let q = 0; q < planes; q++)
      for (let r = 0; r < H; r++)
        for (let c = 0; c < W; c++) out[(q * H + r) * W + c] = a[(q * H + r) * W + (W - 1 - c)]!;
    return out;
  };
  let maxDiffTta = 0;
  for (let s = 0; s < p.layout.count; s++) {
    const x = new Float32Array(C * H * W);
    for (let k = 0; k < C; k++) {
      const src = Math.min(p.layout.count - 1, Math.max(0, s + k - 1));
      x.set(p.planes.subarray(src * H * W, (src + 1) * H * W), k * H * W);
    }
    const K = model.config.outChannels;
    const run = (v: Float32Array) =>
      noGrad(() =>
        scope(
          () =>
            model.model
              .forward(tensor(v, [1, C, H, W]))
              .logits.contiguous()
              .data() as Float32Array,
        ),
      ).slice();
    const a = run(x);
    const b = flipW(run(flipW(x, C)), K);
    const avg = a.map((v, i) => (v + b[i]!) / 2);
    const [labels, probs] = noGrad(() =>
      scope(() => {
        const t = tensor(avg, [1, K, H, W]);
        return [
          Int32Array.from(model.decode(t).data() as BigInt64Array, Number),
          (model.probabilities(t).contiguous().data() as Float32Array).slice(),
        ];
      }),
    ) as [Int32Array, Float32Array];
    const got = tta.labels.subarray(s * H * W, (s + 1) * H * W);
    assert.deepEqual(Array.from(got), Array.from(labels), `labels of slice ${s}`);
    [...model.structures.keys()].forEach((_, k) => {
      const mine = tta.probabilities![k]!.subarray(s * H * W, (s + 1) * H * W);
      const ref = probs.subarray(k * H * W, (k + 1) * H * W);
      for (let i = 0; i < mine.length; i++)
        assert.ok(Math.abs(mine[i]! - ref[i]!) < 1e-5, `probability ${k} of slice ${s}`);
      const noTta = plain.probabilities![k]!.subarray(s * H * W, (s + 1) * H * W);
      for (let i = 0; i < mine.length; i++) maxDiffTta = Math.max(maxDiffTta, Math.abs(mine[i]! - noTta[i]!));
    });
  }
  assert.ok(maxDiffTta > 1e-4, 'flip averaging changes the probabilities');
});

function assertSameGeometry(out: Volume, input: Volume, what: string): void {
  assert.deepEqual([...out.shape], [...input.shape], `${what}: shape`);
  assertClose(out.spacing, input.spacing, 1e-5, `${what}: spacing`);
  assertClose(out.origin, input.origin, 1e-4, `${what}: origin`);
  assertClose(out.direction, input.direction, 1e-5, `${what}: direction`);
}

test('label maps have the geometry of NIfTI, MetaImage and DICOM inputs (oblique, anisotropic) and hold the prediction', async () => {
  const dir = tempDir();
  const input = join(dir, 'in');
  const out = join(dir, 'out');
  const scan = syntheticScan([10, 36, 28]);
  await writeVolume(join(input, 'knee_a_0000.nii.gz'), scan);
  await writeVolume(join(input, 'knee_b.mha'), { ...scan, spacing: [0.8, 0.31, 0.5] });
  writeDicomSeries(join(input, 'knee_c'), { ...scan, spacing: [0.45, 0.5, 1.5] });
  const r = await predictScans(model, input, { output: out, batch: 3, measure: false });
  assert.equal(r.failed.length, 0, r.failed.map((f) => f.error.message).join('; '));
  assert.deepEqual(
    r.done.map((d) => d.output),
    ['knee_a', 'knee_b', 'knee_c'].map((c) => join(out, `${c}.nii.gz`)),
  );
  for (const [id, file] of [
    ['knee_a', 'knee_a_0000.nii.gz'],
    ['knee_b', 'knee_b.mha'],
    ['knee_c', 'knee_c'],
  ] as const) {
    const source = await readVolume(join(input, file));
    const labels = await readVolume(join(out, `${id}.nii.gz`));
    assertSameGeometry(labels, source, id);
    assert.ok(labels.data instanceof Uint8Array);
    assert.deepEqual(labels.data, predictVolume(model, source, file).labels.data, `${id}: voxels`);
  }
});

test('--probabilities writes one float32 map per structure on the scan grid, equal to the in-memory maps', async () => {
  const dir = tempDir();
  const scan = syntheticScan([6, 30, 34], 5);
  await writeVolume(join(dir, 'knee.nii.gz'), scan);
  const r = await predictScans(model, join(dir, 'knee.nii.gz'), {
    output: join(dir, 'out'),
    probabilities: true,
    measure: false,
  });
  assert.equal(r.done.length, 1);
  const source = await readVolume(join(dir, 'knee.nii.gz'));
  const mem = predictVolume(model, source, 'knee', { probabilities: true }).probabilities!;
  assert.deepEqual([...mem.keys()], [...model.structures.values()]);
  for (const [name, vol] of mem) {
    const prob = await readVolume(join(dir, 'out', 'probabilities', `knee_${name}.nii.gz`));
    assertSameGeometry(prob, source, name);
    assert.ok(prob.data instanceof Float32Array);
    assert.deepEqual(prob.data, vol.data);
    assert.ok(prob.data.every((v) => v >= 0 && v <= 1));
  }
});

test('a 2D image is an InputError naming the file', () => {
  const flat = { ...syntheticScan([1, 30, 30]) };
  assert.throws(
    () => checkScan(flat, 'slice.nii.gz'),
    (e: unknown) => e instanceof InputError && /slice\.nii\.gz: is a 2D image/.test(e.message),
  );
  assert.throws(() => predictVolume(model, flat, 'slice.nii.gz'), InputError);
});
