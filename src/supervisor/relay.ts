/**
 * Relay: the supervisor of one srt-relay node, on the main thread. It owns the SRT listeners
 * (several SO_REUSEPORT listeners per port, so libsrt spreads callers over several receive and
 * send threads), the handshake gate, the streams and the worker pool, and hands every accepted
 * or connected SRT socket to a worker thread, which moves the packets.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import { MODE_PLAY, MODE_PUBLISH } from '../srt/constants.js';
import type { SrtOptionValue } from '../srt/options.js';
import { SrtListener, SrtSocket, type AcceptedConnection, type UdpSocketInfo } from '../srt/socket.js';
import { UdpDropWatch, type UdpDropCount, type UdpSocketLabels } from '../srt/udp-drops.js';
import { parseSrtUrl, type SrtUrl } from '../srt/url.js';
import { maskUrl } from '../config/secrets.js';
import { parseStreamId, type GateDialects } from '../srt/streamid.js';
import { boundAddress, PortRegistry, type PortClaim } from '../srt/port-registry.js';
import { checkUdpPort, probeUdpPort } from '../srt/port-probe.js';
import type { SessionRole, SessionStats, ToWorker } from '../sessions/messages.js';
import { WorkerPool } from '../sessions/worker-pool.js';
import { setHandlerErrorReporter } from '../srt/reactor.js';
import { nodeHealth, type NodeHealth } from './health.js';
import { decidePublisher } from './arbiter.js';
import { backoffDelay, RETRY_STEPS_MS } from '../util/backoff.js';
import { ringSlotsFor, ringBytesFor } from '../ring/packet-ring.js';
import { trimFreedMemory } from '../srt/clock.js';
import { DEFAULT_TAKEOVER_AFTER_MS } from '../streams/defaults.js';
import { Stream, type PeerAddress } from '../streams/stream.js';
import { REJECT_TOO_MANY, StreamRegistry } from '../streams/stream-registry.js';
import { SrtRelayError } from '../errors.js';
import { WebhookAuth } from '../auth/webhook-auth.js';
import { SrtlaServer, type SrtlaServerOptions } from '../srtla/server.js';
import { parseSource, sourcePortHolder, StreamSources, type RemoteSource, type SourceHost, type SourcesView } from './stream-sources.js';
import { Recordings, type RecordingStatus } from '../recording/recordings.js';
import { isFileTarget } from '../recording/target.js';

type AttachMessage = Extract<ToWorker, { type: 'attach' }>;

/** A connection that is about to become a session. */
interface Incoming {
  name: string;
  socket: SrtSocket;
  peer: PeerAddress;
  streamid: string;
  kind: SessionKind;
  log: Logger;
  /** The streamid named no direction; the gate guessed it. */
  inferred?: boolean;
  /** Apply the stream's conflict policy (false for the relay's own pulls). */
  enforceConflict?: boolean;
  /** Which of the stream's sources this is. */
  sourceIndex?: number;
  /** A publisher from outside (push or listener input): in a cluster it takes the stream's lease. */
  leased?: boolean;
}

/** The node that owns a stream in the cluster, and how to pull it from there. */
/** Auth webhook settings: no webhook = every publish and play that the stream settings allow. */
export interface AuthSettings {
  webhook?: string;
  timeoutMs: number;
  cacheMs: number;
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

export interface RelayStreamOptions {
  /** The primary source; `sources` (primary first, then backups) wins when given. */
  source: string;
  sources?: string[];
  passphrase?: { publish?: string; play?: string };
  onPublisherConflict?: 'refuse' | 'replace';
  /** Under "refuse": a publisher that sent no media this long may be taken over (0 = never; default 1500). */
  takeoverAfterMs?: number;
  acceptStreamIds?: 'wildcard' | 'ignore' | 'refuse';
  alwaysOn?: boolean;
  idleTimeoutMs?: number;
  failoverTimeoutMs?: number;
  loop?: boolean;
  simulatedLive?: boolean;
  join?: 'keyframe' | 'live';
  raw?: boolean;
  /** Memory window wanted; the ring holds about one packet per millisecond of it, capped at RING_MAX_SLOTS. */
  bufferTimeMs?: number;
}

/** A stream's sources, primary first. */
function sourceTexts(s: RelayStreamOptions): string[] {
  return s.sources !== undefined && s.sources.length > 0 ? s.sources : [s.source];
}

/** Hard cap of a stream's ring: 16384 slots × 1472 bytes ≈ 24 MB (≈ 15 s at 10 Mbit/s). */
export const RING_MAX_SLOTS = 16384;

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
  /** The SRTLA receiver started with the relay (its port claimed in `ports`); `target` is one of this node's SRT ports. */
  srtla?: Omit<SrtlaServerOptions, 'ports' | 'logger'>;
  /** Absolute folder file:// pushes (recordings) write under; undefined: none allowed. */
  recordingsRoot?: string;
}

/**
 * `cluster-pull`: this node pulls a stream from the node that owns it; `cluster-serve`: this
 * node serves another node's pull of a stream published here.
 */
export type SessionKind = 'publisher' | 'viewer' | 'push' | 'pull' | 'file' | 'cluster-pull' | 'cluster-serve';

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

interface PushState extends PushInfo {
  url: SrtUrl;
  listener: SrtListener | undefined;
  claim: PortClaim | undefined;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}


const DIRECTION_CODE: Record<PortDirection, number> = { both: 0, incoming: 1, outgoing: 2 };

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
}

/** How often the supervisor considers trimming the heap, and after how many ended sessions. */
const TRIM_CHECK_MS = 10_000;
const TRIM_AFTER_SESSIONS = 20;

/** Handshakes refused by one gate: `srt` the SRT ports', `internal` the cluster's internal port. */
export interface RefusedHandshakes {
  listener: 'srt' | 'internal';
  code: number;
  count: number;
}

/** What libsrt asks the kernel for as a UDP receive buffer (udp_rcvbuf default: 8192 × 1500 bytes). */
const LIBSRT_UDP_RCVBUF = 8192 * 1500;

