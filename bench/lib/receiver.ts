/**
 * Per-packet accounting of the synthetic TS (bench/lib/synth-ts.ts) at a viewer: loss,
 * duplicates, reordering, continuity-counter errors, end-to-end latency and delivered bytes, for
 * many viewers at once, in typed arrays: nothing is allocated per packet.
 *
 * Sequence accounting (per viewer, over the stamp's message sequence numbers):
 *   - the first stamp sets the start (a viewer that joins mid-stream has lost nothing);
 *   - a stamp ahead of the next expected one counts the gap as lost;
 *   - a stamp behind it is a duplicate if that sequence was already received (a bitmap of the
 *     last WINDOW sequences), else a reordered packet: it fills its gap (lost - 1, reordered + 1);
 *     one older than WINDOW counts as `stale` (cannot tell which).
 * CC errors: per PID (PAT, PMT, video, stamp; not null packets) the continuity counter of a
 * payload packet must be the previous + 1 (mod 16) or equal to it (one duplicate is legal) —
 * what a player's demuxer would flag.
 * Latency: arrival time − the stamp's send time (µs, CLOCK_MONOTONIC; see monoUs()), first
 * receptions only, into a histogram of HIST_BIN_US bins and a per-viewer max and sum.
 *
 * Window: counters exist twice, for the whole run ("total") and for the packets that arrived in
 * [windowFrom, windowTo) µs ("window"); the latency histogram is for the window only. Besides,
 * `sentInWindow` counts the first receptions of messages *sent* in the window, whenever they
 * arrive: divided by what the publisher sent in the window it is the exact delivery ratio. The
 * bench sets the window ahead of time, so late message delivery to a busy thread cannot shift it.
 */
import {
  PID_PAT,
  PID_PMT,
  PID_STAMP,
  PID_VIDEO,
  STAMP_MAGIC,
  STAMP_OFF_MAGIC,
  STAMP_OFF_SEQ,
  STAMP_OFF_STREAM,
  STAMP_OFF_TIME,
  TS_PACKET,
} from './synth-ts.js';

/** Counter indices, per viewer, in each of the two blocks (total, window). */
export const F_PACKETS = 0; // SRT messages received
export const F_BYTES = 1;
export const F_STAMPS = 2; // valid stamps (first receptions + duplicates + reordered + stale)
export const F_LOST = 3;
export const F_DUP = 4;
export const F_REORDERED = 5;
export const F_STALE = 6;
export const F_CC = 7;
export const F_FOREIGN = 8; // stamps of another stream, bad magic, or TS packets without sync byte
export const F_LAT_MAX = 9; // µs
export const F_LAT_SUM = 10; // µs
export const F_LAT_N = 11;
export const F_FIRST_US = 12; // arrival of the first packet (µs, 0 = none)
export const F_LAST_US = 13;
/** First receptions whose *send* time is inside the window (whenever they arrive): the delivery count, free of arrival jitter. */
export const F_SENT_WIN = 14;
export const NFIELDS = 15;
export const FIELD_NAMES = [
  'packets', 'bytes', 'stamps', 'lost', 'dup', 'reordered', 'stale', 'ccErrors', 'foreign', 'latMaxUs', 'latSumUs', 'latCount', 'firstUs', 'lastUs', 'sentInWindow',
] as const;

export const SEQ_WINDOW = 4096;
export const HIST_BIN_US = 100;
export const HIST_BINS = 200_000; // 20 s (the last bin holds everything beyond)

const CC_PIDS = 4;

function ccIndex(pid: number): number {
  switch (pid) {
    case PID_PAT:
      return 0;
    case PID_PMT:
      return 1;
    case PID_VIDEO:
      return 2;
    case PID_STAMP:
      return 3;
    default:
      return -1;
  }
}

export interface ViewerCounters {
  packets: number;
  bytes: number;
  stamps: number;
  lost: number;
  dup: number;
  reordered: number;
  stale: number;
  ccErrors: number;
  foreign: number;
  latMaxUs: number;
  latSumUs: number;
  latCount: number;
  firstUs: number;
  lastUs: number;
  sentInWindow: number;
}

export class Receiver {
  readonly viewers: number;
  /** [viewer * NFIELDS + field]: whole run. */
  readonly total: Float64Array;
  /** The same for packets arriving inside the window. */
  readonly window: Float64Array;
  /** Latency histogram of the window: bin i counts latencies in [i, i+1) * HIST_BIN_US µs (last bin: beyond). */
  readonly hist: Uint32Array;
  windowFrom = -Infinity;
  windowTo = Infinity;
  readonly #next: Float64Array; // next expected sequence, -1 before the first stamp
  readonly #seen: Uint8Array; // viewer * SEQ_WINDOW + seq % SEQ_WINDOW
  readonly #cc: Int8Array; // viewer * CC_PIDS + pid index, -1 unknown
  readonly #stream: Int32Array; // expected stream index per viewer (-1 any)

