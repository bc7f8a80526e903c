/**
 * MemoryTrim: after many sessions ended (a handshake flood, viewers leaving; also handshakes libsrt
 * refused after the gate, e.g. wrong passphrases: it had allocated a socket for each), glibc still holds
 * the memory libsrt freed; hand it back to the OS so the node's RSS follows its load.
 *
 * libsrt frees a closed socket on its own garbage-collection thread 1–2 s after the close, later
 * than we count it: a trim at the count would find nothing to return yet (and, resetting the
 * count, leave the flood's memory held until the next burst). So a trim waits until the burst is
 * over: TRIM_QUIET_MS without a new ending, and once more at LATE_TRIM_QUIET_MS for what libsrt
 * freed late (a loaded host); during a burst that goes on, one every TRIM_EVERY_MS bounds the
 * growth and the count is kept for the trim after it. Only when at least TRIM_AFTER_SESSIONS
 * ended; a few ms on this thread. The addon also gives libsrt's large per-socket buffers their
 * own mappings (native/addon.cc), returned when freed, trim or not. A worker thread that died
 * (and was replaced) leaves its heap's freed memory behind the same way: it counts as a burst.
 */
import type { Logger } from '../../logging.js';
import { mallocStats, trimFreedMemory } from '../../srt/clock.js';

const CHECK_MS = 1000;
const TRIM_QUIET_MS = 2000;
const LATE_TRIM_QUIET_MS = 6000;
const TRIM_EVERY_MS = 10_000;
const TRIM_AFTER_SESSIONS = 20;
const MB = 1048576;

export class MemoryTrim {
  readonly #log: Logger;
  #endedSinceTrim = 0;
  #lastEndedAt = 0;
  #lastTrimAt = 0;
  /** A burst's trim ran; one more is due at LATE_TRIM_QUIET_MS. */
  #lateTrimDue = false;
  #timer: NodeJS.Timeout | undefined;

  /** `workers`: the pool, whose 'workers-changed' tells when a worker thread died. */
  constructor(log: Logger, workers?: { on(event: 'workers-changed', fn: (running: number) => void): unknown }) {
    this.#log = log;
    let running = -1;
    workers?.on('workers-changed', (n) => {
      if (running >= 0 && n < running) this.sessionEnded(TRIM_AFTER_SESSIONS); // a worker died: trim once the restart is over
      running = n;
    });
  }

  start(): void {
    this.#lastTrimAt = performance.now();
    this.#timer = setInterval(() => this.#check(), CHECK_MS);
    this.#timer.unref();
  }

  /** A session ended; or `n` handshakes that libsrt refused after the gate (a wrong passphrase), each of which had a socket. */
  sessionEnded(n = 1): void {
    this.#endedSinceTrim += n;
    this.#lastEndedAt = performance.now();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    const now = performance.now();
    const quietMs = now - this.#lastEndedAt;
    let quiet: boolean;
    if (this.#endedSinceTrim >= TRIM_AFTER_SESSIONS) {
      quiet = quietMs >= TRIM_QUIET_MS;
      if (!quiet && now - this.#lastTrimAt < TRIM_EVERY_MS) return;
      if (quiet) {
        this.#endedSinceTrim = 0;
        this.#lateTrimDue = true;
      }
    } else if (this.#lateTrimDue && quietMs >= LATE_TRIM_QUIET_MS) {
      quiet = true;
      this.#lateTrimDue = false;
    } else {
      return;
    }
    this.#lastTrimAt = now;
    const before = process.memoryUsage.rss();
    trimFreedMemory();
    const freedMb = (before - process.memoryUsage.rss()) / MB;
    const ms = performance.now() - now;
    const heap = mallocStats();
    const fields = { freedMb: Math.round(freedMb), ms: Math.round(ms), heapInUseMb: Math.round(heap.inUse / MB), heapMmappedMb: Math.round(heap.mmapped / MB), heapFreeMb: Math.round(heap.free / MB), burstOver: quiet };
    if (freedMb >= 8) this.#log.info(fields, 'returned freed memory to the system');
    else this.#log.debug(fields, 'returned freed memory to the system');
  }
}
