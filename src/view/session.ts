/**
 * What the viewer's server knows between requests: the catalog (reopened after a save), the cache
 * folder of derived volumes, and memoised scores, uncertainties and derived files. Each method
 * answers one kind of request of routes.ts; none writes outside the cache, except `save`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import {
  COMPARED,
  GROUND_TRUTH,
  PREDICTION,
  type CaseList,
  type ReviewOrder,
  type Scores,
  type StructureScore,
  type ThicknessResult,
  type ViewCase,
} from './api.ts';
import { openCatalog, type Catalog, type CatalogCase, type CatalogOptions } from './catalog.ts';
import {
  cachePath,
  caseUncertainty,
  FLIP_MEASURE,
  measureEdited,
  scoreCase,
  scoresFromEvaluation,
  UNCERTAINTY_MEASURE,
  writeDisagreement,
  writeThicknessVolume,
} from './derived.ts';
import { isBelow } from './paths.ts';
import { labelsOfRequest, saveCorrection, ViewRequestError, type SaveRequest } from './save.ts';

type CaseScores = Record<string, StructureScore>;

function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = make();
    map.set(key, p);
    p.catch(() => map.delete(key));
  }
  return p;
}

export class ViewSession {
  catalog: Catalog;
  readonly cache = mkdtempSync(join(tmpdir(), 'kneeseg-view-'));
  private readonly scores = new Map<string, Promise<CaseScores>>();
  private readonly uncertainty = new Map<string, Promise<number>>();
  private readonly derived = new Map<string, Promise<string>>();
  private readonly runScores = new Map<string, Promise<Scores>>();
  /** `${id}/${n}` -> thickness map of the n-th edit of a case sent for recompute */
  private readonly edits = new Map<string, string>();
  private editCount = 0;

  constructor(
    private readonly path: string,
    private readonly options: CatalogOptions,
  ) {
    this.catalog = openCatalog(path, options);
  }

  /** The folders files may be served from, by the name used in URLs (`run.NAME` for a run's pred/). */
  roots(): Map<string, string> {
    const c = this.catalog;
    const r = new Map<string, string>();
    if (c.dataset) r.set('dataset', c.dataset.dir);
    if (c.predictions) r.set('predictions', c.predictions);
    if (c.compare) r.set('compare', c.compare);
    for (const run of c.runs) r.set(`run.${run.name}`, run.pred);
    return r;
  }

  fileUrl(file: string | undefined): string | undefined {
    if (!file) return undefined;
    for (const [name, dir] of this.roots()) {
      if (!isBelow(file, dir)) continue;
      return `/files/${encodeURIComponent(name)}/${relative(dir, file).split(sep).map(encodeURIComponent).join('/')}`;
    }
    return undefined;
  }

  caseList(): CaseList {
    const c = this.catalog;
    return {
      kind: c.kind,
      title: c.title,
      labels: c.labels,
      runs: c.runs.map((r) => r.name),
      cases: c.cases.map((x) => this.viewCase(x)),
    };
  }

  private viewCase(c: CatalogCase): ViewCase {
    return {
      id: c.id,
      image: this.fileUrl(c.image),
      prediction: this.fileUrl(c.prediction),
      groundTruth: this.fileUrl(c.groundTruth),
      compare: this.fileUrl(c.compare),
      savable: c.labelTarget !== undefined,
      notSavable: c.notSavable,
      hasProbabilities: c.probabilities.size > 0,
      reviewable: c.probabilities.size > 0 || c.flipDisagreement !== undefined,
      runs: Object.fromEntries([...c.runs].map(([name, f]) => [name, this.fileUrl(f) ?? ''])),
      measurements: c.measurements,
    };
  }

  findCase(id: string): CatalogCase {
    const c = this.catalog.cases.find((x) => x.id === id);
    if (!c) throw new ViewRequestError(404, `no case "${id}"`);
    return c;
  }

  /** The label map of a case named by a request: a run name, PREDICTION, GROUND_TRUTH or COMPARED. */
  labelFile(c: CatalogCase, which: string): string {
    const file =
      which === PREDICTION
        ? c.prediction
        : which === GROUND_TRUTH
          ? c.groundTruth
          : which === COMPARED
            ? c.compare
            : c.runs.get(which);
    if (!file) throw new ViewRequestError(404, `case ${c.id} has no label map "${which}"`);
    return file;
  }

  /** The file of a derived volume (`thickness` or `disagreement`) of case `id`, made on first request. */
  derivedFile(kind: string, id: string, q: URLSearchParams): Promise<string> {
    const c = this.findCase(id);
    if (kind === 'thickness') {
      const edit = q.get('edit');
      if (edit !== null) {
        const file = this.edits.get(`${id}/${edit}`);
        if (!file) throw new ViewRequestError(404, `no edit ${edit} of case ${id}`);
        return Promise.resolve(file);
      }
      const of = q.get('of') ?? (c.prediction ? PREDICTION : GROUND_TRUTH);
      const labels = this.labelFile(c, of);
      return memo(this.derived, `thickness/${of}/${id}`, () =>
        writeThicknessVolume(labels, this.catalog.labels, cachePath(this.cache, 'thickness', id, of)),
      );
    }
    if (kind === 'disagreement') {
      const a = q.get('a') ?? PREDICTION;
      const b = q.get('b') ?? (c.groundTruth ? GROUND_TRUTH : COMPARED);
      const [fa, fb] = [this.labelFile(c, a), this.labelFile(c, b)];
      const out = cachePath(this.cache, 'disagreement', id, `${a}\n${b}`);
      return memo(this.derived, `disagreement/${a}\n${b}/${id}`, () => writeDisagreement(fa, fb, out));
    }
    return Promise.reject(new ViewRequestError(404, `no derived volume "${kind}"`));
  }

  /** Dice/HD95 per case: the prediction's, or an experiment run's (its evaluation.json when it parses). */
  async allScores(run: string | null): Promise<Scores> {
    if (run !== null && run !== PREDICTION) {
      const r = this.catalog.runs.find((x) => x.name === run);
      if (!r) throw new ViewRequestError(404, `no run "${run}"`);
      return memo(this.runScores, run, async () => {
        const stored = r.evaluation ? scoresFromEvaluation(r.evaluation) : null;
        return stored ?? this.computeScores(run, (c) => c.runs.get(run));
      });
    }
    return this.computeScores(PREDICTION, (c) => c.prediction);
  }

  private async computeScores(tag: string, pick: (c: CatalogCase) => string | undefined): Promise<Scores> {
    const out: Record<string, CaseScores> = {};
    for (const c of this.catalog.cases) {
      const [p, g] = [pick(c), c.groundTruth];
      if (!p || !g) continue;
      out[c.id] = await memo(this.scores, `${tag}\n${c.id}`, () => scoreCase(p, g, this.catalog.labels));
    }
    return out;
  }

  /**
   * Cases ranked for review, most uncertain first: by the entropy of their probability maps when some
   * case has them, else by predict --tta flip's disagreement (uncertainty.json).
   */
  async review(): Promise<ReviewOrder> {
    const cases: { id: string; uncertainty: number }[] = [];
    const withProbabilities = this.catalog.cases.filter((c) => c.probabilities.size > 0);
    if (withProbabilities.length > 0) {
      for (const c of withProbabilities) {
        const files = [...c.probabilities.values()];
        const u = await memo(this.uncertainty, c.id, () => caseUncertainty(files));
        cases.push({ id: c.id, uncertainty: u });
      }
    } else
      for (const c of this.catalog.cases)
        if (c.flipDisagreement !== undefined) cases.push({ id: c.id, uncertainty: c.flipDisagreement });
    cases.sort((a, b) => b.uncertainty - a.uncertainty || (a.id < b.id ? -1 : 1));
    return { measure: withProbabilities.length > 0 ? UNCERTAINTY_MEASURE : FLIP_MEASURE, cases };
  }

  /** Thickness map and measurements of an edited (unsaved) label map of case `id`. */
  async recomputeThickness(id: string, req: SaveRequest): Promise<ThicknessResult> {
    const c = this.findCase(id);
    const grid = c.image ?? c.prediction ?? c.groundTruth;
    if (!grid) throw new ViewRequestError(404, `case ${id} has no file to take the grid from`);
    const vol = await labelsOfRequest(grid, id, this.catalog.labels, req);
    const n = ++this.editCount;
    const out = cachePath(this.cache, 'thickness', id, `edit\n${n}`);
    const measurements = await measureEdited(vol, this.catalog.labels, out, c.side);
    this.edits.set(`${id}/${n}`, out);
    return { url: `/derived/thickness/${encodeURIComponent(id)}.nii.gz?edit=${n}`, measurements };
  }

  /** Saves a correction, then reopens the catalog and forgets what was derived from the old file. */
  async save(id: string, req: SaveRequest, user: string | undefined): Promise<unknown> {
    const result = await saveCorrection(this.catalog, this.findCase(id), req, { user });
    this.catalog = openCatalog(this.path, this.options);
    for (const m of [this.scores, this.derived, this.uncertainty] as Map<string, unknown>[])
      for (const k of [...m.keys()])
        if (k === id || k.endsWith(`/${id}`) || k.endsWith(`\n${id}`)) m.delete(k);
    this.runScores.clear();
    return result;
  }

  close(): void {
    rmSync(this.cache, { recursive: true, force: true });
  }
}
