/**
 * Parameter count per part and FLOPs per slice of a segmentation model, for `kneeseg model` and the
 * parameter-count comparison with the paper (1.73 M for MedT). FLOPs are counted by instrumentation
 * (flops.ts): one eval-mode forward of a single slice, counting convolutions, matmuls and einsums as
 * 2 x multiply-accumulates; norms, softmax and elementwise ops are not counted.
 */
import { noGrad, scope, zeros } from '../engine/index.ts';
import { countFlops } from './flops.ts';
import type { SegmentationNet } from './registry.ts';

export interface ModelSummary {
  parts: { name: string; params: number }[];
  params: number;
  /** conv + matmul + einsum FLOPs of one [1, C, H, W] slice */
  flopsPerSlice: number;
  size: readonly [number, number];
}

/** Which part a state-dict key belongs to (MedT: global / local branch / fusion; U-Net: encoder / decoder). */
function partOf(key: string): string {
  const [top, sub] = key.split('.');
  if (top !== 'backbone') return top!;
  if (sub === 'decoderf') return 'backbone.fusion (decoderf)';
  if (sub!.endsWith('_p')) return 'backbone.local branch';
  if (/^(conv|bn|layer|decoder)\d/.test(sub!)) return 'backbone.global branch';
  if (/^(inc|down\d+)$/.test(sub!)) return 'backbone.encoder';
  if (/^up\d+$/.test(sub!)) return 'backbone.decoder';
  return `backbone.${sub}`;
}

export function summarizeModel(model: SegmentationNet, size: readonly [number, number]): ModelSummary {
  const parts = new Map<string, number>();
  for (const [k, p] of model.namedParameters()) parts.set(partOf(k), (parts.get(partOf(k)) ?? 0) + p.numel);
  const wasTraining = model.training;
  model.eval();
  const flops = noGrad(() =>
    scope(() => countFlops(() => void model.forward(zeros([1, model.config.inChannels, size[0], size[1]])))),
  );
  model.train(wasTraining);
  return {
    parts: [...parts].map(([name, params]) => ({ name, params })),
    params: model.parameterCount(),
    flopsPerSlice: flops,
    size,
  };
}
