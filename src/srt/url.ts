/**
 * The one parser for srt:// URLs: `srt://[host]:port[?param=value&...]`.
 *
 * - No host, or a wildcard host (0.0.0.0, [::]) ⇒ listener; any other host ⇒ caller. `mode=caller|listener|rendezvous`
 *   overrides (aliases: client → caller, server → listener). A listener given a host (with
 *   mode=listener) binds to that address.
 * - URL-level keys: `mode`, `adapter` (listener: bind address; caller/rendezvous: local
 *   interface), `port` (local port of a caller/rendezvous). Every other key must be an SRT option
 *   from the catalog (src/srt/options.ts); nothing is silently ignored.
 * - Everything after the first `?` is the query, taken literally: `#` does not start a fragment
 *   (a raw streamid `#!::r=live` works), `+` is not a space, values are percent-decoded, and a
 *   value runs from the first `=` to the next `&`.
 * - IPv6 hosts go in brackets: `srt://[::1]:9000`; a zone is written `%25`: `[fe80::1%25eth0]`.
 */
import { isIP } from 'node:net';
import { SrtModeInvalidError, SrtUrlInvalidError } from '../errors.js';
import { MASK, isSecretKey } from '../config/secrets.js';
import {
  SRT_OPTIONS,
  checkOptionSet,
  formatOptionValue,
  resolveOptionName,
  type SrtOptionName,
  type SrtOptionValue,
  type SrtOptions,
} from './options.js';

export type SrtMode = 'caller' | 'listener' | 'rendezvous';

export interface SrtUrl {
  readonly mode: SrtMode;
  /** Caller/rendezvous: the peer. Listener: the bind address, '' = any. IPv6 without brackets. */
  readonly host: string;
  /** Caller/rendezvous: the peer's port. Listener: the port to listen on. */
  readonly port: number;
  /** Caller/rendezvous only: the local interface address to bind to. */
  readonly adapter?: string;
  /** Caller/rendezvous only: the local port to bind to. */
  readonly localPort?: number;
  /** Checked SRT socket options, in the order given. */
  readonly options: SrtOptions;
  /** The text that was parsed. May contain a passphrase: print `maskUrl(raw)` (src/config/secrets.ts) instead. */
  readonly raw: string;
}

/** Query keys the URL parser handles itself (not socket options). */
export const SRT_URL_KEYS = Object.freeze(['mode', 'adapter', 'port'] as const);

const MODE_WORDS: Readonly<Record<string, SrtMode>> = {
  caller: 'caller',
  client: 'caller',
  listener: 'listener',
  server: 'listener',
  rendezvous: 'rendezvous',
};

const EXAMPLE = 'srt://host:9000 (caller) or srt://:9000 (listener)';

/** The any-addresses: a URL with one of these as host is a listener bound to it. */
function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || (isIP(host) === 6 && /^[0:]+$/.test(host));
}

function inferMode(host: string): SrtMode {
  return host === '' || isWildcard(host) ? 'listener' : 'caller';
}

function urlError(message: string, details?: Record<string, unknown>): SrtUrlInvalidError {
  return new SrtUrlInvalidError(message, details);
}

function show(s: string): string {
  return `'${s.length > 60 ? `${s.slice(0, 60)}…` : s}'`;
}

function decode(s: string, what: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw urlError(`bad percent-encoding in ${what}: escapes are %XX with two hex digits of UTF-8, and a literal % is written %25`);
  }
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** Check a host name or IP address (IPv6 without brackets); returns it unchanged. */
function checkHost(host: string, what: string): string {
  if (host.includes(':')) {
    if (isIP(host) === 6) return host;
    throw urlError(`${what} ${show(host)} is not a valid IPv6 address`);
  }
  if (/^[0-9.]+$/.test(host)) {
    if (isIP(host) === 4) return host;
    throw urlError(`${what} ${show(host)} is not a valid IPv4 address (four numbers 0 to 255, like 192.0.2.10)`);
  }
  if (host.length > 253 || !host.split('.').every((label) => LABEL.test(label))) {
    throw urlError(
      `${what} ${show(host)} is not a valid host name or IP address (letters, digits, '-' and '.'; IPv6 goes in brackets)`,
    );
  }
  return host;
}

