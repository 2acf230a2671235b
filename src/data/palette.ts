/**
 * Colours of the structures in every figure, so a structure looks the same in montages, surface
 * renderings and legends. Cartilages get strong colours, bones muted ones; other names take the
 * next colour of ColorBrewer's Set1/Dark2 in label order. Kept in data, beside the label names, so
 * every layer that draws structures can share it.
 */

export type Rgb = readonly [number, number, number];

const NAMED: Readonly<Record<string, Rgb>> = {
  femoral_cartilage: [228, 26, 28],
  tibial_cartilage: [55, 126, 184],
  patellar_cartilage: [77, 175, 74],
  femur: [230, 171, 2],
  tibia: [152, 78, 163],
  patella: [102, 166, 30],
};

const FALLBACK: readonly Rgb[] = [
  [255, 127, 0],
  [166, 86, 40],
  [247, 129, 191],
  [27, 158, 119],
  [117, 112, 179],
  [231, 41, 138],
];

/** label value -> colour for the structures of a label map (background excluded). */
export function structureColors(
  labels: Readonly<Record<string, number>>,
): Map<number, { name: string; color: Rgb }> {
  const out = new Map<number, { name: string; color: Rgb }>();
  let k = 0;
  for (const [name, value] of Object.entries(labels).sort((a, b) => a[1] - b[1])) {
    if (name === 'background' || value === 0) continue;
    out.set(value, { name, color: NAMED[name] ?? FALLBACK[k++ % FALLBACK.length]! });
  }
  return out;
}
