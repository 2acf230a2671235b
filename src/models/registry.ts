/**
 * Builds a segmentation model (backbone + heads, METHOD.md section 3) from one validated config.
 * The config schema is exported so a training config embeds it and a checkpoint records it.
 * State-dict keys: `backbone.*`, `pw_head.*`, `ls_head.*`.
 */
import { z } from 'zod';
import { Module, type Layer, type Tensor } from '../engine/index.ts';
import { ConfigError } from '../errors.ts';
import { LevelSetHead, PixelWiseHead } from './heads.ts';
import { MedT } from './medt/medt.ts';
import { MedTConfigSchema } from './medt/config.ts';
import type { SegmentationModel, SegmentationOutput } from './model.ts';
import { UNet, UNetConfigSchema } from './unet.ts';

const size = z.number().int().positive();

export const ModelConfigSchema = z
  .object({
    backbone: z.enum(['medt', 'unet']).default('medt'),
    /** 3 = the slice and its two neighbours (METHOD.md section 1) */
    inChannels: size.default(3),
    /** logits per pixel: one per label-tree node (9 for the knee tree) */
    outChannels: size.default(9),
    /** add the level-set head f_LS */
    levelSet: z.boolean().default(true),
    /** [height, width] the model is built for (MedT sizes its relative-position tables from it) */
    imageSize: z.tuple([size, size]).default([288, 240]),
    heads: z
      .object({
        /** hidden channels of f_PW (default: the backbone's feature channels) */
        pwHidden: size.optional(),
        /** hidden channels of f_LS (0: a single 1x1 conv, as DTC) */
        lsHidden: z.number().int().min(0).default(0),
      })
      .strict()
      .prefault({}),
    medt: MedTConfigSchema.prefault({}),
    unet: UNetConfigSchema.prefault({}),
  })
  .strict();

export type ModelConfig = z.output<typeof ModelConfigSchema>;
export type ModelConfigInput = z.input<typeof ModelConfigSchema>;

/** Validates a model config; errors name the offending key. */
export function parseModelConfig(input: unknown): ModelConfig {
  const r = ModelConfigSchema.safeParse(input ?? {});
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigError(issue.path.join('.') || 'model', issue.message);
  }
  return r.data;
}

/** A backbone plus f_PW (and f_LS): the network of paper Eq. 1. */
export class SegmentationNet extends Module implements SegmentationModel {
  readonly backbone: Layer & { readonly outChannels: number };
  readonly pw_head: PixelWiseHead;
  readonly ls_head: LevelSetHead | null;
  readonly featureChannels: number;
  readonly outChannels: number;

  constructor(readonly config: ModelConfig) {
    super();
    const c = config;
    this.backbone = this.module(
      'backbone',
      c.backbone === 'medt' ? new MedT(c.inChannels, c.imageSize, c.medt) : new UNet(c.inChannels, c.unet),
    );
    this.featureChannels = this.backbone.outChannels;
    this.outChannels = c.outChannels;
    const F = this.featureChannels;
    this.pw_head = this.module('pw_head', new PixelWiseHead(F, c.outChannels, c.heads.pwHidden ?? F));
    this.ls_head = c.levelSet
      ? this.module('ls_head', new LevelSetHead(F, c.outChannels, c.heads.lsHidden))
      : null;
  }

  forward(x: Tensor): SegmentationOutput {
    const features = this.backbone.forward(x);
    const logits = this.pw_head.forward(features);
    return this.ls_head
      ? { features, logits, levelSet: this.ls_head.forward(features) }
      : { features, logits };
  }

  /** Freezes / unfreezes MedT's gates (no-op for other backbones). */
  setGatesTrainable(flag: boolean): void {
    if (this.backbone instanceof MedT) this.backbone.setGatesTrainable(flag);
  }
}

/** The model a config describes (validated here, so a plain object from JSON is fine). */
export function buildModel(config: ModelConfigInput | ModelConfig | unknown): SegmentationNet {
  return new SegmentationNet(parseModelConfig(config));
}
