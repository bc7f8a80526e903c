/**
 * libsrt's clock and process-wide memory upkeep, for callers above src/srt/.
 */
import { native } from './native.js';

/** libsrt's clock in µs (srt_time_now()): the clock ring slots' srctimes are in. */
export function srtNow(): number {
  return native.now();
}

/** malloc_trim(0): hands heap pages libsrt freed back to the OS; true if any were released. */
export function trimFreedMemory(): boolean {
  return native.trimMemory();
}


/** The libsrt version the addon runs on, e.g. "1.5.1". */
export function libsrtVersion(): string {
  return native.version();
}
