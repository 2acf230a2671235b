/**
 * Progress for long jobs: a live bar on a terminal (cli-progress), plain periodic lines otherwise
 * (CI, log files), so both a person watching and a log reader see where a run is.
 */
import cliProgress from 'cli-progress';
import type { TrainEvent } from '../train/events.ts';

const fmt = (x: number) => (Math.abs(x) >= 100 || x === 0 ? x.toFixed(1) : x.toPrecision(3));

export function trainProgress(opts: { tty?: boolean; everySeconds?: number } = {}): (e: TrainEvent) => void {
  const tty = opts.tty ?? Boolean(process.stdout.isTTY);
  const every = (opts.everySeconds ?? 30) * 1000;
  let bar: cliProgress.SingleBar | null = null;
  let lastPrint = 0;
  return (e) => {
    switch (e.type) {
      case 'start':
        console.log(
          `training ${e.parameters.toLocaleString('en')} parameters, ${e.totalIterations} iterations${e.resumed ? `, resumed at ${e.startIteration}` : ''}`,
        );
        if (tty) {
          bar = new cliProgress.SingleBar(
            {
              format:
                'epoch {epoch} stage {stage} |{bar}| {value}/{total} ETA {eta_formatted} lr {lr} {losses}',
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.totalIterations, e.startIteration, { epoch: 0, stage: 1, lr: '-', losses: '' });
        }
        break;
      case 'step': {
        const losses = Object.entries(e.losses)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(' ');
        if (bar)
          bar.update(e.iteration, { epoch: e.epoch, stage: e.stage, lr: e.lr.toExponential(1), losses });
        else if (Date.now() - lastPrint >= every || e.iteration === e.totalIterations) {
          lastPrint = Date.now();
          console.log(
            `iter ${e.iteration}/${e.totalIterations} epoch ${e.epoch} stage ${e.stage} lr ${e.lr.toExponential(1)} ${losses} (${e.secondsPerStep.toFixed(2)} s/step)`,
          );
        }
        break;
      }
      case 'validation': {
        const dice = Object.entries(e.dice)
          .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}`)
          .join(' ');
        const values = Object.values(e.dice);
        const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
        // the criterion of model selection comes first, marked when this validation is the best so far
        const best = e.best ? ' (best)' : '';
        const head =
          e.selection === 'dice'
            ? `mean Dice ${(100 * mean).toFixed(1)}%${best}, loss ${fmt(e.valLoss)}`
            : `loss ${fmt(e.valLoss)} EMA-VL ${fmt(e.emaVl)}${best}`;
        const line = `validation epoch ${e.epoch}: ${head}; Dice% ${dice}`;
        if (bar) bar.stop();
        console.log(line);
        if (bar) bar.start(bar.getTotal(), e.iteration);
        break;
      }
      case 'message':
        console.log(e.text);
        break;
      case 'end':
        if (bar) bar.stop();
        console.log(
          `training stopped at iteration ${e.iteration}: ${e.reason} (${(e.seconds / 60).toFixed(1)} min)`,
        );
        break;
    }
  };
}
