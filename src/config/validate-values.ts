/** Value checks shared by the config sections and the command line: hosts, URLs, SRT options, paths. */
import { isIP } from 'node:net';
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import { isSrtRelayError } from '../errors.js';
import { normalizeOptions, type SrtOptionValue } from '../srt/options.js';
import { maskUrl } from './secrets.js';
import { cut, type Problems, type Seg } from './problems.js';
import type { SrtParamsInput } from './types.js';

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Check a host name or IP address; returns a problem text or undefined. IPv6 may be bracketed. */
export function checkHostText(text: string): string | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIP(bare) !== 0) return undefined;
  if (bare.includes(':')) return `must be an IP address or host name; write IPv6 addresses like ::1 (got ${JSON.stringify(cut(text))})`;
  if (/^[0-9.]+$/.test(bare)) return `is not a valid IPv4 address (four numbers 0 to 255, like 192.0.2.10) (got ${JSON.stringify(cut(text))})`;
  if (bare.length <= 253 && bare.split('.').every((l) => HOST_LABEL.test(l))) return undefined;
  return `must be an IP address or host name (letters, digits, '-' and '.') (got ${JSON.stringify(cut(text))})`;
}

export function bareHost(text: string): string {
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

/** Check a redis:// or rediss:// URL; returns a problem text or undefined. */
export function checkRedisUrl(text: string): string | undefined {
  const shown = JSON.stringify(cut(maskUrl(text)));
  const example = 'redis://127.0.0.1:6379/0';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be a URL like ${example} (got ${shown})`;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return `must be a redis:// or rediss:// (TLS) URL, e.g. ${example} (got ${shown})`;
  }
  if (url.hostname === '') return `needs a host, e.g. ${example} (got ${shown})`;
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/[0-9]{1,5}$/.test(url.pathname)) {
    return `the path is the database number, e.g. ${example} (got ${shown})`;
  }
  return undefined;
}

/** Check an http(s) URL (the auth webhook); returns a problem text or undefined. */
export function checkHttpUrl(text: string): string | undefined {
  const shown = JSON.stringify(cut(maskUrl(text)));
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be an http:// or https:// URL, e.g. "https://auth.example.com/srt" (got ${shown})`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `must be an http:// or https:// URL, e.g. "https://auth.example.com/srt" (got ${shown})`;
  }
  if (url.hostname === '') return `needs a host (got ${shown})`;
  return undefined;
}

/** Parse a query string of SRT options (`latency=200&tlpktdrop=0`) into name → text. */
function splitParamQuery(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  const q = text.trim().replace(/^\?/, '');
  for (const segment of q.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    if (eq <= 0) return `each option is written name=value, separated by '&', e.g. "latency=200&tlpktdrop=0" (got ${JSON.stringify(cut(maskUrl(`?${segment}`).slice(1)))})`;
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(segment.slice(0, eq));
      value = decodeURIComponent(segment.slice(eq + 1));
    } catch {
      return `bad percent-encoding: escapes are %XX with two hex digits of UTF-8, and a literal % is written %25`;
    }
    if (seen.has(key.toLowerCase())) return `option '${key}' is given twice; keep one`;
    seen.add(key.toLowerCase());
    out[key] = value;
  }
  return out;
}

/** Check `params` (object or query string) with the SRT options catalog. */
export function checkParams(params: SrtParamsInput | undefined, segs: readonly Seg[], problems: Problems): Record<string, SrtOptionValue> {
  if (params === undefined) return {};
  const record = typeof params === 'string' ? splitParamQuery(params) : params;
  if (typeof record === 'string') {
    problems.add(segs, record);
    return {};
  }
  try {
    const normalized = normalizeOptions(record);
    const out: Record<string, SrtOptionValue> = {};
    for (const [k, v] of Object.entries(normalized)) if (v !== undefined) out[k] = v;
    return out;
  } catch (err) {
    // Point at the option itself when params is an object.
    let at: readonly Seg[] = segs;
    if (typeof params !== 'string' && isSrtRelayError(err)) {
      const option = (err as { option?: unknown }).option;
      if (typeof option === 'string') {
        const key = Object.keys(params).find((k) => k === option || k.toLowerCase().replace(/^srto_/, '') === option);
        if (key !== undefined) at = [...segs, key];
      }
    }
    problems.wrap(at, err);
    return {};
  }
}

/** True when `path` (after following symbolic links, where it exists) is `dir` or under it. */
export function insideDir(path: string, dir: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const d = real(dir);
  const p = real(path);
  return p === d || p.startsWith(d.endsWith(sep) ? d : d + sep);
}

