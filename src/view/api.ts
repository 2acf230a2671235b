/**
 * The JSON the viewer's server sends its page: one contract, imported by both sides (src/view/server.ts
 * and src/view/page/main.ts), so they cannot drift. Types only: the page bundle imports nothing else
 * of the server from here.
 */

/** One row of predict's measurements (src/infer/measure.ts), as the table shows it. */
export interface MeasurementRow {
  /** structure name, e.g. "femoral_cartilage" */
  readonly structure: string;
  /** "all", or a plate half ("medial"/"lateral", "low"/"high" when the side is unknown) */
  readonly region: string;
  readonly volumeMm3: number | null;
  readonly meanThicknessMm: number | null;
}

export interface ViewCase {
  readonly id: string;
  /** URLs below the server, absent when the case has no such file */
  readonly image?: string;
  readonly prediction?: string;
  readonly groundTruth?: string;
  /** a second label map to compare with (`--compare`, e.g. another run) */
  readonly compare?: string;
  /** `imagesTr` cases can be saved as labelled; `imagesTs` and folder-only cases cannot */
  readonly savable: boolean;
  /** why a save is not possible (shown on the page) */
  readonly notSavable?: string;
  readonly hasProbabilities: boolean;
  readonly measurements: readonly MeasurementRow[];
}

export interface CaseList {
  /** what PATH was: "dataset", "predictions" or "run" */
  readonly kind: string;
  readonly title: string;
  /** structure name -> label value, background included (dataset.json's `labels`) */
  readonly labels: Readonly<Record<string, number>>;
  readonly cases: readonly ViewCase[];
}

/** Dice and HD95 of one structure of one case (src/eval/metrics.ts); null where undefined. */
export interface StructureScore {
  readonly dice: number | null;
  readonly hd95Mm: number | null;
}

/** case id -> structure name -> score, for cases with both a prediction and a ground truth. */
export type Scores = Readonly<Record<string, Readonly<Record<string, StructureScore>>>>;

/** Cases ordered for review, most uncertain first, with the uncertainty of each. */
export interface ReviewOrder {
  /** how the uncertainty was computed, for the page's tooltip */
  readonly measure: string;
  readonly cases: readonly { readonly id: string; readonly uncertainty: number }[];
}

/** Reply of a save. */
export interface SaveResult {
  readonly file: string;
  readonly provenance: string;
  readonly changedVoxels: number | null;
}

/** Request headers of a save: the body is the label map's voxels, x fastest, little-endian. */
export const SHAPE_HEADER = 'x-kneeseg-shape';
export const DTYPE_HEADER = 'x-kneeseg-dtype';
export const TOKEN_HEADER = 'x-kneeseg-token';
/** voxel types a label map may be saved in */
export const SAVE_DTYPES = ['uint8', 'int16'] as const;
export type SaveDtype = (typeof SAVE_DTYPES)[number];
