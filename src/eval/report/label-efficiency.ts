/**
 * The label-efficiency curve (the paper's Figure 3): mean cartilage Dice against the number of
 * labelled training scans, one line per method, error bars ± sd over seeds.
 */
import type { TopLevelSpec } from 'vega-lite';
import { renderVegaLite, type Figure } from './figure.ts';

export interface LabelEfficiencyPoint {
  readonly method: string;
  /** number of labelled training scans */
  readonly labelled: number;
  /** mean cartilage Dice as a fraction (plotted in %) */
  readonly mean: number;
  /** sd over seeds as a fraction (0 or NaN for one seed: no bar) */
  readonly sd: number;
}

export async function labelEfficiencyPlot(
  points: readonly LabelEfficiencyPoint[],
  title = 'Label efficiency',
): Promise<Figure> {
  if (points.length === 0) throw new RangeError('labelEfficiencyPlot: no points');
  const rows = points.map((p) => {
    const sd = Number.isFinite(p.sd) ? p.sd : 0;
    return {
      method: p.method,
      labelled: p.labelled,
      mean: 100 * p.mean,
      lo: 100 * (p.mean - sd),
      hi: 100 * (p.mean + sd),
    };
  });
  const x = {
    field: 'labelled',
    type: 'quantitative',
    title: 'labelled training scans',
    scale: { zero: false },
  };
  const color = { field: 'method', type: 'nominal', title: 'method' };
  const spec = {
    title,
    width: 420,
    height: 280,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'line', point: { filled: true, size: 50 } },
        encoding: {
          x,
          y: {
            field: 'mean',
            type: 'quantitative',
            title: 'mean cartilage Dice (%)',
            scale: { zero: false },
          },
          color,
        },
      },
      {
        mark: { type: 'rule' },
        encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
      },
    ],
  } as unknown as TopLevelSpec;
  return renderVegaLite(spec);
}
