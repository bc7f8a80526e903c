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

/** glibc's heap (mallinfo2 over all arenas), bytes: got from the system in arenas, in use, free in them, mmapped chunks. */
export interface MallocStats {
  arena: number;
  inUse: number;
  free: number;
  mmapped: number;
}

export function mallocStats(): MallocStats {
  const [arena, inUse, free, mmapped] = native.mallocStats();
  return { arena, inUse, free, mmapped };
}

/** The libsrt version the addon runs on, e.g. "1.5.1". */
export function libsrtVersion(): string {
  return native.version();
}
