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

/** Restores modules and optimizer in place; returns the loop state. */
export function loadCheckpoint<S>(path: string, modules: Record<string, Module>, optimizer: Optimizer): S {
  if (!existsSync(path)) throw new Error(`${path}: no checkpoint to resume from`);
  const { tensors, metadata } = loadSafetensors(path);
  try {
    for (const [name, m] of Object.entries(modules)) {
      const prefix = `module.${name}.`;
      const own = new Map(
        [...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
      );
      m.loadStateDict(own);
    }
    const meta = JSON.parse(metadata.kneeseg_optimizer ?? 'null') as OptimizerMeta | null;
    if (!meta) throw new Error(`${path}: not a kneeseg checkpoint (no optimizer state)`);
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
    return JSON.parse(metadata.kneeseg_state ?? 'null') as S;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
