/**
 * RUN/log.jsonl: one JSON object per line, appended and flushed as training goes, so a killed run
 * keeps its log and a resumed run continues it (entries past the checkpoint are dropped on resume).
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { outputError, writeFileAtomic } from '../output/atomic.ts';

export type LogEntry =
  | {
      type: 'train';
      iteration: number;
      epoch: number;
      stage: number;
      lr: number;
      losses: Record<string, number>;
      seconds_per_step: number;
      data_wait_seconds: number;
      skipped?: string;
    }
  | {
      type: 'validation';
      iteration: number;
      epoch: number;
      stage: number;
      val_loss: number;
      ema_vl: number;
      best: boolean;
      dice: Record<string, number>;
      lr: number;
    }
  | { type: 'event'; iteration: number; epoch: number; message: string };

export class RunLog {
  constructor(readonly path: string) {}

  append(entry: LogEntry): void {
    try {
      appendFileSync(this.path, `${JSON.stringify(entry)}\n`);
    } catch (err) {
      throw outputError(this.path, err);
    }
  }

  read(): LogEntry[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogEntry];
        } catch {
          return []; // a line cut by a kill
        }
      });
  }

  /** Keeps the entries up to `iteration` (a resumed run replays what came after its checkpoint). */
  truncateAfter(iteration: number): void {
    const keep = this.read().filter((e) => e.iteration <= iteration);
    writeFileAtomic(this.path, keep.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }
}
