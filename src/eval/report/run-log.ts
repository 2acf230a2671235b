/**
 * Reads a training run's RUN/log.jsonl (one JSON object per line, written by the trainer) for the
 * report. The schema types the two entry kinds the plots use and lets other kinds and extra fields
 * pass; lines that do not parse (a line cut by a killed run) are skipped, as the trainer does.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../../errors.ts';

export const TrainEntrySchema = z.looseObject({
  type: z.literal('train'),
  iteration: z.number(),
  epoch: z.number(),
  stage: z.number().optional(),
  lr: z.number().optional(),
  losses: z.record(z.string(), z.number().nullable()),
});

export const ValidationEntrySchema = z.looseObject({
  type: z.literal('validation'),
  iteration: z.number(),
  epoch: z.number(),
  val_loss: z.number().nullable(),
  ema_vl: z.number().nullable().optional(),
  best: z.boolean().optional(),
  dice: z.record(z.string(), z.number().nullable()).optional(),
});

export type TrainEntry = z.infer<typeof TrainEntrySchema>;
export type ValidationEntry = z.infer<typeof ValidationEntrySchema>;
export type PlottedLogEntry = TrainEntry | ValidationEntry;

const EntrySchema = z.union([TrainEntrySchema, ValidationEntrySchema]);

/** The train and validation entries of a log.jsonl; InputError when the file cannot be read. */
export function readRunLog(path: string): PlottedLogEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(path, 'cannot be read', 'give a training run folder holding log.jsonl');
  }
  const out: PlottedLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = EntrySchema.safeParse(raw);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}
