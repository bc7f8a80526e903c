/**
 * Stream-id parsing on the TypeScript side. The direction and stream name rules are the same as
 * the native gate's ClassifyStreamId (native/gate.cc; a test keeps the two in step); this adds
 * the keys only JavaScript uses:
 *   #!::r=NAME,m=request,t=-10s     start 10 s back in the DVR window (also -500ms, -10)
 *   #!::r=NAME,m=request,join=live  start at the live edge instead of the last keyframe
 *   other keys (u=, s=, h=, ...)    kept in `keys` and passed to the auth webhook
 * `t=` also names the SRT access-control "type" (stream|file|auth); only a negative duration is a
 * time shift.
 */
import { MODE_PLAY, MODE_PUBLISH, MODE_UNKNOWN } from './native.js';

export interface ParsedStreamId {
  mode: typeof MODE_UNKNOWN | typeof MODE_PUBLISH | typeof MODE_PLAY;
  resource: string;
  keys: Readonly<Record<string, string>>;
  /** Negative: start that many milliseconds before the live edge. */
  timeShiftMs: number | undefined;
  join: 'keyframe' | 'live' | undefined;
}

const DURATION = /^-(\d+(?:\.\d+)?)(ms|s|m)?$/;

/** Milliseconds for "-10s", "-500ms", "-2m", "-10" (seconds); undefined when not a negative duration. */
export function parseTimeShift(v: string): number | undefined {
  const m = DURATION.exec(v.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 'm' ? n * 60_000 : n * 1000;
  return -Math.round(ms);
}

export function parseStreamId(sid: string): ParsedStreamId {
  const keys: Record<string, string> = {};
  let mode: ParsedStreamId['mode'] = MODE_UNKNOWN;
  let resource = '';
  if (sid.startsWith('#!::')) {
    for (const part of sid.slice(4).split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const k = part.slice(0, eq);
      const v = part.slice(eq + 1);
      keys[k] = v;
      if (k === 'r') resource = v;
      else if (k === 'm') {
        if (v === 'publish') mode = MODE_PUBLISH;
        else if (v === 'request' || v === 'bidirectional') mode = MODE_PLAY;
      }
    }
  } else if (sid.startsWith('publish:') || sid.startsWith('read:')) {
    const pub = sid.startsWith('publish:');
    const rest = sid.slice(pub ? 8 : 5);
    const colon = rest.indexOf(':');
    resource = colon < 0 ? rest : rest.slice(0, colon);
    mode = pub ? MODE_PUBLISH : MODE_PLAY;
  } else {
    resource = sid;
  }
  const t = keys['t'];
  const join = keys['join'];
  return {
    mode,
    resource,
    keys,
    timeShiftMs: t === undefined ? undefined : parseTimeShift(t),
    join: join === 'live' || join === 'keyframe' ? join : undefined,
  };
}
