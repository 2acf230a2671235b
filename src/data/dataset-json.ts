/**
 * dataset.json of the nnU-Net v2 layout: the one schema that both validates the file and types it.
 * Required: `channel_names` ({"0": "MRI"}), `labels` (name -> integer value, "background": 0),
 * `file_ending` (".nii.gz", ".mha", ...). Optional `dataset`: nnU-Net v2's explicit list of the
 * training cases, {case id: {"images": [one path per channel], "label": path}}, paths relative to the
 * dataset folder or absolute (src/data/dataset.ts reads it). `numTraining`, `name`, `description` and
 * any other keys nnU-Net or users add are kept as they are.
 */
import { readFileSync, mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../output/atomic.ts';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.ts';

export const READABLE_ENDINGS = ['.nii.gz', '.nii', '.mha', '.mhd', '.nrrd'] as const;

export const DatasetJsonSchema = z.looseObject({
  channel_names: z
    .record(z.string().regex(/^\d+$/, 'channel keys are "0", "1", ...'), z.string())
    .refine((c) => Object.keys(c).length >= 1, 'at least one channel is required'),
  labels: z
    .record(z.string().min(1), z.number().int().min(0).max(32767))
    .refine((l) => l['background'] === 0, 'labels must contain "background": 0')
    .refine((l) => new Set(Object.values(l)).size === Object.values(l).length, 'two labels share one value'),
  file_ending: z.enum(READABLE_ENDINGS),
  numTraining: z.number().int().min(0).optional(),
  dataset: z
    .record(
      z.string().min(1),
      z.looseObject({
        images: z.array(z.string().min(1)).min(1),
        label: z.string().min(1),
      }),
    )
    .optional(),
  name: z.string().optional(),
  description: z.string().optional(),
});

export type DatasetJson = z.infer<typeof DatasetJsonSchema>;

const FIX =
  'write dataset.json as in nnU-Net v2: {"channel_names": {"0": "MRI"}, "labels": {"background": 0, "femur": 1, ...}, "file_ending": ".nii.gz"}';

/** Reads and validates DIR/dataset.json; InputError naming the file for a missing, unparsable or invalid one. */
export function readDatasetJson(dir: string): DatasetJson {
  const path = join(dir, 'dataset.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(path, 'is missing', FIX);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InputError(path, `is not valid JSON (${(err as Error).message})`, FIX);
  }
  const parsed = DatasetJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`)
      .join('; ');
    throw new InputError(path, `is malformed: ${problems}`, FIX);
  }
  return parsed.data;
}

/** Validates `json` and writes DIR/dataset.json (pretty-printed) through the one atomic writer. */
export function writeDatasetJson(dir: string, json: DatasetJson): void {
  const path = join(dir, 'dataset.json');
  const parsed = DatasetJsonSchema.safeParse(json);
  if (!parsed.success) {
    throw new InputError(
      path,
      `would be malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      FIX,
    );
  }
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path, `${JSON.stringify(parsed.data, null, 2)}\n`);
}
