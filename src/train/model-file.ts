/**
 * The metadata of a model file (RUN/model.safetensors): everything inference needs besides the
 * weights, so a model file alone segments a scan the way it was trained (nnU-Net's habit of keeping
 * the plans with the weights). One schema for the writer (run.ts), the reader (src/infer/load-model.ts)
 * and the tests, so they cannot drift. It lives in train because `preprocessing` and `training` are
 * parts of the training configuration.
 *
 * safetensors metadata holds only strings: `format` and `decoding` are stored as they are, every other
 * value as JSON text.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { labelTreeSchema, parseLabelTree, type LabelTree } from '../hierarchy/tree.ts';
import { ModelConfigSchema, parseModelConfig, type ModelConfig } from '../models/registry.ts';
import { DataConfigSchema, withLegacyKeys } from './config.ts';

export const MODEL_FILE_FORMAT = 'kneeseg-model';

export const DecodingSchema = z.enum(['tree', 'softmax']);
export type Decoding = z.infer<typeof DecodingSchema>;

/** The metadata with its JSON values decoded; keys in the order they are written. */
export const ModelFileMetadataSchema = z.object({
  format: z.literal(MODEL_FILE_FORMAT),
  /** the predictor's config for buildModel */
  model: ModelConfigSchema,
  decoding: DecodingSchema,
  /** the label tree definition (src/hierarchy/tree.ts) */
  tree: labelTreeSchema,
  /** the data config the slices were cut with: axis, size, neighbours, intensity */
  preprocessing: z.preprocess((v) => withLegacyKeys(v, { labeled: 'labelled' }), DataConfigSchema),
  /** leaf label value -> structure name; files without it take the default names */
  structures: z.record(z.string(), z.string()).optional(),
  /** the resolved training config, kept for the record (inference does not read it) */
  training: z.unknown().optional(),
});
export type ModelFileMetadata = z.output<typeof ModelFileMetadataSchema>;
/** What a writer gives: defaults may be left out, as in the schema's input. */
export type ModelFileMetadataInput = z.input<typeof ModelFileMetadataSchema>;

type Key = keyof ModelFileMetadata;
const KEYS = Object.keys(ModelFileMetadataSchema.shape) as Key[];
/** keys stored as plain strings; the others hold JSON */
const PLAIN: ReadonlySet<Key> = new Set<Key>(['format', 'decoding']);

/** The string metadata to save with the weights (saveSafetensors). */
export function encodeModelMetadata(m: ModelFileMetadataInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of KEYS) {
    const v = m[key];
    if (v === undefined) continue;
    out[key] = PLAIN.has(key) ? String(v) : JSON.stringify(v);
  }
  return out;
}

/** What the reader needs of a model file's metadata, checked for consistency. */
export interface ModelFileContents {
  readonly config: ModelConfig;
  readonly tree: LabelTree;
  readonly decoding: Decoding;
  readonly preprocessing: z.output<typeof DataConfigSchema>;
  readonly structures: Readonly<Record<string, string>>;
}

/** Throws InputError(file, ..., fix) unless the metadata says it is a kneeseg model file. */
export function checkModelFormat(
  file: string,
  metadata: Readonly<Record<string, string>>,
  fix: string,
): void {
  if (metadata.format !== MODEL_FILE_FORMAT)
    throw new InputError(
      file,
      `is not a kneeseg model (metadata format is ${JSON.stringify(metadata.format ?? null)})`,
      fix,
    );
}

/**
 * Decodes and cross-checks the metadata of a model file (its format already checked): the first
 * problem becomes an InputError naming `file`, the key and `fix`.
 */
export function decodeModelMetadata(
  file: string,
  metadata: Readonly<Record<string, string>>,
  fix: string,
): ModelFileContents {
  const json = (key: Key): unknown => {
    const text = metadata[key];
    if (text === undefined) throw new InputError(file, `has no "${key}" metadata`, fix);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new InputError(file, `metadata "${key}" is not valid JSON`, fix);
    }
  };
  const wrap = <T>(key: Key, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(
        file,
        `metadata "${key}" is invalid (${(e as Error).message.split('\n')[0]})`,
        fix,
      );
    }
  };
  const shape = ModelFileMetadataSchema.shape;
  // parseModelConfig and parseLabelTree apply the schema's model and tree parts with their own messages
  const config = wrap('model', () => parseModelConfig(json('model')));
  const tree = parseLabelTree(json('tree'), `${file} (tree metadata)`);
  const decoding = shape.decoding.safeParse(metadata.decoding);
  if (!decoding.success)
    throw new InputError(
      file,
      `metadata "decoding" is ${JSON.stringify(metadata.decoding ?? null)}, not "tree" or "softmax"`,
      fix,
    );
  const preprocessing = wrap('preprocessing', () => shape.preprocessing.parse(json('preprocessing')));
  const channels = 2 * preprocessing.neighbours + 1;
  if (config.inChannels !== channels)
    throw new InputError(
      file,
      `the network takes ${config.inChannels} channels but preprocessing stacks ${channels} (neighbours ${preprocessing.neighbours})`,
      fix,
    );
  const expected = decoding.data === 'tree' ? tree.size : tree.leaves.length + 1;
  if (config.outChannels !== expected)
    throw new InputError(
      file,
      `the network has ${config.outChannels} outputs, ${decoding.data} decoding of its tree needs ${expected}`,
      fix,
    );
  const structures = wrap(
    'structures',
    () => shape.structures.parse(metadata.structures === undefined ? undefined : json('structures')) ?? {},
  );
  return { config, tree, decoding: decoding.data, preprocessing, structures };
}
