/**
 * What a config reload changes: the difference between the running configuration and the newly
 * loaded one, as a plan (pure: no I/O, no relay). src/cli/config-reload.ts applies it.
 *
 * Applied live: the file's streams (added, changed, removed), its pushes (added, removed; a push
 * whose `auto` changed is removed and added again), `auth`, `limits`, and SRT ports (`srt.ports`
 * entries, known by host and port) added or removed. Everything else that differs (a port whose
 * settings changed in place, workers, the API, SRTLA, Redis and the cluster, node id, log level,
 * mediaRoot, `streams.dynamic`) is listed in `restart` by key path: it takes effect at the next
 * start, and the rest of the plan is applied anyway.
 *
 * Only what the file said is touched: a stream or push added through the HTTP API is not in
 * either config, so no plan removes it.
 */
import { formatSrtUrl } from '../srt/url.js';
import { formatKeyPath } from './problems.js';
import type { AuthConfig, Limits, PushConfig, RelayConfig, SrtPortConfig, StreamConfig } from './types.js';

export interface ReloadPlan {
  /** Streams in the new file and not in the running one. */
  readonly addStreams: ReadonlyArray<readonly [string, StreamConfig]>;
  /** Streams in both whose settings differ. */
  readonly changeStreams: ReadonlyArray<readonly [string, StreamConfig]>;
  /** Streams the running file had and the new one has not. */
  readonly removeStreams: readonly string[];
  readonly addPushes: readonly PushConfig[];
  readonly removePushes: readonly PushConfig[];
  /** The new auth settings, when they differ. */
  readonly auth?: AuthConfig;
  /** The new limits, when they differ. */
  readonly limits?: Limits;
  /** srt.ports entries (by host:port) in the new file and not in the running one. */
  readonly addPorts: readonly SrtPortConfig[];
  /** srt.ports entries (by host:port) the running file had and the new one has not. */
  readonly removePorts: readonly SrtPortConfig[];
  /** Key paths that differ and take effect only at the next start (e.g. `srt.ports`, `workers`). */
  readonly restart: readonly string[];
}

/** JSON with object keys sorted: equal configs give equal text. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    return Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** One SRT port's identity: the address it binds. */
export function portKey(p: { readonly host: string; readonly port: number }): string {
  return `${p.host}:${p.port}`;
}

/** One push's identity: its stream, its target and whether it retries. */
export function pushKey(p: PushConfig): string {
  return `${p.stream}\n${'template' in p.target ? p.target.raw : formatSrtUrl(p.target)}\n${p.auto}`;
}

/** The keys a running node cannot change without a restart, in the order they are reported. */
const RESTART_KEYS: ReadonlyArray<readonly (string | number)[]> = [
  ['nodeId'],
  ['logLevel'],
  ['workers'],
  ['srtla'],
  ['api'],
  ['mediaRoot'],
  ['redis'],
  ['cluster'],
];

function at(config: RelayConfig, path: readonly (string | number)[]): unknown {
  let cur: unknown = config;
  for (const k of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[k] : undefined;
  return cur;
}

/** The most precise key paths under `path` where `a` and `b` differ (a whole list when its length differs). */
function differingPaths(a: unknown, b: unknown, path: (string | number)[]): string[] {
  if (same(a, b)) return [];
  const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object';
  if (!bothObjects || Array.isArray(a) !== Array.isArray(b)) return [formatKeyPath(path)];
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return [formatKeyPath(path)];
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  const out: string[] = [];
  for (const k of keys) {
    const seg = Array.isArray(a) ? Number(k) : k;
    out.push(...differingPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], [...path, seg]));
  }
  return out;
}

/** The plan that turns `running` into `next`. */
export function planReload(running: RelayConfig, next: RelayConfig): ReloadPlan {
  const addStreams: Array<readonly [string, StreamConfig]> = [];
  const changeStreams: Array<readonly [string, StreamConfig]> = [];
  const removeStreams: string[] = [];
  const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
  for (const [name, s] of Object.entries(next.streams)) {
    if (!has(running.streams, name)) addStreams.push([name, s]);
    else if (!same(running.streams[name], s)) changeStreams.push([name, s]);
  }
  for (const name of Object.keys(running.streams)) if (!has(next.streams, name)) removeStreams.push(name);

  const before = new Map(running.pushes.map((p) => [pushKey(p), p]));
  const after = new Map(next.pushes.map((p) => [pushKey(p), p]));
  const addPushes = [...after].filter(([k]) => !before.has(k)).map(([, p]) => p);
  const removePushes = [...before].filter(([k]) => !after.has(k)).map(([, p]) => p);

  const restart: string[] = [];
  for (const path of RESTART_KEYS.slice(0, 3)) restart.push(...differingPaths(at(running, path), at(next, path), [...path]));
  // Ports: added and removed live; one at the same address whose settings changed needs a restart.
  const portsBefore = new Map(running.srt.ports.map((p) => [portKey(p), p]));
  const portsAfter = new Set(next.srt.ports.map(portKey));
  const addPorts = next.srt.ports.filter((p) => !portsBefore.has(portKey(p)));
  const removePorts = running.srt.ports.filter((p) => !portsAfter.has(portKey(p)));
  next.srt.ports.forEach((p, i) => {
    const old = portsBefore.get(portKey(p));
    if (old !== undefined) restart.push(...differingPaths(old, p, ['srt', 'ports', i]));
  });
  for (const path of RESTART_KEYS.slice(3)) restart.push(...differingPaths(at(running, path), at(next, path), [...path]));
  if (running.dynamicStreams !== next.dynamicStreams) restart.push('streams.dynamic');

  return {
    addStreams,
    changeStreams,
    removeStreams,
    addPushes,
    removePushes,
    ...(same(running.auth, next.auth) ? {} : { auth: next.auth }),
    ...(same(running.limits, next.limits) ? {} : { limits: next.limits }),
    addPorts,
    removePorts,
    restart,
  };
}

/** True when the plan changes nothing and asks for no restart. */
export function isEmptyPlan(p: ReloadPlan): boolean {
  return (
    p.addStreams.length + p.changeStreams.length + p.removeStreams.length + p.addPushes.length + p.removePushes.length + p.restart.length === 0 &&
    p.addPorts.length + p.removePorts.length === 0 &&
    p.auth === undefined &&
    p.limits === undefined
  );
}
