/**
 * RefusalLog: once a second, drains the gates' refused handshakes, counts them by listener and
 * reject code (for /metrics) and logs one line per (code, host) with a count, so a flood is one
 * line, not thousands.
 */
import type { Logger } from '../../logging.js';
import { REJECT_TOO_MANY, type StreamRegistry } from '../../streams/stream-registry.js';
import type { RefusedHandshakes } from '../relay-api.js';

export class RefusalLog {
  readonly #log: Logger;
  readonly #registry: StreamRegistry;
  /** Refused handshakes since the start, by `${listener} ${port} ${code}`. */
  readonly #refused = new Map<string, RefusedHandshakes>();
  #timer: NodeJS.Timeout | undefined;
  /** Told how many handshakes libsrt refused after the gate (it had allocated a socket for each). */
  readonly #afterGate: ((n: number) => void) | undefined;

  constructor(log: Logger, registry: StreamRegistry, afterGate?: (n: number) => void) {
    this.#log = log;
    this.#registry = registry;
    this.#afterGate = afterGate;
  }

  start(): void {
    this.#timer = setInterval(() => this.drain(), 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Handshakes refused since the start, by listener, listening port and reject code. */
  counts(): RefusedHandshakes[] {
    return [...this.#refused.values()].map((r) => ({ ...r }));
  }

  /** A refusal decided after the handshake (e.g. 1406 for the latency policy): counted like the gate's. */
  count(listener: 'srt' | 'internal', port: number, code: number): void {
    const key = `${listener} ${port} ${code}`;
    const counted = this.#refused.get(key);
    if (counted === undefined) this.#refused.set(key, { listener, port, code, count: 1 });
    else counted.count++;
  }

  drain(): void {
    const groups = new Map<string, { code: number; host: string; port: number; streamid: string; count: number }>();
    let afterGate = 0;
    for (const [gate, streamid, host, port, code, stage, localPort] of this.#registry.rejections()) {
      if (stage === 1) afterGate++;
      this.count(gate === this.#registry.gate.id ? 'srt' : 'internal', localPort, code);
      const key = `${code} ${host}`;
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { code, host, port, streamid, count: 1 });
      else g.count++;
    }
    if (afterGate > 0) this.#afterGate?.(afterGate);
    for (const g of groups.values()) {
      const fields = { code: g.code, peer: `${g.host}:${g.port}`, streamid: g.streamid, ...(g.count > 1 ? { count: g.count } : {}) };
      if (g.code === REJECT_TOO_MANY) this.#log.warn(fields, 'connections refused: over the per-host limits');
      else this.#log.info(fields, g.count > 1 ? 'connections rejected in handshake' : 'connection rejected in handshake');
    }
  }
}
