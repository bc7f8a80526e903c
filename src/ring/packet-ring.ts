/**
 * PacketRing: the packets of one stream, once in memory, in a SharedArrayBuffer that every
 * worker thread can read. One writer (the worker holding the stream's source) appends whole
 * SRT messages into fixed-size slots; any number of readers (viewer sessions on any worker)
 * follow with their own cursor and never slow the writer: a reader that falls further behind
 * than the ring holds skips ahead (the skipped count is its drop count).
 *
 * Layout (all little-endian, shared):
 *   control: Int32Array(16)  [HEAD, SLOT_COUNT, SLOT_SIZE, CHANNEL, GENERATION, LAST_KEYFRAME,
 *                             WRITER_ACTIVE, PSI_VERSION, ...]
 *   psi:     one slot holding the stream's latest PAT + PMT (sent first to a joining viewer)
 *   slots:   SLOT_COUNT x SLOT_SIZE bytes, slot = [i32 len][i32 flags][i64 srctime µs][payload]
 * srctime is libsrt's clock (native.now()): the sender's time for SRT sources, the arrival time
 * for others.
 * Sequence numbers are u32 and wrap; slot index = seq & (SLOT_COUNT - 1) (SLOT_COUNT is a power
 * of two). HEAD is the sequence the writer fills next; sequences < HEAD are complete.
 */
import { SLOT_HEADER_BYTES } from '../srt/native.js';
import { allocateChannel } from '../srt/reactor.js';

export const RING_SLOT_SIZE = 1472; // 16-byte header + 1456, the largest live-mode payload
const CONTROL_INTS = 16;
const CONTROL_BYTES = CONTROL_INTS * 4;

export const CTRL_HEAD = 0;
export const CTRL_SLOT_COUNT = 1;
export const CTRL_SLOT_SIZE = 2;
export const CTRL_CHANNEL = 3;
export const CTRL_GENERATION = 4;
export const CTRL_LAST_KEYFRAME = 5;
export const CTRL_WRITER_ACTIVE = 6;
export const CTRL_PSI_VERSION = 7;
export const CTRL_HAS_KEYFRAME = 8;
/** 1 once the writer has gone around the ring: before that, sequence 0 is the oldest. */
export const CTRL_WRAPPED = 9;
/** The video PID the writer's analyzer found (-1 none): joiners start at its keyframe packet. */
export const CTRL_VIDEO_PID = 10;

/** Slot flag bits (set by the writer after receiving; read by joiners). */
export const SLOT_FLAG_KEYFRAME = 0x1;
export const SLOT_FLAG_PSI = 0x2;
export const SLOT_FLAG_DISCONTINUITY = 0x4;
/**
 * Bits 8..15 of a slot's flags: offset of the first TS packet that starts in its payload (set by
 * the writer's analyzer; 0 for messages of whole packets, >= the length when none starts there).
 */
export const SLOT_PHASE_SHIFT = 8;

/** Most slots a writer fills per batch; readers keep this far away from the writer. */
export const WRITE_BATCH = 64;

/** Smallest power of two >= n, clamped to [min, max]. */
export function ringSlotsFor(n: number, min = 1024, max = 1 << 18): number {
  let s = min;
  while (s < n && s < max) s <<= 1;
  return s;
}

/** Bytes a ring of `slotCount` slots takes (control block, PSI slot and the slots). */
export function ringBytesFor(slotCount: number): number {
  return CONTROL_BYTES + (slotCount + 1) * RING_SLOT_SIZE;
}

export interface PacketRingShared {
  buffer: SharedArrayBuffer;
}

