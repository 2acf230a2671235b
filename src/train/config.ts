/**
 * The one validated configuration of a training run. Defaults are the paper's protocol
 * (METHOD.md section 7); a JSON file and command-line flags override them; unknown keys and bad values
 * are errors naming the key. The resolved object is written to RUN/config.json and into the model file.
 */
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { ConfigError, InputError } from '../errors.ts';
import { ModelConfigSchema } from '../models/registry.ts';
import { TreeOptionsSchema } from '../methods/tree-options.ts';

const positive = z.number().positive();
const nonNegInt = z.number().int().min(0);

export const DataConfigSchema = z.strictObject({
  /** dataset folder in nnU-Net v2 layout */
  dir: z.string().default(''),
  /** keep the labels of this many training cases (null: all); the others train as unlabelled */
  labelled: z.number().int().positive().nullable().default(null),
  /** regex on case ids naming the subject (group 1), so one subject's scans share a split */
  subjectPattern: z.string().nullable().default(null),
  /**
   * the label tree: a JSON file ({"roots": [...]}, src/hierarchy/tree.ts), or null for the knee tree of
   * METHOD.md section 2. Dataset labels map to tree nodes by name, else by their default values.
   */
  tree: z.string().min(1).nullable().default(null),
  /** slicing axis: auto = the sagittal axis found from the direction matrix */
  axis: z.enum(['auto', 'x', 'y', 'z']).default('auto'),
  /** slice size [H, W] after crop/pad around the knee (paper: 288 x 240) */
  size: z.tuple([z.number().int().min(8), z.number().int().min(8)]).default([288, 240]),
  /** neighbouring slices on each side stacked as channels (1 -> 3-channel 2.5D input, 0 -> 1 channel) */
  neighbours: nonNegInt.default(1),
  /** per-slice intensity scaling: 0..255 (paper) or z-score */
  intensity: z.enum(['minmax255', 'zscore']).default('minmax255'),
});

export const AugmentConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  scale: z.tuple([positive, positive]).default([0.85, 1.15]),
  flip: z.boolean().default(true),
  noiseStd: z.number().min(0).default(0.03),
  contrast: z.tuple([positive, positive]).default([0.8, 1.2]),
  gamma: z.tuple([positive, positive]).default([0.8, 1.25]),
  /** random translation up to this fraction of H and W (the paper's random crops) */
  shift: z.number().min(0).max(0.5).default(0.05),
});

export const OptimConfigSchema = z.strictObject({
  /** stage-1 (and single-stage) learning rate */
  lr: positive.default(1e-3),
  /** stage-2 (unconditional fine-tuning) learning rate */
  lrStage2: positive.default(1e-4),
  betas: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.9, 0.99]),
  weightDecay: z.number().min(0).default(1e-5),
  /**
   * The paper's schedule for its semi-supervised branch (section 3.2: "initial lr 0.01, x0.1 every 200
   * iterations"), read as the level-set head's own parameter group: lr * gamma^floor(iteration /
   * every). null: the head follows the stage learning rate like every other parameter.
   */
  levelSetHead: z
    .strictObject({
      lr: positive.default(0.01),
      every: z.number().int().positive().default(200),
      gamma: z.number().gt(0).max(1).default(0.1),
    })
    .nullable()
    .default(null),
});

export const ScheduleConfigSchema = z.strictObject({
  maxEpochs: z.number().int().positive().default(500),
  /** iterations per epoch; null: labelled training slices / labelled batch size */
  iterationsPerEpoch: z.number().int().positive().nullable().default(null),
  /** hard cap on iterations (null: maxEpochs x iterationsPerEpoch) */
  maxIterations: z.number().int().positive().nullable().default(null),
  /** wall-clock budget in minutes (null: none) */
  minutes: positive.nullable().default(null),
  /** EMA-VL smoothing: ema = decay * ema + (1 - decay) * val_loss */
  emaDecay: z.number().min(0).max(1).default(0.9),
  lrPatience: z.number().int().positive().default(40),
  stopPatience: z.number().int().positive().default(60),
  /** validate every N epochs */
  validateEvery: z.number().int().positive().default(1),
  /** at most this many validation slices (evenly spaced; null: all) */
  validationSlices: z.number().int().positive().nullable().default(null),
  /**
   * Which validated weights become model.safetensors. 'dice': the highest mean validation Dice over
   * the leaf structures, one criterion for both stages of a two-stage method. 'ema-vl' (paper): the
   * lowest EMA of the validation loss; the loss changes form at the stage switch (cond + cp, then
   * cp + up), so the comparison restarts there and the model comes from the last stage reached.
   */
  selection: z.enum(['dice', 'ema-vl']).default('dice'),
  /**
   * When two-stage methods move from the conditional to the unconditional stage: on a plateau of EMA-VL
   * (stage 1 would early-stop), at a fixed epoch, or at a fraction of the iteration budget; in every
   * mode not before each leaf structure's validation Dice has reached `minDice` (0: no such guard).
   */
  stageSwitch: z
    .strictObject({
      mode: z.enum(['plateau', 'epoch', 'fraction']).default('plateau'),
      epoch: z.number().int().positive().default(250),
      fraction: z.number().gt(0).lt(1).default(0.5),
      patience: z.number().int().positive().default(60),
      minDice: z.number().min(0).max(1).default(0.5),
    })
    .default({ mode: 'plateau', epoch: 250, fraction: 0.5, patience: 60, minDice: 0.5 }),
});

