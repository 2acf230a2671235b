/** The synthetic knee cohort: subjects, rendering, cohort writer and figures. */
export { sampleSubject, type Subject, type Defect } from './subject.ts';
export { renderCase, synthGeometry, DEFAULT_SYNTH_GRID, type SynthGrid, type SynthCase } from './generate.ts';
export { writeSynthCohort, synthCaseId, type CohortOptions, type CohortSummary } from './cohort.ts';
export { caseSeed } from './job.ts';
export { sliceFigurePng } from './render.ts';
export { SYNTH_LABELS, Tissue } from './tissues.ts';
