/**
 * Makes docs/synthetic-slice.png: a sagittal slice of a synthetic knee (seed 0 of the default grid)
 * beside its labels, the slice through a condyle with the most femoral cartilage.
 * Run: node --import tsx bench/figures/synth-slice.ts [seed] [out.png]
 */
import { writeFileSync } from 'node:fs';
import { renderCase } from '../../src/data/synth/generate.ts';
import { sliceFigurePng } from '../../src/data/synth/render.ts';
import { sampleSubject } from '../../src/data/synth/subject.ts';
import { SYNTH_LABELS } from '../../src/data/synth/tissues.ts';

const seed = Number(process.argv[2] ?? 0);
const out = process.argv[3] ?? new URL('../../docs/synthetic-slice.png', import.meta.url).pathname;
const c = renderCase(sampleSubject(seed));
const [nx] = c.label.shape;
const counts = new Array<number>(nx).fill(0);
c.label.data.forEach((l, i) => {
  if (l === SYNTH_LABELS.femoral_cartilage) counts[i % nx]!++;
});
const slice = counts.indexOf(Math.max(...counts));
writeFileSync(out, sliceFigurePng(c.image, c.label, { slice }));
console.log(`wrote ${out} (slice x=${slice})`);
