/**
 * The web dashboard: the static files `npm run build:ui` writes to dist/ui/ (ui/ bundled by
 * esbuild), served at `/ui/` on the API port, `/` redirecting there. The files are read once, on
 * first request, and kept in memory with their gzip form. They hold no data and no secret: the
 * page reads everything through the public API with the token the operator types in.
 *
 * Without an API token the dashboard is served only when the API listens on loopback (the
 * default host): on any other address the API would be open to the network and the page with it,
 * so `/ui/` answers 404 saying to set `api.token`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { notFound } from '../http.js';
import type { Route, RouteResult } from '../router.js';

/** dist/ui/, beside dist/src/ (this file runs as dist/src/api/routes/dashboard.js). */
export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'ui');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

export interface DashboardOptions {
  /** The API's bind address. */
  host: string;
  /** Whether the API has a token. */
  hasToken: boolean;
  /** Where the built files are (default DASHBOARD_DIR). */
  dir?: string;
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

/** Paths of the dashboard: they are served without the token (the page asks for it). */
export function isDashboardPath(path: string): boolean {
  return path === '/' || path === '/ui' || path.startsWith('/ui/');
}

export function dashboardRoutes(opts: DashboardOptions): Route[] {
  const dir = opts.dir ?? DASHBOARD_DIR;
  let assets: Map<string, Asset> | undefined;
  const load = (): Map<string, Asset> => {
    if (assets !== undefined) return assets;
    const m = new Map<string, Asset>();
    if (existsSync(dir)) {
      for (const f of readdirSync(dir)) {
        const type = TYPES[extname(f)];
        if (type === undefined) continue;
        const body = readFileSync(join(dir, f));
        m.set(f, { type, body, gzip: gzipSync(body) });
      }
    }
    assets = m;
    return m;
  };

  const serve = (file: string): RouteResult => {
    if (!opts.hasToken && !isLoopbackHost(opts.host)) {
      throw notFound(`the dashboard is served without an API token only on loopback, and this API listens on ${opts.host}; set api.token (docs/dashboard.md)`);
    }
    const files = load();
    if (files.size === 0) throw notFound(`the dashboard is not built: run npm run build:ui (it writes ${dir})`);
    const asset = files.get(file);
    if (asset === undefined) throw notFound(`no dashboard file '${file}'`);
    return {
      status: 200,
      stream: (res: ServerResponse): void => {
        const gz = /\bgzip\b/.test(String(res.req.headers['accept-encoding'] ?? ''));
        const body = gz ? asset.gzip : asset.body;
        res.writeHead(200, {
          'content-type': asset.type,
          'content-length': String(body.length),
          // index.html names the bundle without a hash: revalidate, so an upgrade is seen at once.
          'cache-control': 'no-cache',
          'x-content-type-options': 'nosniff',
          'content-security-policy': "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:",
          vary: 'accept-encoding',
          ...(gz ? { 'content-encoding': 'gzip' } : {}),
        });
        res.end(res.req.method === 'HEAD' ? undefined : body);
      },
    };
  };

  const redirect = (): RouteResult => ({ status: 302, json: undefined, headers: { location: '/ui/' } });
  return [
    { path: '/', methods: { GET: redirect } },
    { path: '/ui', methods: { GET: redirect } },
    { path: '/ui/', methods: { GET: () => serve('index.html') } },
    { path: '/ui/:file', methods: { GET: ({ params }) => serve(params['file']!) } },
  ];
}
