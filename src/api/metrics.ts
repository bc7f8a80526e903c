/**
 * Prometheus metrics of one relay, on a private prom-client Registry (several relays in one
 * process do not collide). Every relay gauge is filled at scrape time by its collect() callback
 * from the Relay's state and one shared sessionStats() snapshot per scrape. Families named
 * `*_total` are counters (libsrt's per-connection counters among them: they start at 0 with the
 * connection and vanish with it, which Prometheus reads as a counter reset); values are in base
 * units (seconds, bytes, bits per second), so `promtool check metrics` prints no warning.
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SessionStats } from '../sessions/messages.js';
import type { RelayApi, SessionInfo, SessionKind } from '../supervisor/relay-api.js';
import { sessionLatencyMs, statsSnapshot, type StatsSnapshot } from './views.js';
import type { TsInfo } from '../ts/analyzer.js';
import type { UdpDropCount } from '../srt/udp-drops.js';
import { libsrtVersion } from '../srt/clock.js';
import type { SrtlaLinkStats } from '../srtla/group.js';
import type { NegotiatedOptions } from '../srt/negotiated.js';

const SESSION_KINDS: readonly SessionKind[] = ['publisher', 'viewer', 'undecided', 'push', 'pull', 'file', 'cluster-pull', 'cluster-serve'];
const SESSION_LABELS = ['session', 'stream', 'kind'] as const;

/** A snapshot older than this is refreshed even inside one scrape. */
const SNAPSHOT_MAX_AGE_MS = 1000;

/** Default of `metrics.sessionSeriesLimit`: per-session series while at most this many sessions are open. */
export const DEFAULT_SESSION_SERIES_LIMIT = 100;

export interface RelayMetricsOptions {
  /** Register prom-client's default process metrics on the private registry (default true). */
  defaultMetrics?: boolean;
  /**
   * Per-session series (`srt_relay_session_*{session,stream,kind}`): 'auto' (default) while at
   * most `sessionSeriesLimit` sessions are open, true always, false never. The per-stream
   * families carry the same health without a series per connection.
   */
  sessionSeries?: boolean | 'auto';
  /** With sessionSeries 'auto': the most open sessions that still get per-session series (default 100). */
  sessionSeriesLimit?: number;
}

export interface RelayMetrics {
  readonly registry: Registry;
  /** The Content-Type of the exposition text. */
  readonly contentType: string;
  /** The Prometheus text exposition (one fresh stats snapshot). */
  metrics(): Promise<string>;
  /** Drops every metric (the registry is unusable afterwards). */
  close(): void;
}

type SessionRow = { info: SessionInfo; stats: SessionStats | undefined };

interface SessionGauge {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  /** Extra label (e.g. direction) → value extractor; undefined label: one series per session. */
  series: ReadonlyArray<{ labels?: Record<string, string>; value: (row: SessionRow) => number | undefined }>;
  extraLabels?: readonly string[];
}

function srt(field: string, scale = 1): (row: SessionRow) => number | undefined {
  return (row) => {
    const v = row.stats?.srt?.[field];
    return v !== undefined && Number.isFinite(v) ? v * scale : undefined;
  };
}

