/** Messages between the supervisor (main thread) and the session hosts (worker threads). */
import type { TsInfo } from '../ts/analyzer.js';

export type ViewerJoin = 'live' | 'keyframe';

/**
 * A connection's role on its worker:
 *  - publisher: receives into the ring;
 *  - viewer: fed from the ring;
 *  - undecided: a plain streamid on a "both" port for a stream that was not live. It reads
 *    nothing until the supervisor confirms it as the publisher (it sent media), or it turns
 *    into a viewer after UNDECIDED_MS without media (a player waiting for the stream).
 */
export type SessionRole = 'publisher' | 'viewer' | 'undecided';

/** How long an undecided connection may stay silent before it is taken for a player. */
export const UNDECIDED_MS = 1000;

export type ToWorker =
  | {
      type: 'attach';
      session: number;
      sock: number;
      stream: string;
      ring: SharedArrayBuffer;
      role: SessionRole;
      inferred: boolean;
      join: ViewerJoin;
      /** Negative: a DVR viewer starting that many ms before the live edge. */
      timeShiftMs?: number;
      /** The stream is not MPEG-TS (or analysis is off): pure byte relay. */
      raw?: boolean;
      /** As publisher: report `publisher-stalled` after this many ms without media (0/absent: never). */
      stallMs?: number;
    }
  /** Plays a TS file into the ring as a source (src/sources/file-source.ts). */
  | { type: 'attach-file'; session: number; stream: string; path: string; ring: SharedArrayBuffer; loop: boolean; simulatedLive: boolean; raw?: boolean }
  /** The undecided (or inferred viewer) connection that sent media becomes the stream's publisher. */
  | { type: 'confirm-publisher'; session: number }
  | { type: 'close-session'; session: number; reason: string }
  | { type: 'stats-request'; id: number }
  | { type: 'shutdown' }
  /** Fault injection for tests: the worker thread throws an uncaught error. */
  | { type: 'crash' };

export interface SessionStats {
  session: number;
  /** Packets the relay moved for this session (received for a publisher, sent for a viewer). */
  packets: number;
  /** Packets a viewer skipped because it fell behind the ring. */
  skipped: number;
  srt: Record<string, number> | undefined;
  /** Tracks, codecs, keyframe interval, CC errors: for publishers of MPEG-TS streams. */
  ts?: TsInfo;
}

export type FromWorker =
  | { type: 'ready'; worker: number }
  | { type: 'session-ended'; session: number; reason: string }
  /** An undecided connection, or a viewer whose streamid named no direction, sent media. */
  | { type: 'media-detected'; session: number }
  /** A file source wrote its first packets. */
  | { type: 'source-live'; session: number }
  /** An undecided connection stayed silent: it now plays the stream. */
  | { type: 'became-viewer'; session: number }
  /** A publisher received no media for its `stallMs` (it may be gone without a word). */
  | { type: 'publisher-stalled'; session: number; quietMs: number }
  /** A stalled publisher sends media again. */
  | { type: 'publisher-resumed'; session: number }
  | { type: 'stats'; id: number; worker: number; sessions: SessionStats[] }
  /** A reactor handler (or a message handler) on the worker threw; `context` names its session/socket. */
  | { type: 'handler-error'; context: Record<string, string | number | boolean>; message: string; stack?: string };
