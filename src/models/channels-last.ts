/**
 * Channels-last (NHWC) memory format for inference: oneDNN's convolutions take and give NHWC without
 * reordering to and from its own blocked layout around every layer. For the U-Net at 288 x 240 the
 * network's time per slice was 0.94 of the default layout (`bench/predict/batch.bench.ts
 * --channels-last`, idle machine, 7 of 8 paired rounds faster, CPU time 0.93). Only for the U-Net: its
 * layers (convolution, ReLU, pooling, bilinear resize, concatenation) all keep NHWC, where MedT folds
 * the image axes into the batch with views that need the default layout.
 */
import { call, callInPlace, noGrad, scope, type Tensor } from '../engine/index.ts';
import type { SegmentationNet } from './registry.ts';

/** c10::MemoryFormat::ChannelsLast */
const CHANNELS_LAST = 2;

/** Whether predictions with this network run in channels-last format (the U-Net). */
export function prefersChannelsLast(net: SegmentationNet): boolean {
  return net.config.backbone === 'unet';
}

/** `x` [N, C, H, W] as a channels-last tensor (same values and shape). */
export function channelsLast(x: Tensor): Tensor {
  return call('aten::contiguous', x, CHANNELS_LAST);
}

/** Stores every 4-D weight of `net` channels-last, in place (values unchanged); for inference copies. */
export function weightsToChannelsLast(net: SegmentationNet): void {
  noGrad(() =>
    scope(() => {
      for (const p of net.parameters())
        if (p.ndim === 4) callInPlace('aten::set_.source_Tensor', p, channelsLast(p));
    }),
  );
}