export const BatchConfigSchema = z.strictObject({
  labelled: z.number().int().positive().default(2),
  unlabelled: nonNegInt.default(2),
  /**
   * Class-aware foreground oversampling of the labelled slots (nnU-Net's
   * oversample_foreground_percent). `share`: fraction of the labelled slots, over the run, drawn
   * from the slices that contain a structure chosen uniformly at random (default 0.33, nnU-Net's
   * 1/3); 0 gives the plain uniform sampling exactly. `structures`: the tree leaf label values to
   * choose from (null: every leaf value that occurs in the labelled training slices); naming one that
   * no labelled training slice holds is an error.
   */
  foreground: z
    .strictObject({
      share: z.number().min(0).max(1).default(0.33),
      structures: z.array(z.number().int().positive()).nullable().default(null),
    })
    .default({ share: 0.33, structures: null }),
});

export const TrainConfigSchema = z.strictObject({
  data: DataConfigSchema.default(DataConfigSchema.parse({})),
  /** backbone and heads; channels, level-set head and image size follow from data and method */
  model: ModelConfigSchema.omit({
    inChannels: true,
    outChannels: true,
    levelSet: true,
    imageSize: true,
  }).prefault({}),
  method: z
    .strictObject({
      name: z.string().default('sshcps'),
      options: z.record(z.string(), z.unknown()).default({}),
    })
    .default({ name: 'sshcps', options: {} }),
  optim: OptimConfigSchema.default(OptimConfigSchema.parse({})),
  /** how the hierarchical methods train (src/methods/tree-options.ts) */
  tree: TreeOptionsSchema.default(TreeOptionsSchema.parse({})),
  batch: BatchConfigSchema.default(BatchConfigSchema.parse({})),
  augment: AugmentConfigSchema.default(AugmentConfigSchema.parse({})),
  schedule: ScheduleConfigSchema.default(ScheduleConfigSchema.parse({})),
  /** write RUN/checkpoints/last.safetensors every N iterations (and at the end) */
  checkpointEvery: z.number().int().positive().default(100),
  /** log training losses every N iterations */
  logEvery: z.number().int().positive().default(10),
  /** stop after this many consecutive non-finite losses */
  nanTolerance: z.number().int().positive().default(5),
  seed: z.number().int().min(0).default(0),
  /** libtorch threads (null: all cores) */
  threads: z.number().int().positive().nullable().default(null),
});

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/** Validates a configuration; the first problem becomes a ConfigError naming its key path. */
/**
 * Until the project settled on one spelling, configurations, run folders and model files said
 * `labeled` / `unlabeled`; they are read as `labelled` / `unlabelled`, so they keep working.
 */
export function withLegacyKeys(obj: unknown, renames: Readonly<Record<string, string>>): unknown {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const out: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
  for (const [old, now] of Object.entries(renames))
    if (old in out && !(now in out)) {
      out[now] = out[old];
      delete out[old];
    }
  return out;
}

const LEGACY_COUNTS = { labeled: 'labelled', unlabeled: 'unlabelled' } as const;

/** `data` and `batch` of a configuration with the old spelling read as the new one. */
export function upgradeConfigKeys(input: unknown): unknown {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return input;
  const c = { ...(input as Record<string, unknown>) };
  if ('data' in c) c.data = withLegacyKeys(c.data, LEGACY_COUNTS);
  if ('batch' in c) c.batch = withLegacyKeys(c.batch, LEGACY_COUNTS);
  return c;
}

export function parseConfig(input: unknown): TrainConfig {
  const r = TrainConfigSchema.safeParse(upgradeConfigKeys(input));
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const keys =
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((k) => [...issue.path, k].join('.'))
        : [issue.path.join('.')];
    const problem = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
    throw new ConfigError(keys.join(', ') || '(root)', problem);
  }
  return r.data;
}

/** Deep merge of plain objects; arrays and scalars of `b` replace those of `a`. */
export function mergeConfig(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      prev &&
      typeof prev === 'object' &&
      !Array.isArray(prev)
        ? mergeConfig(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(path, 'cannot be read', 'give the path of a JSON configuration file');
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new InputError(
      path,
      'is not a JSON object',
      'write the configuration as JSON, e.g. {"optim": {"lr": 0.001}}',
    );
  }
}