export class Relay extends EventEmitter<RelayEvents> {
  readonly nodeId: string;
  readonly #opts: RelayOptions;
  readonly #log: Logger;
  readonly #pool: WorkerPool;
  readonly #registry: StreamRegistry;
  readonly #listeners: SrtListener[] = [];
  /** The one owner of this node's UDP ports: every listener claims its address here first. */
  readonly #ports = new PortRegistry({ probe: probeUdpPort, check: checkUdpPort });
  readonly #sessions = new Map<number, SessionInfo>();
  readonly #pushes = new Map<number, PushState>();
  readonly #sources = new Map<string, StreamSources>();
  /** The options each configured stream was last put with (putStream puts them back when a change fails). */
  readonly #streamOptions = new Map<string, RelayStreamOptions>();
  readonly #sourceHost: SourceHost;
  /** Pull sources of streams other nodes own (kept across putStream). */
  readonly #remoteSources = new Map<string, RemoteOwnerSource>();
  /** Replaced publisher session → the session to confirm as publisher once it has ended. */
  readonly #confirmAfter = new Map<number, number>();
  #nextSession = 1;
  #nextPush = 1;
  #started = false;
  #stopped = false;
  #rejectTimer: NodeJS.Timeout | undefined;
  /** Refused handshakes since the start, by `${listener} ${code}` (for /metrics). */
  readonly #refused = new Map<string, RefusedHandshakes>();
  #bitrateTimer: NodeJS.Timeout | undefined;
  #auth: WebhookAuth | undefined;
  #authSettings: AuthSettings = { timeoutMs: 2000, cacheMs: 5000 };
  readonly #udpDrops: UdpDropWatch;
  /** Ports already said to have a UDP receive buffer below libsrt's ask. */
  readonly #smallBufferPorts = new Set<number>();
  /** Sessions ended since the heap was last trimmed (see #trimMemory). */
  #endedSinceTrim = 0;
  #trimTimer: NodeJS.Timeout | undefined;
  #restoreReporter: (() => void) | undefined;
  #srtla: SrtlaServer | undefined;
  /** The file:// pushes (recordings); see src/recording/recordings.ts. */
  readonly #recordings: Recordings;

