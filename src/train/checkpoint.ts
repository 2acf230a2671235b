/**
 * Resumable checkpoints: one safetensors file holding every trained module's weights and buffers,
 * the optimizer's per-parameter state, and the loop's state (iteration, epoch, stage, sampler,
 * EMA-VL, ...) as JSON metadata. One file written to a temporary name and renamed, so a kill at any
 * moment leaves either the previous checkpoint or the new one, never half of one.
 */
import { existsSync } from 'node:fs';
import {
  loadSafetensors,
  saveSafetensors,
  type Module,
  type Optimizer,
  type OptimizerState,
  Tensor,
} from '../engine/index.ts';
import { InputError } from '../errors.ts';

export interface CheckpointContents<S> {
  modules: Record<string, Module>;
  optimizer: Optimizer;
  state: S;
}

interface OptimizerMeta {
  kind: string;
  lrs: number[];
  steps: (number | null)[];
}

export function saveCheckpoint<S>(path: string, c: CheckpointContents<S>): void {
  const tensors = new Map<string, Tensor>();
  for (const [name, m] of Object.entries(c.modules))
    for (const [k, t] of m.stateDict()) tensors.set(`module.${name}.${k}`, t);
  const opt = c.optimizer.stateDict();
  opt.params.forEach((p, i) => {
    if (p) for (const [k, t] of Object.entries(p.tensors)) tensors.set(`optim.${i}.${k}`, t);
  });
  const meta: OptimizerMeta = {
    kind: opt.kind,
    lrs: opt.lrs,
    steps: opt.params.map((p) => (p ? p.step : null)),
  };
  try {
    saveSafetensors(path, tensors, {
      kneeseg_state: JSON.stringify(c.state),
      kneeseg_optimizer: JSON.stringify(meta),
    });
  } finally {
    for (const p of opt.params) if (p) for (const t of Object.values(p.tensors)) t.dispose();
  }
}

const RESUME_FIX =
  'start the run again without --resume (with --overwrite, or into a new run folder), or put back a good copy of the checkpoint';

/** JSON of metadata `key` of checkpoint `path`, or an InputError naming both. */
function metadataJson(path: string, metadata: Record<string, string>, key: string): unknown {
  const text = metadata[key];
  if (text === undefined)
    throw new InputError(path, `is not a kneeseg checkpoint (its metadata has no ${key})`, RESUME_FIX);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(
      path,
      `is a damaged checkpoint: metadata ${key} is not JSON (${(err as Error).message})`,
      RESUME_FIX,
    );
  }
}

/**
 * Restores modules and optimizer in place; returns the loop state. A missing, empty, truncated or
 * damaged checkpoint, one whose state is not JSON or one of another model is an InputError naming
 * `path` and the fix.
 */
export function loadCheckpoint<S>(path: string, modules: Record<string, Module>, optimizer: Optimizer): S {
  if (!existsSync(path))
    throw new InputError(path, 'does not exist: there is no checkpoint to resume from', RESUME_FIX);
  let file: ReturnType<typeof loadSafetensors>;
  try {
    file = loadSafetensors(path);
  } catch (err) {
    const problem = err instanceof InputError ? err.problem : (err as Error).message.split('\n')[0];
    throw new InputError(path, `cannot be resumed from: ${problem}`, RESUME_FIX);
  }
  const { tensors, metadata } = file;
  try {
    const meta = metadataJson(path, metadata, 'kneeseg_optimizer') as OptimizerMeta | null;
    const loopState = metadataJson(path, metadata, 'kneeseg_state') as S | null;
    if (!meta || typeof meta !== 'object' || !Array.isArray(meta.steps) || !Array.isArray(meta.lrs))
      throw new InputError(path, 'is a damaged checkpoint: its optimizer state is not an object', RESUME_FIX);
    if (!loopState || typeof loopState !== 'object')
      throw new InputError(path, 'is a damaged checkpoint: its training state is not an object', RESUME_FIX);
    try {
      for (const [name, m] of Object.entries(modules)) {
        const prefix = `module.${name}.`;
        const own = new Map(
          [...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
        );
        m.loadStateDict(own);
      }
      const state: OptimizerState = {
        kind: meta.kind,
        lrs: meta.lrs,
        params: meta.steps.map((step, i) => {
          if (step === null) return null;
          const prefix = `optim.${i}.`;
          return {
            step,
            tensors: Object.fromEntries(
              [...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
            ),
          };
        }),
      };
      optimizer.loadStateDict(state);
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(
        path,
        `does not fit this run's networks (${(err as Error).message.split('\n')[0]})`,
        RESUME_FIX,
      );
    }
    return loopState;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
