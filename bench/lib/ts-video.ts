/**
 * Tiny MPEG-TS video watcher for the join bench: feed it received SRT payloads (whole 188-byte
 * packets) with their arrival time; it reports every video PES start on the given PIDs and
 * whether that PES is an H.264 IDR picture (nal_unit_type 5 among the first bytes of the ES).
 *
 * The IDR NAL of x264 output may not be in the PES's first TS packet (AUD, SPS, PPS and x264's
 * SEI come first), so the first MAX_SCAN bytes of each PES are gathered across packets before
 * deciding; the reported time is still the arrival of the PES's first (PUSI) packet.
 */
const TS = 188;
const MAX_SCAN = 4096;

export interface PesStart {
  pid: number;
  /** Arrival time (performance.now()) of the packet carrying the PES start. */
  t: number;
  idr: boolean;
}

interface Pending {
  t: number;
  es: Uint8Array;
  len: number;
  headerLeft: number; // PES header bytes still to skip (when the PES header spans packets: not expected)
}

/** True if the ES bytes contain an H.264 NAL start code followed by nal_unit_type 5. */
export function hasIdr(es: Uint8Array, len: number): boolean {
  for (let i = 0; i + 3 < len; i++) {
    if (es[i] === 0 && es[i + 1] === 0 && es[i + 2] === 1) {
      const type = es[i + 3]! & 0x1f;
      if (type === 5) return true;
      // A coded slice that is not IDR: the picture is not a keyframe.
      if (type === 1) return false;
      i += 2;
    }
  }
  return false;
}

export class VideoWatcher {
  readonly #pids: Set<number>;
  readonly #pending = new Map<number, Pending>();
  readonly #onPes: (p: PesStart) => void;

  constructor(pids: number[], onPes: (p: PesStart) => void) {
    this.#pids = new Set(pids);
    this.#onPes = onPes;
  }

  #finish(pid: number): void {
    const p = this.#pending.get(pid);
    if (p === undefined) return;
    this.#pending.delete(pid);
    this.#onPes({ pid, t: p.t, idr: hasIdr(p.es, p.len) });
  }

  /** Feeds one received message (n bytes of buf) that arrived at time t. */
  feed(buf: Uint8Array, n: number, t: number): void {
    for (let off = 0; off + TS <= n; off += TS) {
      if (buf[off] !== 0x47) continue;
      const pid = ((buf[off + 1]! & 0x1f) << 8) | buf[off + 2]!;
      if (!this.#pids.has(pid)) continue;
      const pusi = (buf[off + 1]! & 0x40) !== 0;
      const afc = (buf[off + 3]! >> 4) & 3;
      if ((afc & 1) === 0) continue;
      let p = off + 4;
      if ((afc & 2) !== 0) p += 1 + buf[off + 4]!;
      const end = off + TS;
      if (p >= end) continue;
      if (pusi) {
        this.#finish(pid);
        // PES header: 00 00 01 stream_id len(2) flags(2) header_data_length(1) ...
        if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) continue;
        const hdl = buf[p + 8]!;
        const es = p + 9 + hdl;
        const pend: Pending = { t, es: new Uint8Array(MAX_SCAN), len: 0, headerLeft: Math.max(0, es - end) };
        this.#pending.set(pid, pend);
        if (es < end) {
          const chunk = buf.subarray(es, end);
          pend.es.set(chunk.subarray(0, MAX_SCAN), 0);
          pend.len = Math.min(MAX_SCAN, chunk.length);
        }
      } else {
        const pend = this.#pending.get(pid);
        if (pend === undefined) continue; // joined mid-PES
        let chunk = buf.subarray(p, end);
        if (pend.headerLeft > 0) {
          const skip = Math.min(pend.headerLeft, chunk.length);
          pend.headerLeft -= skip;
          chunk = chunk.subarray(skip);
        }
        const room = MAX_SCAN - pend.len;
        if (room > 0) {
          const c = chunk.subarray(0, room);
          pend.es.set(c, pend.len);
          pend.len += c.length;
        }
      }
      const pend = this.#pending.get(pid);
      // Decide as soon as a slice NAL has been seen (or the scan window is full).
      if (pend !== undefined && (pend.len >= MAX_SCAN || sliceSeen(pend.es, pend.len))) this.#finish(pid);
    }
  }
}

/** True once the gathered ES bytes contain a coded slice NAL (type 1 or 5) header. */
function sliceSeen(es: Uint8Array, len: number): boolean {
  for (let i = 0; i + 3 < len; i++) {
    if (es[i] === 0 && es[i + 1] === 0 && es[i + 2] === 1) {
      const type = es[i + 3]! & 0x1f;
      if (type === 1 || type === 5) return true;
      i += 2;
    }
  }
  return false;
}
