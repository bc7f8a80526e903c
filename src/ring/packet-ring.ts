/**
 * PacketRing: the packets of one stream, once in memory, in a SharedArrayBuffer that every
 * worker thread can read. One writer (the worker holding the stream's source) appends whole
 * SRT messages into fixed-size slots; any number of readers (viewer sessions on any worker)
 * follow with their own cursor and never slow the writer: a reader that falls further behind
 * than the ring holds skips ahead (the skipped count is its drop count).
 *
 * Layout (all little-endian, shared):
 *   control: Int32Array(16)  [HEAD, SLOT_COUNT, SLOT_SIZE, CHANNEL, GENERATION, LAST_KEYFRAME, ...]
 *   slots:   SLOT_COUNT x SLOT_SIZE bytes, slot = [i32 len][i32 flags][i64 srctime µs][payload]
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

/** Slot flag bits (set by the writer after receiving; read by joiners). */
export const SLOT_FLAG_KEYFRAME = 0x1;
export const SLOT_FLAG_PSI = 0x2;
export const SLOT_FLAG_DISCONTINUITY = 0x4;

/** Most slots a writer fills per batch; readers keep this far away from the writer. */
export const WRITE_BATCH = 64;

/** Smallest power of two >= n, clamped to [min, max]. */
export function ringSlotsFor(n: number, min = 1024, max = 1 << 18): number {
  let s = min;
  while (s < n && s < max) s <<= 1;
  return s;
}

export interface PacketRingShared {
  buffer: SharedArrayBuffer;
}

export class PacketRing {
  readonly buffer: SharedArrayBuffer;
  readonly control: Int32Array;
  readonly slots: Uint8Array;
  readonly slotCount: number;
  readonly slotSize: number;
  readonly channel: number;
  readonly #mask: number;
  readonly #view: DataView;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.control = new Int32Array(buffer, 0, CONTROL_INTS);
    this.slotCount = this.control[CTRL_SLOT_COUNT]!;
    this.slotSize = this.control[CTRL_SLOT_SIZE]!;
    this.channel = this.control[CTRL_CHANNEL]!;
    this.slots = new Uint8Array(buffer, CONTROL_BYTES, this.slotCount * this.slotSize);
    this.#view = new DataView(buffer, CONTROL_BYTES, this.slotCount * this.slotSize);
    this.#mask = this.slotCount - 1;
  }

  /** A new ring of `slotCount` slots (power of two >= 2 * WRITE_BATCH). `channel` wakes readers (process-unique). */
  static create(slotCount: number, channel = allocateChannel()): PacketRing {
    if (!Number.isInteger(slotCount) || slotCount < 2 * WRITE_BATCH || (slotCount & (slotCount - 1)) !== 0) {
      throw new RangeError(`slotCount must be a power of two >= ${2 * WRITE_BATCH} (got ${slotCount})`);
    }
    const buffer = new SharedArrayBuffer(CONTROL_BYTES + slotCount * RING_SLOT_SIZE);
    const control = new Int32Array(buffer, 0, CONTROL_INTS);
    control[CTRL_SLOT_COUNT] = slotCount;
    control[CTRL_SLOT_SIZE] = RING_SLOT_SIZE;
    control[CTRL_CHANNEL] = channel;
    control[CTRL_LAST_KEYFRAME] = -1;
    return new PacketRing(buffer);
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
    return (head - span) >>> 0;
  }

  /** Slot index for a sequence. */
  index(seq: number): number {
    return seq & this.#mask;
  }

  /** Makes sequences < newHead visible to readers. Writer only. */
  publish(newHead: number): void {
    Atomics.store(this.control, CTRL_HEAD, newHead | 0);
  }

  length(seq: number): number {
    return this.#view.getInt32(this.index(seq) * this.slotSize, true);
  }

  flags(seq: number): number {
    return this.#view.getInt32(this.index(seq) * this.slotSize + 4, true);
  }

  setFlags(seq: number, flags: number): void {
    this.#view.setInt32(this.index(seq) * this.slotSize + 4, flags, true);
  }

  /** Byte offset of a sequence's payload within `slots`. */
  payloadOffset(seq: number): number {
    return this.index(seq) * this.slotSize + SLOT_HEADER_BYTES;
  }

  /** Copies one message into the next slot and publishes it (for sources that are not SRT sockets, e.g. files). */
  write(payload: Uint8Array, flags = 0): number {
    if (payload.byteLength > this.slotSize - SLOT_HEADER_BYTES) {
      throw new RangeError(`payload of ${payload.byteLength} bytes exceeds the slot size`);
    }
    const seq = this.head();
    const off = this.index(seq) * this.slotSize;
    this.#view.setInt32(off, payload.byteLength, true);
    this.#view.setInt32(off + 4, flags, true);
    this.#view.setBigInt64(off + 8, 0n, true);
    this.slots.set(payload, off + SLOT_HEADER_BYTES);
    this.publish(seq + 1);
    return seq;
  }
}
