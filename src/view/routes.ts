/**
 * The viewer's URLs, for an admitted request (server.ts checked host or token):
 *
 *   GET  /  /style.css  /app.js                 the page
 *   GET  /api/cases  /api/scores[?run=R]  /api/review
 *   GET  /files/{root}/{path}                    a case file below one of the catalog's folders
 *   GET  /derived/thickness/{case}.nii.gz[?of=L | ?edit=N]
 *   GET  /derived/disagreement/{case}.nii.gz[?a=L&b=L]   (L: a run name, prediction, truth, compare)
 *   PUT  /api/cases/{case}/labels                save as labelled
 *   POST /api/cases/{case}/thickness             thickness of the page's edited, unsaved labels
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { DTYPE_HEADER, SHAPE_HEADER } from './api.ts';
import { BUNDLE_FILE, PAGE_DIR } from './bundle.ts';
import { ForbiddenPath, resolveBelow, safeSegments } from './paths.ts';
import { parseShape, type SaveRequest } from './save.ts';
import { COOKIE, readBody, sendError, sendFile, sendJson } from './http.ts';
import type { ViewSession } from './session.ts';

export interface RouteContext {
  readonly session: ViewSession;
  readonly token?: string;
  readonly bundleDir: string;
  readonly maxBody: number;
  readonly user?: string;
  /** saves run one at a time, in order */
  saving: Promise<unknown>;
}

async function labelsRequest(req: IncomingMessage, maxBody: number): Promise<SaveRequest> {
  const body = await readBody(req, maxBody);
  const shape = parseShape(req.headers[SHAPE_HEADER] as string | undefined);
  return { shape, dtype: String(req.headers[DTYPE_HEADER] ?? ''), body };
}

/** The page's own files; false when `path` is none of them. */
function pageFile(ctx: RouteContext, res: ServerResponse, path: string): boolean {
  if (path === '/') {
    const cookie: Record<string, string> = ctx.token
      ? { 'set-cookie': `${COOKIE}=${ctx.token}; HttpOnly; SameSite=Strict; Path=/` }
      : {};
    sendFile(res, join(PAGE_DIR, 'index.html'), cookie);
  } else if (path === '/style.css') sendFile(res, join(PAGE_DIR, 'style.css'));
  else if (path === `/${BUNDLE_FILE}`) {
    const file = join(ctx.bundleDir, BUNDLE_FILE);
    if (!existsSync(file))
      sendError(res, 500, `${file} is missing: run npm run build:view (scripts/setup.sh does)`);
    else sendFile(res, file);
  } else return false;
  return true;
}

/** GET requests below the page: the API, case files and derived volumes; false when none matches. */
async function getResource(ctx: RouteContext, res: ServerResponse, url: URL): Promise<boolean> {
  const s = ctx.session;
  const path = url.pathname;
  if (path === '/api/cases') sendJson(res, 200, s.caseList());
  else if (path === '/api/scores') sendJson(res, 200, await s.allScores(url.searchParams.get('run')));
  else if (path === '/api/review') sendJson(res, 200, await s.review());
  else {
    const segments = safeSegments(path);
    if (segments[0] === 'files') {
      const root = s.roots().get(segments[1] ?? '');
      if (!root) throw new ForbiddenPath('no such folder');
      sendFile(res, resolveBelow(root, segments.slice(2)));
    } else if (segments[0] === 'derived' && segments.length === 3) {
      const id = segments[2]!.replace(/\.nii\.gz$/, '');
      sendFile(res, await s.derivedFile(segments[1]!, id, url.searchParams));
    } else return false;
  }
  return true;
}

/** PUT labels and POST thickness of /api/cases/{case}/...; false when the path is neither. */
async function caseAction(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, path: string) {
  const segments = safeSegments(path);
  if (segments[0] !== 'api' || segments[1] !== 'cases' || segments.length !== 4) return false;
  const [id, action, method] = [segments[2]!, segments[3], req.method];
  if (action === 'labels') {
    if (method !== 'PUT') sendError(res, 405, 'use PUT to save a label map');
    else {
      const run = ctx.saving.then(async () =>
        ctx.session.save(id, await labelsRequest(req, ctx.maxBody), ctx.user),
      );
      ctx.saving = run.catch(() => undefined);
      sendJson(res, 200, await run);
    }
  } else if (action === 'thickness') {
    if (method !== 'POST') sendError(res, 405, 'use POST with the edited label map to recompute thickness');
    else sendJson(res, 200, await ctx.session.recomputeThickness(id, await labelsRequest(req, ctx.maxBody)));
  } else return false;
  return true;
}

/** Answers one admitted request; errors reject (server.ts turns them into statuses). */
export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://kneeseg.invalid');
  const method = req.method ?? 'GET';
  const isGet = method === 'GET' || method === 'HEAD';
  if (isGet && pageFile(ctx, res, url.pathname)) return;
  if (isGet && (await getResource(ctx, res, url))) return;
  if (await caseAction(ctx, req, res, url.pathname)) return;
  sendError(res, isGet ? 404 : 405, `nothing at ${method} ${url.pathname}`);
}
