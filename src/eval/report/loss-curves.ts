/**
 * Loss and validation curves of a training run from its log.jsonl: training loss terms against
 * iteration, validation loss with its EMA (the plateau criterion; best checkpoints marked), and
 * validation Dice per structure. Panels without data are left out.
 */
import type { TopLevelSpec } from 'vega-lite';
import { renderVegaLite, type Figure } from './figure.ts';
import type { PlottedLogEntry } from './run-log.ts';

type Row = Record<string, string | number | boolean>;
type Panel = Record<string, unknown>;

const WIDTH = 560;
const HEIGHT = 180;

function linePanel(title: string, rows: Row[], yTitle: string, logScale: boolean, colorTitle: string): Panel {
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: rows.length <= 60, clip: true },
    encoding: {
      x: { field: 'iteration', type: 'quantitative', title: 'iteration' },
      y: {
        field: 'value',
        type: 'quantitative',
        title: yTitle,
        scale: logScale ? { type: 'log' } : { zero: false },
      },
      color: { field: 'series', type: 'nominal', title: colorTitle },
    },
  };
}

/** The curves of one run as a figure of stacked panels; RangeError when the log has no entries to plot. */
export async function lossCurves(entries: readonly PlottedLogEntry[]): Promise<Figure> {
  const train: Row[] = [];
  const val: Row[] = [];
  const best: Row[] = [];
  const dice: Row[] = [];
  for (const e of entries) {
    if (e.type === 'train') {
      for (const [name, v] of Object.entries(e.losses))
        if (v !== null && Number.isFinite(v)) train.push({ iteration: e.iteration, series: name, value: v });
    } else {
      if (e.val_loss !== null) val.push({ iteration: e.iteration, series: 'loss', value: e.val_loss });
      if (e.ema_vl !== null && e.ema_vl !== undefined)
        val.push({ iteration: e.iteration, series: 'EMA', value: e.ema_vl });
      if (e.best && e.val_loss !== null) best.push({ iteration: e.iteration, value: e.val_loss });
      for (const [s, v] of Object.entries(e.dice ?? {}))
        if (v !== null) dice.push({ iteration: e.iteration, series: s, value: 100 * v });
    }
  }
  const panels: Panel[] = [];
  if (train.length)
    panels.push(
      linePanel(
        'Training losses',
        train,
        'loss',
        train.every((r) => (r.value as number) > 0),
        'term',
      ),
    );
  if (val.length) {
    panels.push({
      title: 'Validation loss and its EMA (● best checkpoint)',
      width: WIDTH,
      height: HEIGHT,
      layer: [
        linePanel('', val, 'loss', false, 'series'),
        {
          data: { values: best },
          mark: { type: 'point', filled: true, size: 50, color: 'black' },
          encoding: {
            x: { field: 'iteration', type: 'quantitative' },
            y: { field: 'value', type: 'quantitative' },
          },
        },
      ].map(({ title: _t, width: _w, height: _h, ...layer }) => layer),
    });
  }
  if (dice.length) panels.push(linePanel('Validation Dice', dice, 'Dice (%)', false, 'structure'));
  if (panels.length === 0)
    throw new RangeError('lossCurves: the log holds no training or validation entries');
  const spec = { vconcat: panels, resolve: { scale: { color: 'independent' } } } as unknown as TopLevelSpec;
  return renderVegaLite(spec);
}
