/**
 * MedT's configuration. The defaults are the official network (`MedT()` in
 * jeya-maria-jose/Medical-Transformer, lib/models/axialnet.py): width factor s = 0.125, 8 heads,
 * a 128-channel stem, a global branch of gated axial blocks [1, 2] and a local branch of axial blocks
 * without positional terms [1, 2, 4, 1] over a 4 x 4 grid of patches.
 */
import { z } from 'zod';

/**
 * Attention inside an axial block:
 * - `gated`: relative positional terms for q, k, v scaled by four learned gates (MedT's gated axial
 *   attention, paper Eq. 2; official `AxialAttention_dynamic`),
 * - `positional`: relative positional terms without gates (Axial-DeepLab; official `AxialAttention`),
 * - `plain`: no positional terms (official `AxialAttention_wopos`, MedT's local branch).
 */
export const AttentionKind = z.enum(['gated', 'positional', 'plain']);
export type AttentionKind = z.infer<typeof AttentionKind>;

const pair = z.tuple([z.number().int().positive(), z.number().int().positive()]);

const branch = (layers: number[], attention: AttentionKind, bottleneck: boolean) =>
  z
    .object({
      /** axial blocks per stage; stage 1 keeps the resolution, every later stage halves it */
      layers: z.array(z.number().int().positive()).min(1).max(4).default(layers),
      attention: AttentionKind.default(attention),
      /** a stride-2 3x3 conv on the deepest stage, upsampled and added back (official `decoder1`) */
      bottleneck: z.boolean().default(bottleneck),
      /**
       * stem output channels. Default: 64 s for the global branch; for the local branch the global
       * branch's output channels (in the official code `inplanes` carries over from the global
       * layers, so its local stem is 64 channels wide at s = 0.125, not 8)
       */
      stemOut: z.number().int().positive().optional(),
    })
    .strict()
    .prefault({});

export const MedTConfigSchema = z
  .object({
    /** channel multiplier s: stem 64s, stage i has 128s * 2^(i-1) attention channels, 2x that out */
    widthFactor: z.number().positive().default(0.125),
    /** heads (the official `groups`) of every axial attention */
    heads: z.number().int().positive().default(8),
    /** channels of the stem's middle conv (the official code fixes 128 whatever the width) */
    stemChannels: z.number().int().positive().default(128),
    global: branch([1, 2], 'gated', false),
    local: branch([1, 2, 4, 1], 'plain', true),
    /** local-branch patch [height, width]; default: the image size over a 4 x 4 grid (official: 32 at 128) */
    patchSize: pair.optional(),
    /** start with the gates frozen (the official train.py unfreezes them at epoch 10) */
    gatesFrozen: z.boolean().default(false),
  })
  .strict();

export type MedTConfig = z.output<typeof MedTConfigSchema>;
export type MedTConfigInput = z.input<typeof MedTConfigSchema>;
