/** Time to render one synthetic knee case at the default grid (single thread). */
import { DEFAULT_SYNTH_GRID, renderCase } from '../../src/data/synth/generate.ts';
import { sampleSubject } from '../../src/data/synth/subject.ts';

const n = Number(process.argv[2] ?? 5);
renderCase(sampleSubject(1000)); // warm-up
const t0 = performance.now();
for (let i = 0; i < n; i++) renderCase(sampleSubject(i));
const ms = (performance.now() - t0) / n;
console.log(`synth: ${DEFAULT_SYNTH_GRID.shape.join('x')} voxels, ${ms.toFixed(0)} ms per case (1 thread)`);
