/**
 * Config problems and key paths: every check adds `key.path: what is wrong` to one `Problems`
 * list, thrown as one ConfigInvalidError (ERR_CONFIG_INVALID) listing them all.
 */
import { ConfigInvalidError, isSrtRelayError } from '../errors.js';
import { editDistance } from '../srt/options.js';
import { isSecretKey } from './secrets.js';

export type Seg = string | number;

export interface Problem {
  readonly path: string;
  readonly message: string;
  /** The code of the error behind it (the URL parser's, the option catalog's), when there was one. */
  readonly code?: string;
}

/** `['srt', 'ports', 0, 'direction']` → `srt.ports[0].direction`; odd names in `["..."]`. */
export function formatKeyPath(segs: readonly Seg[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

export class Problems {
  readonly list: Problem[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly flagPaths: ReadonlyMap<string, string> = new Map()) {}

  add(segs: readonly Seg[], message: string, code?: string): void {
    this.addPath(formatKeyPath(segs), message, code);
  }

  /** `add` for a key path already formatted (`streams.cam.source`). */
  addPath(path: string, message: string, code?: string): void {
    if (this.seen.has(path)) return; // first problem per key is enough
    this.seen.add(path);
    const flag = this.flagFor(path);
    this.list.push({ path, message: flag === undefined ? message : `${message} (set by ${flag})`, ...(code !== undefined ? { code } : {}) });
  }

  /** Record an error thrown by the srt:// URL parser or the options catalog. */
  wrap(segs: readonly Seg[], err: unknown): void {
    if (!isSrtRelayError(err)) throw err;
    this.add(segs, err.message, err.code);
  }

  /** Takes over the problems of a ConfigInvalidError thrown by a part's normaliser (normalizeStream); rethrows anything else. */
  absorb(err: unknown): void {
    if (!isSrtRelayError(err, 'ERR_CONFIG_INVALID')) throw err;
    const list = err.details?.['problems'];
    if (!Array.isArray(list)) {
      this.addPath(typeof err.details?.['path'] === 'string' ? err.details['path'] : '', err.message);
      return;
    }
    for (const p of list as Problem[]) this.addPath(p.path, p.message, p.code);
  }

  /** The flag that set the value at `path`, if any. */
  flagFor(path: string): string | undefined {
    for (const [p, flag] of this.flagPaths) if (path === p || path.startsWith(`${p}.`)) return flag;
    return undefined;
  }

  throwIfAny(file: string | undefined): void {
    if (this.list.length === 0) return;
    const lines = this.list.map((p) => `${p.path === '' ? '(top level)' : p.path}: ${p.message}`);
    const first = this.list[0] as Problem;
    throw new ConfigInvalidError(lines.join('\n'), first.path, {
      ...(file === undefined ? {} : { file }),
      problems: this.list.map((p) => ({ ...p })),
    });
  }
}

/** Values under secret keys (src/config/secrets.ts) are never shown in messages. */
export function isSecretPath(segs: readonly Seg[]): boolean {
  return segs.some((s) => typeof s === 'string' && isSecretKey(s));
}

export function cut(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** A value for "(got ...)" in a message. */
export function showValue(v: unknown, secret = false): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return secret ? `a string of ${[...v].length} characters` : JSON.stringify(cut(v));
    case 'number':
    case 'boolean':
      return secret ? `a ${typeof v}` : String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= Math.min(3, Math.max(1, Math.floor(word.length / 2))) ? best : undefined;
}

/** Deep-freezes a normalized config (or part of one) and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
