/**
 * Gate: one native handshake gate (native/gate.cc), the table libsrt's listen callback reads to
 * answer each caller at once (reject codes, per-direction passphrases, limits, the auth
 * webhook's cached verdicts) without asking JavaScript. Listeners attach to it with
 * SrtListener.attachGate(). Each Gate drains only its own refusals: gates of other Relays in
 * the process (tests, the cluster's internal port) keep theirs.
 */
import { SrtRelayError } from '../errors.js';
import { native } from './native.js';

/** [gate, streamid, host, port, code, stage]: stage 0 the gate, 1 libsrt after the gate, 2 never accepted. */
/** localPort: the listening UDP port that refused (0 when not known). */
export type GateRejection = [gate: number, streamid: string, host: string, port: number, code: number, stage: number, localPort: number];

/** A handshake waiting for the auth webhook: [streamid, host, port, mode, resource]. */
export type GatePending = [streamid: string, host: string, port: number, mode: number, resource: string];

export interface GateLimits {
  handshakesPerSecondPerHost: number;
  burstPerHost: number;
  sessionsPerHost: number;
  code: number;
  exemptHosts: readonly string[];
  handshakesPerSecond: number;
  burst: number;
}

export class Gate {
  readonly id: number;
  #destroyed = false;

  private constructor(id: number) {
    this.id = id;
  }

  /** A new gate; `acceptCapacity`/`acceptTtlMs` size its table of accepted handshakes (tests use small ones). */
  static create(acceptCapacity?: number, acceptTtlMs?: number): Gate {
    return new Gate(acceptCapacity === undefined ? native.gateCreate() : native.gateCreate(acceptCapacity, acceptTtlMs));
  }

  /** Answers for names without an entry. */
  setDefaults(publishCode: number, publishPass: string, playCode: number, playPass: string): void {
    native.gateDefaults(this.id, publishCode, publishPass, playCode, playPass);
  }

  /**
   * One stream's answers (0 = accept) and passphrases; `live`: a plain name plays it;
   * `publishLatencyMs` / `playLatencyMs`: the relay's side of the latency negotiation set on an
   * accepted caller's socket in the listen callback (0 = the port's own).
   */
  set(resource: string, publishCode: number, publishPass: string, playCode: number, playPass: string, live: boolean, publishLatencyMs = 0, playLatencyMs = 0): void {
    native.gateSet(this.id, resource, publishCode, publishPass, playCode, playPass, live, publishLatencyMs, playLatencyMs);
  }

  delete(resource: string): void {
    native.gateDelete(this.id, resource);
  }

  /** This gate's refusals since the last call (the gate's own, libsrt's after it, handshakes never accepted). */
  rejections(): GateRejection[] {
    return native.gateRejections(this.id);
  }

  /** [refusedByGate, refusedAfterGate, forgotten, accepting]. */
  stats(): [number, number, number, number] {
    return native.gateStats(this.id);
  }

  setLimits(l: GateLimits): void {
    native.gateLimits(this.id, l.handshakesPerSecondPerHost, l.burstPerHost, l.sessionsPerHost, l.code, [...l.exemptHosts], l.handshakesPerSecond, l.burst);
  }

  hostSessions(): Array<[host: string, count: number]> {
    return native.gateHostSessions(this.id);
  }

  /** The auth webhook decides unknown callers: they get `pendingCode` and wake `channel` until a verdict is cached. */
  enableAuth(enabled: boolean, pendingCode: number, channel: number): void {
    native.gateAuthEnable(this.id, enabled, pendingCode, channel);
  }

  /** Caches the webhook's verdict for (streamid, host) for `ttlMs`. */
  setAuth(streamid: string, host: string, code: number, passphrase: string, rename: string, ttlMs: number): void {
    native.gateAuthSet(this.id, streamid, host, code, passphrase, rename, ttlMs);
  }

  /**
   * Held admission: while `room` > 0, a caller with no cached verdict is accepted (each takes one
   * unit) with `held` set instead of refused with the pending code; 0 turns it off.
   */
  setHoldRoom(room: number): void {
    native.gateHoldRoom(this.id, room);
  }

  /** Handshakes of (streamid, host) are refused with `code` (≥ 1000) for `ttlMs`, before the webhook is asked. */
  refuseFor(streamid: string, host: string, code: number, ttlMs: number): void {
    if (!Number.isInteger(code) || code < 1000) throw new SrtRelayError('ERR_SRT_INVALID_ARG', `Gate.refuseFor: code must be an integer >= 1000 (got ${code})`);
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new SrtRelayError('ERR_SRT_INVALID_ARG', `Gate.refuseFor: ttlMs must be a positive integer (got ${ttlMs})`);
    native.gateRefuseFor(this.id, streamid, host, code, ttlMs);
  }

  /** Handshakes waiting for a verdict. */
  pending(): GatePending[] {
    return native.gatePending(this.id);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    native.gateDestroy(this.id);
  }
}
