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
  /** "review next" can rank it: probability maps, or predict --tta flip's disagreement */
  readonly reviewable: boolean;
  /** an experiment's predictions: run name -> URL (empty for other kinds) */
  readonly runs: Readonly<Record<string, string>>;
  readonly measurements: readonly MeasurementRow[];
}

export interface CaseList {
  /** what PATH was: "dataset", "predictions", "run" or "experiment" */
  readonly kind: string;
  /** an experiment's run names (empty for other kinds); the first is shown as "prediction" */
  readonly runs: readonly string[];
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

/**
 * The label maps a derived volume or score can be asked for (query parameters `a`, `b`, `of`, `run`):
 * an experiment's run name, or one of these.
 */
export const PREDICTION = 'prediction';
export const GROUND_TRUTH = 'truth';
export const COMPARED = 'compare';

/** Reply of a thickness recompute of an edited label map (POST /api/cases/{id}/thickness). */
export interface ThicknessResult {
  /** the thickness map of the edited labels, under /derived/ */
  readonly url: string;
  /** the case's measurements recomputed from the edited labels */
  readonly measurements: readonly MeasurementRow[];
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
