/**
 * The relay's per-host limits applied to bonded senders by their real address. The native gate
 * sees every SRTLA group as a caller on the group socket's address (127.0.0.1, exempt by
 * default), so the SRTLA receiver asks here before a REG1 creates a group:
 *   - `maxSessionsPerHost`: sessions whose (real) peer is that host, plus groups of that host
 *     that have no session yet, must stay below the limit;
 *   - `handshakesPerSecondPerHost`: REG1s that would create a group, per host, through a token
 *     bucket of that rate and twice that burst (as the gate does for SRT handshakes).
 * Hosts in `exemptHosts` are never limited. A refusal is REG_ERR with the returned reason.
 */
import type { PeerAddress } from '../streams/stream.js';

export interface BondedHostLimits {
  maxSessionsPerHost?: number;
  handshakesPerSecondPerHost?: number;
  exemptHosts?: readonly string[];
}

/** What the check reads: the relay's sessions (peer already the real address) and the receiver's groups. */
export interface BondedHostView {
  /** Peers of the relay's open sessions. */
  sessionPeers(): Iterable<PeerAddress & { via?: PeerAddress }>;
  /** Groups standing for `host` that have no relay session yet. */
  pendingGroupsOf(host: string): number;
}

export class BondedAdmission {
  #limits: BondedHostLimits;
  readonly #view: BondedHostView;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(limits: BondedHostLimits, view: BondedHostView) {
    this.#limits = limits;
    this.#view = view;
  }

  /** New limits (a config reload), for the groups that register from now on. */
  setLimits(limits: BondedHostLimits): void {
    this.#limits = limits;
  }

  /** A reason to refuse a new group from `host`, or undefined to admit it. */
  admit(host: string, now = Date.now()): string | undefined {
    const l = this.#limits;
    if ((l.exemptHosts ?? []).includes(host)) return undefined;
    const rate = l.handshakesPerSecondPerHost ?? 0;
    if (rate > 0) {
      if (this.#buckets.size > 4096) this.#buckets.clear();
      const burst = rate * 2;
      const b = this.#buckets.get(host) ?? { tokens: burst, at: now };
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
      this.#buckets.set(host, b);
      if (b.tokens < 1) return `limits.handshakesPerSecondPerHost (${rate}) reached for ${host}`;
      b.tokens -= 1;
    }
    const max = l.maxSessionsPerHost ?? 0;
    if (max > 0) {
      let n = this.#view.pendingGroupsOf(host);
      for (const p of this.#view.sessionPeers()) if (p.host === host) n++;
      if (n >= max) return `limits.maxSessionsPerHost (${max}) sessions from ${host}`;
    }
    return undefined;
  }
}
