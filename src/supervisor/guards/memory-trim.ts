/**
 * MemoryTrim: after many sessions ended (a handshake flood, viewers leaving; also handshakes libsrt
 * refused after the gate, e.g. wrong passphrases: it had allocated a socket for each), glibc still holds
 * the memory libsrt freed; hand it back to the OS so the node's RSS follows its load. At most
 * once per TRIM_CHECK_MS, only when at least TRIM_AFTER_SESSIONS ended; a few ms on this thread.
 */
import type { Logger } from '../../logging.js';
import { trimFreedMemory } from '../../srt/clock.js';

const TRIM_CHECK_MS = 10_000;
const TRIM_AFTER_SESSIONS = 20;

export class MemoryTrim {
  readonly #log: Logger;
  #endedSinceTrim = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  start(): void {
    this.#timer = setInterval(() => this.#trim(), TRIM_CHECK_MS);
    this.#timer.unref();
  }

  /** A session ended; or `n` handshakes that libsrt refused after the gate (a wrong passphrase), each of which had a socket. */
  sessionEnded(n = 1): void {
    this.#endedSinceTrim += n;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #trim(): void {
    if (this.#endedSinceTrim < TRIM_AFTER_SESSIONS) return;
    this.#endedSinceTrim = 0;
    const before = process.memoryUsage.rss();
    const t0 = performance.now();
    trimFreedMemory();
    const freedMb = (before - process.memoryUsage.rss()) / 1048576;
    if (freedMb >= 8) this.#log.info({ freedMb: Math.round(freedMb), ms: Math.round(performance.now() - t0) }, 'returned freed memory to the system');
  }
}