  /**
   * @param counters optional external storage for the total block (e.g. a Float64Array over a
   *   SharedArrayBuffer another thread reads for progress), viewers * NFIELDS long.
   */
  constructor(viewers: number, counters?: Float64Array) {
    this.viewers = viewers;
    this.total = counters ?? new Float64Array(viewers * NFIELDS);
    if (this.total.length < viewers * NFIELDS) throw new Error('Receiver: counters too short');
    this.window = new Float64Array(viewers * NFIELDS);
    this.hist = new Uint32Array(HIST_BINS);
    this.#next = new Float64Array(viewers).fill(-1);
    this.#seen = new Uint8Array(viewers * SEQ_WINDOW);
    this.#cc = new Int8Array(viewers * CC_PIDS).fill(-1);
    this.#stream = new Int32Array(viewers).fill(-1);
  }

  /** Stamps of another stream count as foreign for this viewer. */
  expectStream(viewer: number, stream: number): void {
    this.#stream[viewer] = stream;
  }

  setWindow(fromUs: number, toUs: number): void {
    this.windowFrom = fromUs;
    this.windowTo = toUs;
  }

  /** Accounts one SRT message buf[off, off+len) that arrived at arrivalUs. */
  onMessage(v: number, buf: Uint8Array, off: number, len: number, arrivalUs: number): void {
    const inWin = arrivalUs >= this.windowFrom && arrivalUs < this.windowTo;
    const base = v * NFIELDS;
    const t = this.total;
    const w = this.window;
    t[base + F_PACKETS]! += 1;
    t[base + F_BYTES]! += len;
    if (t[base + F_FIRST_US] === 0) t[base + F_FIRST_US] = arrivalUs;
    t[base + F_LAST_US] = arrivalUs;
    if (inWin) {
      w[base + F_PACKETS]! += 1;
      w[base + F_BYTES]! += len;
      if (w[base + F_FIRST_US] === 0) w[base + F_FIRST_US] = arrivalUs;
      w[base + F_LAST_US] = arrivalUs;
    }
    const end = off + len - TS_PACKET;
    for (let p = off; p <= end; p += TS_PACKET) {
      if (buf[p] !== 0x47) {
        this.#add(base, F_FOREIGN, 1, inWin);
        continue;
      }
      const b1 = buf[p + 1]!;
      const pid = ((b1 & 0x1f) << 8) | buf[p + 2]!;
      const ci = ccIndex(pid);
      if (ci < 0) continue;
      const b3 = buf[p + 3]!;
      if ((b3 & 0x10) !== 0) {
        const cc = b3 & 0x0f;
        const k = v * CC_PIDS + ci;
        const last = this.#cc[k]!;
        if (last >= 0 && cc !== last && cc !== ((last + 1) & 15)) this.#add(base, F_CC, 1, inWin);
        this.#cc[k] = cc;
      }
      if (pid === PID_STAMP) this.#stampPacket(v, base, buf, p, arrivalUs, inWin);
    }
  }