function parsePort(text: string, what: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw urlError(`${what} must be 1 to 65535 (got ${show(text)})`, { port: text });
  }
  return Number(text);
}

interface Authority {
  host: string;
  port: number;
}

function parseAuthority(authority: string): Authority {
  if (authority.includes('#')) {
    throw urlError(`'#' may only appear after '?', inside a parameter value (or write it as %23)`);
  }
  if (authority.includes('@')) {
    throw urlError('srt URLs take no user name before the host; put credentials in streamid= or passphrase=');
  }
  let host: string;
  let rest: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) throw urlError(`IPv6 address is missing its closing ']', e.g. srt://[::1]:9000`);
    const literal = decode(authority.slice(1, close), 'the IPv6 zone');
    if (isIP(literal) !== 6) {
      throw urlError(`${show(literal)} in brackets is not an IPv6 address; only IPv6 addresses go in brackets`);
    }
    host = literal;
    rest = authority.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':') && !rest.startsWith('/')) {
      throw urlError(`expected ':port' after the IPv6 address ']', e.g. srt://[::1]:9000`);
    }
  } else {
    const slash = authority.indexOf('/');
    const hostPort = slash === -1 ? authority : authority.slice(0, slash);
    const colons = hostPort.split(':').length - 1;
    if (colons > 1) {
      throw urlError(`IPv6 addresses go in brackets, e.g. srt://[::1]:9000 (got ${show(hostPort)})`);
    }
    const colon = hostPort.indexOf(':');
    host = colon === -1 ? hostPort : hostPort.slice(0, colon);
    rest = authority.slice(host.length);
    if (host !== '') checkHost(host, 'host');
  }
  const slash = rest.indexOf('/');
  const portPart = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (path !== '' && path !== '/') {
    throw urlError(`srt URLs have no path (got ${show(path)}); put the stream name in streamid=, e.g. ?streamid=#!::r=live`);
  }
  if (portPart === '' || portPart === ':') {
    throw urlError(`srt URL needs a port, e.g. ${EXAMPLE}`);
  }
  return { host, port: parsePort(portPart.slice(1), 'port') };
}

