/**
 * A stream's latency policy, per direction (docs/streams.md#latency-policy):
 *
 *   "latency": { "min": 120, "max": 3000, "default": 500, "onExceed": "refuse",
 *                "publish": { "min": 1000 }, "play": { ... } }
 *
 * Keys at the top apply to both directions; `publish` / `play` override them for one. SRT
 * negotiates the larger of both sides' latencies in the handshake, so the relay's side is the
 * floor every caller gets: the gate sets it on the accepted socket in libsrt's listen callback
 * (`default`, else `min`). The caller's own wish is only known once the handshake is done, so
 * `max` is checked on the accepted socket: over it, "refuse" closes the connection before it
 * becomes a session (counted and logged as 1406), "accept" keeps it and logs it. A listener
 * cannot lower a caller's latency (libsrt takes the larger value), so there is no "clamp".
 */

export type LatencyOnExceed = 'refuse' | 'accept';

export interface LatencyPolicyInput {
  /** Floor, ms: a caller asking less gets at least this (the relay's side when `default` is absent). */
  min?: number;
  /** Ceiling, ms: a negotiated latency above it is refused (or accepted, see onExceed). */
  max?: number;
  /** The relay's side of the negotiation, ms (≥ min): what a caller asking less gets. */
  default?: number;
  onExceed?: LatencyOnExceed;
}

export interface LatencyInput extends LatencyPolicyInput {
  publish?: LatencyPolicyInput;
  play?: LatencyPolicyInput;
}

export interface LatencyPolicy {
  readonly min?: number;
  readonly max?: number;
  readonly default?: number;
  readonly onExceed: LatencyOnExceed;
}

export interface StreamLatency {
  readonly publish?: LatencyPolicy;
  readonly play?: LatencyPolicy;
}

/** Highest latency the policy takes, ms (libsrt carries it in 16 bits of the handshake). */
export const LATENCY_MAX_MS = 65535;

type Seg = string | number;

/**
 * The checked per-direction policies of `input` (the schema has checked the types); problems
 * are reported through `add` with the key path below `segs`.
 */
export function normalizeLatency(input: LatencyInput | undefined, segs: readonly Seg[], add: (segs: readonly Seg[], message: string) => void): StreamLatency {
  if (input === undefined) return {};
  const out: { publish?: LatencyPolicy; play?: LatencyPolicy } = {};
  for (const side of ['publish', 'play'] as const) {
    const own = input[side];
    const merged: LatencyPolicyInput = {
      ...pick(input),
      ...(own !== undefined ? pick(own) : {}),
    };
    if (merged.min === undefined && merged.max === undefined && merged.default === undefined) continue;
    const at = (key: keyof LatencyPolicyInput): Seg[] => (own?.[key] !== undefined ? [...segs, side, key] : [...segs, key]);
    const { min, max } = merged;
    const dflt = merged.default;
    if (min !== undefined && max !== undefined && min > max) add(at('min'), `min (${min}) must not be above max (${max}) for ${side}`);
    else if (dflt !== undefined && min !== undefined && dflt < min) add(at('default'), `default (${dflt}) must not be below min (${min}) for ${side}: the relay's side is the floor every caller gets; raise default or lower min`);
    else if (dflt !== undefined && max !== undefined && dflt > max) add(at('default'), `default (${dflt}) must not be above max (${max}) for ${side}: every caller would negotiate at least default and be over max`);
    out[side] = {
      ...(min !== undefined ? { min } : {}),
      ...(max !== undefined ? { max } : {}),
      ...(dflt !== undefined ? { default: dflt } : {}),
      onExceed: merged.onExceed ?? 'refuse',
    };
  }
  return out;
}

function pick(p: LatencyPolicyInput): LatencyPolicyInput {
  return {
    ...(p.min !== undefined ? { min: p.min } : {}),
    ...(p.max !== undefined ? { max: p.max } : {}),
    ...(p.default !== undefined ? { default: p.default } : {}),
    ...(p.onExceed !== undefined ? { onExceed: p.onExceed } : {}),
  };
}

/** The negotiated latency (ms) when it is over the policy's max, else undefined. */
export function overMax(p: LatencyPolicy | undefined, negotiatedMs: number): number | undefined {
  return p?.max !== undefined && negotiatedMs > p.max ? negotiatedMs : undefined;
}

/** The relay's side of the latency negotiation, ms (0: the port's own setting). */
export function relaySideMs(p: LatencyPolicy | undefined): number {
  return p?.default ?? p?.min ?? 0;
}
