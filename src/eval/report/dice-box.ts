/**
 * Per-structure Dice box plots over cases (the distribution behind a table's mean ± sd), with every
 * case drawn as a dot; with several methods, one box per method side by side within a structure.
 */
import type { TopLevelSpec } from 'vega-lite';
import { renderVegaLite, type Figure } from './figure.ts';

/** One case's results as evaluation.json stores them (Dice as a fraction; null when undefined). */
export interface CaseDice {
  readonly case: string;
  readonly structures: Readonly<Record<string, { readonly dice: number | null }>>;
  /** method name, when several methods are compared */
  readonly method?: string;
}

export interface DiceBoxOptions {
  /** structures in plot order (default: order of first appearance) */
  readonly structures?: readonly string[];
  readonly title?: string;
}

export async function diceBoxPlot(results: readonly CaseDice[], opts: DiceBoxOptions = {}): Promise<Figure> {
  const rows = results.flatMap((r) =>
    Object.entries(r.structures)
      .filter(([s, m]) => m.dice !== null && (!opts.structures || opts.structures.includes(s)))
      .map(([s, m]) => ({ case: r.case, structure: s, method: r.method ?? '', dice: 100 * m.dice! })),
  );
  if (rows.length === 0) throw new RangeError('diceBoxPlot: no Dice values to plot');
  const order = opts.structures ?? [...new Set(rows.map((r) => r.structure))];
  const methods = new Set(rows.map((r) => r.method)).size > 1;
  const x = { field: 'structure', type: 'nominal', sort: order, title: null, axis: { labelAngle: -30 } };
  const group = methods
    ? {
        xOffset: { field: 'method', type: 'nominal' },
        color: { field: 'method', type: 'nominal', title: 'method' },
      }
    : {};
  const spec = {
    title: opts.title ?? 'Dice per structure over cases',
    width: Math.max(240, 70 * order.length * (methods ? 1.6 : 1)),
    height: 260,
    data: { values: rows },
    encoding: { x },
    layer: [
      {
        mark: {
          type: 'boxplot',
          extent: 1.5,
          size: methods ? 14 : 28,
          ...(methods ? {} : { color: '#6baed6' }),
          median: { color: 'black' },
          outliers: false,
        },
        encoding: {
          y: { field: 'dice', type: 'quantitative', title: 'Dice (%)', scale: { zero: false, padding: 8 } },
          ...group,
        },
      },
      {
        mark: { type: 'point', filled: true, size: 14, opacity: 0.6, color: 'black' },
        encoding: {
          y: { field: 'dice', type: 'quantitative' },
          ...(methods ? { xOffset: group.xOffset } : {}),
          tooltip: [{ field: 'case' }],
        },
      },
    ],
  } as unknown as TopLevelSpec;
  return renderVegaLite(spec);
}
