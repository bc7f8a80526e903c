/**
 * ApiServer: the HTTP control API of one relay over node:http (no framework). JSON in and out;
 * errors are `{error: {code, message}}` with the matching status. With a token configured,
 * every mutating request (PUT/POST/DELETE) needs `Authorization: Bearer <token>`; GETs stay open
 * unless `protectReads` (then only /healthz does).
 * Routes: docs/api.md and docs/openapi.yaml.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logging.js';
import type { RelayApi } from '../supervisor/relay-api.js';
import type { ClusterBridge } from '../supervisor/cluster-bridge.js';
import { ApiError, errorResponse, readJsonBody, sendJson, sendText } from './http.js';
import { ConnectionGuard, SERVER_TIMEOUTS } from './connection-guard.js';
import { createRelayMetrics, type RelayMetrics, type RelayMetricsOptions } from './metrics.js';
import { MUTATING_METHODS, Router, handlerFor, type RouteResult } from './router.js';
import { authRoutes } from './routes/auth.js';
import { dashboardRoutes, isDashboardPath } from './routes/dashboard.js';
import { DownloadTickets } from './download-tickets.js';
import { historyRoutes, type ConfigReport } from './routes/history.js';
import { History } from './history.js';
import { pushRoutes } from './routes/pushes.js';
import { RECORDING_FILE_PATH, recordingRoutes } from './routes/recordings.js';
import { sessionRoutes } from './routes/sessions.js';
import { previewRoutes, type PreviewRoutes, type PreviewSrtPort } from './routes/preview.js';
import { streamRoutes } from './routes/streams.js';
import { systemRoutes } from './routes/system.js';

export interface ApiServerOptions {
  host: string;
  port: number;
  /** Bearer token required for PUT/POST/DELETE; unset: the API is open (bind it to loopback). */
  token?: string;
  /** With a token: GETs need it too, all but /healthz (load balancers' health checks). */
  protectReads?: boolean;
  logger: Logger;
  /** Cluster member: stream and push changes go to the shared configuration in Redis. */
  cluster?: ClusterBridge;
  /** The node's mediaRoot (absolute): file:// sources a single node's API may name must be inside it. */
  mediaRoot?: string;
  /** The node's SRT ports: the live preview (GET /api/v1/streams/:name/ts) plays from them (none: 404). */
  srtPorts?: readonly PreviewSrtPort[];
  /** The node's limits as configured, shown by GET /api/v1/node (the dashboard's Node page). */
  limits?: Readonly<object>;
  /** The config file's problems as the node's reloader knows them (GET /api/v1/node); none: the node runs without a file. */
  configReport?: () => ConfigReport;
  /** The config's `metrics`: per-session series on, off or 'auto' (default) up to a session count. */
  metrics?: Pick<RelayMetricsOptions, 'sessionSeries' | 'sessionSeriesLimit'>;
  /** Most API connections open at once (default: 256, or a quarter of the open-file limit when lower); see ConnectionGuard. */
  maxConnections?: number;
}

