/** `kneeseg report RUN`: the HTML report of a training run (curves, and evaluation when present). */
import type { Command } from 'commander';
import { writeRunReport } from '../eval/report/run-report.ts';

export function reportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'write RUN/report.html: loss and validation curves of a training run, and the Dice box plot when RUN/evaluation.json exists',
    )
    .argument('<run>', 'training run folder (holds log.jsonl)')
    .action(async (run: string) => {
      const r = await writeRunReport(run);
      for (const f of r.figures) console.log(`wrote ${f}`);
      console.log(`wrote ${r.html}`);
    });
}
