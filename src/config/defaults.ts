/** The configuration's defaults: ports, hosts, per-stream and auth defaults, worker count, node id. */
import { availableParallelism, cpus, hostname, totalmem } from 'node:os';
import { DEFAULT_TAKEOVER_AFTER_MS } from '../streams/defaults.js';

export const DEFAULT_SRT_PORT = 8889;
export const DEFAULT_SRT_HOST = '0.0.0.0';
export const DEFAULT_API_PORT = 4242;
export const DEFAULT_API_HOST = '127.0.0.1';
/** Upper bound of `reusePort`, and of its default (the worker count). */
export const MAX_REUSE_PORT = 16;

export const STREAM_DEFAULTS = Object.freeze({
  bufferTimeMs: 50_000,
  acceptStreamIds: 'ignore',
  alwaysOn: false,
  onPublisherConflict: 'refuse',
  takeoverAfterMs: DEFAULT_TAKEOVER_AFTER_MS,
  raw: false,
  idleTimeoutMs: 20_000,
  failoverTimeoutMs: 10_000,
} as const);

export const AUTH_DEFAULTS = Object.freeze({ timeoutMs: 2000, cacheMs: 5000, hold: true } as const);

/** Same rule as the schema's `nodeId` pattern. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Same rule as the schema's stream name (1..200 chars, '/' only between non-empty parts). */
export { STREAM_NAME_PATTERN } from '../streams/stream-name.js';

/** Number of CPU cores (the default worker count). */
export function defaultWorkers(): number {
  try {
    return Math.max(1, availableParallelism());
  } catch {
    return Math.max(1, cpus().length);
  }
}

/** `<hostname>-<pid>`, reduced to the characters a node id may contain. */
export function defaultNodeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'relay';
  return `${host.slice(0, 100)}-${process.pid}`;
}

/** A quarter of the machine's memory for stream rings, at most 4 GiB. */
export function defaultRingMemoryMb(): number {
  return Math.max(16, Math.min(4096, Math.floor(totalmem() / 4 / 1048576)));
}
