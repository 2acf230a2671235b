/**
 * Integrity check and summary of a dataset, like nnU-Net's `verify_dataset_integrity`: the layout
 * and dataset.json are validated (openDataset), then every case is read, so an unreadable or
 * truncated scan, a label map off its image's grid, unknown label values or NaN voxels stop the
 * check with an InputError naming the file. Returns data; the CLI prints it.
 */
import { DEFAULT_STRUCTURES, loadCase, openDataset, type CaseFiles, type OpenOptions } from './dataset.ts';

export interface CaseSummary {
  readonly id: string;
  readonly set: 'imagesTr' | 'imagesTs';
  readonly labelled: boolean;
  readonly shape: readonly number[];
  readonly spacing: readonly number[];
  /** structure name -> voxels labelled with it (labelled cases only) */
  readonly voxels?: Readonly<Record<string, number>>;
}

export interface DatasetSummary {
  readonly dir: string;
  readonly name?: string;
  readonly fileEnding: string;
  /** label value -> structure, as declared in dataset.json */
  readonly labels: readonly { readonly value: number; readonly name: string }[];
  /** known structures the dataset does not label (e.g. patella in OAI-ZIB) */
  readonly absentStructures: readonly string[];
  readonly counts: {
    readonly labelled: number;
    readonly unlabelled: number;
    readonly test: number;
    readonly testLabelled: number;
  };
  readonly cases: readonly CaseSummary[];
  /** per axis, over all cases */
  readonly shapeRange: { readonly min: readonly number[]; readonly max: readonly number[] };
  readonly spacingRange: { readonly min: readonly number[]; readonly max: readonly number[] };
  /** structure name -> voxels over all labelled cases; a declared structure with 0 voxels is suspicious */
  readonly totalVoxels: Readonly<Record<string, number>>;
}

function range(rows: readonly (readonly number[])[]): { min: number[]; max: number[] } {
  return {
    min: [0, 1, 2].map((a) => Math.min(...rows.map((r) => r[a]!))),
    max: [0, 1, 2].map((a) => Math.max(...rows.map((r) => r[a]!))),
  };
}

/** Validates DIR and reads every case; throws InputError on the first bad file. */
export async function inspectDataset(dir: string, options: OpenOptions = {}): Promise<DatasetSummary> {
  const ds = openDataset(dir, options);
  const cases: CaseSummary[] = [];
  const totalVoxels: Record<string, number> = Object.fromEntries(
    [...ds.structures.values()].map((n) => [n, 0]),
  );
  const visit = async (c: CaseFiles, set: CaseSummary['set']) => {
    const { image, label } = await loadCase(ds, c);
    let voxels: Record<string, number> | undefined;
    if (label) {
      const counts = new Map<number, number>();
      for (const v of label.data) counts.set(v, (counts.get(v) ?? 0) + 1);
      voxels = Object.fromEntries([...ds.structures].map(([value, name]) => [name, counts.get(value) ?? 0]));
      for (const [name, n] of Object.entries(voxels)) totalVoxels[name]! += n;
    }
    cases.push({
      id: c.id,
      set,
      labelled: label !== undefined,
      shape: image.shape,
      spacing: image.spacing,
      ...(voxels ? { voxels } : {}),
    });
  };
  // One case at a time: scans are large, and the readers are single-threaded WebAssembly anyway.
  for (const c of ds.training) await visit(c, 'imagesTr');
  for (const c of ds.test) await visit(c, 'imagesTs');
  const known = options.structures ?? DEFAULT_STRUCTURES;
  const declared = new Set(ds.structures.values());
  return {
    dir,
    ...(ds.json.name !== undefined ? { name: ds.json.name } : {}),
    fileEnding: ds.json.file_ending,
    labels: [...ds.structures].map(([value, name]) => ({ value, name })).sort((a, b) => a.value - b.value),
    absentStructures: known.filter((s) => !declared.has(s)),
    counts: {
      labelled: ds.training.filter((c) => c.label).length,
      unlabelled: ds.training.filter((c) => !c.label).length,
      test: ds.test.length,
      testLabelled: ds.test.filter((c) => c.label).length,
    },
    cases,
    shapeRange: range(cases.map((c) => c.shape)),
    spacingRange: range(cases.map((c) => c.spacing)),
    totalVoxels,
  };
}
