/**
 * The figures the dashboard draws over time: once a second, one sessionStats() snapshot (the same
 * call GET /api/v1/streams makes) turned into one sample per stream (ingest bitrate, packets lost
 * and retransmitted in that second, RTT, viewers) and one for the node (sessions, handshakes
 * refused by reject code). The last HISTORY_SECONDS samples are kept; GET /api/v1/history,
 * /api/v1/streams/:name/history and /api/v1/node return them column by column (the shape uPlot
 * draws), only those after `?since=` when given, so a page polling once a second gets one sample.
 */
import type { RelayApi as Relay } from '../supervisor/relay-api.js';

/** Seconds of history kept per stream (5 minutes). */
export const HISTORY_SECONDS = 300;
const INTERVAL_MS = 1000;

export interface StreamHistoryView {
  name: string;
  intervalMs: number;
  /** Sample times, ms since the epoch. */
  t: number[];
  /** Receive rate from the publisher in kbit/s (null: no publisher then). */
  ingestKbps: (number | null)[];
  /** Packets the publisher's connection lost in that second. */
  lossPackets: (number | null)[];
  /** Retransmitted packets received from the publisher in that second. */
  retransmittedPackets: (number | null)[];
  /** Smoothed RTT to the publisher in ms. */
  rttMs: (number | null)[];
  /** Packets from the publisher that could not be decrypted in that second (wrong passphrase). */
  undecryptedPackets: (number | null)[];
  viewers: number[];
}

export interface NodeHistoryView {
  intervalMs: number;
  t: number[];
  sessions: number[];
  /** Handshakes refused in each second, by `listener code` (e.g. `srt 1503`). */
  refused: Record<string, number[]>;
}

/** A stream's columns (StreamHistoryView without its name and interval) and what the next sample needs. */
interface Series extends Omit<StreamHistoryView, 'name' | 'intervalMs'> {
  /** The publisher session and its counters at the last sample, for per-second deltas. */
  last: { session: number; at: number; bytes: number; loss: number; retrans: number; undecrypted: number } | undefined;
}

function push<T>(a: T[], v: T): void {
  a.push(v);
  if (a.length > HISTORY_SECONDS) a.shift();
}

function after<T>(t: readonly number[], col: readonly T[], since: number | undefined): T[] {
  if (since === undefined) return col.slice();
  let i = t.length;
  while (i > 0 && t[i - 1]! > since) i--;
  return col.slice(i);
}

export class History {
  readonly #relay: Relay;
  readonly #streams = new Map<string, Series>();
  readonly #node = { t: [] as number[], sessions: [] as number[], refused: new Map<string, number[]>(), lastRefused: new Map<string, number>() };
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(relay: Relay) {
    this.#relay = relay;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.sample(), INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample now (the timer calls it once a second). */
  async sample(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      let stats: Awaited<ReturnType<Relay['sessionStats']>>;
      try {
        stats = await this.#relay.sessionStats();
      } catch {
        stats = new Map();
      }
      const now = Date.now();
      const mono = performance.now();
      const seen = new Set<string>();
      for (const stream of this.#relay.listStreams()) {
        seen.add(stream.name);
        let s = this.#streams.get(stream.name);
        if (s === undefined) {
          s = { t: [], ingestKbps: [], lossPackets: [], retransmittedPackets: [], rttMs: [], undecryptedPackets: [], viewers: [], last: undefined };
          this.#streams.set(stream.name, s);
        }
        const pub = stream.publisher;
        const srt = pub === undefined ? undefined : stats.get(pub.session)?.srt;
        let kbps: number | null = null;
        let loss: number | null = null;
        let retrans: number | null = null;
        let rtt: number | null = null;
        let undecrypted: number | null = null;
        if (pub !== undefined && srt !== undefined) {
          const cur = { session: pub.session, at: mono, bytes: srt['byteRecvTotal'] ?? 0, loss: srt['pktRcvLossTotal'] ?? 0, retrans: srt['pktRcvRetrans'] ?? 0, undecrypted: srt['pktRcvUndecryptTotal'] ?? 0 };
          const prev = s.last !== undefined && s.last.session === pub.session ? s.last : undefined;
          if (prev !== undefined && cur.at > prev.at) {
            kbps = Math.round(((cur.bytes - prev.bytes) * 8) / (cur.at - prev.at));
            loss = Math.max(0, cur.loss - prev.loss);
            retrans = Math.max(0, cur.retrans - prev.retrans);
            undecrypted = Math.max(0, cur.undecrypted - prev.undecrypted);
          } else {
            kbps = Math.round((srt['mbpsRecvRate'] ?? 0) * 1000);
            loss = 0;
            retrans = 0;
            undecrypted = 0;
          }
          // libsrt reports its initial 100 ms until the first measurement: none for a new connection's first sample.
          rtt = prev === undefined ? null : Math.round((srt['msRTT'] ?? 0) * 10) / 10;
          s.last = cur;
        } else {
          s.last = undefined;
        }
        push(s.t, now);
        push(s.ingestKbps, kbps);
        push(s.lossPackets, loss);
        push(s.retransmittedPackets, retrans);
        push(s.rttMs, rtt);
        push(s.undecryptedPackets, undecrypted);
        push(s.viewers, stream.viewers.size);
      }
      for (const name of this.#streams.keys()) if (!seen.has(name)) this.#streams.delete(name);

      const n = this.#node;
      push(n.t, now);
      push(n.sessions, this.#relay.listSessions().length);
      const totals = new Map<string, number>();
      for (const r of this.#relay.refusedHandshakes()) totals.set(`${r.listener} ${r.code}`, (totals.get(`${r.listener} ${r.code}`) ?? 0) + r.count); // summed over ports
      for (const [key, count] of totals) {
        let col = n.refused.get(key);
        if (col === undefined) {
          // A code first seen now: zeros for the seconds before, so every column is as long as t.
          col = new Array<number>(n.t.length - 1).fill(0);
          n.refused.set(key, col);
        }
        push(col, Math.max(0, count - (n.lastRefused.get(key) ?? 0)));
        n.lastRefused.set(key, count);
      }
      for (const [key, col] of n.refused) if (!totals.has(key)) push(col, 0);
    } finally {
      this.#busy = false;
    }
  }

  stream(name: string, since?: number): StreamHistoryView | undefined {
    const s = this.#streams.get(name);
    if (s === undefined) return undefined;
    return {
      name,
      intervalMs: INTERVAL_MS,
      t: after(s.t, s.t, since),
      ingestKbps: after(s.t, s.ingestKbps, since),
      lossPackets: after(s.t, s.lossPackets, since),
      retransmittedPackets: after(s.t, s.retransmittedPackets, since),
      rttMs: after(s.t, s.rttMs, since),
      undecryptedPackets: after(s.t, s.undecryptedPackets, since),
      viewers: after(s.t, s.viewers, since),
    };
  }

  streams(since?: number): StreamHistoryView[] {
    const out: StreamHistoryView[] = [];
    for (const name of this.#streams.keys()) out.push(this.stream(name, since)!);
    return out;
  }

  node(since?: number): NodeHistoryView {
    const n = this.#node;
    const refused: Record<string, number[]> = {};
    for (const [key, col] of n.refused) refused[key] = after(n.t, col, since);
    return { intervalMs: INTERVAL_MS, t: after(n.t, n.t, since), sessions: after(n.t, n.sessions, since), refused };
  }
}
