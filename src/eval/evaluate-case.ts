/**
 * Evaluation of one case: reads the predicted and ground-truth label maps, checks that they lie on
 * the same voxel grid and hold only declared labels, and computes structureMetrics per structure.
 * Runs in the main thread or in a worker thread (evaluate-worker.ts); jobs and results are plain
 * data so that they cross the thread boundary.
 */
import { InputError } from '../errors.ts';
import { readVolume } from '../data/io/index.ts';
import { sameGeometry, type Geometry, type Volume } from '../data/volume.ts';
import { labelMask, structureMetrics, type StructureMetrics } from './metrics.ts';

export interface CaseJob {
  readonly id: string;
  readonly gt: string;
  /** undefined: evaluate as an empty prediction */
  readonly pred?: string;
  /** structure name -> label value, background excluded */
  readonly labels: readonly (readonly [string, number])[];
}

export interface CaseResult {
  readonly case: string;
  readonly structures: Readonly<Record<string, StructureMetrics>>;
}

const fmt = (g: Geometry) =>
  `shape ${g.shape.join('x')}, spacing ${g.spacing.map((s) => +s.toFixed(4)).join('x')}, origin ${g.origin.map((o) => +o.toFixed(3)).join(',')}, direction ${g.direction.map((d) => +d.toFixed(3)).join(',')}`;

/** InputError naming `file` when `vol` holds a value that is neither background (0) nor a declared label. */
function checkLabelValues(vol: Volume, file: string, declared: ReadonlySet<number>): void {
  const seen = new Set<number>();
  for (const v of vol.data) seen.add(v);
  const unknown = [...seen].filter((v) => v !== 0 && !declared.has(v)).sort((a, b) => a - b);
  if (unknown.length > 0) {
    throw new InputError(
      file,
      `holds label value(s) ${unknown.slice(0, 8).join(', ')} that the label map does not declare (${[...declared].sort((a, b) => a - b).join(', ')})`,
      'pass --labels with the dataset.json that numbers these structures',
    );
  }
}

export async function evaluateCase(job: CaseJob): Promise<CaseResult> {
  const gt = await readVolume(job.gt);
  const pred: Volume = job.pred
    ? await readVolume(job.pred)
    : { ...gt, data: new Uint8Array(gt.data.length) };
  if (job.pred && !sameGeometry(pred, gt)) {
    throw new InputError(
      job.pred,
      `has ${fmt(pred)}, but its ground truth ${job.gt} has ${fmt(gt)}`,
      'write the prediction on the voxel grid of the ground truth (same shape, spacing, origin and direction)',
    );
  }
  const declared = new Set(job.labels.map(([, v]) => v));
  checkLabelValues(gt, job.gt, declared);
  if (job.pred) checkLabelValues(pred, job.pred, declared);
  const structures: Record<string, StructureMetrics> = {};
  for (const [name, value] of job.labels) {
    structures[name] = structureMetrics(
      labelMask(pred.data, value),
      labelMask(gt.data, value),
      gt.shape,
      gt.spacing,
    );
  }
  return { case: job.id, structures };
}
