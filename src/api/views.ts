/**
 * The JSON shapes the API returns for streams, sessions and pushes, built from the Relay's state
 * and one sessionStats() snapshot (libsrt statistics mapped to stable, unit-suffixed names).
 */
import type { TsInfo } from '../ts/analyzer.js';
import type { SourcesView } from '../streams/stream-sources.js';
import type { SessionStats } from '../sessions/messages.js';
import type { PeerAddress, Stream, StreamState } from '../streams/stream.js';
import { maskSecrets, maskText, maskUrl } from '../config/secrets.js';
import type { PushInfo, RelayApi, SessionInfo, SessionKind } from '../supervisor/relay-api.js';
import type { NegotiatedOptions } from '../srt/negotiated.js';

export type StatsSnapshot = ReadonlyMap<number, SessionStats>;

export interface PublisherView {
  session: number;
  address: string;
  since: string;
  /** Receive rate of the publisher's connection in kbit/s; null until the worker reports stats. */
  bitrateKbps: number | null;
  /** It has sent no media for the stream's takeoverAfterMs: a new publisher may take the stream over. */
  quiet: boolean;
}

export interface StreamView {
  name: string;
  state: StreamState;
  /** push:// or the srt:// URL with secrets masked (src/config/secrets.ts). */
  source: string;
  /** true when the stream comes from config/API, false when made by a first publish. */
  configured: boolean;
  publisher: PublisherView | null;
  viewers: number;
  /** Bytes received from the current publisher connection. */
  bytesIn: number;
  /** Bytes sent to the viewer connections that are connected now. */
  bytesOut: number;
  /** What the relay reads in the stream's MPEG-TS: tracks, codecs, keyframe interval, CC errors (null for raw or idle streams). */
  media: TsInfo | null;
  /** Sources in priority order, which one is active and how often the stream switched. */
  sources: SourcesView | null;
  /** Memory window kept for joins and time shift. */
  window: { slots: number; bytes: number; oldestMs: number | null };
}

export interface SessionStatsView {
  rttMs: number;
  bandwidthMbps: number;
  sendRateMbps: number;
  recvRateMbps: number;
  lossSent: number;
  lossReceived: number;
  retransmitted: number;
  dropsSent: number;
  dropsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  undecrypted: number;
  belated: number;
  sendBufferMs: number;
  receiveBufferMs: number;
  flightSize: number;
  fecExtraSent: number;
  fecRecovered: number;
  fecUnrecovered: number;
}

export interface SessionView {
  id: number;
  kind: SessionKind;
  stream: string;
  peer: string;
  streamid: string;
  since: string;
  worker: number | null;
  /** Packets the relay moved (received for a publisher/pull, sent for a viewer/push). */
  packets: number;
  /** Packets a viewer skipped because it fell behind the ring. */
  skipped: number;
  /** libsrt statistics of the connection; null until its worker reports them. */
  stats: SessionStatsView | null;
  /** A bonded (SRTLA) caller: its group and links; null for every other session. */
  srtla: SrtlaSessionView | null;
  /** What the SRT connection negotiated; null when it could not be read (the socket was gone). */
  negotiated: NegotiatedView | null;
}

export interface NegotiatedView extends NegotiatedOptions {
  /** The latency of the direction the relay serves, ms: its receive latency for a publisher/pull, the peer's for a viewer/push. */
  latencyMs: number;
}

/** The latency that matters for a session: the relay's receive side for what comes in, the peer's for what goes out. */
export function sessionLatencyMs(kind: SessionKind, n: { receiveLatencyMs: number; peerLatencyMs: number }): number {
  return kind === 'publisher' || kind === 'undecided' || kind === 'pull' || kind === 'cluster-pull' ? n.receiveLatencyMs : n.peerLatencyMs;
}

export interface SrtlaLinkView {
  slot: number;
  address: string;
  packets: number;
  bytes: number;
  /** Fraction (0..1) of the group's received SRT packets that came over this link. */
  share: number;
  srtlaAcks: number;
  lastHeard: string;
  registeredSince: string;
}

export interface SrtlaSessionView {
  group: number;
  /** The node's group socket the SRT connection comes from (what the native gate sees). */
  via: string;
  links: SrtlaLinkView[];
}

export interface PushView {
  id: number;
  stream: string;
  target: string;
  auto: boolean;
  state: PushInfo['state'];
  session: number | null;
  attempts: number;
  lastError: string | null;
  /** file:// pushes (recordings) only. */
  recording?: { segment: string | null; segments: number; bytes: number; lostPackets: number; errno: string | null };
}

