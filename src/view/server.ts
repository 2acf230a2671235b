/**
 * The local web server of `kneeseg view` (node:http). It serves the page (src/view/page/index.html,
 * style.css and the bundled app.js), a small JSON API over the catalog (catalog.ts), the case files
 * below their folders, derived volumes (derived.ts) and the save of a corrected label map (save.ts).
 *
 * Security, so that a viewer left running is not a way into the machine:
 *  - it binds 127.0.0.1 unless told otherwise; then it also refuses requests whose Host header is not
 *    a loopback name (a web page elsewhere cannot reach it through DNS rebinding);
 *  - on any other address every request needs the token printed at start (the `token` query
 *    parameter of the printed URL, which the page turns into a same-site cookie, or the
 *    x-kneeseg-token header);
 *  - files are served only from below the catalog's folders (paths.ts: no "..", encoded or not, no
 *    link out of the folder);
 *  - request bodies are limited (`maxBodyBytes`, default: the scan's uint8/int16 size, at most 1 GiB).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { KneesegError } from '../errors.ts';
import {
  DTYPE_HEADER,
  SHAPE_HEADER,
  TOKEN_HEADER,
  type CaseList,
  type ReviewOrder,
  type Scores,
  type StructureScore,
} from './api.ts';
import { BUNDLE_FILE, DEFAULT_BUNDLE_DIR, PAGE_DIR } from './bundle.ts';
import { openCatalog, type Catalog, type CatalogCase, type CatalogOptions } from './catalog.ts';
import {
  cachePath,
  caseUncertainty,
  scoreCase,
  UNCERTAINTY_MEASURE,
  writeDisagreement,
  writeThicknessVolume,
} from './derived.ts';
import { ForbiddenPath, isBelow, resolveBelow, safeSegments } from './paths.ts';
import { parseShape, saveCorrection, ViewRequestError } from './save.ts';

export const DEFAULT_PORT = 8765;
export const DEFAULT_HOST = '127.0.0.1';
/** largest request body accepted unless told otherwise (a 512^3 int16 label map is 256 MiB) */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024 * 1024;
const COOKIE = 'kneeseg_token';

export interface ViewServerOptions extends CatalogOptions {
  /** a dataset, predict output or run folder (catalog.ts) */
  readonly path: string;
  readonly host?: string;
  /** 0 picks a free port */
  readonly port?: number;
  readonly maxBodyBytes?: number;
  /** folder holding app.js (default dist/view) */
  readonly bundleDir?: string;
  /** who saves corrections (provenance records; default the user running the server) */
  readonly user?: string;
}

export interface ViewServer {
  /** the URL to open, with the token when there is one */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** required on non-loopback addresses, else undefined */
  readonly token?: string;
  readonly catalog: () => Catalog;
  close(): Promise<void>;
}

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
};

function contentType(file: string): string {
  const m = /\.[a-z]+$/i.exec(file);
  return (m && TYPES[m[0].toLowerCase()]) ?? 'application/octet-stream';
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' data: blob:; worker-src 'self' blob:; frame-ancestors 'none'",
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  sendJson(res, status, { error: message });
}

