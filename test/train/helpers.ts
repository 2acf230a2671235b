/** Shared pieces of the trainer tests: a tiny synthetic cohort, a tiny configuration, log reading. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { writeSynthCohort } from '../../src/data/synth/index.ts';
import { mergeConfig, type TrainConfig } from '../../src/train/config.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { buildModel } from '../../src/models/registry.ts';
import { createMethod } from '../../src/methods/registry.ts';
import type { Method } from '../../src/methods/method.ts';
import type { LogEntry } from '../../src/train/run-log.ts';
import type { OpenedTrainingData } from '../../src/train/slice-data.ts';
import type { TrainListener } from '../../src/train/events.ts';
import { train, type TrainResult } from '../../src/train/trainer.ts';

/** A temporary folder removed when the test file ends (call it at the top level of the file). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kneeseg-${prefix}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * 3 labelled + 2 unlabelled training cases and 1 test case of 12 sagittal slices of 40 x 40: the split
 * keeps 2 labelled + 2 unlabelled cases for training and 1 labelled case for validation.
 */
export async function tinyCohort(dir: string): Promise<string> {
  const out = join(dir, 'dataset');
  await writeSynthCohort({
    out,
    labelled: 3,
    unlabelled: 2,
    test: 1,
    seed: 7,
    grid: { shape: [12, 40, 40], spacing: [2, 0.9, 0.9] },
    workers: 1,
  });
  return out;
}

/** The smallest sensible run: 32 x 32 slices, a U-Net of 4 base channels and depth 2, 5-iteration epochs. */
export function tinyConfig(data: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return mergeConfig(
    {
      data: { dir: data, size: [32, 32] },
      model: { backbone: 'unet', unet: { baseChannels: 4, depth: 2 } },
      schedule: { iterationsPerEpoch: 5, validationSlices: 4, maxIterations: 30 },
      logEvery: 5,
      checkpointEvery: 5,
      threads: 1,
    },
    over,
  );
}

/** A registered method on the knee tree with the configured networks, as src/train/run.ts builds it. */
export function methodFor(name: string, config: TrainConfig, inChannels: number): Method {
  return createMethod(name, {
    tree: defaultKneeTree(),
    treeOptions: config.tree,
    buildModel: ({ outChannels, levelSet }) =>
      buildModel({ ...config.model, inChannels, outChannels, levelSet, imageSize: config.data.size }),
  });
}

export function readLog(run: string): LogEntry[] {
  return readFileSync(join(run, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LogEntry);
}

export type TrainEntry = Extract<LogEntry, { type: 'train' }>;
export type ValidationEntry = Extract<LogEntry, { type: 'validation' }>;

export const trainEntries = (log: LogEntry[]): TrainEntry[] =>
  log.filter((e): e is TrainEntry => e.type === 'train');
export const validationEntries = (log: LogEntry[]): ValidationEntry[] =>
  log.filter((e): e is ValidationEntry => e.type === 'validation');

/** train() on opened data with the knee tree, as src/train/run.ts calls it. */
export function trainOn(
  opened: OpenedTrainingData,
  config: TrainConfig,
  method: Method,
  out: string,
  o: { listener?: TrainListener; modelMetadata?: Record<string, string> } = {},
): Promise<TrainResult> {
  return train({
    config,
    method,
    data: opened,
    tree: defaultKneeTree(),
    structureNames: opened.structureNames,
    out,
    listener: o.listener,
    modelMetadata: o.modelMetadata ?? {},
  });
}
