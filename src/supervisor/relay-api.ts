/**
 * The Relay's public surface: the option, event and view types, and the two interfaces its users
 * depend on instead of the concrete class — RelayApi (the HTTP API, the library, the CLI) and
 * ClusterRelay (the cluster bridge). src/supervisor/relay.ts implements both.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../logging.js';
import type { SrtOptionValue } from '../srt/options.js';
import type { GateDialects } from '../srt/streamid.js';
import type { PortRegistry } from '../srt/port-registry.js';
import type { UdpDropCount } from '../srt/udp-drops.js';
import type { SessionStats } from '../sessions/messages.js';
import type { Stream, PeerAddress } from '../streams/stream.js';
import type { RelayStreamOptions } from '../streams/stream-options.js';
import type { SrtlaServer, SrtlaServerOptions } from '../srtla/server.js';
import type { RemoteSource, SourcesView } from '../streams/stream-sources.js';
import type { NodeHealth } from './health.js';
import type { NegotiatedOptions } from '../srt/negotiated.js';
import type { Recordings, RecordingStatus } from '../recording/recordings.js';

/** Auth webhook settings: no webhook = every publish and play that the stream settings allow. */
export interface AuthSettings {
  webhook?: string;
  timeoutMs: number;
  cacheMs: number;
  /** Held admission (default true): a caller's first connection waits for the webhook instead of 1503 + retry. */
  hold?: boolean;
}

export interface RemoteOwnerSource {
  node: string;
  epoch: number;
  source: RemoteSource;
  /** The owner's publisher sends no media: a publisher here may take the stream over. */
  quiet?: boolean;
}

export type PortDirection = 'incoming' | 'outgoing' | 'both';

export interface RelayPortOptions {
  port: number;
  host: string;
  direction: PortDirection;
  stream?: string;
  /** Stream-id domains and the no-streamid map of this port. */
  dialects?: GateDialects;
  params: Readonly<Record<string, SrtOptionValue>>;
  reusePort: number;
}


export type { RelayStreamOptions } from '../streams/stream-options.js';
export { RING_MAX_SLOTS } from '../streams/stream-options.js';

export interface RelayPushOptions {
  stream: string;
  target: string;
  auto?: boolean;
}

export interface RelayLimits {
  maxSessions?: number;
  maxStreams?: number;
  /** Publishers sending faster (over two 2-second samples in a row) are disconnected. */
  maxBitrateMbps?: number;
  /** Per remote host, checked in the handshake (1429); 0 or absent = unlimited. */
  maxSessionsPerHost?: number;
  handshakesPerSecondPerHost?: number;
  /** New connections per second to this node from all hosts together, exempt ones included (1429). */
  handshakesPerSecond?: number;
  exemptHosts?: readonly string[];
  maxViewersPerStream?: number;
  /** All stream rings together; a publish that would create a stream beyond it gets 1503. */
  maxRingMemoryMb?: number;
  /** Streams one wildcard listener input may create. */
  maxWildcardStreams?: number;
}

export interface RelayOptions {
  nodeId: string;
  workers: number;
  ports: RelayPortOptions[];
  streams: Record<string, RelayStreamOptions>;
  /** Publishes to names not in `streams` create a stream (default true); false: refused 1404. */
  dynamicStreams?: boolean;
  pushes: RelayPushOptions[];
  limits: RelayLimits;
  auth?: AuthSettings;
  ringSlots: number;
  logger?: Logger;
  /** How often the kernel's UDP receive drops are read (default 5000 ms). */
  udpDropCheckMs?: number;
  /** Absolute folder file:// pushes (recordings) write under; undefined: none allowed. */
  recordingsRoot?: string;
  /** The SRTLA receiver started with the relay (its port claimed in `ports`); `target` is one of this node's SRT ports. */
  srtla?: Omit<SrtlaServerOptions, 'ports' | 'logger'>;
}

/**
 * `cluster-pull`: this node pulls a stream from the node that owns it; `cluster-serve`: this
 * node serves another node's pull of a stream published here. `undecided`: a plain-name caller of
 * a stream that was not live, until it sends media (publisher) or stays silent 1 s (viewer).
 */
export type SessionKind = 'publisher' | 'viewer' | 'undecided' | 'push' | 'pull' | 'file' | 'cluster-pull' | 'cluster-serve';