export interface ApiAddress {
  host: string;
  port: number;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class ApiServer {
  readonly #relay: RelayApi;
  readonly #opts: ApiServerOptions;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #connections: ConnectionGuard;
  readonly #router: Router;
  readonly #metrics: RelayMetrics;
  /** SHA-256 of the token: compared in constant time over equal-length buffers. */
  readonly #tokenDigest: Buffer | undefined;
  readonly #previews: PreviewRoutes;
  readonly #history: History;
  #address: ApiAddress | undefined;
  #closed = false;

  constructor(relay: RelayApi, opts: ApiServerOptions) {
    this.#relay = relay;
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'api' });
    this.#tokenDigest = opts.token === undefined || opts.token === '' ? undefined : digest(opts.token);
    this.#metrics = createRelayMetrics(relay, opts.metrics ?? {});
    const startedAt = performance.now();
    this.#previews = previewRoutes({ logger: opts.logger, srtPorts: opts.srtPorts ?? [], authorize: (req) => this.#authorize(req) });
    this.#history = new History(relay);
    this.#history.start();
    this.#router = new Router([
      ...systemRoutes({ metrics: this.#metrics, startedAt }),
      ...streamRoutes(),
      ...sessionRoutes(),
      ...pushRoutes(),
      ...recordingRoutes({ authorize: (req) => this.#authorize(req), tickets: new DownloadTickets() }),
      ...authRoutes(),
      ...this.#previews.routes,
      ...historyRoutes({
        history: this.#history,
        startedAt,
        srtPorts: opts.srtPorts ?? [],
        ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
        ...(opts.configReport !== undefined ? { configReport: opts.configReport } : {}),
        api: () => ({ host: opts.host, port: this.#address?.port ?? null, auth: this.#tokenDigest !== undefined, protectReads: opts.protectReads === true }),
        authorize: (req) => this.#authorize(req),
      }),
      ...dashboardRoutes({ host: opts.host, hasToken: this.#tokenDigest !== undefined }),
    ]);
    this.#server = createServer(SERVER_TIMEOUTS, (req, res) => {
      void this.#handle(req, res);
    });
    this.#connections = new ConnectionGuard(this.#server, this.#log, opts.maxConnections);
  }

  /** Starts listening; resolves with the address actually bound (port 0 → the chosen port). */
  listen(): Promise<ApiAddress> {
    if (this.#address !== undefined) return Promise.resolve(this.#address);
    return new Promise<ApiAddress>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', onError);
        const a = this.#server.address() as AddressInfo;
        this.#address = { host: a.address, port: a.port };
        this.#log.debug({ listen: `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`, auth: this.#tokenDigest !== undefined }, 'api listening');
        resolve(this.#address);
      });
    });
  }

  /** The route patterns it serves (`/api/v1/streams/:name`); docs/openapi.yaml must list each. */
  get routePaths(): string[] {
    return this.#router.paths;
  }

  /** Open API connections and how many were closed to make room (ConnectionGuard). */
  get connections(): { open: number; max: number; evicted: number } {
    return { open: this.#connections.open, max: this.#connections.maxConnections, evicted: this.#connections.evicted };
  }

  /** The bound address (after listen()). */
  get address(): ApiAddress | undefined {
    return this.#address;
  }

  /** Stops listening and closes every connection, idle keep-alive ones included. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const done = new Promise<void>((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
    });
    this.#previews.close();
    this.#history.stop();
    this.#server.closeAllConnections();
    await done;
    this.#metrics.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = performance.now();
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    res.once('finish', () => {
      this.#log.debug({ method, path, status: res.statusCode, ms: Math.round((performance.now() - start) * 10) / 10 }, 'api request');
    });
    try {
      const result = await this.#dispatch(req, method, path);
      if ('stream' in result) result.stream(res);
      else if ('text' in result) sendText(res, result.status, result.contentType, result.text);
      else sendJson(res, result.status, result.json, result.headers);
    } catch (err) {
      if (res.destroyed || req.socket.destroyed) { // (req.destroyed alone is true once a body was read)
        // The client went away (an aborted upload, a closed tab): nothing to answer, nothing broke.
        this.#log.info({ method, path }, 'api client went away before the request was answered');
        return;
      }
      const r = errorResponse(err);
      if (r.unexpected) this.#log.error({ err, method, path }, 'api request failed');
      const headers: Record<string, string> = { ...r.headers };
      if (r.status === 401) headers['www-authenticate'] = 'Bearer';
      sendJson(res, r.status, r.body, headers);
    }
  }

  async #dispatch(req: IncomingMessage, method: string, path: string): Promise<RouteResult> {
    if (!path.startsWith('/')) throw new ApiError(404, 'ERR_API_NOT_FOUND', 'no such route');
    // Recording downloads always check (the token, or a ticket for that file) in their route.
    if (MUTATING_METHODS.has(method) || (this.#opts.protectReads === true && path !== '/healthz' && path !== RECORDING_FILE_PATH && !isDashboardPath(path))) this.#authorize(req);
    const match = this.#router.match(path);
    if (match === undefined) throw new ApiError(404, 'ERR_API_NOT_FOUND', `no route ${path}; see docs/api.md`);
    const handler = handlerFor(match.route, method);
    return handler({ relay: this.#relay, req, params: match.params, body: () => readJsonBody(req), ...(this.#opts.cluster !== undefined ? { cluster: this.#opts.cluster } : {}), ...(this.#opts.mediaRoot !== undefined ? { mediaRoot: this.#opts.mediaRoot } : {}) });
  }

  #authorize(req: IncomingMessage): void {
    if (this.#tokenDigest === undefined) return;
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m === null) {
      throw new ApiError(401, 'ERR_API_UNAUTHORIZED', 'this request needs the header Authorization: Bearer <token>');
    }
    if (!timingSafeEqual(digest(m[1]!), this.#tokenDigest)) {
      throw new ApiError(401, 'ERR_API_UNAUTHORIZED', 'wrong bearer token');
    }
  }
}
