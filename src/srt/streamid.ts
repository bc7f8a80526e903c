/**
 * Stream-id parsing on the TypeScript side. The direction and stream name rules are the same as
 * the native gate's ClassifyStreamId (native/gate.cc; test/streamid-dialects keeps the two in
 * step); docs/streams.md lists every form. This adds what only JavaScript uses:
 *   #!::r=NAME,m=request,t=-10s     start 10 s back in the DVR window (also -500ms, -10)
 *   #!::r=NAME,m=request,join=live  start at the live edge instead of the last keyframe
 *   other keys (u=, s=, h=, ...)    kept in `keys`; u= and s= also as `user` and `token` (the
 *                                   auth webhook gets them)
 *   dialect                         which form the id was read as (for `srt-relay streamid`)
 * `t=` also names the SRT access-control "type" (stream|file|auth, and the relay's own
 * srt-relay-cluster); only a negative duration is a time shift; any other `t=` names no stream (1400).
 */
import { MODE_PLAY, MODE_PUBLISH, MODE_UNKNOWN } from './native.js';

export type StreamIdMode = typeof MODE_UNKNOWN | typeof MODE_PUBLISH | typeof MODE_PLAY;

export type StreamIdDialect =
  | 'empty'
  | 'plain'
  | 'access-control'
  | 'srs'
  | 'blackmagic'
  | 'mediamtx'
  | 'ome-url'
  | 'domain';

/** A port's stream-id settings (config `srt.ports[].streamIds` and `.streamIdless`). */
export interface GateDialects {
  /** Lower-case domain → the direction it says ('both': the port decides). */
  readonly domains?: Readonly<Record<string, 'publish' | 'play' | 'both'>>;
  readonly streamIdless?: {
    readonly default?: string;
    readonly byAddress?: Readonly<Record<string, string>>;
    /** The direction of a caller without a stream id (absent: the port's, as for a plain name). */
    readonly direction?: 'publish' | 'play';
  };
}

export interface ParsedStreamId {
  mode: StreamIdMode;
  resource: string;
  keys: Readonly<Record<string, string>>;
  /** Negative: start that many milliseconds before the live edge. */
  timeShiftMs: number | undefined;
  join: 'keyframe' | 'live' | undefined;
  /** Haivision `u=` (not for Blackmagic, whose u= is the stream key) or MediaMTX's user. */
  user: string | undefined;
  /** Haivision `s=` (session / token) or MediaMTX's password. */
  token: string | undefined;
  dialect: StreamIdDialect;
  /** The id was percent-decoded before it was read. */
  percentDecoded: boolean;
  /** StreamToStudio's `#feedbackplay` suffix: plays `NAME/feedback`. */
  feedback: boolean;
  /** The domain that was dropped from the name (SLS/OME), if any. */
  domain: string | undefined;
  /** A `t=` value that is neither an access-control type nor a time shift (the id then names no stream). */
  badTime?: string;
}

const DURATION = /^-(\d+(?:\.\d+)?)(ms|s|m)?$/;
const FEEDBACK_PLAY = '#feedbackplay';

