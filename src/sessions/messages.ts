/** Messages between the supervisor (main thread) and the session hosts (worker threads). */

export type ViewerJoin = 'live' | 'keyframe';

export type ToWorker =
  | { type: 'attach-publisher'; session: number; sock: number; stream: string; ring: SharedArrayBuffer }
  | { type: 'attach-viewer'; session: number; sock: number; stream: string; ring: SharedArrayBuffer; join: ViewerJoin }
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
}

export type FromWorker =
  | { type: 'ready'; worker: number }
  | { type: 'session-ended'; session: number; reason: string }
  | { type: 'stats'; id: number; worker: number; sessions: SessionStats[] };
