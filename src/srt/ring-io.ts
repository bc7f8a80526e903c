/**
 * RingFanout: the native fan-out over one ring (native/srt_native.h, `fanout`), its ring
 * arguments checked once at construction so the per-wake-up call passes only cursors and
 * results. One instance per (ring, worker thread); the arrays belong to the caller and are read
 * and written in place: no allocation per call.
 */
import { SrtRelayError } from '../errors.js';
import { SLOT_HEADER_BYTES } from '../ring/slot-layout.js';
import { native } from './native.js';

export interface RingSlotsView {
  readonly slots: Uint8Array;
  readonly slotSize: number;
  readonly slotCount: number;
}

export class RingFanout {
  readonly #slots: Uint8Array;
  readonly #slotSize: number;
  readonly #slotCount: number;

  constructor(ring: RingSlotsView) {
    const { slots, slotSize, slotCount } = ring;
    if (!(slots instanceof Uint8Array)) throw new SrtRelayError('ERR_SRT_INVALID_ARG', 'RingFanout: slots must be a Uint8Array');
    if (!Number.isInteger(slotSize) || slotSize <= SLOT_HEADER_BYTES) {
      throw new SrtRelayError('ERR_SRT_INVALID_ARG', `RingFanout: slotSize must be an integer above ${SLOT_HEADER_BYTES} (got ${slotSize})`);
    }
    if (!Number.isInteger(slotCount) || slotCount < 1 || (slotCount & (slotCount - 1)) !== 0) {
      throw new SrtRelayError('ERR_SRT_INVALID_ARG', `RingFanout: slotCount must be a power of two (got ${slotCount})`);
    }
    if (slots.byteLength < slotSize * slotCount) {
      throw new SrtRelayError('ERR_SRT_INVALID_ARG', `RingFanout: ${slots.byteLength} bytes do not hold ${slotCount} slots of ${slotSize}`);
    }
    this.#slots = slots;
    this.#slotSize = slotSize;
    this.#slotCount = slotCount;
  }

  /**
   * Sends ring sequences cursors[i]..head-1 to socks[i] for i < n (a cursor older than `oldest`
   * skips to it first). results[2i] = messages sent or -1 (broken), results[2i+1] = slots
   * skipped. delays[i] > 0 (µs) paces viewer i (time shift). Returns the messages sent in all.
   */
  send(head: number, oldest: number, socks: Int32Array, cursors: Uint32Array, n: number, results: Int32Array, delays?: Float64Array): number {
    return native.fanout(this.#slots, this.#slotSize, this.#slotCount, head, oldest, socks, cursors, n, false, results, delays);
  }
}
