/**
 * BitrateWatch (limits.maxBitrateMbps): every 2 s, publishers and pulls whose receive rate was
 * over the limit in two samples in a row are closed.
 */
import type { Logger } from '../../logging.js';
import type { SessionStats } from '../../sessions/messages.js';

export interface BitrateWatchHost {
  log: Logger;
  /** One stats snapshot of every session (the worker pool's). */
  stats(): Promise<readonly SessionStats[]>;
  /** The stream of a session that receives media from outside (publisher or pull), else undefined. */
  ingestStream(session: number): string | undefined;
  closeSession(session: number, reason: string): void;
}

const SAMPLE_MS = 2000;

export class BitrateWatch {
  readonly #host: BitrateWatchHost;
  readonly #maxMbps: number;
  readonly #last = new Map<number, { bytes: number; at: number; over: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(host: BitrateWatchHost, maxMbps: number) {
    this.#host = host;
    this.#maxMbps = maxMbps;
  }

  start(): void {
    this.#timer = setInterval(() => void this.#host.stats().then((stats) => this.#sample(stats), () => undefined), SAMPLE_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sample(stats: readonly SessionStats[]): void {
    const now = performance.now();
    const seen = new Set<number>();
    for (const st of stats) {
      const stream = this.#host.ingestStream(st.session);
      if (stream === undefined) continue;
      seen.add(st.session);
      const bytes = st.srt?.['byteRecvTotal'] ?? 0;
      const prev = this.#last.get(st.session);
      const cur = { bytes, at: now, over: 0 };
      if (prev !== undefined) {
        const mbps = ((bytes - prev.bytes) * 8) / ((now - prev.at) / 1000) / 1e6;
        cur.over = mbps > this.#maxMbps ? prev.over + 1 : 0;
        if (cur.over >= 2) {
          this.#host.log.warn({ session: st.session, stream, mbps: Math.round(mbps * 10) / 10, maxMbps: this.#maxMbps }, 'publisher over limits.maxBitrateMbps: closing');
          this.#host.closeSession(st.session, `over the ${this.#maxMbps} Mbit/s limit`);
        }
      }
      this.#last.set(st.session, cur);
    }
    for (const id of this.#last.keys()) if (!seen.has(id)) this.#last.delete(id);
  }
}
