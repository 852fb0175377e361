/**
 * The web console's files (packages/console's dist), served at /console/. Every file is read
 * once at start into memory, so a request can only name a file that was there: no path is ever
 * joined from the URL, and nothing outside the directory can be reached.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';

export const CONSOLE_PATH = '/console';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Only the hub itself: the page may load and call nothing else. */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

interface ConsoleFile {
  body: Buffer;
  type: string;
  etag: string;
  /** Names with a content hash never change; index.html must be revalidated. */
  immutable: boolean;
}

export interface ConsoleFiles {
  /** Where the files came from; undefined when the console is not built. */
  readonly dir: string | undefined;
  readonly count: number;
  /** Answers any request whose path is /console or below it. */
  serve(req: IncomingMessage, res: ServerResponse, rawPath: string): void;
}

/** packages/console/dist, found through the package's own name; undefined when not installed or not built. */
export function findConsoleDist(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@ferry/console/package.json');
    const dist = join(dirname(pkg), 'dist');
    return existsSync(join(dist, 'index.html')) ? dist : undefined;
  } catch {
    return undefined;
  }
}

function readAll(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const body = readFileSync(full);
        const urlPath = `/${relative(dir, full).split(sep).join('/')}`;
        files.set(urlPath, {
          body,
          type: CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
          immutable: /-[A-Z0-9]{8,}\.\w+$/.test(name),
        });
      }
    }
  };
  walk(dir);
  return files;
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

export function consoleFiles(dir: string | undefined): ConsoleFiles {
  const files = dir ? readAll(dir) : new Map<string, ConsoleFile>();
  return {
    dir,
    count: files.size,
    serve(req, res, rawPath) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        plain(res, 405, 'The console accepts GET and HEAD only\n', { Allow: 'GET, HEAD' });
        return;
      }
      if (rawPath === CONSOLE_PATH) {
        res.writeHead(301, { Location: `${CONSOLE_PATH}/`, 'Content-Length': 0 });
        res.end();
        return;
      }
      if (!dir) {
        plain(res, 503, 'The console is not built: run `npm run build` and restart the hub\n');
        return;
      }
      let name = rawPath.slice(CONSOLE_PATH.length);
      if (name === '/') name = '/index.html';
      const file = files.get(name);
      if (!file) {
        plain(res, 404, 'No such file in the console\n');
        return;
      }
      const headers = {
        ...SECURITY_HEADERS,
        'Content-Type': file.type,
        ETag: file.etag,
        'Cache-Control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      };
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      res.writeHead(200, { ...headers, 'Content-Length': file.body.length });
      res.end(req.method === 'HEAD' ? undefined : file.body);
    },
  };
}