export class PacketRing {
  readonly buffer: SharedArrayBuffer;
  readonly control: Int32Array;
  readonly slots: Uint8Array;
  /** The PSI slot as a one-slot ring (for native sendSlots). */
  readonly psi: Uint8Array;
  readonly slotCount: number;
  readonly slotSize: number;
  readonly channel: number;
  readonly #mask: number;
  readonly #view: DataView;
  readonly #psiView: DataView;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.control = new Int32Array(buffer, 0, CONTROL_INTS);
    this.slotCount = this.control[CTRL_SLOT_COUNT]!;
    this.slotSize = this.control[CTRL_SLOT_SIZE]!;
    this.channel = this.control[CTRL_CHANNEL]!;
    this.psi = new Uint8Array(buffer, CONTROL_BYTES, this.slotSize);
    const slotsAt = CONTROL_BYTES + this.slotSize;
    this.slots = new Uint8Array(buffer, slotsAt, this.slotCount * this.slotSize);
    this.#view = new DataView(buffer, slotsAt, this.slotCount * this.slotSize);
    this.#psiView = new DataView(buffer, CONTROL_BYTES, this.slotSize);
    this.#mask = this.slotCount - 1;
  }

  /** A new ring of `slotCount` slots (power of two >= 2 * WRITE_BATCH). `channel` wakes readers (process-unique). */
  static create(slotCount: number, channel = allocateChannel()): PacketRing {
    if (!Number.isInteger(slotCount) || slotCount < 2 * WRITE_BATCH || (slotCount & (slotCount - 1)) !== 0) {
      throw new RangeError(`slotCount must be a power of two >= ${2 * WRITE_BATCH} (got ${slotCount})`);
    }
    const buffer = new SharedArrayBuffer(ringBytesFor(slotCount));
    const control = new Int32Array(buffer, 0, CONTROL_INTS);
    control[CTRL_SLOT_COUNT] = slotCount;
    control[CTRL_SLOT_SIZE] = RING_SLOT_SIZE;
    control[CTRL_CHANNEL] = channel;
    control[CTRL_VIDEO_PID] = -1;
    return new PacketRing(buffer);
  }

  /** The channel (process-unique id) of the ring in `buffer`, without opening it. */
  static channelOf(buffer: SharedArrayBuffer): number {
    return new Int32Array(buffer, 0, CONTROL_INTS)[CTRL_CHANNEL]!;
  }

  /** Opens a ring another thread created (the buffer arrived by postMessage). */
  static attach(buffer: SharedArrayBuffer): PacketRing {
    return new PacketRing(buffer);
  }

  get byteLength(): number {
    return this.buffer.byteLength;
  }

  /** Next sequence the writer fills (u32). */
  head(): number {
    return Atomics.load(this.control, CTRL_HEAD) >>> 0;
  }

  /** Oldest sequence a reader may still read safely (the writer may be filling up to WRITE_BATCH slots past head). */
  oldest(): number {
    const head = this.head();
    const span = this.slotCount - 2 * WRITE_BATCH;
    if (Atomics.load(this.control, CTRL_WRAPPED) === 0 && head < span) return 0;
    return (head - span) >>> 0;
  }

  /** Slot index for a sequence. */
  index(seq: number): number {
    return seq & this.#mask;
  }

  /**
   * Counts writers over the ring's life (a writer that is not the first continues from a switch)
   * and marks one more writer active. Returns the writers before this one.
   */
  beginWriter(): number {
    Atomics.add(this.control, CTRL_WRITER_ACTIVE, 1);
    return Atomics.add(this.control, CTRL_GENERATION, 1);
  }

  /**
   * A writer stopped (its publisher left, its source ended). When it was the last one the stream
   * is not live: the ring's keyframe is forgotten, so a viewer that joins now starts at the live
   * edge and waits for the next source instead of receiving old pictures as if they were live.
   */
  endWriter(): void {
    if (Atomics.sub(this.control, CTRL_WRITER_ACTIVE, 1) === 1) this.forgetKeyframe();
  }

  /** No keyframe to join at until the writer flags a new one (a new source took over, or none is left). */
  forgetKeyframe(): void {
    Atomics.store(this.control, CTRL_HAS_KEYFRAME, 0);
  }

  /** Makes sequences < newHead visible to readers. Writer only. */
  publish(newHead: number): void {
    if ((newHead >>> 0) >= this.slotCount - 2 * WRITE_BATCH && this.control[CTRL_WRAPPED] === 0) {
      Atomics.store(this.control, CTRL_WRAPPED, 1);
    }
    Atomics.store(this.control, CTRL_HEAD, newHead | 0);
  }

  videoPid(): number {
    return Atomics.load(this.control, CTRL_VIDEO_PID);
  }

  setVideoPid(pid: number): void {
    Atomics.store(this.control, CTRL_VIDEO_PID, pid);
  }

  length(seq: number): number {
    return this.#view.getInt32(this.index(seq) * this.slotSize, true);
  }

  flags(seq: number): number {
    return this.#view.getInt32(this.index(seq) * this.slotSize + 4, true);
  }

  /** Offset of the first TS packet start in a slot's payload (see SLOT_PHASE_SHIFT). */
  phase(seq: number): number {
    return (this.flags(seq) >>> SLOT_PHASE_SHIFT) & 0xff;
  }

  /**
   * Removes the first `n` payload bytes of an unpublished slot (the tail of a TS packet whose
   * start was dropped); its phase becomes 0. Writer only.
   */
  trimFront(seq: number, n: number): void {
    const len = this.length(seq);
    if (n <= 0) return;
    const off = this.index(seq) * this.slotSize;
    const at = off + SLOT_HEADER_BYTES;
    if (n >= len) {
      this.clear(seq);
      return;
    }
    this.slots.copyWithin(at, at + n, at + len);
    this.#view.setInt32(off, len - n, true);
    this.setFlags(seq, this.flags(seq) & ~(0xff << SLOT_PHASE_SHIFT));
  }

  setFlags(seq: number, flags: number): void {
    this.#view.setInt32(this.index(seq) * this.slotSize + 4, flags, true);
  }

  /** Byte offset of a sequence's payload within `slots`. */
  payloadOffset(seq: number): number {
    return this.index(seq) * this.slotSize + SLOT_HEADER_BYTES;
  }

  /** Sequence of the newest slot that starts a keyframe, or undefined. */
  lastKeyframe(): number | undefined {
    if (Atomics.load(this.control, CTRL_HAS_KEYFRAME) === 0) return undefined;
    return Atomics.load(this.control, CTRL_LAST_KEYFRAME) >>> 0;
  }

  setLastKeyframe(seq: number): void {
    Atomics.store(this.control, CTRL_LAST_KEYFRAME, seq | 0);
    Atomics.store(this.control, CTRL_HAS_KEYFRAME, 1);
  }

  /** srctime (µs, libsrt clock) of a slot. */
  timeOf(seq: number): number {
    return Number(this.#view.getBigInt64(this.index(seq) * this.slotSize + 8, true));
  }

  /** Replaces the stored PAT + PMT (whole TS packets). Writer only. */
  setPsi(packets: Uint8Array): void {
    const len = Math.min(packets.byteLength, this.slotSize - SLOT_HEADER_BYTES);
    this.psi.set(packets.subarray(0, len), SLOT_HEADER_BYTES);
    this.#psiView.setInt32(4, 0, true);
    this.#psiView.setBigInt64(8, 0n, true);
    this.#psiView.setInt32(0, len, true);
    Atomics.add(this.control, CTRL_PSI_VERSION, 1);
  }

  /** True when a PAT + PMT is stored. */
  hasPsi(): boolean {
    return this.#psiView.getInt32(0, true) > 0;
  }

  /** Oldest-first search: the newest keyframe slot at or before `seq` within the readable window. */
  keyframeAtOrBefore(seq: number): number | undefined {
    const oldest = this.oldest();
    let s = seq >>> 0;
    for (let i = 0; ((s - oldest) | 0) >= 0 && i < this.slotCount; i++, s = (s - 1) >>> 0) {
      if ((this.flags(s) & SLOT_FLAG_KEYFRAME) !== 0 && this.length(s) > 0) return s;
    }
    return undefined;
  }

  /** The first readable sequence whose srctime is >= time (binary search; srctimes ascend). */
  seqAtTime(time: number): number {
    let lo = this.oldest();
    const head = this.head();
    let span = (head - lo) >>> 0;
    while (span > 0) {
      const half = span >>> 1;
      const mid = (lo + half) >>> 0;
      if (this.length(mid) > 0 && this.timeOf(mid) < time) {
        lo = (mid + 1) >>> 0;
        span -= half + 1;
      } else span = half;
    }
    return lo;
  }

  /** Copies one message into the next slot and publishes it (for sources that are not SRT sockets, e.g. files). */
  /** Fills the next slot without publishing it (RingWriter.commit publishes). Returns its sequence. */
  fill(payload: Uint8Array, seqOffset = 0, time = 0): number {
    const seq = (this.head() + seqOffset) >>> 0;
    const off = this.index(seq) * this.slotSize;
    this.#view.setInt32(off, payload.byteLength, true);
    this.#view.setInt32(off + 4, 0, true);
    this.#view.setBigInt64(off + 8, BigInt(Math.round(time)), true);
    this.slots.set(payload, off + SLOT_HEADER_BYTES);
    return seq;
  }

  /** Marks a slot empty (readers skip it). */
  clear(seq: number): void {
    this.#view.setInt32(this.index(seq) * this.slotSize, 0, true);
  }

  write(payload: Uint8Array, flags = 0, time = 0): number {
    if (payload.byteLength > this.slotSize - SLOT_HEADER_BYTES) {
      throw new RangeError(`payload of ${payload.byteLength} bytes exceeds the slot size`);
    }
    const seq = this.head();
    const off = this.index(seq) * this.slotSize;
    this.#view.setInt32(off, payload.byteLength, true);
    this.#view.setInt32(off + 4, flags, true);
    this.#view.setBigInt64(off + 8, BigInt(Math.round(time)), true);
    this.slots.set(payload, off + SLOT_HEADER_BYTES);
    this.publish(seq + 1);
    return seq;
  }
}
