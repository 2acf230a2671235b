/**
 * The local web server of `kneeseg view` (node:http). It serves the page (src/view/page/index.html,
 * style.css and the bundled app.js), a small JSON API over the catalog (routes.ts, session.ts), the
 * case files below their folders, derived volumes (derived.ts) and the save of a corrected label map
 * (save.ts). This module holds the HTTP plumbing and the access checks.
 *
 * Security, so that a viewer left running is not a way into the machine:
 *  - it binds 127.0.0.1 unless told otherwise; then it also refuses requests whose Host header is not
 *    a loopback name (a web page elsewhere cannot reach it through DNS rebinding);
 *  - on any other address every request needs the token printed at start (the `token` query
 *    parameter of the printed URL, which the page turns into a same-site cookie, or the
 *    x-kneeseg-token header);
 *  - files are served only from below the catalog's folders (paths.ts: no "..", encoded or not, no
 *    link out of the folder);
 *  - request bodies are limited (`maxBodyBytes`, default: the scan's uint8/int16 size, at most 1 GiB);
 *  - requests that change or compute something (PUT labels, POST thickness) need the custom shape
 *    header, so another site's page cannot send them without a CORS preflight, which is never granted.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KneesegError } from '../errors.ts';
import { TOKEN_HEADER } from './api.ts';
import { DEFAULT_BUNDLE_DIR } from './bundle.ts';
import type { Catalog, CatalogOptions } from './catalog.ts';
import { ForbiddenPath } from './paths.ts';
import { route } from './routes.ts';
import { ViewRequestError } from './save.ts';
import { COOKIE, sendError } from './http.ts';
import { ViewSession } from './session.ts';

export const DEFAULT_PORT = 8765;
export const DEFAULT_HOST = '127.0.0.1';
/** largest request body accepted unless told otherwise (a 512^3 int16 label map is 256 MiB) */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024 * 1024;

export interface ViewServerOptions extends CatalogOptions {
  /** a dataset, predict output, run or experiment folder (catalog.ts) */
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

/** Whether a request may be served: a loopback Host on loopback, else the token; answers it if not. */
function admitted(req: IncomingMessage, res: ServerResponse, loopback: boolean, token?: string): boolean {
  if (loopback) {
    const hostName = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (isLoopback(hostName)) return true;
    sendError(res, 403, 'requests must name a loopback host');
    return false;
  }
  const url = new URL(req.url ?? '/', 'http://kneeseg.invalid');
  const given =
    url.searchParams.get('token') ?? (req.headers[TOKEN_HEADER] as string | undefined) ?? cookieToken(req);
  if (sameToken(given, token!)) return true;
  sendError(res, 401, 'a valid token is required (see the URL printed at start)');
  return false;
}

/** The answer to a request that failed: 404 for a refused path, the error's own status, 422, 500. */
function sendFailure(res: ServerResponse, err: unknown): void {
  if (err instanceof ForbiddenPath) return sendError(res, 404, `refused: ${err.message}`);
  if (err instanceof ViewRequestError) {
    if (err.status === 413) res.setHeader('connection', 'close');
    return sendError(res, err.status, err.message);
  }
  if (err instanceof KneesegError) return sendError(res, 422, err.message);
  sendError(res, 500, err instanceof Error ? err.message : String(err));
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolveListen(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Starts the server; resolves once it listens. */
export async function startViewServer(o: ViewServerOptions): Promise<ViewServer> {
  const host = o.host ?? DEFAULT_HOST;
  const loopback = isLoopback(host);
  const token = loopback ? undefined : randomBytes(24).toString('base64url');
  const session = new ViewSession(o.path, o);
  const ctx = {
    session,
    token,
    bundleDir: o.bundleDir ?? DEFAULT_BUNDLE_DIR,
    maxBody: o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    user: o.user,
    saving: Promise.resolve() as Promise<unknown>,
  };
  const server: Server = createServer((req, res) => {
    if (!admitted(req, res, loopback, token)) return;
    route(ctx, req, res).catch((err: unknown) => sendFailure(res, err));
  });
  let port: number;
  try {
    port = await listen(server, o.port ?? DEFAULT_PORT, host);
  } catch (err) {
    session.close();
    throw err;
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/${token ? `?token=${token}` : ''}`,
    host,
    port,
    token,
    catalog: () => session.catalog,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => {
          session.close();
          resolveClose();
        });
      }),
  };
}
