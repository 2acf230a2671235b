import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  inferenceMode,
  isGradEnabled,
  isInferenceModeEnabled,
  noGrad,
  randn,
  scope,
} from '../../src/engine/index.ts';

test('noGrad records no graph and restores grad mode, also when its function throws', () =>
  scope(() => {
    const w = randn([3]).requiresGrad_(true);
    assert.equal(noGrad(() => w.mul(2)).requiresGrad, false);
    assert.equal(w.mul(2).requiresGrad, true);
    assert.throws(() =>
      noGrad(() => {
        throw new Error('inside');
      }),
    );
    assert.equal(isGradEnabled(), true);
  }));

test('inferenceMode makes inference tensors without a graph, nests, and ends with its function', () =>
  scope(() => {
    const w = randn([3]).requiresGrad_(true);
    assert.equal(isInferenceModeEnabled(), false);
    const inside = inferenceMode(() => {
      assert.equal(isInferenceModeEnabled(), true);
      assert.equal(isGradEnabled(), false);
      const nested = inferenceMode(() => w.add(1));
      // still on after the nested call returned
      assert.equal(isInferenceModeEnabled(), true);
      return [w.mul(2), nested];
    });
    for (const t of inside) {
      assert.equal(t.isInference, true);
      assert.equal(t.requiresGrad, false);
    }
    assert.deepEqual(
      inside[0]!.toArray().map((v) => Math.round(v * 1e6)),
      w.toArray().map((v) => Math.round(v * 2e6)),
    );
    // outside again: normal tensors, grad recorded
    assert.equal(isInferenceModeEnabled(), false);
    assert.equal(isGradEnabled(), true);
    const after = w.mul(2);
    assert.equal(after.isInference, false);
    assert.equal(after.requiresGrad, true);
    // libtorch refuses an inference tensor in a recorded graph (what the predictor's copy is kept from)
    assert.throws(() => w.mul(inside[0]!).sum().backward(), /[Ii]nference tensor/);
    // an exception inside ends inference mode too
    assert.throws(() =>
      inferenceMode(() => {
        throw new Error('inside');
      }),
    );
    assert.equal(isInferenceModeEnabled(), false);
  }));