export interface SessionInfo {
  id: number;
  kind: SessionKind;
  stream: string;
  peer: PeerAddress;
  streamid: string;
  since: number;
  worker: number | undefined;
  /** For a publisher: which of the stream's sources it is (0 = primary). */
  sourceIndex?: number;
  /** A publisher from outside that holds (or claims) the stream's cluster lease. */
  leased?: boolean;
  /** What the SRT connection negotiated (latency, tlpktdrop, packet filter, payload size, key length). */
  negotiated?: NegotiatedOptions;
}

export interface PushInfo {
  id: number;
  stream: string;
  target: string;
  auto: boolean;
  state: 'waiting' | 'connecting' | 'active' | 'retrying' | 'done' | 'failed';
  session: number | undefined;
  attempts: number;
  lastError: string | undefined;
  /** file:// pushes only (src/recording). */
  recording?: RecordingStatus;
}

export interface RelayEvents {
  /** `name` has a publisher now (it was idle). */
  'stream-live': [name: string];
  /** `name` lost its publisher. */
  'stream-idle': [name: string];
  /** A publisher from outside (a caller of an SRT port or of a listener input; not the relay's own pulls and files) took `stream` here; in a cluster: claim its lease. */
  'publisher-started': [stream: string, session: number, policy: 'refuse' | 'replace'];
  /** That publisher's session ended (another local one may have replaced it). */
  'publisher-ended': [stream: string, session: number];
  /** That publisher sent no media for takeoverAfterMs (quiet true) or sends again (false). */
  'publisher-quiet': [stream: string, session: number, quiet: boolean];
  /** The pull from the cluster owner of `stream` failed or ended. */
  'remote-failed': [stream: string, reason: string];
  /** The pull from the cluster owner of `stream` has brought no media for takeoverAfterMs (true) or brings it again (false). */
  'remote-quiet': [stream: string, quiet: boolean];
}

/** Handshakes refused by one gate: `srt` the SRT ports', `internal` the cluster's internal port. */
export interface RefusedHandshakes {
  listener: 'srt' | 'internal';
  /** The listening UDP port that refused (0 when not known). */
  port: number;
  code: number;
  count: number;
}

/** What the HTTP API, the library and the CLI use of a node's relay. */
export interface RelayApi extends EventEmitter<RelayEvents> {
  readonly nodeId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  authSettings(): AuthSettings;
  setAuth(auth: AuthSettings): void;
  /** Who holds this node's UDP ports. */
  readonly ports: PortRegistry;
  readonly srtla: SrtlaServer | undefined;
  udpDrops(): Promise<UdpDropCount[]>;
  refusedHandshakes(): RefusedHandshakes[];
  listStreams(): Stream[];
  getStream(name: string): Stream | undefined;
  putStream(name: string, s: RelayStreamOptions): Stream;
  checkStreamPorts(name: string, sources: readonly string[]): void;
  deleteStream(name: string): boolean;
  sourcesOf(name: string): SourcesView | undefined;
  listPushes(): PushInfo[];
  addPush(p: RelayPushOptions): PushInfo;
  removePush(id: number): boolean;
  /** Replaces push `id` (same id, restarted with the new target); undefined: no such push. */
  updatePush(id: number, p: RelayPushOptions): PushInfo | undefined;
  /** The file:// pushes (recordings) of this node. */
  readonly recordings: Recordings;
  /** The folder recordings are written under (undefined: file:// pushes are refused). */
  readonly recordingsRoot: string | undefined;
  listSessions(): SessionInfo[];
  sessionStats(): Promise<Map<number, SessionStats>>;
  kickSession(id: number): boolean;
  readonly workerCount: number;
  health(): NodeHealth;
  /** Opens the internal listener other nodes of the cluster pull streams from. */
  listenInternal(host: string, port: number, passphrase: string): void;
}

/** What the cluster bridge (src/supervisor/cluster-bridge.ts) drives on a node's relay. */
export interface ClusterRelay extends EventEmitter<RelayEvents> {
  setClusterAvailable(available: boolean): void;
  closePublisher(stream: string, session: number, reason: string): void;
  leasedPublisher(stream: string): number | undefined;
  setRemoteOwner(name: string, owner: RemoteOwnerSource | undefined): void;
  setRemoteQuiet(name: string, quiet: boolean): void;
  remoteStreams(): Map<string, string>;
  putStream(name: string, s: RelayStreamOptions): Stream;
  deleteStream(name: string): boolean;
  addPush(p: RelayPushOptions): PushInfo;
  removePush(id: number): boolean;
  updatePush(id: number, p: RelayPushOptions): PushInfo | undefined;
  listPushes(): PushInfo[];
  setAuth(auth: AuthSettings): void;
}
