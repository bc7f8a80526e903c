/**
 * ConnectionGuard: bounds what a stranger can hold on the API port. The HTTP server closes
 * connections whose headers do not arrive within HEADERS_TIMEOUT_MS, whose request is not
 * received within REQUEST_TIMEOUT_MS, or that stay idle between requests KEEP_ALIVE_TIMEOUT_MS
 * (checked every CHECK_INTERVAL_MS), and at most `maxConnections` are open at once: a new
 * connection over the cap closes the oldest one that is not being answered (idle, or its request
 * not fully received) — so a flood of idle or half-sent connections never locks out `/healthz`
 * or an operator, and a long answer (a preview stream) is never cut for room. The cap defaults
 * to 256, and to a quarter of the process's open-file limit when that is lower.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logging.js';

export const HEADERS_TIMEOUT_MS = 5000;
export const REQUEST_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5000;
export const CHECK_INTERVAL_MS = 1000;
export const DEFAULT_MAX_CONNECTIONS = 256;

/** The HTTP server options that carry the timeouts. */
export const SERVER_TIMEOUTS: ServerOptions = {
  headersTimeout: HEADERS_TIMEOUT_MS,
  requestTimeout: REQUEST_TIMEOUT_MS,
  keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  connectionsCheckingInterval: CHECK_INTERVAL_MS,
};

/** The soft RLIMIT_NOFILE of this process (from /proc/self/limits), undefined when unknown or unlimited. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

export function defaultMaxConnections(): number {
  const fds = openFileLimit();
  return Math.max(8, Math.min(DEFAULT_MAX_CONNECTIONS, fds === undefined ? DEFAULT_MAX_CONNECTIONS : Math.floor(fds / 4)));
}

interface Tracked {
  /** The request being answered on it, if any. */
  req: IncomingMessage | undefined;
}

export class ConnectionGuard {
  readonly maxConnections: number;
  readonly #log: Logger;
  /** Open connections, oldest first. */
  readonly #open = new Map<Socket, Tracked>();
  #evicted = 0;
  #lastWarn = 0;

  constructor(server: Server, log: Logger, maxConnections = defaultMaxConnections()) {
    this.maxConnections = maxConnections;
    this.#log = log;
    server.on('connection', (socket: Socket) => this.#connected(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const t = this.#open.get(req.socket);
      if (t === undefined) return;
      t.req = req;
      res.once('finish', () => {
        if (t.req === req) t.req = undefined;
      });
    });
  }

  /** Connections open now. */
  get open(): number {
    return this.#open.size;
  }

  /** Connections closed to make room since the start. */
  get evicted(): number {
    return this.#evicted;
  }

  #connected(socket: Socket): void {
    if (this.#open.size >= this.maxConnections) this.#evictOne();
    this.#open.set(socket, { req: undefined });
    socket.once('close', () => this.#open.delete(socket));
  }

  /** Closes the oldest connection that is not being answered (none: the cap is exceeded by one). */
  #evictOne(): void {
    for (const [socket, t] of this.#open) {
      if (t.req !== undefined && t.req.complete) continue; // being answered
      this.#open.delete(socket);
      socket.destroy();
      this.#evicted++;
      const now = Date.now();
      if (now - this.#lastWarn >= 1000) {
        this.#lastWarn = now;
        this.#log.warn({ maxConnections: this.maxConnections, evicted: this.#evicted }, 'API connections at the cap: closing the oldest idle or half-sent ones to make room');
      }
      return;
    }
  }
}
