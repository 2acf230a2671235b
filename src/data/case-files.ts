/**
 * Pairs predicted label maps with ground-truth label maps by case id, the way nnU-Net v2 names them:
 * `{case}{ending}` in both folders (e.g. `knee_0003.nii.gz`). Any readable ending is accepted and the
 * two folders may use different ones. Files of other kinds (nnU-Net writes dataset.json, plans.json
 * and .npz files next to its predictions; MetaImage .raw data files) are ignored.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { READABLE_ENDINGS } from './dataset-json.ts';

/** Case id -> file of a folder of label maps. */
export function listLabelMaps(dir: string): Map<string, string> {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat?.isDirectory())
    throw new InputError(dir, 'is not a folder', 'give the folder holding the {case}.nii.gz label maps');
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).sort()) {
    if (f.startsWith('.')) continue;
    const ending = READABLE_ENDINGS.find((e) => f.toLowerCase().endsWith(e));
    if (!ending) continue;
    const id = f.slice(0, -ending.length);
    const prev = out.get(id);
    if (prev)
      throw new InputError(
        join(dir, f),
        `has the same case id "${id}" as ${prev}`,
        'keep one label map per case',
      );
    out.set(id, join(dir, f));
  }
  return out;
}

export interface CasePair {
  readonly id: string;
  readonly gt: string;
  /** undefined when the case has no prediction (allowed with `missingAsEmpty`) */
  readonly pred?: string;
}

export interface MatchedCases {
  /** one per ground-truth file, sorted by case id */
  readonly pairs: readonly CasePair[];
  /** case ids without a prediction (evaluated as empty predictions) */
  readonly missing: readonly string[];
  /** prediction files without a ground truth (not evaluated) */
  readonly unmatched: readonly string[];
}

/**
 * Matches the label maps of `predDir` to those of `gtDir`. A ground truth without a prediction is
 * an InputError naming the missing cases unless `missingAsEmpty`; an empty `gtDir` is an error too.
 */
export function matchCases(predDir: string, gtDir: string, missingAsEmpty = false): MatchedCases {
  const gt = listLabelMaps(gtDir);
  const pred = listLabelMaps(predDir);
  if (gt.size === 0) {
    throw new InputError(
      gtDir,
      `holds no label maps (${READABLE_ENDINGS.join(', ')})`,
      'point --gt at the folder of ground-truth label maps, e.g. DATASET/labelsTs',
    );
  }
  const missing = [...gt.keys()].filter((id) => !pred.has(id));
  if (missing.length > 0 && !missingAsEmpty) {
    const shown =
      missing.slice(0, 10).join(', ') + (missing.length > 10 ? `, ... (${missing.length} in all)` : '');
    throw new InputError(
      predDir,
      `has no prediction for case(s) ${shown}`,
      'predict every case, or pass --missing-as-empty to score missing cases as empty predictions',
    );
  }
  const pairs = [...gt.entries()].map(([id, g]) => {
    const p = pred.get(id);
    return p ? { id, gt: g, pred: p } : { id, gt: g };
  });
  const unmatched = [...pred.entries()].filter(([id]) => !gt.has(id)).map(([, f]) => f);
  return { pairs, missing, unmatched };
}