/** prom-client's default gauges named `*_total` (promtool: non-counter with a `_total` suffix); the `{type}` gauges beside them say the same. */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Sets a gauge, or adds to a counter that collect() has just reset (its value is read whole at scrape time). */
function put(m: Gauge | Counter, labels: Record<string, string>, value: number): void {
  if (m instanceof Counter) m.inc(labels, value);
  else m.set(labels, value);
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const SESSION_GAUGES: readonly SessionGauge[] = [
  {
    name: 'srt_relay_session_rtt_seconds',
    type: 'gauge',
    help: 'Smoothed round-trip time of the SRT connection, seconds.',
    series: [{ value: srt('msRTT', 1e-3) }],
  },
  {
    name: 'srt_relay_session_send_rate_bytes_per_second',
    type: 'gauge',
    help: 'Current send rate of the SRT connection, bytes/s (libsrt mbpsSendRate × 125000).',
    series: [{ value: srt('mbpsSendRate', 125_000) }],
  },
  {
    name: 'srt_relay_session_receive_rate_bytes_per_second',
    type: 'gauge',
    help: 'Current receive rate of the SRT connection, bytes/s (libsrt mbpsRecvRate × 125000).',
    series: [{ value: srt('mbpsRecvRate', 125_000) }],
  },
  {
    name: 'srt_relay_session_sent_bytes_total',
    type: 'counter',
    help: 'Bytes sent on the SRT connection since it opened (libsrt counter; gone when the session ends).',
    series: [{ value: srt('byteSentTotal') }],
  },
  {
    name: 'srt_relay_session_received_bytes_total',
    type: 'counter',
    help: 'Bytes received on the SRT connection since it opened (libsrt counter; gone when the session ends).',
    series: [{ value: srt('byteRecvTotal') }],
  },
  {
    name: 'srt_relay_session_packets_lost_total',
    type: 'counter',
    help: 'Packets reported lost on the SRT connection: direction="sent" by the peer, "received" detected here.',
    extraLabels: ['direction'],
    series: [
      { labels: { direction: 'sent' }, value: srt('pktSndLossTotal') },
      { labels: { direction: 'received' }, value: srt('pktRcvLossTotal') },
    ],
  },
  {
    name: 'srt_relay_session_packets_retransmitted_total',
    type: 'counter',
    help: 'Packets retransmitted on the SRT connection.',
    series: [{ value: srt('pktRetransTotal') }],
  },
  {
    name: 'srt_relay_session_packets_dropped_total',
    type: 'counter',
    help: 'Packets libsrt dropped as too late to play (TLPKTDROP), by direction.',
    extraLabels: ['direction'],
    series: [
      { labels: { direction: 'sent' }, value: srt('pktSndDropTotal') },
      { labels: { direction: 'received' }, value: srt('pktRcvDropTotal') },
    ],
  },
  {
    name: 'srt_relay_session_skipped_total',
    type: 'counter',
    help: 'Packets the relay skipped for a viewer that fell behind the ring (relay-side drops for slow viewers).',
    series: [{ value: (row) => row.stats?.skipped }],
  },
];

type StreamTotalField = 'lostSent' | 'lostReceived' | 'retransmitted' | 'droppedSent' | 'droppedReceived';
type StreamTotalKey = 'lost' | 'retransmitted' | 'dropped';
const TOTAL_FIELDS: ReadonlyArray<[StreamTotalField, string]> = [
  ['lostSent', 'pktSndLossTotal'],
  ['lostReceived', 'pktRcvLossTotal'],
  ['retransmitted', 'pktRetransTotal'],
  ['droppedSent', 'pktSndDropTotal'],
  ['droppedReceived', 'pktRcvDropTotal'],
];

/**
 * Per-stream sums of libsrt's per-connection counters that only grow: each scrape adds what every
 * open session's counter grew by since the previous scrape, so a session that ends leaves its
 * count in the stream's total (up to its last scraped value) and the sum never goes down.
 */
class StreamTotals {
  readonly #last = new Map<number, Record<StreamTotalField, number>>();
  readonly #totals = new Map<string, Record<StreamTotalField, number>>();
  #updatedFor: StatsSnapshot | undefined;

  update(sessions: readonly SessionInfo[], stats: StatsSnapshot): void {
    if (this.#updatedFor === stats) return; // once per snapshot, whichever family collects first
    this.#updatedFor = stats;
    const open = new Set<number>();
    for (const info of sessions) {
      const srt = stats.get(info.id)?.srt;
      if (srt === undefined) continue;
      open.add(info.id);
      const last = this.#last.get(info.id) ?? { lostSent: 0, lostReceived: 0, retransmitted: 0, droppedSent: 0, droppedReceived: 0 };
      let total = this.#totals.get(info.stream);
      if (total === undefined) {
        total = { lostSent: 0, lostReceived: 0, retransmitted: 0, droppedSent: 0, droppedReceived: 0 };
        this.#totals.set(info.stream, total);
      }
      const now = { ...last };
      for (const [field, srtField] of TOTAL_FIELDS) {
        const v = srt[srtField];
        if (v === undefined || !Number.isFinite(v)) continue;
        if (v > last[field]) total[field] += v - last[field];
        now[field] = Math.max(v, last[field]);
      }
      this.#last.set(info.id, now);
    }
    for (const id of this.#last.keys()) if (!open.has(id) && !sessions.some((s) => s.id === id)) this.#last.delete(id);
  }

  /** Totals of the streams the relay still knows (a removed stream's series go away). */
  totals(relay: RelayApi): Array<[string, Record<StreamTotalField, number>]> {
    const known = new Set(relay.listStreams().map((s) => s.name));
    for (const name of this.#totals.keys()) if (!known.has(name)) this.#totals.delete(name);
    return [...this.#totals];
  }
}

/** Registers the relay's gauges (and, by default, process metrics) on a new private registry. */
export function createRelayMetrics(relay: RelayApi, opts: RelayMetricsOptions = {}): RelayMetrics {
  const registry = new Registry();
  let cached: { at: number; snapshot: Promise<StatsSnapshot> } | undefined;
  const snapshot = (): Promise<StatsSnapshot> => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > SNAPSHOT_MAX_AGE_MS) {
      cached = { at: now, snapshot: statsSnapshot(relay) };
    }
    return cached.snapshot;
  };

  new Gauge({
    name: 'srt_relay_build_info',
    help: 'Always 1; the labels say which srt-relay (package version) runs on which Node.js and libsrt.',
    labelNames: ['version', 'node', 'libsrt'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ version: packageVersion(), node: process.version, libsrt: libsrtVersion() }, 1);
    },
  });

  new Counter({
    name: 'srt_relay_handshakes_refused_total',
    help: 'SRT handshakes the relay refused, by reject code (see docs/errors.md), listener (srt: the SRT ports, internal: the cluster port) and listening UDP port; counted once a second.',
    labelNames: ['code', 'listener', 'port'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of relay.refusedHandshakes()) this.inc({ code: String(r.code), listener: r.listener, port: String(r.port) }, r.count);
    },
  });

  new Gauge({
    name: 'srt_relay_streams',
    help: 'Streams the relay knows, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      let live = 0;
      let idle = 0;
      for (const s of relay.listStreams()) {
        if (s.state === 'live') live++;
        else idle++;
      }
      this.set({ state: 'live' }, live);
      this.set({ state: 'idle' }, idle);
    },
  });

  new Gauge({
    name: 'srt_relay_stream_viewers',
    help: 'Viewer sessions (including listener pushes) connected to the stream.',
    labelNames: ['stream'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of relay.listStreams()) this.set({ stream: s.name }, s.viewers.size);
    },
  });

  new Gauge({
    name: 'srt_relay_stream_live',
    help: '1 when the stream has a publisher, else 0.',
    labelNames: ['stream'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of relay.listStreams()) this.set({ stream: s.name }, s.state === 'live' ? 1 : 0);
    },
  });

  new Gauge({
    name: 'srt_relay_stream_publisher_quiet',
    help: '1 while the stream\'s publisher has sent no media for takeoverAfterMs (a new publisher may take over), else 0.',
    labelNames: ['stream'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of relay.listStreams()) if (s.publisher !== undefined) this.set({ stream: s.name }, s.publisherStalled ? 1 : 0);
    },
  });

  new Gauge({
    name: 'srt_relay_sessions',
    help: 'Open SRT sessions, by kind.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<SessionKind, number>(SESSION_KINDS.map((k) => [k, 0]));
      for (const s of relay.listSessions()) counts.set(s.kind, (counts.get(s.kind) ?? 0) + 1);
      for (const [kind, n] of counts) this.set({ kind }, n);
    },
  });

  // Links of bonded (SRTLA) sessions: `link` is the link's slot in its group (bounded by
  // srtla.maxLinksPerGroup); the address is a label of the info gauge only.
  const srtlaLinks = (): Array<{ info: SessionInfo; link: SrtlaLinkStats }> => {
    const out: Array<{ info: SessionInfo; link: SrtlaLinkStats }> = [];
    const srtla = relay.srtla;
    if (srtla === undefined) return out;
    for (const info of relay.listSessions()) {
      const via = info.peer.via;
      if (via === undefined) continue;
      const g = srtla.groupStatsOf({ address: via.host, port: via.port });
      if (g !== undefined) for (const link of g.links) out.push({ info, link });
    }
    return out;
  };
  const linkGauge = (type: 'gauge' | 'counter', name: string, help: string, value: (l: SrtlaLinkStats, now: number) => number, withAddress = false): void => {
    const Type = type === 'counter' ? Counter : Gauge;
    new Type({
      name,
      help,
      labelNames: ['session', 'stream', 'link', ...(withAddress ? ['address'] : [])],
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const { info, link } of srtlaLinks()) {
          const labels: Record<string, string> = { session: String(info.id), stream: info.stream, link: String(link.slot) };
          if (withAddress) labels['address'] = link.address.includes(':') ? `[${link.address}]:${link.port}` : `${link.address}:${link.port}`;
          put(this, labels, value(link, now));
        }
      },
    });
  };
  // What each session's SRT connection negotiated (read once when it was accepted).
  const negotiatedGauge = (name: string, help: string, value: (n: NegotiatedOptions, info: SessionInfo) => number | undefined, extra?: (n: NegotiatedOptions) => Record<string, string>): void => {
    new Gauge({
      name,
      help,
      labelNames: [...SESSION_LABELS, ...(extra !== undefined ? ['filter'] : [])],
      registers: [registry],
      collect() {
        this.reset();
        if (!sessionSeriesOn()) return; // per-session like srt_relay_session_* (metrics.sessionSeries)
        for (const info of relay.listSessions()) {
          const n = info.negotiated;
          const v = n === undefined ? undefined : value(n, info);
          if (n === undefined || v === undefined) continue;
          this.set({ session: String(info.id), stream: info.stream, kind: info.kind, ...(extra?.(n) ?? {}) }, v);
        }
      },
    });
  };
  negotiatedGauge('srt_relay_session_latency_seconds', "Negotiated SRT latency of the session, seconds (the relay's receive latency for a publisher or pull, the peer's for a viewer or push).", (n, info) => sessionLatencyMs(info.kind, n) / 1000);
  negotiatedGauge('srt_relay_session_tlpktdrop', 'Too-late packet drop negotiated on the session (1 on, 0 off).', (n) => (n.tlpktdrop ? 1 : 0));
  negotiatedGauge('srt_relay_session_payload_size_bytes', 'Most bytes per message on the session (SRTO_PAYLOADSIZE).', (n) => n.payloadSize);
  negotiatedGauge('srt_relay_session_key_length_bytes', 'AES key length of the session, bytes (0: not encrypted).', (n) => n.keyLength);
  negotiatedGauge('srt_relay_session_packet_filter_info', 'One series per session with a packet filter (FEC), value 1; the filter string is the label.', (n) => (n.packetFilter === '' ? undefined : 1), (n) => ({ filter: n.packetFilter }));

  linkGauge('gauge', 'srt_relay_srtla_link_info', 'One series per link of a bonded (SRTLA) session, value 1: the link slot and its address.', () => 1, true);
  linkGauge('counter', 'srt_relay_srtla_link_received_packets_total', 'SRT packets received over the link of a bonded session (since it registered).', (l) => l.packets);
  linkGauge('counter', 'srt_relay_srtla_link_received_bytes_total', 'Bytes of SRT packets received over the link of a bonded session (since it registered).', (l) => l.bytes);
  linkGauge('gauge', 'srt_relay_srtla_link_share_ratio', "The link's fraction (0..1) of its group's received SRT packets.", (l) => l.share);
  linkGauge('gauge', 'srt_relay_srtla_link_silence_seconds', 'Seconds since the link was last heard from.', (l, now) => Math.max(0, now - l.lastHeard) / 1000);
  linkGauge('gauge', 'srt_relay_srtla_link_registered_seconds', 'Seconds since the link registered (REG3).', (l, now) => Math.max(0, now - l.registeredAt) / 1000);

  // The relay's UDP sockets: one reading of /proc/net/udp{,6} per scrape serves both gauges.
  let udpCached: { at: number; counts: Promise<UdpDropCount[]> } | undefined;
  const udpCounts = (): Promise<UdpDropCount[]> => {
    const now = Date.now();
    if (udpCached === undefined || now - udpCached.at > SNAPSHOT_MAX_AGE_MS) udpCached = { at: now, counts: relay.udpDrops() };
    return udpCached.counts;
  };
  const udpGauge = (type: 'gauge' | 'counter', name: string, help: string, value: (c: UdpDropCount) => number): void => {
    const Type = type === 'counter' ? Counter : Gauge;
    new Type({
      name,
      help,
      labelNames: ['role', 'port', 'stream'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const c of await udpCounts()) put(this, { role: c.role, port: c.port === undefined ? '' : String(c.port), stream: c.stream ?? '' }, value(c));
      },
    });
  };
  udpGauge(
    'counter',
    'srt_relay_udp_receive_drops_total',
    'Datagrams the kernel dropped because a UDP socket of the relay had a full receive buffer (since the start; /proc/net/udp), by socket role, listening port and stream.',
    (c) => c.dropped,
  );
  udpGauge(
    'gauge',
    'srt_relay_udp_receive_buffer_bytes',
    'Effective receive buffer (SO_RCVBUF) of the newest UDP socket with these labels, bytes; the kernel caps it at twice net.core.rmem_max.',
    (c) => c.receiveBufferBytes,
  );

  // Per-stream media health from the MPEG-TS analyzer of the stream's current source.
  type Put = (labels: Record<string, string>, value: number) => void;
  const mediaGauge = (type: 'gauge' | 'counter', name: string, help: string, labelNames: string[], fill: (set: Put, stream: string, ts: TsInfo) => void): void => {
    const Type = type === 'counter' ? Counter : Gauge;
    new Type({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const stats = await snapshot();
        this.reset();
        for (const s of relay.listStreams()) {
          const ts = s.publisher === undefined ? undefined : stats.get(s.publisher.session)?.ts;
          if (ts !== undefined) fill((labels, v) => put(this, labels, v), s.name, ts);
        }
      },
    });
  };
  mediaGauge('counter', 'srt_relay_stream_cc_errors_total', 'Continuity-counter errors seen from the source, per PID.', ['stream', 'pid'], (set, stream, ts) => {
    for (const p of ts.programs) for (const t of p.tracks) set({ stream, pid: String(t.pid) }, t.ccErrors);
  });
  mediaGauge('gauge', 'srt_relay_stream_source_rate_bytes_per_second', 'Rate of the source, bytes/s (MPEG-TS, ~1 s window).', ['stream'], (set, stream, ts) => {
    set({ stream }, ts.totalBitrateKbps * 125);
  });
  mediaGauge('gauge', 'srt_relay_stream_keyframe_interval_seconds', 'Time between the last two keyframes, seconds.', ['stream'], (set, stream, ts) => {
    if (ts.keyframeIntervalMs !== undefined && ts.keyframeIntervalMs !== null) set({ stream }, ts.keyframeIntervalMs / 1000);
  });
  mediaGauge('gauge', 'srt_relay_stream_tracks', 'Elementary streams of the source (value 1), with codec and kind.', ['stream', 'pid', 'codec', 'kind'], (set, stream, ts) => {
    for (const p of ts.programs) for (const t of p.tracks) set({ stream, pid: String(t.pid), codec: t.codec, kind: t.kind }, 1);
  });
  new Counter({
    name: 'srt_relay_stream_source_switches_total',
    help: 'Times the stream switched between its sources (failover and back).',
    labelNames: ['stream'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of relay.listStreams()) {
        const v = relay.sourcesOf(s.name);
        if (v !== undefined) this.inc({ stream: s.name }, v.switches);
      }
    },
  });

  // Per-stream SRT health, so a dashboard needs no per-session series: counters that add what each
  // session of the stream lost / retransmitted / dropped since the previous scrape (sessions that
  // ended keep counting in their stream), and the RTT of the stream's open sessions by kind.
  const perStream = new StreamTotals();
  const streamCounter = (name: string, help: string, key: StreamTotalKey, direction?: boolean): void => {
    new Counter({
      name,
      help,
      labelNames: direction === true ? ['stream', 'direction'] : ['stream'],
      registers: [registry],
      async collect() {
        const stats = await snapshot();
        perStream.update(relay.listSessions(), stats);
        this.reset();
        for (const [stream, t] of perStream.totals(relay)) {
          if (direction === true) {
            this.inc({ stream, direction: 'sent' }, t[`${key}Sent` as StreamTotalField]);
            this.inc({ stream, direction: 'received' }, t[`${key}Received` as StreamTotalField]);
          } else {
            this.inc({ stream }, t[key as StreamTotalField]);
          }
        }
      },
    });
  };
  streamCounter('srt_relay_stream_packets_lost_total', 'Packets reported lost on the SRT connections of the stream (all its sessions, ended ones included; read at each scrape): direction="sent" reported by peers, "received" detected here.', 'lost', true);
  streamCounter('srt_relay_stream_packets_retransmitted_total', 'Packets retransmitted on the SRT connections of the stream (all its sessions, ended ones included; read at each scrape).', 'retransmitted');
  streamCounter('srt_relay_stream_packets_dropped_total', 'Packets libsrt dropped as too late to play (TLPKTDROP) on the connections of the stream, by direction (all its sessions, ended ones included; read at each scrape).', 'dropped', true);
  const rttGauge = (name: string, help: string, pick: (values: number[]) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['stream', 'kind'],
      registers: [registry],
      async collect() {
        const stats = await snapshot();
        this.reset();
        const by = new Map<string, { stream: string; kind: string; values: number[] }>();
        for (const info of relay.listSessions()) {
          const rtt = stats.get(info.id)?.srt?.['msRTT'];
          if (rtt === undefined || !Number.isFinite(rtt)) continue;
          const key = `${info.kind} ${info.stream}`;
          const row = by.get(key) ?? { stream: info.stream, kind: info.kind, values: [] };
          row.values.push(rtt / 1000);
          by.set(key, row);
        }
        for (const row of by.values()) this.set({ stream: row.stream, kind: row.kind }, pick(row.values));
      },
    });
  };
  rttGauge('srt_relay_stream_rtt_mean_seconds', 'Mean smoothed RTT of the stream\'s open SRT sessions of this kind, seconds.', (v) => v.reduce((a, b) => a + b, 0) / v.length);
  rttGauge('srt_relay_stream_rtt_max_seconds', 'Largest smoothed RTT among the stream\'s open SRT sessions of this kind, seconds.', (v) => Math.max(...v));

  const seriesMode = opts.sessionSeries ?? 'auto';
  const seriesLimit = opts.sessionSeriesLimit ?? DEFAULT_SESSION_SERIES_LIMIT;
  new Gauge({
    name: 'srt_relay_session_series_enabled',
    help: `1 while the per-session families (srt_relay_session_*) are exported, else 0 (metrics.sessionSeries: ${String(seriesMode)}, limit ${seriesLimit} open sessions).`,
    registers: [registry],
    collect() {
      this.set(sessionSeriesOn() ? 1 : 0);
    },
  });
  const sessionSeriesOn = (): boolean => seriesMode === true || (seriesMode === 'auto' && relay.listSessions().length <= seriesLimit);

  for (const def of SESSION_GAUGES) {
    const Type = def.type === 'counter' ? Counter : Gauge;
    new Type({
      name: def.name,
      help: def.help,
      labelNames: [...SESSION_LABELS, ...(def.extraLabels ?? [])],
      registers: [registry],
      async collect() {
        const stats = await snapshot();
        this.reset();
        if (!sessionSeriesOn()) return;
        for (const info of relay.listSessions()) {
          const row: SessionRow = { info, stats: stats.get(info.id) };
          const base = { session: String(info.id), stream: info.stream, kind: info.kind };
          for (const series of def.series) {
            const v = series.value(row);
            if (v !== undefined) put(this, { ...base, ...series.labels }, v);
          }
        }
      },
    });
  }

  if (opts.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  }

  return {
    registry,
    contentType: registry.contentType,
    async metrics() {
      cached = undefined; // one fresh snapshot per scrape, shared by every gauge
      return registry.metrics();
    },
    close() {
      registry.clear();
    },
  };
}
