/**
 * Types and the live-counter layout shared by the load generator's main thread
 * (bench/lib/loadgen.ts) and its workers (bench/lib/loadgen-worker.ts).
 *
 * Live counters (Float64Array over a SharedArrayBuffer, one per worker):
 *   [0] connected  [1] failed  [2] open  [3] sent messages (pub)  [4] max backlog (pub, msgs)
 *   [HDR + viewer * NFIELDS + field] receiver totals (view; fields of bench/lib/receiver.ts)
 */
export const HDR = 8;
export const H_CONNECTED = 0;
export const H_FAILED = 1;
export const H_OPEN = 2;
export const H_SENT = 3;
export const H_BACKLOG = 4;

export interface WorkerItem {
  url: string;
  stream: number;
  /** Publishers: bits per second. */
  bitrate?: number;
}

export interface LoadgenWorkerData {
  role: 'pub' | 'view';
  items: WorkerItem[];
  share: number;
  tsbpd: boolean;
  latency: number;
  retries: number;
  counters: SharedArrayBuffer;
}