/** API field → libsrt statistics field (srt_bistats). */
export const SRT_STAT_FIELDS: Readonly<Record<keyof SessionStatsView, string>> = Object.freeze({
  rttMs: 'msRTT',
  bandwidthMbps: 'mbpsBandwidth',
  sendRateMbps: 'mbpsSendRate',
  recvRateMbps: 'mbpsRecvRate',
  lossSent: 'pktSndLossTotal',
  lossReceived: 'pktRcvLossTotal',
  retransmitted: 'pktRetransTotal',
  dropsSent: 'pktSndDropTotal',
  dropsReceived: 'pktRcvDropTotal',
  bytesSent: 'byteSentTotal',
  bytesReceived: 'byteRecvTotal',
  undecrypted: 'pktRcvUndecryptTotal',
  belated: 'pktRcvBelated',
  sendBufferMs: 'msSndBuf',
  receiveBufferMs: 'msRcvBuf',
  flightSize: 'pktFlightSize',
  fecExtraSent: 'pktSndFilterExtraTotal',
  fecRecovered: 'pktRcvFilterSupplyTotal',
  fecUnrecovered: 'pktRcvFilterLossTotal',
});

/** `host:port`, with IPv6 hosts in brackets. */
export function formatAddress(peer: PeerAddress): string {
  return peer.host.includes(':') ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}

function num(v: number | undefined): number {
  return v !== undefined && Number.isFinite(v) ? v : 0;
}

export function mapSrtStats(srt: Readonly<Record<string, number>> | undefined): SessionStatsView | null {
  if (srt === undefined) return null;
  const out = {} as SessionStatsView;
  for (const [key, field] of Object.entries(SRT_STAT_FIELDS) as [keyof SessionStatsView, string][]) {
    out[key] = num(srt[field]);
  }
  return out;
}


export function streamView(stream: Stream, stats: StatsSnapshot, sources?: SourcesView): StreamView {
  const pub = stream.publisher;
  const media = pub === undefined ? undefined : stats.get(pub.session)?.ts;
  const pubSrt = pub === undefined ? undefined : stats.get(pub.session)?.srt;
  let bytesOut = 0;
  for (const id of stream.viewers) bytesOut += num(stats.get(id)?.srt?.['byteSentTotal']);
  return {
    name: stream.name,
    state: stream.state,
    source: maskUrl(stream.settings.source),
    configured: stream.settings.configured,
    publisher:
      pub === undefined
        ? null
        : {
            session: pub.session,
            address: formatAddress(pub.peer),
            since: new Date(pub.since).toISOString(),
            bitrateKbps: pubSrt === undefined ? null : Math.round(num(pubSrt['mbpsRecvRate']) * 1000 * 1000) / 1000,
            quiet: stream.publisherStalled,
          },
    viewers: stream.viewers.size,
    bytesIn: num(pubSrt?.['byteRecvTotal']),
    bytesOut,
    media: media ?? null,
    sources: sources === undefined ? null : maskSecrets(sources),
    window: stream.window(),
  };
}

/** The group and links of a bonded session (the SRTLA receiver's view of `via`). */
export function srtlaSessionView(relay: RelayApi, info: SessionInfo): SrtlaSessionView | null {
  const via = info.peer.via;
  if (via === undefined) return null;
  const g = relay.srtla?.groupStatsOf({ address: via.host, port: via.port });
  if (g === undefined) return null;
  return {
    group: g.id,
    via: formatAddress(via),
    links: g.links.map((l) => ({
      slot: l.slot,
      address: formatAddress({ host: l.address, port: l.port }),
      packets: l.packets,
      bytes: l.bytes,
      share: Math.round(l.share * 10000) / 10000,
      srtlaAcks: l.srtlaAcks,
      lastHeard: new Date(l.lastHeard).toISOString(),
      registeredSince: new Date(l.registeredAt).toISOString(),
    })),
  };
}

export function sessionView(info: SessionInfo, stats: StatsSnapshot, relay?: RelayApi): SessionView {
  const s = stats.get(info.id);
  return {
    id: info.id,
    kind: info.kind,
    stream: info.stream,
    peer: formatAddress(info.peer),
    streamid: info.streamid,
    since: new Date(info.since).toISOString(),
    worker: info.worker ?? null,
    packets: s?.packets ?? 0,
    skipped: s?.skipped ?? 0,
    stats: mapSrtStats(s?.srt),
    srtla: relay === undefined ? null : srtlaSessionView(relay, info),
    negotiated: info.negotiated === undefined ? null : { latencyMs: sessionLatencyMs(info.kind, info.negotiated), ...info.negotiated },
  };
}

export function pushView(p: PushInfo): PushView {
  return {
    id: p.id,
    stream: p.stream,
    // listPushes() masks already; mask again so a future change there cannot leak.
    target: maskUrl(p.target),
    auto: p.auto,
    state: p.state,
    session: p.session ?? null,
    attempts: p.attempts,
    lastError: p.lastError === undefined ? null : maskText(p.lastError),
    ...(p.recording !== undefined
      ? { recording: { segment: p.recording.segment ?? null, segments: p.recording.segments, bytes: p.recording.bytes, lostPackets: p.recording.lostPackets, errno: p.recording.errno ?? null } }
      : {}),
  };
}

/** One stats snapshot for a request; an empty one when the workers do not answer. */
export async function statsSnapshot(relay: RelayApi): Promise<StatsSnapshot> {
  try {
    return await relay.sessionStats();
  } catch {
    return new Map();
  }
}
