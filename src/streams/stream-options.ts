import { ringSlotsFor } from '../ring/packet-ring.js';
import type { StreamLatency } from '../config/latency-policy.js';

/** A stream's options as the Relay takes them (the config file and the API normalise to this: src/config/stream-config.ts). */
export interface RelayStreamOptions {
  /** The primary source; `sources` (primary first, then backups) wins when given. */
  source: string;
  sources?: string[];
  passphrase?: { publish?: string; play?: string };
  onPublisherConflict?: 'refuse' | 'replace';
  /** Under "refuse": a publisher that sent no media this long may be taken over (0 = never; default 1500). */
  takeoverAfterMs?: number;
  acceptStreamIds?: 'wildcard' | 'ignore' | 'refuse';
  alwaysOn?: boolean;
  idleTimeoutMs?: number;
  failoverTimeoutMs?: number;
  loop?: boolean;
  simulatedLive?: boolean;
  join?: 'keyframe' | 'live';
  raw?: boolean;
  /** Memory window wanted; the ring holds about one packet per millisecond of it, capped at RING_MAX_SLOTS. */
  bufferTimeMs?: number;
  /** Per-direction latency policy of callers (docs/streams.md#latency-policy). */
  latency?: StreamLatency;
}

/** Hard cap of a stream's ring: 16384 slots × 1472 bytes ≈ 24 MB (≈ 17 s of 1316-byte messages at 10 Mbit/s). */
export const RING_MAX_SLOTS = 16384;
/** Smallest ring a configured stream gets (a bufferTimeMs under about a second). */
export const RING_MIN_SLOTS = 1024;

/**
 * Ring slots of a configured stream: one per millisecond of `bufferTimeMs` (one 1316-byte
 * message per millisecond is ≈ 10.5 Mbit/s), rounded up to a power of two, within
 * [RING_MIN_SLOTS, RING_MAX_SLOTS] (docs/streams.md "The memory window").
 */
export function ringSlotsForBufferTime(bufferTimeMs: number): number {
  return ringSlotsFor(bufferTimeMs, RING_MIN_SLOTS, RING_MAX_SLOTS);
}

/** A stream's sources, primary first. */
export function sourceTexts(s: RelayStreamOptions): string[] {
  return s.sources !== undefined && s.sources.length > 0 ? s.sources : [s.source];
}
