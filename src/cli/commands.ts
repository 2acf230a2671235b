/** The subcommands of `kneeseg`, one file each. Add a line here to add a subcommand. */
import type { Command } from 'commander';
import { evaluateCommand } from './evaluate.ts';
import { inspectCommand } from './inspect.ts';
import { synthCommand } from './synth.ts';
import { modelCommand } from './model.ts';
import { predictCommand } from './predict.ts';
import { measureCommand } from './measure.ts';
import { reportCommand } from './report.ts';
import { trainCommand } from './train.ts';
import { doctorCommand } from './doctor.ts';
import { experimentCommand } from './experiment.ts';
import { demoCommand } from './demo.ts';
import { viewCommand } from './view.ts';

export const subcommands: ((program: Command) => void)[] = [
  inspectCommand,
  synthCommand,
  modelCommand,
  evaluateCommand,
  reportCommand,
  trainCommand,
  experimentCommand,
  demoCommand,
  predictCommand,
  measureCommand,
  doctorCommand,
  viewCommand,
];