  #add(base: number, field: number, n: number, inWin: boolean): void {
    this.total[base + field]! += n;
    if (inWin) this.window[base + field]! += n;
  }

  #stampPacket(v: number, base: number, buf: Uint8Array, p: number, arrivalUs: number, inWin: boolean): void {
    if (readU32(buf, p + STAMP_OFF_MAGIC) !== STAMP_MAGIC) {
      this.#add(base, F_FOREIGN, 1, inWin);
      return;
    }
    const want = this.#stream[v]!;
    if (want >= 0 && readU32(buf, p + STAMP_OFF_STREAM) !== want) {
      this.#add(base, F_FOREIGN, 1, inWin);
      return;
    }
    const seq = readU32(buf, p + STAMP_OFF_SEQ) + readU32(buf, p + STAMP_OFF_SEQ + 4) * 4294967296;
    const sent = readF64(buf, p + STAMP_OFF_TIME);
    this.#add(base, F_STAMPS, 1, inWin);
    const next = this.#next[v]!;
    const seenBase = v * SEQ_WINDOW;
    let first = true;
    if (next < 0 || seq >= next) {
      if (next >= 0 && seq > next) {
        const gap = seq - next;
        this.#add(base, F_LOST, gap, inWin);
        // mark the skipped sequences as not received (at most the whole bitmap)
        if (gap >= SEQ_WINDOW) this.#seen.fill(0, seenBase, seenBase + SEQ_WINDOW);
        else for (let s = next; s < seq; s++) this.#seen[seenBase + (s % SEQ_WINDOW)] = 0;
      }
      this.#seen[seenBase + (seq % SEQ_WINDOW)] = 1;
      this.#next[v] = seq + 1;
    } else if (next - seq > SEQ_WINDOW) {
      this.#add(base, F_STALE, 1, inWin);
      first = false;
    } else if (this.#seen[seenBase + (seq % SEQ_WINDOW)] === 1) {
      this.#add(base, F_DUP, 1, inWin);
      first = false;
    } else {
      this.#seen[seenBase + (seq % SEQ_WINDOW)] = 1;
      this.#add(base, F_REORDERED, 1, inWin);
      this.#add(base, F_LOST, -1, inWin);
    }
    if (!first) return;
    if (sent >= this.windowFrom && sent < this.windowTo) {
      this.total[base + F_SENT_WIN]! += 1;
      this.window[base + F_SENT_WIN]! += 1;
    }
    const lat = arrivalUs - sent;
    this.#lat(this.total, base, lat);
    if (inWin) {
      this.#lat(this.window, base, lat);
      let bin = Math.floor(lat / HIST_BIN_US);
      if (bin < 0) bin = 0;
      else if (bin >= HIST_BINS) bin = HIST_BINS - 1;
      this.hist[bin]! += 1;
    }
  }

  #lat(a: Float64Array, base: number, lat: number): void {
    if (a[base + F_LAT_N] === 0 || lat > a[base + F_LAT_MAX]!) a[base + F_LAT_MAX] = lat;
    a[base + F_LAT_SUM]! += lat;
    a[base + F_LAT_N]! += 1;
  }

  /** Counters of one viewer (allocates: for reports, not per packet). */
  counters(v: number, which: 'total' | 'window' = 'window'): ViewerCounters {
    const a = which === 'total' ? this.total : this.window;
    const o: Record<string, number> = {};
    for (let f = 0; f < NFIELDS; f++) o[FIELD_NAMES[f]!] = a[v * NFIELDS + f]!;
    return o as unknown as ViewerCounters;
  }
}

function readU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

const F64 = new Float64Array(1);
const F64B = new Uint8Array(F64.buffer);
function readF64(b: Uint8Array, o: number): number {
  for (let i = 0; i < 8; i++) F64B[i] = b[o + i]!;
  return F64[0]!;
}

// ---- histograms -------------------------------------------------------------------------------

/** Adds histogram b into a. */
export function mergeHist(a: Uint32Array, b: ArrayLike<number>): void {
  for (let i = 0; i < a.length && i < b.length; i++) a[i]! += b[i]!;
}

/** Sparse form [bin, count][] of the non-empty bins (for JSON). */
export function sparseHist(h: Uint32Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < h.length; i++) if (h[i]! > 0) out.push([i, h[i]!]);
  return out;
}

export function histFromSparse(s: Array<[number, number]>): Uint32Array {
  const h = new Uint32Array(HIST_BINS);
  for (const [i, n] of s) h[i]! += n;
  return h;
}

/**
 * The q-quantile (0..1) of a latency histogram in ms: the upper edge of the bin holding the
 * ceil(q * count)-th smallest value (so a result is never below the true quantile, and at most
 * one bin, HIST_BIN_US, above it). NaN for an empty histogram.
 */
export function histQuantileMs(h: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < h.length; i++) total += h[i]!;
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let c = 0;
  for (let i = 0; i < h.length; i++) {
    c += h[i]!;
    if (c >= rank) return ((i + 1) * HIST_BIN_US) / 1000;
  }
  return (h.length * HIST_BIN_US) / 1000;
}

/** CDF points [ms, fraction] of a histogram, at most maxPoints (for plots). */
export function histCdf(h: ArrayLike<number>, maxPoints = 400): Array<[number, number]> {
  let total = 0;
  for (let i = 0; i < h.length; i++) total += h[i]!;
  if (total === 0) return [];
  const pts: Array<[number, number]> = [];
  let c = 0;
  for (let i = 0; i < h.length; i++) {
    if (h[i] === 0) continue;
    c += h[i]!;
    pts.push([((i + 1) * HIST_BIN_US) / 1000, c / total]);
  }
  if (pts.length <= maxPoints) return pts;
  // keep evenly spaced fractions plus the tail
  const out: Array<[number, number]> = [];
  let nextF = 0;
  for (const p of pts) {
    if (p[1] >= nextF || p[1] > 0.99) {
      out.push(p);
      nextF = p[1] + 1 / maxPoints;
    }
  }
  if (out[out.length - 1] !== pts[pts.length - 1]) out.push(pts[pts.length - 1]!);
  return out;
}