function sendFile(res: ServerResponse, file: string, extra: Record<string, string> = {}): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': contentType(file), ...extra });
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** The body of `req`, refusing (413) one longer than `max` bytes, by its header or as it streams. */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((resolveBody, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max) {
      reject(new ViewRequestError(413, `request body of ${declared} bytes refused: the limit is ${max}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > max) {
        refused = true;
        reject(new ViewRequestError(413, `request body refused: longer than the limit of ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!refused) resolveBody(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

function sameToken(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Starts the server; resolves once it listens. */
export async function startViewServer(o: ViewServerOptions): Promise<ViewServer> {
  const host = o.host ?? DEFAULT_HOST;
  const loopback = isLoopback(host);
  const token = loopback ? undefined : randomBytes(24).toString('base64url');
  const bundleDir = o.bundleDir ?? DEFAULT_BUNDLE_DIR;
  const maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let catalog = openCatalog(o.path, o);
  const cache = mkdtempSync(join(tmpdir(), 'kneeseg-view-'));
  const scores = new Map<string, Promise<Record<string, StructureScore>>>();
  const uncertainty = new Map<string, Promise<number>>();
  const derived = new Map<string, Promise<string>>();
  let saving: Promise<unknown> = Promise.resolve();

  /** The folders files may be served from, by the name used in URLs. */
  const roots = (): Map<string, string> => {
    const r = new Map<string, string>([['cache', cache]]);
    if (catalog.dataset) r.set('dataset', catalog.dataset.dir);
    if (catalog.predictions) r.set('predictions', catalog.predictions);
    if (catalog.compare) r.set('compare', catalog.compare);
    return r;
  };

  const fileUrl = (file: string | undefined): string | undefined => {
    if (!file) return undefined;
    for (const [name, dir] of roots()) {
      if (name === 'cache' || !isBelow(file, dir)) continue;
      return `/files/${name}/${relative(dir, file).split(sep).map(encodeURIComponent).join('/')}`;
    }
    return undefined;
  };

  const caseList = (): CaseList => ({
    kind: catalog.kind,
    title: catalog.title,
    labels: catalog.labels,
    cases: catalog.cases.map((c) => ({
      id: c.id,
      image: fileUrl(c.image),
      prediction: fileUrl(c.prediction),
      groundTruth: fileUrl(c.groundTruth),
      compare: fileUrl(c.compare),
      savable: c.labelTarget !== undefined,
      notSavable: c.notSavable,
      hasProbabilities: c.probabilities.size > 0,
      measurements: c.measurements,
    })),
  });

  const findCase = (id: string): CatalogCase => {
    const c = catalog.cases.find((x) => x.id === id);
    if (!c) throw new ViewRequestError(404, `no case "${id}"`);
    return c;
  };

  const memo = <T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> => {
    let p = map.get(key);
    if (!p) {
      p = make();
      map.set(key, p);
      p.catch(() => map.delete(key));
    }
    return p;
  };

  async function derivedFile(kind: string, id: string): Promise<string> {
    const c = findCase(id);
    if (kind === 'thickness') {
      const labels = c.prediction ?? c.groundTruth;
      if (!labels) throw new ViewRequestError(404, `case ${id} has no label map to measure`);
      return memo(derived, `thickness/${id}`, () =>
        writeThicknessVolume(labels, catalog.labels, cachePath(cache, 'thickness', id)),
      );
    }
    if (kind === 'disagreement') {
      const other = c.groundTruth ?? c.compare;
      if (!c.prediction || !other) throw new ViewRequestError(404, `case ${id} has nothing to compare`);
      return memo(derived, `disagreement/${id}`, () =>
        writeDisagreement(c.prediction!, other, cachePath(cache, 'disagreement', id)),
      );
    }
    throw new ViewRequestError(404, `no derived volume "${kind}"`);
  }

  async function allScores(): Promise<Scores> {
    const out: Record<string, Record<string, StructureScore>> = {};
    for (const c of catalog.cases) {
      if (!c.prediction || !c.groundTruth) continue;
      const [p, g] = [c.prediction, c.groundTruth];
      out[c.id] = await memo(scores, c.id, () => scoreCase(p, g, catalog.labels));
    }
    return out;
  }

  async function review(): Promise<ReviewOrder> {
    const cases: { id: string; uncertainty: number }[] = [];
    for (const c of catalog.cases) {
      if (c.probabilities.size === 0) continue;
      const files = [...c.probabilities.values()];
      cases.push({ id: c.id, uncertainty: await memo(uncertainty, c.id, () => caseUncertainty(files)) });
    }
    cases.sort((a, b) => b.uncertainty - a.uncertainty || (a.id < b.id ? -1 : 1));
    return { measure: UNCERTAINTY_MEASURE, cases };
  }

  async function save(req: IncomingMessage, id: string): Promise<unknown> {
    const c = findCase(id);
    const body = await readBody(req, maxBody);
    const shape = parseShape(req.headers[SHAPE_HEADER] as string | undefined);
    const dtype = String(req.headers[DTYPE_HEADER] ?? '');
    const result = await saveCorrection(catalog, c, { shape, dtype, body }, { user: o.user });
    catalog = openCatalog(o.path, o);
    for (const m of [scores, derived, uncertainty] as Map<string, unknown>[])
      for (const k of [...m.keys()]) if (k === id || k.endsWith(`/${id}`)) m.delete(k);
    return result;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kneeseg.invalid');
    const method = req.method ?? 'GET';
    if (loopback) {
      const hostName = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (!isLoopback(hostName)) return sendError(res, 403, 'requests must name a loopback host');
    } else {
      const given =
        url.searchParams.get('token') ??
        (req.headers[TOKEN_HEADER] as string | undefined) ??
        cookieToken(req);
      if (!sameToken(given, token!))
        return sendError(res, 401, 'a valid token is required (see the URL printed at start)');
    }
    const path = url.pathname;
    const isGet = method === 'GET' || method === 'HEAD';
    if (path === '/' && isGet) {
      const cookie: Record<string, string> = token
        ? { 'set-cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` }
        : {};
      return sendFile(res, join(PAGE_DIR, 'index.html'), cookie);
    }
    if (path === '/style.css' && isGet) return sendFile(res, join(PAGE_DIR, 'style.css'));
    if (path === `/${BUNDLE_FILE}` && isGet) {
      const file = join(bundleDir, BUNDLE_FILE);
      if (!existsSync(file))
        return sendError(res, 500, `${file} is missing: run npm run build:view (scripts/setup.sh does)`);
      return sendFile(res, file);
    }
    if (path === '/api/cases' && isGet) return sendJson(res, 200, caseList());
    if (path === '/api/scores' && isGet) return sendJson(res, 200, await allScores());
    if (path === '/api/review' && isGet) return sendJson(res, 200, await review());
    const segments = safeSegments(path);
    if (segments[0] === 'files' && isGet) {
      const root = roots().get(segments[1] ?? '');
      if (!root || segments[1] === 'cache') throw new ForbiddenPath('no such folder');
      return sendFile(res, resolveBelow(root, segments.slice(2)));
    }
    if (segments[0] === 'derived' && segments.length === 3 && isGet) {
      const id = segments[2]!.replace(/\.nii\.gz$/, '');
      return sendFile(res, await derivedFile(segments[1]!, id));
    }
    if (
      segments[0] === 'api' &&
      segments[1] === 'cases' &&
      segments[3] === 'labels' &&
      segments.length === 4
    ) {
      if (method !== 'PUT') return sendError(res, 405, 'use PUT to save a label map');
      const id = segments[2]!;
      const run = saving.then(() => save(req, id));
      saving = run.catch(() => undefined);
      return sendJson(res, 200, await run);
    }
    return sendError(res, isGet ? 404 : 405, `nothing at ${method} ${path}`);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof ForbiddenPath) return sendError(res, 404, `refused: ${err.message}`);
      if (err instanceof ViewRequestError) {
        if (err.status === 413) res.setHeader('connection', 'close');
        return sendError(res, err.status, err.message);
      }
      if (err instanceof KneesegError) return sendError(res, 422, err.message);
      sendError(res, 500, err instanceof Error ? err.message : String(err));
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? DEFAULT_PORT, host, () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? DEFAULT_PORT);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/${token ? `?token=${token}` : ''}`,
    host,
    port,
    token,
    catalog: () => catalog,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(cache, { recursive: true, force: true });
          resolveClose();
        });
      }),
  };
}