/** Parse an srt:// URL. Throws ERR_SRT_URL_INVALID, ERR_SRT_MODE_INVALID or an option error. */
export function parseSrtUrl(text: string): SrtUrl {
  if (typeof text !== 'string') throw urlError(`expected an srt:// URL string, e.g. ${EXAMPLE}`);
  const input = text.trim();
  if (!/^srt:\/\//i.test(input)) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(input)?.[1];
    if (scheme !== undefined && scheme.toLowerCase() === 'srt') {
      throw urlError(`srt URLs start with 'srt://', e.g. ${EXAMPLE}`);
    }
    throw urlError(
      scheme === undefined
        ? `expected an srt:// URL, e.g. ${EXAMPLE}`
        : `expected an srt:// URL, got a '${scheme}:' URL; write it like ${EXAMPLE}`,
    );
  }
  const body = input.slice('srt://'.length);
  const q = body.indexOf('?');
  const { host, port } = parseAuthority(q === -1 ? body : body.slice(0, q));
  const query = q === -1 ? '' : body.slice(q + 1);

  let modeWord: string | undefined;
  let adapter: string | undefined;
  let localPort: number | undefined;
  const options: Record<string, SrtOptionValue> = {};
  const seen = new Set<string>();

  for (const segment of query.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    const rawKey = decode(eq === -1 ? segment : segment.slice(0, eq), 'a parameter name');
    const key = rawKey.toLowerCase();
    if (key === '') throw urlError(`a parameter has no name before '='; write name=value`);
    if (eq === -1) throw urlError(`parameter '${rawKey}' needs a value, e.g. ${rawKey}=VALUE`, { param: key });
    if (seen.has(key)) throw urlError(`parameter '${key}' is given twice; keep one`, { param: key });
    seen.add(key);
    const value = decode(segment.slice(eq + 1), `the value of '${key}'`);
    switch (key) {
      case 'mode':
        modeWord = value;
        break;
      case 'adapter': {
        const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
        if (bare === '') throw urlError(`adapter needs an address, e.g. adapter=192.0.2.10`, { param: key });
        adapter = checkHost(bare, 'adapter');
        break;
      }
      case 'port':
        localPort = parsePort(value, 'port= (the local port)');
        break;
      default: {
        const name: SrtOptionName = resolveOptionName(rawKey, SRT_URL_KEYS);
        options[name] = SRT_OPTIONS[name].validate(value);
      }
    }
  }

  let mode: SrtMode;
  if (modeWord === undefined) {
    mode = inferMode(host);
  } else {
    const m = MODE_WORDS[modeWord.toLowerCase()];
    if (m === undefined) {
      throw new SrtModeInvalidError(
        `mode must be caller, listener or rendezvous (or client, server) (got ${show(modeWord)})`,
        { mode: modeWord },
      );
    }
    mode = m;
  }

  if (mode !== 'listener' && inferMode(host) === 'listener') {
    const example = mode === 'caller' ? 'srt://host:9000' : 'srt://peer-host:9000?mode=rendezvous';
    const got = host === '' ? 'no host' : `${show(host)}, the any-address`;
    throw new SrtModeInvalidError(`${mode} mode needs the peer's host (got ${got}), e.g. ${example}`, { mode });
  }

  let boundHost = host;
  if (mode === 'listener') {
    if (localPort !== undefined) {
      throw urlError(`port= sets the local port of a caller or rendezvous; a listener listens on the URL's port, e.g. srt://:${localPort}`, {
        param: 'port',
      });
    }
    if (adapter !== undefined) {
      if (host !== '' && host !== adapter) {
        throw urlError(
          `a listener binds to one address: give it as the host (srt://${host.includes(':') ? `[${host}]` : host}:${port}?mode=listener) or as adapter=, not both`,
          { param: 'adapter' },
        );
      }
      boundHost = adapter;
    }
  }

  const checked = options as SrtOptions;
  checkOptionSet(checked);
  return Object.freeze({
    mode,
    host: boundHost,
    port,
    ...(mode !== 'listener' && adapter !== undefined ? { adapter } : {}),
    ...(localPort !== undefined ? { localPort } : {}),
    options: Object.freeze(checked),
    raw: text,
  });
}

/** Characters kept as-is in a formatted query value (RFC 3986 query minus '&' and '+'). */
const KEEP = /[A-Za-z0-9\-._~!$'()*,;=:@/?]/;

function encodeValue(value: string): string {
  let out = '';
  for (const ch of value) out += KEEP.test(ch) ? ch : encodeURIComponent(ch);
  return out;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host.replace(/%/g, '%25')}]` : host;
}

export interface FormatSrtUrlOptions {
  /** Replace the passphrase with `***` (for logs). */
  readonly redactSecrets?: boolean;
}

/** The canonical URL for `u`; `parseSrtUrl(formatSrtUrl(u))` gives back `u` (except `raw`). */
export function formatSrtUrl(u: Omit<SrtUrl, 'raw'> & { raw?: string }, opts: FormatSrtUrlOptions = {}): string {
  const params: string[] = [];
  const inferred = inferMode(u.host);
  if (u.mode !== inferred) params.push(`mode=${u.mode}`);
  if (u.mode !== 'listener') {
    if (u.adapter !== undefined) params.push(`adapter=${encodeValue(u.adapter)}`);
    if (u.localPort !== undefined) params.push(`port=${u.localPort}`);
  }
  for (const [name, value] of Object.entries(u.options) as [SrtOptionName, SrtOptionValue | undefined][]) {
    if (value === undefined) continue;
    const text = opts.redactSecrets === true && isSecretKey(name) && value !== '' ? MASK : formatOptionValue(name, value);
    params.push(`${name}=${encodeValue(text)}`);
  }
  return `srt://${formatHost(u.host)}:${u.port}${params.length > 0 ? `?${params.join('&')}` : ''}`;
}