/** Milliseconds for "-10s", "-500ms", "-2m", "-10" (seconds); undefined when not a negative duration. */
export function parseTimeShift(v: string): number | undefined {
  const m = DURATION.exec(v.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 'm' ? n * 60_000 : n * 1000;
  return -Math.round(ms);
}

const TIME_KEY = /^[ \t]*(?:-\d+(?:\.\d+)?(?:ms|s|m)?|stream|file|auth|srt-relay-cluster)[ \t]*$/i;

/**
 * True for a `t=` value the relay understands: an access-control type (stream, file, auth), the
 * relay's own internal-pull type (`srt-relay-cluster`, src/cluster/internal-link.ts) or a time
 * shift (a negative duration). Anything else (`t=abc`, `t=`, `t=--5`, `t=5s`) makes the id name
 * no stream, refused with 1400 (the native gate's ValidTimeKey reads it the same).
 */
export function timeKeyValid(v: string): boolean {
  return TIME_KEY.test(v);
}

/** A direction word of the config as the gate's mode. */
export const MODE_OF_DOMAIN = { both: MODE_UNKNOWN, publish: MODE_PUBLISH, play: MODE_PLAY } as const;

/** The domains as the native gate takes them. */
export function nativeDomains(domains: GateDialects['domains']): Array<[string, number]> {
  return Object.entries(domains ?? {}).map(([name, dir]) => [name.toLowerCase(), MODE_OF_DOMAIN[dir]]);
}

/** `{"10.0.0.0/8": "cam"}` → [["10.0.0.0", 8, "cam"]] (a bare address is a full-length prefix). */
export function nativeAddressMap(map: Readonly<Record<string, string>> | undefined): Array<[string, number, string]> {
  return Object.entries(map ?? {}).map(([prefix, stream]) => {
    const slash = prefix.indexOf('/');
    const host = slash < 0 ? prefix : prefix.slice(0, slash);
    const bits = slash < 0 ? (host.includes(':') ? 128 : 32) : Number(prefix.slice(slash + 1));
    return [host, bits, stream];
  });
}

/** Decodes %XX once ('%' without two hex digits stays); Latin-1 bytes, then read as UTF-8 like the native side. */
function percentDecode(s: string): string | undefined {
  if (!/%[0-9A-Fa-f]{2}/.test(s)) return undefined;
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (b === 0x25 && i + 2 < raw.length && isHex(raw[i + 1] as number) && isHex(raw[i + 2] as number)) {
      bytes.push(parseInt(String.fromCharCode(raw[i + 1] as number, raw[i + 2] as number), 16));
      i += 2;
    } else bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

interface Plain {
  mode: StreamIdMode;
  resource: string;
  dialect: StreamIdDialect;
  domain: string | undefined;
}

function parsePlain(sid: string, domains: GateDialects['domains']): Plain {
  let path = sid;
  let dialect: StreamIdDialect = sid === '' ? 'empty' : 'plain';
  let mode: StreamIdMode = MODE_UNKNOWN;
  let domain: string | undefined;
  if (sid.slice(0, 6).toLowerCase() === 'srt://') {
    const slash = sid.indexOf('/', 6);
    path = slash < 0 ? '' : sid.slice(slash + 1);
    const q = path.indexOf('?');
    if (q >= 0) path = path.slice(0, q);
    dialect = 'ome-url';
  }
  const slash = path.indexOf('/');
  if (slash >= 0 && domains !== undefined) {
    const first = path.slice(0, slash).toLowerCase();
    for (const [name, dir] of Object.entries(domains)) {
      if (name.toLowerCase() !== first) continue;
      path = path.slice(slash + 1);
      mode = MODE_OF_DOMAIN[dir];
      domain = name;
      if (dialect === 'plain') dialect = 'domain';
      break;
    }
  }
  return { mode, resource: path, dialect, domain };
}

export function parseStreamId(raw: string, dialects: GateDialects = {}): ParsedStreamId {
  const keys: Record<string, string> = {};
  let mode: StreamIdMode = MODE_UNKNOWN;
  let resource = '';
  let user: string | undefined;
  let token: string | undefined;
  let dialect: StreamIdDialect;
  let domain: string | undefined;
  let badTime: string | undefined;
  let sid = raw;
  const feedback = sid.length > FEEDBACK_PLAY.length && sid.endsWith(FEEDBACK_PLAY);
  if (feedback) sid = sid.slice(0, -FEEDBACK_PLAY.length);
  let percentDecoded = false;
  if (!sid.startsWith('#!::') && !sid.startsWith('publish:') && !sid.startsWith('read:')) {
    const d = percentDecode(sid);
    if (d !== undefined) {
      sid = d;
      percentDecoded = true;
    }
  }
  if (sid.startsWith('#!::')) {
    dialect = 'access-control';
    for (const part of sid.slice(4).split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const k = part.slice(0, eq);
      const v = part.slice(eq + 1);
      keys[k] = v;
      if (k === 't' && !timeKeyValid(v)) badTime ??= v;
      if (k === 'm') {
        if (v === 'publish') mode = MODE_PUBLISH;
        else if (v === 'request' || v === 'bidirectional') mode = MODE_PLAY;
      }
    }
    const bmd = keys['bmd_uuid'] !== undefined || keys['bmd_name'] !== undefined;
    if (badTime !== undefined) {
      // A t= that is neither a type nor a time shift: the id names no stream (1400).
    } else if (keys['r'] !== undefined) {
      resource = keys['r'];
      if (bmd) dialect = 'blackmagic';
      else if (keys['h'] !== undefined) dialect = 'srs';
    } else if (keys['h']?.includes('/') === true) {
      resource = keys['h'];
      dialect = 'srs';
    } else if (bmd && keys['u'] !== undefined && keys['u'] !== '') {
      const p = parsePlain(keys['u'], dialects.domains);
      resource = p.resource;
      if (mode === MODE_UNKNOWN) mode = p.mode;
      domain = p.domain;
      dialect = 'blackmagic';
    }
    user = dialect === 'blackmagic' && keys['r'] === undefined ? undefined : keys['u'];
    token = keys['s'];
  } else if (sid.startsWith('publish:') || sid.startsWith('read:')) {
    dialect = 'mediamtx';
    const pub = sid.startsWith('publish:');
    const parts = sid.slice(pub ? 8 : 5).split(':');
    resource = parts[0] ?? '';
    if (parts.length >= 3) {
      user = parts[1];
      token = parts[2];
    }
    mode = pub ? MODE_PUBLISH : MODE_PLAY;
  } else {
    const p = parsePlain(sid, dialects.domains);
    ({ mode, resource, dialect, domain } = p);
  }
  if (feedback) {
    mode = MODE_PLAY;
    if (resource !== '') resource += '/feedback';
  }
  const t = keys['t'];
  const join = keys['join'];
  return {
    mode,
    resource,
    keys,
    timeShiftMs: t === undefined ? undefined : parseTimeShift(t),
    join: join === 'live' || join === 'keyframe' ? join : undefined,
    user,
    token,
    dialect,
    percentDecoded,
    feedback,
    domain,
    ...(badTime !== undefined ? { badTime } : {}),
  };
}
