/**
 * Channels-last inference (src/models/channels-last.ts): the U-Net with weights and input in NHWC
 * computes what it computes in the default layout (float32 rounding), the tensors really are NHWC, and
 * loadModel stores a U-Net predictor so (not MedT, whose views need the default layout).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callAny, manualSeed, noGrad, randn, scope, setNumThreads } from '../../src/engine/index.ts';
import { channelsLast, prefersChannelsLast, weightsToChannelsLast } from '../../src/models/channels-last.ts';
import { buildModel } from '../../src/models/registry.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { tempDir, writeTinyModel } from '../infer/helpers.ts';
import { SMALL_MEDT } from './helpers.ts';

setNumThreads(1);
/** NHWC: the strides of (N, C, H, W) are (HWC, 1, WC, C), where a dimension is longer than 1 */
const isChannelsLast = (t: Parameters<typeof channelsLast>[0]) => {
  const [, C, H, W] = t.shape as [number, number, number, number];
  const nhwc = [H * W * C, 1, W * C, C];
  return t.shape.every((size, d) => size === 1 || callAny('aten::stride.int', t, d) === nhwc[d]);
};

test('a U-Net with channels-last weights and input gives the default layout result to float rounding', () => {
  manualSeed(3);
  const net = buildModel({
    backbone: 'unet',
    inChannels: 3,
    imageSize: [40, 36],
    unet: { baseChannels: 4, depth: 2 },
  });
  net.eval();
  const x = randn([2, 3, 40, 36]).keep();
  const before = noGrad(() => scope(() => net.forward(x).logits.keep()));
  assert.ok(prefersChannelsLast(net));
  weightsToChannelsLast(net);
  const convWeights = net.parameters().filter((p) => p.ndim === 4);
  assert.ok(convWeights.length > 4 && convWeights.every(isChannelsLast), 'every conv weight is NHWC');
  const xl = channelsLast(x).keep();
  assert.ok(isChannelsLast(xl) && !isChannelsLast(x));
  const after = noGrad(() => scope(() => net.forward(xl).logits.keep()));
  assert.ok(isChannelsLast(after), 'the output stays NHWC');
  const diff = noGrad(() => scope(() => after.sub(before).abs().max().item()));
  const scale = noGrad(() => scope(() => before.abs().max().item()));
  assert.ok(diff <= 1e-5 * Math.max(1, scale), `max difference ${diff} (scale ${scale})`);
});

test('loadModel stores a U-Net predictor channels-last, not a MedT one', () => {
  const m = loadModel(writeTinyModel(tempDir()));
  assert.equal(m.config.backbone, 'unet');
  assert.ok(m.channelsLast);
  assert.ok(
    m.model
      .parameters()
      .filter((p) => p.ndim === 4)
      .every(isChannelsLast),
  );
  const medt = buildModel({ backbone: 'medt', medt: SMALL_MEDT, inChannels: 1, imageSize: [32, 32] });
  assert.equal(prefersChannelsLast(medt), false);
});
