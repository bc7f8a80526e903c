/**
 * NodeLimits: the node's `limits` in force and the one place that applies them, at the start and
 * when a config reload changes them (Relay.setLimits): the gate's per-host and node-wide handshake
 * limits, sessions, streams and ring memory (StreamSessions), viewers per stream (the registry),
 * wildcard streams (StreamCatalog), bonded senders (SRTLA) and the bitrate watch. Open sessions
 * stay; a new limit applies to the callers from then on (the bitrate cap to every publisher).
 */
import type { Logger } from '../logging.js';
import type { WorkerPool } from '../sessions/worker-pool.js';
import type { BondedAdmission } from '../srtla/admission.js';
import { REJECT_TOO_MANY, type StreamRegistry } from '../streams/stream-registry.js';
import { BitrateWatch } from './guards/bitrate-watch.js';
import type { RelayLimits } from './relay-api.js';
import type { StreamCatalog } from './stream-catalog.js';
import type { StreamSessions } from './stream-sessions.js';

export interface NodeLimitsTargets {
  log: Logger;
  registry: StreamRegistry;
  streams: StreamCatalog;
  sessions: StreamSessions;
  pool: WorkerPool;
  /** The SRTLA receiver's admission, once it runs. */
  bonded(): BondedAdmission | undefined;
}

export class NodeLimits {
  readonly #t: NodeLimitsTargets;
  #limits: RelayLimits;
  #bitrate: BitrateWatch | undefined;

  constructor(targets: NodeLimitsTargets, initial: RelayLimits) {
    this.#t = targets;
    this.#limits = initial;
  }

  get current(): RelayLimits {
    return this.#limits;
  }

  /** Applies `l` everywhere; `running`: the node has started (the bitrate watch runs only then). */
  set(l: RelayLimits, running: boolean): void {
    const t = this.#t;
    this.#limits = { ...l };
    const rate = l.handshakesPerSecondPerHost ?? 0;
    const all = l.handshakesPerSecond ?? 0;
    t.registry.gate.setLimits({
      handshakesPerSecondPerHost: rate,
      burstPerHost: rate * 2,
      sessionsPerHost: l.maxSessionsPerHost ?? 0,
      code: REJECT_TOO_MANY,
      exemptHosts: l.exemptHosts ?? [],
      handshakesPerSecond: all,
      burst: all * 2,
    });
    t.registry.setMaxViewersPerStream(l.maxViewersPerStream);
    t.streams.setMaxWildcardStreams(l.maxWildcardStreams);
    t.sessions.setLimits(this.#limits);
    t.bonded()?.setLimits(this.#limits);
    this.stop();
    if (l.maxBitrateMbps === undefined || !running) return;
    this.#bitrate = new BitrateWatch(
      {
        log: t.log,
        stats: () => t.pool.stats(),
        ingestStream: (id) => {
          const info = t.sessions.get(id);
          return info !== undefined && (info.kind === 'publisher' || info.kind === 'pull') ? info.stream : undefined;
        },
        closeSession: (id, reason) => t.pool.closeSession(id, reason),
      },
      l.maxBitrateMbps,
    );
    this.#bitrate.start();
  }

  stop(): void {
    this.#bitrate?.stop();
    this.#bitrate = undefined;
  }
}
