/** HTTP plumbing of the view server: JSON, errors and files with security headers; bounded bodies. */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ViewRequestError } from './save.ts';

/** the cookie carrying the access token on non-loopback hosts */
export const COOKIE = 'kneeseg_token';

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

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  sendJson(res, status, { error: message });
}

export function sendFile(res: ServerResponse, file: string, extra: Record<string, string> = {}): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': contentType(file), ...extra });
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** The body of `req`, refusing (413) one longer than `max` bytes, by its header or as it streams. */
export function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
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