  constructor(opts: RelayOptions) {
    super();
    this.#opts = opts;
    this.nodeId = opts.nodeId;
    this.#log = opts.logger ?? silentLogger();
    this.#pool = new WorkerPool(opts.workers, this.#log);
    this.#registry = new StreamRegistry({
      dynamicStreams: opts.dynamicStreams ?? true,
      defaultRingSlots: opts.ringSlots,
      ...(opts.limits.maxViewersPerStream !== undefined ? { maxViewersPerStream: opts.limits.maxViewersPerStream } : {}),
    });
    this.#udpDrops = new UdpDropWatch({ log: this.#log.child({ component: 'udp' }), ...(opts.udpDropCheckMs !== undefined ? { intervalMs: opts.udpDropCheckMs } : {}) });
    this.#sourceHost = this.#makeSourceHost();
    this.#recordings = new Recordings({
      nodeId: opts.nodeId,
      root: opts.recordingsRoot,
      log: this.#log.child({ component: 'recording' }),
      nextId: () => this.#nextPush++,
      live: (name) => {
        const s = this.#registry.get(name);
        return s?.publisher !== undefined && !s.publisher.fromCluster && s.hasRing ? s.ring().buffer : undefined;
      },
      ringHead: (name) => {
        const s = this.#registry.get(name);
        return s?.hasRing === true ? s.ring().head() : undefined;
      },
    });
    this.#pool.on('session-ended', (id, reason) => this.#sessionEnded(id, reason));
    this.#pool.on('media-detected', (id) => this.#mediaDetected(id));
    this.#pool.on('became-viewer', (id) => this.#becameViewer(id));
    this.#pool.on('source-live', (id) => this.#fileLive(id));
    this.#pool.on('publisher-stalled', (id, quietMs) => this.#publisherQuiet(id, quietMs));
    this.#pool.on('publisher-resumed', (id) => this.#publisherQuiet(id, undefined));
    // With no worker running, nothing accepted could be served: the ports refuse with 1503.
    this.#pool.on('workers-changed', (running) => this.#registry.setWorkersDown(running === 0));
  }

  /** Starts workers, configured streams, listeners, pulls and pushes. */
  async start(): Promise<void> {
    if (this.#started) throw new SrtRelayError('ERR_CONFIG_INVALID', 'relay already started');
    this.#started = true;
    this.#restoreReporter = setHandlerErrorReporter((err, context) => this.#log.error({ err, ...context }, 'a reactor handler threw; the other sockets of its batch go on'));
    await this.#pool.start();
    for (const [name, s] of Object.entries(this.#opts.streams)) this.putStream(name, s);
    if (this.#opts.auth !== undefined) this.setAuth(this.#opts.auth);
    const l = this.#opts.limits;
    const rate = l.handshakesPerSecondPerHost ?? 0;
    const all = l.handshakesPerSecond ?? 0;
    this.#registry.gate.setLimits({
      handshakesPerSecondPerHost: rate,
      burstPerHost: rate * 2,
      sessionsPerHost: l.maxSessionsPerHost ?? 0,
      code: REJECT_TOO_MANY,
      exemptHosts: l.exemptHosts ?? [],
      handshakesPerSecond: all,
      burst: all * 2,
    });
    this.#opts.ports.forEach((p, i) => this.#listenPort(p, i));
    if (this.#opts.srtla !== undefined) {
      this.#srtla = new SrtlaServer({ ...this.#opts.srtla, ports: this.#ports, logger: this.#log });
      await this.#srtla.start();
    }
    if (l.maxBitrateMbps !== undefined) this.#startBitrateWatch(l.maxBitrateMbps);
    for (const p of this.#opts.pushes) this.addPush(p);
    this.#rejectTimer = setInterval(() => this.#logRejections(), 1000);
    this.#rejectTimer.unref();
    this.#udpDrops.start();
    this.#trimTimer = setInterval(() => this.#trimMemory(), TRIM_CHECK_MS);
    this.#trimTimer.unref();
    this.#log.info(
      { ports: this.#opts.ports.map((p) => `${p.host}:${p.port}/${p.direction}`), workers: this.#opts.workers },
      'relay started',
    );
  }

  /** The webhook settings in force (defaults when none were set). */
  authSettings(): AuthSettings {
    return { ...this.#authSettings };
  }

  /** Sets (or with no webhook, turns off) webhook authorization of publishes and plays. */
  setAuth(auth: AuthSettings): void {
    this.#authSettings = { ...(auth.webhook !== undefined ? { webhook: auth.webhook } : {}), timeoutMs: auth.timeoutMs, cacheMs: auth.cacheMs };
    this.#auth?.stop();
    this.#auth = undefined;
    this.#log.info({ webhook: auth.webhook !== undefined, timeoutMs: auth.timeoutMs, cacheMs: auth.cacheMs }, auth.webhook === undefined ? 'auth webhook off' : 'auth webhook set');
    if (auth.webhook === undefined) return;
    this.#auth = new WebhookAuth({
      gate: this.#registry.gate,
      url: auth.webhook,
      timeoutMs: auth.timeoutMs,
      cacheMs: auth.cacheMs,
      nodeId: this.nodeId,
      logger: this.#log.child({ component: 'auth' }),
    });
    this.#auth.start();
  }

  // ---- listeners ---------------------------------------------------------------------------

  #listenPort(p: RelayPortOptions, index: number): void {
    const count = Math.max(1, p.reusePort);
    const claim = this.#ports.claim(p.host, p.port, index === 0 ? 'the main SRT listener' : `the SRT listener srt.ports[${index}]`);
    for (let i = 0; i < count; i++) {
      const l = SrtListener.create(p.host, p.port, p.params, { reusePort: count > 1 });
      claim.track(l.udpSocket);
      l.attachGate(this.#registry.gate, DIRECTION_CODE[p.direction], p.stream ?? '', 'ignore', p.dialects);
      l.listen((c) => this.#onConnection(c, p.stream));
      this.#listeners.push(l);
      this.#watchUdp(l.udpSocket, { role: 'srt-port', port: p.port });
    }
    claim.confirm();
  }

  /** Who holds this node's UDP ports (see PortRegistry). */
  get ports(): PortRegistry {
    return this.#ports;
  }

  /** The SRTLA receiver once started (undefined when `srtla` is off). */
  get srtla(): SrtlaServer | undefined {
    return this.#srtla;
  }

  /**
   * Counts the kernel's receive drops of a UDP socket the relay bound (UdpDropWatch), and says
   * once when the kernel gave a listener less receive buffer than libsrt asked for.
   */
  #watchUdp(socket: UdpSocketInfo | undefined, labels: UdpSocketLabels): void {
    this.#udpDrops.add(socket, labels);
    if (socket === undefined || labels.port === undefined) return;
    // The kernel reports twice the size it was asked for, capped at net.core.rmem_max.
    if (socket.receiveBufferBytes > 0 && socket.receiveBufferBytes < LIBSRT_UDP_RCVBUF && !this.#smallBufferPorts.has(labels.port)) {
      this.#smallBufferPorts.add(labels.port); // once per port (SO_REUSEPORT opens several sockets)
      this.#log.info(
        { port: labels.port, role: labels.role, receiveBufferBytes: socket.receiveBufferBytes },
        'UDP receive buffer below the 12 MB libsrt asks for by default (the kernel caps it at twice net.core.rmem_max); for high bitrates raise net.core.rmem_max (docs/deploy.md)',
      );
    }
  }

  /** The kernel's UDP receive drops per socket role/port/stream since the start (see UdpDropWatch). */
  async udpDrops(): Promise<UdpDropCount[]> {
    await this.#udpDrops.poll();
    return this.#udpDrops.counts();
  }

  /** Handshakes refused since the start, by listener and reject code (drained once a second). */
  refusedHandshakes(): RefusedHandshakes[] {
    return [...this.#refused.values()].map((r) => ({ ...r }));
  }

  /** Once a second: the handshake refusals, one line per (code, host) with a count (a flood is one line). */
  #logRejections(): void {
    const groups = new Map<string, { code: number; host: string; port: number; streamid: string; count: number }>();
    for (const [gate, streamid, host, port, code] of this.#registry.rejections()) {
      const listener = gate === this.#registry.gate.id ? 'srt' : 'internal';
      const counted = this.#refused.get(`${listener} ${code}`);
      if (counted === undefined) this.#refused.set(`${listener} ${code}`, { listener, code, count: 1 });
      else counted.count++;
      const key = `${code} ${host}`;
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { code, host, port, streamid, count: 1 });
      else g.count++;
    }
    for (const g of groups.values()) {
      const fields = { code: g.code, peer: `${g.host}:${g.port}`, streamid: g.streamid, ...(g.count > 1 ? { count: g.count } : {}) };
      if (g.code === REJECT_TOO_MANY) this.#log.warn(fields, 'connections refused: over the per-host limits');
      else this.#log.info(fields, g.count > 1 ? 'connections rejected in handshake' : 'connection rejected in handshake');
    }
  }

  /** Every 2 s: publishers over maxBitrateMbps in two samples in a row are closed. */
  #startBitrateWatch(maxMbps: number): void {
    const last = new Map<number, { bytes: number; at: number; over: number }>();
    this.#bitrateTimer = setInterval(() => {
      void this.#pool.stats().then((stats) => {
        const now = performance.now();
        const seen = new Set<number>();
        for (const st of stats) {
          const info = this.#sessions.get(st.session);
          if (info === undefined || (info.kind !== 'publisher' && info.kind !== 'pull')) continue;
          seen.add(st.session);
          const bytes = st.srt?.['byteRecvTotal'] ?? 0;
          const prev = last.get(st.session);
          const cur = { bytes, at: now, over: 0 };
          if (prev !== undefined) {
            const mbps = ((bytes - prev.bytes) * 8) / ((now - prev.at) / 1000) / 1e6;
            cur.over = mbps > maxMbps ? prev.over + 1 : 0;
            if (cur.over >= 2) {
              this.#log.warn({ session: st.session, stream: info.stream, mbps: Math.round(mbps * 10) / 10, maxMbps }, 'publisher over limits.maxBitrateMbps: closing');
              this.#pool.closeSession(st.session, `over the ${maxMbps} Mbit/s limit`);
            }
          }
          last.set(st.session, cur);
        }
        for (const id of last.keys()) if (!seen.has(id)) last.delete(id);
      }, () => undefined);
    }, 2000);
    this.#bitrateTimer.unref();
  }

  #onConnection(c: AcceptedConnection, fixedStream: string | undefined): void {
    const peer = { host: c.host, port: c.port };
    const name = fixedStream ?? c.resource;
    const log = this.#log.child({ stream: name, peer: `${c.host}:${c.port}`, streamid: c.streamid });
    if (this.#overLimits()) {
      log.warn('over session limit after handshake; closing');
      c.socket.close();
      return;
    }
    const incoming = { name, socket: c.socket, peer, streamid: c.streamid, log, inferred: c.inferred };
    if (c.mode === MODE_PUBLISH) this.#acceptPublisher({ ...incoming, kind: 'publisher', leased: true });
    else if (c.mode === MODE_PLAY) this.#acceptViewer({ ...incoming, kind: 'viewer' });
    else {
      log.warn('connection without a gate decision; closing');
      c.socket.close();
    }
  }

  #overLimits(): boolean {
    const max = this.#opts.limits.maxSessions;
    return max !== undefined && this.#sessions.size >= max;
  }

  #newSession(kind: SessionKind, stream: string, peer: PeerAddress, streamid: string): SessionInfo {
    const info: SessionInfo = { id: this.#nextSession++, kind, stream, peer, streamid, since: Date.now(), worker: undefined };
    this.#sessions.set(info.id, info);
    this.#updateLoad();
    return info;
  }

  #updateLoad(): void {
    const max = this.#opts.limits.maxSessions;
    this.#registry.setOverloaded(max !== undefined && this.#sessions.size >= max);
    const maxStreams = this.#opts.limits.maxStreams;
    const streams = this.#registry.list();
    const maxRing = this.#opts.limits.maxRingMemoryMb;
    // A new stream's ring: the default size must still fit under the memory limit.
    const ringFull = maxRing !== undefined && this.#registry.ringBytes() + ringBytesFor(this.#opts.ringSlots) > maxRing * 1048576;
    this.#registry.setFull((maxStreams !== undefined && streams.length >= maxStreams) || ringFull);
  }

  #acceptPublisher(c: Incoming): number | undefined {
    const { name, socket, peer, streamid, kind, log, inferred = false, enforceConflict = true, sourceIndex, leased = false } = c;
    const stream = this.#registry.forPublish(name);
    if (stream === undefined) {
      log.warn('publish to an unknown stream slipped past the gate; closing');
      socket.close();
      return undefined;
    }
    const info = this.#newSession(kind, name, peer, streamid);
    info.sourceIndex = sourceIndex ?? stream.settings.pushIndex ?? 0;
    if (leased) info.leased = true;
    if (inferred) {
      // A plain streamid on a "both" port for a stream that is not live: publisher once it
      // sends media, player if it stays silent (HostedSession decides within UNDECIDED_MS).
      this.#handOver(info, socket, () => this.#attachMessage(info, stream, socket, 'undecided', true));
      log.info({ session: info.id, worker: info.worker }, 'connection undecided: waiting for media');
      return info.id;
    }
    const old = stream.publisher?.session;
    if (!this.#takePublisher(stream, info, log, enforceConflict)) {
      this.#sessions.delete(info.id);
      socket.close();
      return undefined;
    }
    // Same worker as a replaced publisher: it closes the old one before the new one writes.
    this.#handOver(info, socket, () => this.#attachMessage(info, stream, socket, 'publisher', false), old);
    log.info({ session: info.id, worker: info.worker }, 'publisher connected');
    return info.id;
  }

  /**
   * Hands the session's socket to a worker. A session is running on a worker or gone: if the
   * hand-over fails, the socket is closed and the session removed from every table at once (the
   * pool itself ends it on the next tick when no worker runs).
   */
  #handOver(info: SessionInfo, socket: SrtSocket, message: () => AttachMessage, sameAs?: number): void {
    try {
      info.worker = this.#pool.assign(message(), sameAs);
    } catch (err) {
      this.#log.error({ err, session: info.id, stream: info.stream }, 'could not hand the connection to a worker; closing it');
      if (socket.isClosed) SrtSocket.closeDetached(socket.id);
      else socket.close();
      this.#sessionEnded(info.id, 'could not hand the connection to a worker');
    }
  }

  #attachMessage(info: SessionInfo, stream: Stream, socket: SrtSocket, role: SessionRole, inferred: boolean): AttachMessage {
    const sid = parseStreamId(info.streamid);
    if (!stream.hasRing) {
      stream.ring();
      this.#updateLoad(); // a new ring counts against limits.maxRingMemoryMb from now on
    }
    return {
      type: 'attach',
      session: info.id,
      sock: socket.detach(),
      stream: stream.name,
      ring: stream.ring().buffer,
      role,
      inferred,
      join: sid.join ?? stream.settings.join ?? 'keyframe',
      raw: stream.settings.raw === true,
      ...(sid.timeShiftMs !== undefined ? { timeShiftMs: sid.timeShiftMs } : {}),
      ...(role !== 'viewer' ? { stallMs: stream.settings.takeoverAfterMs ?? DEFAULT_TAKEOVER_AFTER_MS } : {}),
    };
  }

  /**
   * A publisher went quiet for its stream's takeoverAfterMs (quietMs given) or sends again
   * (undefined). While it is quiet, a new publisher may take the stream over under "refuse":
   * an encoder that reconnects (new network, restart) must not wait for libsrt to drop its
   * old, silent connection (~5 s) while getting 1409.
   */
  #publisherQuiet(id: number, quietMs: number | undefined): void {
    const info = this.#sessions.get(id);
    const stream = info === undefined ? undefined : this.#registry.get(info.stream);
    if (stream === undefined || stream.publisher?.session !== id) return;
    // Failover to a backup source uses the same notion of "publisher gone" as takeover.
    this.#sources.get(stream.name)?.publisherQuiet(stream.publisher.sourceIndex, id, quietMs !== undefined);
    // Only publishers from outside (the port, a listener input) can be taken over, under refuse;
    // the relay's own pulls have their source failover (StreamSources).
    if ((info!.kind !== 'publisher' && info!.leased !== true) || stream.settings.onPublisherConflict !== 'refuse') return;
    const stalled = quietMs !== undefined;
    if (stream.publisherStalled === stalled) return;
    stream.publisherStalled = stalled;
    this.#registry.sync(stream);
    const log = this.#log.child({ stream: stream.name, session: id, peer: `${info!.peer.host}:${info!.peer.port}` });
    if (stalled) log.warn({ quietMs }, 'publisher sent no media for takeoverAfterMs: a new publisher may take the stream over');
    else log.info('publisher sends media again');
    if (info!.leased === true) this.emit('publisher-quiet', stream.name, id, stalled);
  }

  /** The cluster owner of `name` says its publisher is quiet (a publish here may take over) or not. */
  setRemoteQuiet(name: string, quiet: boolean): void {
    const owner = this.#remoteSources.get(name);
    const stream = this.#registry.get(name);
    if (owner === undefined || stream?.remote === undefined || (stream.remote.quiet === true) === quiet) return;
    owner.quiet = quiet;
    stream.remote = { node: stream.remote.node, epoch: stream.remote.epoch, ...(quiet ? { quiet: true } : {}) };
    this.#registry.sync(stream);
  }

  /** Makes `info` the stream's publisher per the conflict policy. False when refused. */
  #takePublisher(stream: Stream, info: SessionInfo, log: Logger, enforceConflict = true): boolean {
    const old = stream.publisher;
    const index = info.sourceIndex ?? 0;
    const d = decidePublisher({
      current: old,
      candidate: { session: info.id, sourceIndex: index },
      policy: stream.settings.onPublisherConflict ?? 'refuse',
      enforceConflict,
      currentStalled: stream.publisherStalled === true,
      currentSourceQuiet: old !== undefined && this.#sources.get(stream.name)?.isQuiet(old.sourceIndex) === true,
    });
    if (d.log !== undefined) log[d.log.level]({ session: info.id, [d.action === 'refuse' ? 'publisher' : 'replaced']: old?.session }, d.log.msg);
    if (d.action === 'refuse') return false;
    if (d.closeOld !== undefined) this.#pool.closeSession(old!.session, d.closeOld);
    const wasQuiet = stream.publisherStalled;
    stream.publisherStalled = false;
    const fromCluster = info.kind === 'cluster-pull';
    stream.publisher = { session: info.id, peer: info.peer, since: Date.now(), sourceIndex: index, ...(fromCluster ? { fromCluster } : {}) };
    if (stream.viewers.delete(info.id)) this.#viewersChanged(stream);
    if (info.kind === 'viewer') info.kind = 'publisher';
    this.#registry.sync(stream);
    this.#sources.get(stream.name)?.publisherStarted(index, info.id);
    if (old === undefined) this.emit('stream-live', stream.name);
    if (info.leased === true) {
      this.emit('publisher-started', stream.name, info.id, stream.settings.onPublisherConflict);
      // It took over from a quiet publisher here: the lease (kept) must not stay marked quiet.
      if (wasQuiet) this.emit('publisher-quiet', stream.name, info.id, false);
    }
    // Pushes run where the stream is published, not on every node that pulls it.
    if (!fromCluster) this.#startPushesFor(stream.name);
    return true;
  }

  /** An undecided connection, or a viewer whose streamid named no direction, sent media. */
  #mediaDetected(id: number): void {
    const info = this.#sessions.get(id);
    const stream = info === undefined ? undefined : this.#registry.get(info.stream);
    if (info === undefined || stream === undefined) return;
    const log = this.#log.child({ stream: stream.name, session: id, peer: `${info.peer.host}:${info.peer.port}` });
    const wasViewer = info.kind === 'viewer';
    info.kind = 'publisher';
    const old = stream.publisher?.session;
    if (this.#takePublisher(stream, info, log)) {
      // A replaced publisher must stop writing the ring first: confirm once it has ended.
      if (old !== undefined && old !== id && this.#sessions.has(old)) this.#confirmAfter.set(old, id);
      else this.#pool.confirmPublisher(id);
      log.info({ from: wasViewer ? 'viewer' : 'undecided' }, 'connection sent media: it is the publisher');
    } else {
      this.#pool.closeSession(id, 'stream already has a publisher');
    }
  }

  /** An undecided connection stayed silent: it plays the stream. */
  #becameViewer(id: number): void {
    const info = this.#sessions.get(id);
    const stream = info === undefined ? undefined : this.#registry.get(info.stream);
    if (info === undefined || stream === undefined) return;
    info.kind = 'viewer';
    stream.viewers.add(id);
    this.#viewersChanged(stream);
    this.#registry.sync(stream);
    this.#log.info({ stream: stream.name, session: id }, 'silent connection: it plays the stream');
  }

  #acceptViewer(c: Incoming): number | undefined {
    const { name, socket, peer, streamid, kind, log, inferred = false } = c;
    const stream = this.#registry.get(name);
    if (stream === undefined || !stream.playable) {
      log.warn('play of a stream that is not live slipped past the gate; closing');
      socket.close();
      return undefined;
    }
    const info = this.#newSession(kind, name, peer, streamid);
    stream.viewers.add(info.id);
    this.#viewersChanged(stream);
    this.#handOver(info, socket, () => this.#attachMessage(info, stream, socket, 'viewer', inferred));
    log.info({ session: info.id, worker: info.worker, kind }, 'viewer connected');
    return info.id;
  }

  /**
   * After many sessions ended (a handshake flood, viewers leaving), glibc still holds the memory
   * libsrt freed; hand it back to the OS so the node's RSS follows its load. At most once per
   * TRIM_CHECK_MS, only when at least TRIM_AFTER_SESSIONS ended; a few ms on this thread.
   */
  #trimMemory(): void {
    if (this.#endedSinceTrim < TRIM_AFTER_SESSIONS) return;
    this.#endedSinceTrim = 0;
    const before = process.memoryUsage.rss();
    const t0 = performance.now();
    trimFreedMemory();
    const freedMb = (before - process.memoryUsage.rss()) / 1048576;
    if (freedMb >= 8) this.#log.info({ freedMb: Math.round(freedMb), ms: Math.round(performance.now() - t0) }, 'returned freed memory to the system');
  }

  #sessionEnded(id: number, reason: string): void {
    this.#endedSinceTrim++;
    const info = this.#sessions.get(id);
    if (info === undefined) return;
    this.#sessions.delete(id);
    this.#updateLoad();
    const successor = this.#confirmAfter.get(id);
    if (successor !== undefined) {
      this.#confirmAfter.delete(id);
      this.#pool.confirmPublisher(successor);
    }
    const stream = this.#registry.get(info.stream);
    this.#log.info({ session: id, stream: info.stream, kind: info.kind, reason }, 'session ended');
    if (info.leased === true && info.kind !== 'viewer') this.emit('publisher-ended', info.stream, id);
    if (stream !== undefined) {
      if (stream.publisher?.session === id) {
        stream.publisher = undefined;
        stream.publisherStalled = false;
        this.#registry.sync(stream);
        this.emit('stream-idle', stream.name);
        this.#recordings.streamIdle(stream.name);
      }
      if (stream.viewers.delete(id)) this.#viewersChanged(stream);
      if (info.sourceIndex !== undefined && info.kind !== 'viewer') {
        this.#sources.get(stream.name)?.publisherEnded(info.sourceIndex, id, reason);
      }
      this.#collect(stream);
      this.#updateLoad();
    }
    for (const p of this.#pushes.values()) {
      if (p.session === id) this.#pushEnded(p, reason);
    }
  }

  #viewersChanged(stream: Stream): void {
    this.#sources.get(stream.name)?.viewersChanged(stream.viewers.size);
    if (this.#opts.limits.maxViewersPerStream !== undefined) this.#registry.sync(stream);
  }

  // ---- streams -----------------------------------------------------------------------------

  listStreams(): Stream[] {
    return this.#registry.list();
  }

  getStream(name: string): Stream | undefined {
    return this.#registry.get(name);
  }

  /**
   * Adds or changes a stream at runtime, all or nothing: when a source cannot be set up (e.g. a
   * listener source's port is taken: PortInUseError), it throws and the stream is as before
   * (a new one not created, a changed one still running with its previous settings).
   */
  putStream(name: string, s: RelayStreamOptions): Stream {
    this.checkStreamPorts(name, sourceTexts(s));
    const before = this.#streamOptions.get(name);
    const existing = this.#registry.get(name);
    const settings = existing?.settings;
    try {
      return this.#applyStream(name, s);
    } catch (err) {
      // Another process bound a port between the check and the bind: put back what was there.
      this.#sources.get(name)?.stop();
      this.#sources.delete(name);
      this.#streamOptions.delete(name);
      if (before !== undefined) this.#applyStream(name, before);
      else if (existing === undefined) this.deleteStream(name);
      else if (settings !== undefined) {
        existing.settings = settings; // a dynamic stream stays dynamic
        this.#registry.sync(existing);
      }
      throw err;
    }
  }

  /**
   * Throws PortInUseError when a listener or rendezvous source of stream `name` would bind a UDP
   * port held by anything but this stream's own sources (or another process holds it). Changes nothing.
   */
  checkStreamPorts(name: string, sources: readonly string[]): void {
    for (const text of sources) {
      const url = parseSource(text).url;
      const at = url !== undefined ? boundAddress(url) : undefined;
      if (at === undefined || url === undefined || url.mode === 'caller') continue;
      if (this.#ports.holderOf(at.host, at.port)?.holder === sourcePortHolder(name, url.mode)) continue;
      this.#ports.ensureFree(at.host, at.port);
    }
  }

  #applyStream(name: string, s: RelayStreamOptions): Stream {
    const texts = sourceTexts(s);
    const parsed = texts.map((t) => parseSource(t));
    const pushIndex = parsed.findIndex((p) => p.kind === 'push' || p.kind === 'srt-listener');
    const stream = this.#registry.configure(name, {
      source: texts[0]!.trim(),
      ...(s.passphrase !== undefined ? { passphrase: s.passphrase } : {}),
      onPublisherConflict: s.onPublisherConflict ?? 'refuse',
      ...(s.takeoverAfterMs !== undefined ? { takeoverAfterMs: s.takeoverAfterMs } : {}),
      publishable: parsed.some((p) => p.kind === 'push' || p.kind === 'srt-listener'),
      startable: parsed.some((p) => p.kind === 'srt-caller' || p.kind === 'file'),
      pushIndex: pushIndex < 0 ? 0 : pushIndex,
      ...(s.join !== undefined ? { join: s.join } : {}),
      ...(s.raw !== undefined ? { raw: s.raw } : {}),
      ...(s.bufferTimeMs !== undefined ? { ringSlots: ringSlotsFor(s.bufferTimeMs, 1024, RING_MAX_SLOTS) } : {}),
    });
    const previous = this.#sources.get(name);
    previous?.stop();
    const sources = new StreamSources(this.#sourceHost, name, parsed, {
      alwaysOn: s.alwaysOn ?? false,
      idleTimeoutMs: s.idleTimeoutMs ?? 20000,
      failoverTimeoutMs: s.failoverTimeoutMs ?? 10000,
      acceptStreamIds: s.acceptStreamIds ?? 'ignore',
      loop: s.loop ?? false,
      simulatedLive: s.simulatedLive ?? true,
    });
    this.#sources.set(name, sources);
    sources.start();
    sources.viewersChanged(stream.viewers.size);
    this.#streamOptions.set(name, s);
    const remote = this.#remoteSources.get(name);
    if (remote !== undefined) sources.setRemote(remote.source);
    return stream;
  }

  // ---- cluster -----------------------------------------------------------------------------

  /**
   * Another node of the cluster owns `name` (holds its lease): viewers here are accepted at once
   * and served through one internal pull from `source`; undefined: no other node owns it.
   */
  setRemoteOwner(name: string, owner: RemoteOwnerSource | undefined): void {
    if (owner === undefined) {
      if (!this.#remoteSources.delete(name)) return;
      const stream = this.#registry.get(name);
      if (stream === undefined) return;
      stream.remote = undefined;
      this.#sources.get(name)?.setRemote(undefined);
      this.#registry.sync(stream);
      this.#collect(stream);
      return;
    }
    this.#remoteSources.set(name, owner);
    const stream = this.#registry.forRemote(name);
    stream.remote = { node: owner.node, epoch: owner.epoch, ...(owner.quiet === true ? { quiet: true } : {}) };
    let sources = this.#sources.get(name);
    if (sources === undefined) {
      // A dynamic stream: nothing configured feeds it here, only the pull from its owner.
      sources = new StreamSources(this.#sourceHost, name, [], {
        alwaysOn: false,
        idleTimeoutMs: owner.source.idleTimeoutMs,
        failoverTimeoutMs: 10000,
        acceptStreamIds: 'ignore',
        loop: false,
        simulatedLive: false,
      });
      this.#sources.set(name, sources);
      sources.viewersChanged(stream.viewers.size);
    }
    this.#registry.sync(stream);
    sources.setRemote(owner.source);
  }

  /** Streams this node knows to be owned by another node, with the owner. */
  remoteStreams(): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of this.#registry.list()) if (s.remote !== undefined) out.set(s.name, s.remote.node);
    return out;
  }

  /** Redis unreachable: publishes that need a lease are refused with 1503 until it returns. */
  setClusterAvailable(available: boolean): void {
    this.#registry.setClusterDown(!available);
  }

  /** Closes the publisher session `session` of `stream` (its cluster lease went to another node). */
  closePublisher(stream: string, session: number, reason: string): void {
    if (this.#sessions.get(session)?.stream === stream) this.#pool.closeSession(session, reason);
  }

  /** The session that publishes `stream` here from outside (holding its lease), if any. */
  leasedPublisher(stream: string): number | undefined {
    const s = this.#registry.get(stream)?.publisher?.session;
    return s !== undefined && this.#sessions.get(s)?.leased === true ? s : undefined;
  }

  /**
   * Opens the internal listener other nodes pull streams from: play only, streams published
   * here only, every connection encrypted with the cluster passphrase (AES-256).
   */
  listenInternal(host: string, port: number, passphrase: string): void {
    const claim = this.#ports.claim(host, port, 'the internal cluster listener');
    const l = SrtListener.create(host, port, { passphrase, pbkeylen: 32 }, {});
    claim.track(l.udpSocket);
    claim.confirm();
    l.attachGate(this.#registry.internalGate(), DIRECTION_CODE.outgoing, '');
    l.listen((c) => {
      const log = this.#log.child({ stream: c.resource, peer: `${c.host}:${c.port}`, streamid: c.streamid, internal: true });
      this.#acceptViewer({ name: c.resource, socket: c.socket, peer: { host: c.host, port: c.port }, streamid: c.streamid, kind: 'cluster-serve', log });
    });
    this.#listeners.push(l);
    this.#watchUdp(l.udpSocket, { role: 'cluster-internal', port });
    this.#log.info({ listen: `${host}:${port}` }, 'internal cluster listener started');
  }

  /** Drops a stream nobody uses any more (and its source bookkeeping). */
  #collect(stream: Stream): void {
    this.#registry.collect(stream);
    if (this.#registry.get(stream.name) === undefined) {
      this.#sources.get(stream.name)?.stop();
      this.#sources.delete(stream.name);
    }
  }

  /** The stream's sources: which is active, how often it switched, each one's state. */
  sourcesOf(name: string): SourcesView | undefined {
    return this.#sources.get(name)?.view();
  }

  /** Removes a stream and closes its sessions. */
  deleteStream(name: string): boolean {
    const s = this.#registry.get(name);
    if (s === undefined) return false;
    this.#sources.get(name)?.stop();
    this.#sources.delete(name);
    this.#streamOptions.delete(name);
    for (const info of this.#sessions.values()) if (info.stream === name) this.#pool.closeSession(info.id, 'stream deleted');
    this.#recordings.streamIdle(name);
    this.#registry.remove(name);
    // Still live on another node: it stays playable here as a dynamic stream.
    const remote = this.#remoteSources.get(name);
    if (remote !== undefined) {
      this.#remoteSources.delete(name);
      this.setRemoteOwner(name, remote);
    }
    return true;
  }

  /** What StreamSources needs from the relay. */
  #makeSourceHost(): SourceHost {
    return {
    log: this.#log,
    gate: this.#registry.gate,
    ports: this.#ports,
    watchUdp: (socket, labels) => this.#watchUdp(socket, labels),
    publishPulled: (stream, socket, url, sourceIndex) => {
      const log = this.#log.child({ stream, peer: `${url.host}:${url.port}`, source: sourceIndex });
      const fromCluster = this.#sources.get(stream)?.remoteIndex === sourceIndex && this.#remoteSources.has(stream);
      // The node's own pull replaces whatever fed the stream before (e.g. a stale pull).
      return this.#acceptPublisher({
        name: stream,
        socket,
        peer: { host: url.host, port: url.port },
        streamid: '',
        kind: fromCluster ? 'cluster-pull' : 'pull',
        log,
        enforceConflict: false,
        sourceIndex,
      });
    },
    publishFromListener: (stream, c, sourceIndex) => {
      const log = this.#log.child({ stream: c.resource, peer: `${c.host}:${c.port}`, streamid: c.streamid });
      const base = this.#registry.get(stream);
      if (c.resource !== stream && base !== undefined && this.#registry.get(c.resource) === undefined) {
        const max = this.#opts.limits.maxWildcardStreams ?? 100;
        const made = this.#registry.list().filter((s) => s.name.startsWith(`${stream}+`)).length;
        if (made >= max) {
          log.warn({ maxWildcardStreams: max }, 'wildcard input already made its most streams; closing the sender');
          c.socket.close();
          return;
        }
        this.#registry.derive(base, c.resource);
      }
      // A listener input's sender is a publisher like any other: the conflict policy applies.
      this.#acceptPublisher({ name: c.resource, socket: c.socket, peer: { host: c.host, port: c.port }, streamid: c.streamid, kind: 'pull', log, sourceIndex, leased: true });
    },
    startFile: (stream, path, opts, sourceIndex) => {
      const s = this.#registry.get(stream)!;
      const info = this.#newSession('file', stream, { host: '', port: 0 }, path);
      info.sourceIndex = sourceIndex;
      info.worker = this.#pool.assignFile({
        type: 'attach-file',
        session: info.id,
        stream,
        path,
        ring: s.ring().buffer,
        loop: opts.loop,
        simulatedLive: opts.simulatedLive,
        raw: s.settings.raw === true,
      });
      this.#log.info({ stream, path, session: info.id, worker: info.worker }, 'file source started');
      return info.id;
    },
    closeSession: (session, reason) => {
      this.#pool.closeSession(session, reason);
    },
    remoteFailed: (stream, reason) => {
      this.emit('remote-failed', stream, reason);
    },
    closeViewers: (stream, reason) => {
      const s = this.#registry.get(stream);
      if (s === undefined) return;
      for (const id of s.viewers) this.#pool.closeSession(id, reason);
    },
    };
  }

  /** A file source's worker reports it live (first packets in the ring) through session-live. */
  #fileLive(id: number): void {
    const info = this.#sessions.get(id);
    const stream = info === undefined ? undefined : this.#registry.get(info.stream);
    if (info === undefined || stream === undefined) return;
    const log = this.#log.child({ stream: stream.name, session: id });
    if (!this.#takePublisher(stream, info, log, false)) this.#pool.closeSession(id, 'a better source is live');
  }

  // ---- pushes ------------------------------------------------------------------------------

  listPushes(): PushInfo[] {
    const srt: PushInfo[] = [...this.#pushes.values()].map((p) => ({
      id: p.id,
      stream: p.stream,
      target: maskUrl(p.target),
      auto: p.auto,
      state: p.state,
      session: p.session,
      attempts: p.attempts,
      lastError: p.lastError,
    }));
    return [...srt, ...this.#recordings.list()].sort((a, b) => a.id - b.id);
  }

  /** The file:// pushes (recordings) of this node. */
  get recordings(): Recordings {
    return this.#recordings;
  }

  /** The folder recordings are written under (undefined: file:// pushes are refused). */
  get recordingsRoot(): string | undefined {
    return this.#opts.recordingsRoot;
  }

  /** Starts a push of `stream` to an srt:// target (caller: connects out; listener: serves every caller). */
  addPush(p: RelayPushOptions): PushInfo {
    if (isFileTarget(p.target)) return this.#recordings.add(p);
    const url = parseSrtUrl(p.target);
    const at = url.mode === 'rendezvous' ? boundAddress(url) : undefined;
    const push: PushState = {
      id: this.#nextPush++,
      stream: p.stream,
      target: p.target,
      auto: p.auto === true,
      state: 'waiting',
      session: undefined,
      attempts: 0,
      lastError: undefined,
      url,
      listener: undefined,
      // A rendezvous push binds its local port at each attempt: it holds it while it exists.
      claim: at !== undefined ? this.#ports.claim(at.host, at.port, `rendezvous push ${this.#nextPush - 1} of stream '${p.stream}'`) : undefined,
      timer: undefined,
      stopped: false,
    };
    this.#pushes.set(push.id, push);
    if (url.mode === 'listener') this.#listenPush(push);
    else this.#maybeStartPush(push);
    return this.listPushes().find((x) => x.id === push.id)!;
  }

  removePush(id: number): boolean {
    if (this.#recordings.remove(id)) return true;
    const p = this.#pushes.get(id);
    if (p === undefined) return false;
    p.stopped = true;
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.listener?.close();
    p.claim?.release();
    if (p.session !== undefined) this.#pool.closeSession(p.session, 'push removed');
    this.#pushes.delete(id);
    return true;
  }

  #listenPush(push: PushState): void {
    const holder = `listener push ${push.id} of stream '${push.stream}'`;
    const l = this.#ports.bindWith(push.url.host, push.url.port, holder, (claim) => {
      const created = SrtListener.create(push.url.host, push.url.port, push.url.options as Record<string, SrtOptionValue>);
      claim.track(created.udpSocket);
      push.claim = claim;
      return created;
    });
    l.attachGate(this.#registry.gate, DIRECTION_CODE.outgoing, push.stream, 'ignore');
    l.listen((c) => {
      const log = this.#log.child({ stream: push.stream, peer: `${c.host}:${c.port}`, push: push.id });
      this.#acceptViewer({ name: push.stream, socket: c.socket, peer: { host: c.host, port: c.port }, streamid: c.streamid, kind: 'push', log });
    });
    push.listener = l;
    push.state = 'active';
    this.#watchUdp(l.udpSocket, { role: 'listener-push', port: push.url.port, stream: push.stream });
  }

  #startPushesFor(stream: string): void {
    for (const p of this.#pushes.values()) if (p.stream === stream) this.#maybeStartPush(p);
    this.#recordings.streamLive(stream);
  }

  #maybeStartPush(push: PushState): void {
    if (push.stopped || push.listener !== undefined || push.session !== undefined || push.state === 'connecting') return;
    if (push.state === 'done' || push.state === 'failed') return;
    const stream = this.#registry.get(push.stream);
    if (stream?.publisher === undefined) {
      push.state = 'waiting';
      return;
    }
    push.state = 'connecting';
    push.attempts++;
    const socket = SrtSocket.create(push.url.options as Record<string, SrtOptionValue>);
    const connect =
      push.url.mode === 'rendezvous'
        ? socket.rendezvous(push.url.adapter ?? '', push.url.localPort ?? push.url.port, push.url.host, push.url.port)
        : socket.connect(push.url.host, push.url.port, { guard: true });
    connect.then(
      () => {
        if (push.stopped) {
          socket.close();
          return;
        }
        this.#watchUdp(socket.udpSocket, { role: 'push', stream: push.stream });
        const log = this.#log.child({ stream: push.stream, push: push.id, peer: `${push.url.host}:${push.url.port}` });
        const session = this.#acceptViewer({ name: push.stream, socket, peer: { host: push.url.host, port: push.url.port }, streamid: '', kind: 'push', log });
        if (session === undefined) {
          this.#pushEnded(push, 'stream not live');
          return;
        }
        push.session = session;
        push.state = 'active';
        push.attempts = 0;
      },
      (err: unknown) => {
        push.lastError = err instanceof Error ? err.message : String(err);
        this.#log.warn({ stream: push.stream, push: push.id, err: push.lastError }, 'push connect failed');
        this.#pushEnded(push, push.lastError);
      },
    );
  }

  #pushEnded(push: PushState, reason: string): void {
    push.session = undefined;
    push.lastError = reason;
    if (push.stopped) return;
    if (!push.auto) {
      push.state = push.state === 'active' ? 'done' : 'failed';
      return;
    }
    push.state = 'retrying';
    const delay = backoffDelay(push.attempts + 1, { steps: RETRY_STEPS_MS });
    push.timer = setTimeout(() => {
      push.timer = undefined;
      push.state = 'waiting';
      this.#maybeStartPush(push);
    }, delay);
  }

  // ---- sessions ----------------------------------------------------------------------------

  listSessions(): SessionInfo[] {
    return [...this.#sessions.values()];
  }

  async sessionStats(): Promise<Map<number, SessionStats>> {
    const out = new Map<number, SessionStats>();
    for (const s of await this.#pool.stats()) out.set(s.session, s);
    return out;
  }

  kickSession(id: number): boolean {
    if (!this.#sessions.has(id)) return false;
    return this.#pool.closeSession(id, 'kicked by the API');
  }

  /** Test hook: crash one worker thread (fault injection). */
  crashWorker(index: number): void {
    this.#pool.crashWorker(index);
  }

  get workerCount(): number {
    return this.#pool.threads;
  }

  /** Whether every SRT port can take callers now (for /healthz). */
  health(): NodeHealth {
    return nodeHealth(
      this.#pool.status(),
      this.#listeners.map((l) => {
        let port: number | undefined;
        try {
          port = l.port;
        } catch {
          port = undefined;
        }
        return { port, acceptError: l.acceptError };
      }),
    );
  }

  /** Closes every session, listener and worker. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#rejectTimer !== undefined) clearInterval(this.#rejectTimer);
    if (this.#bitrateTimer !== undefined) clearInterval(this.#bitrateTimer);
    clearInterval(this.#trimTimer);
    this.#udpDrops.stop();
    this.#auth?.stop();
    for (const src of this.#sources.values()) src.stop();
    for (const id of [...this.#pushes.keys()]) this.removePush(id);
    await this.#recordings.stop();
    this.#srtla?.close();
    for (const l of this.#listeners) l.close();
    this.#ports.close();
    await this.#pool.stop();
    this.#restoreReporter?.();
    this.#registry.close();
    this.#log.info('relay stopped');
  }
}
