/**
 * Relay: the composition root of one srt-relay node, on the main thread. It puts together the
 * worker pool (threads that move the packets), the stream registry and its handshake gate, the
 * SRT listeners (PortListeners, the one owner of the node's UDP ports), admission of callers
 * (Admission), the sessions
 * (StreamSessions), the streams' configuration (StreamCatalog), the pushes (PushManager), the
 * guards (bitrate watch, memory trim, refusal log), webhook auth and SRTLA — and implements
 * RelayApi and ClusterRelay (./relay-api.ts) on top of them.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import type { UdpDropCount } from '../srt/udp-drops.js';
import type { PortRegistry } from '../srt/port-registry.js';
import type { SessionStats } from '../sessions/messages.js';
import { WorkerPool } from '../sessions/worker-pool.js';
import { setHandlerErrorReporter } from '../srt/reactor.js';
import type { PeerAddress, Stream } from '../streams/stream.js';
import { StreamRegistry } from '../streams/stream-registry.js';
import type { RelayStreamOptions } from '../streams/stream-options.js';
import type { SourcesView } from '../streams/stream-sources.js';
import { SrtRelayError } from '../errors.js';
import { WebhookAuth } from '../auth/webhook-auth.js';
import { SrtlaServer } from '../srtla/server.js';
import { BondedAdmission } from '../srtla/admission.js';
import { PushManager } from '../pushes/push-manager.js';
import type { Recordings } from '../recording/recordings.js';
import { nodeHealth, type NodeHealth } from './health.js';
import { PortListeners } from './port-listeners.js';
import { StreamSessions } from './stream-sessions.js';
import { StreamCatalog } from './stream-catalog.js';
import { Admission } from './admission.js';
import { NodeLimits } from './node-limits.js';
import { MemoryTrim } from './guards/memory-trim.js';
import { RefusalLog } from './guards/refusal-log.js';
import type {
  AuthSettings,
  ClusterRelay,
  PushInfo,
  RefusedHandshakes,
  RelayApi,
  RelayEvents,
  RelayLimits,
  RelayOptions,
  RelayPortOptions,
  RelayPushOptions,
  RemoteOwnerSource,
  SessionInfo,
} from './relay-api.js';

export type * from './relay-api.js';
export { RING_MAX_SLOTS } from './relay-api.js';

export class Relay extends EventEmitter<RelayEvents> implements RelayApi, ClusterRelay {
  readonly nodeId: string;
  readonly #opts: RelayOptions;
  readonly #log: Logger;
  readonly #pool: WorkerPool;
  readonly #registry: StreamRegistry;
  readonly #listeners: PortListeners;
  readonly #sessions: StreamSessions;
  readonly #streams: StreamCatalog;
  readonly #pushes: PushManager;
  readonly #admission: Admission;
  readonly #refusals: RefusalLog;
  readonly #trim: MemoryTrim;
  #started = false;
  #stopped = false;
  #auth: WebhookAuth | undefined;
  #authSettings: AuthSettings = { timeoutMs: 2000, cacheMs: 5000 };
  #restoreReporter: (() => void) | undefined;
  #srtla: SrtlaServer | undefined;
  #bonded: BondedAdmission | undefined;
  readonly #limits: NodeLimits;

  constructor(opts: RelayOptions) {
    super();
    this.#opts = opts;
    this.nodeId = opts.nodeId;
    const log = (this.#log = opts.logger ?? silentLogger());
    this.#pool = new WorkerPool(opts.workers, log);
    const registry = (this.#registry = new StreamRegistry({
      dynamicStreams: opts.dynamicStreams ?? true,
      defaultRingSlots: opts.ringSlots,
      ...(opts.limits.maxViewersPerStream !== undefined ? { maxViewersPerStream: opts.limits.maxViewersPerStream } : {}),
    }));
    this.#listeners = new PortListeners({ log, ...(opts.udpDropCheckMs !== undefined ? { udpDropCheckMs: opts.udpDropCheckMs } : {}) });
    this.#trim = new MemoryTrim(log, this.#pool);
    this.#refusals = new RefusalLog(log, registry, (n) => this.#trim.sessionEnded(n));
    this.#sessions = new StreamSessions({
      log,
      registry,
      pool: this.#pool,
      limits: opts.limits,
      ringSlots: opts.ringSlots,
      events: this,
      published: (stream) => this.#pushes.streamPublished(stream),
      ended: (session, reason) => {
        this.#trim.sessionEnded();
        this.#pushes.sessionEnded(session, reason);
      },
    });
    this.#streams = new StreamCatalog({
      log,
      registry,
      sessions: this.#sessions,
      ports: this.#listeners.ports,
      watchUdp: (socket, labels) => this.#listeners.watchUdp(socket, labels),
      ...(opts.limits.maxWildcardStreams !== undefined ? { maxWildcardStreams: opts.limits.maxWildcardStreams } : {}),
      events: this,
    });
    this.#pushes = new PushManager({
      log,
      gate: registry.gate,
      ports: this.#listeners.ports,
      listen: (url, holder, stream, onConnection) => this.#listeners.listenPush(url, holder, stream, registry.gate, onConnection),
      watchUdp: (socket, labels) => this.#listeners.watchUdp(socket, labels),
      isPublished: (stream) => registry.get(stream)?.publisher !== undefined,
      serve: (stream, socket, peer, streamid, slog) => this.#sessions.acceptViewer({ name: stream, socket, peer, streamid, kind: 'push', log: slog }),
      closeSession: (session, reason) => this.#pool.closeSession(session, reason),
      nodeId: opts.nodeId,
      recordingsRoot: opts.recordingsRoot,
      liveRing: (name) => {
        const s = registry.get(name);
        return s?.publisher !== undefined && s.publisher.fromCluster !== true && s.hasRing ? s.ring().buffer : undefined;
      },
      ringHead: (name) => {
        const s = registry.get(name);
        return s?.hasRing === true ? s.ring().head() : undefined;
      },
    });
    this.on('stream-idle', (name) => this.#pushes.streamIdle(name));
    this.#admission = new Admission({
      log,
      sessions: this.#sessions,
      registry,
      gate: registry.gate,
      peerOf: (host, port) => this.#peerOf(host, port),
      bonded: (c, id, stream) => this.#srtla?.bindSession({ address: c.host, port: c.port }, id, stream),
      refused: (port, code) => this.#refusals.count('srt', port, code),
      auth: () => this.#auth,
      stopped: () => this.#stopped,
    });
    this.#limits = new NodeLimits({ log, registry, streams: this.#streams, sessions: this.#sessions, pool: this.#pool, bonded: () => this.#bonded }, opts.limits);
    // With no worker running, nothing accepted could be served: the ports refuse with 1503.
    this.#pool.on('workers-changed', (running) => registry.setWorkersDown(running === 0));
  }

  /** Starts workers, configured streams, listeners, pulls and pushes. */
  async start(): Promise<void> {
    if (this.#started) throw new SrtRelayError('ERR_CONFIG_INVALID', 'relay already started');
    this.#started = true;
    this.#restoreReporter = setHandlerErrorReporter((err, context) => this.#log.error({ err, ...context }, 'a reactor handler threw; the other sockets of its batch go on'));
    await this.#pool.start();
    for (const [name, s] of Object.entries(this.#opts.streams)) this.putStream(name, s);
    if (this.#opts.auth !== undefined) this.setAuth(this.#opts.auth);
    this.setLimits(this.#opts.limits);
    for (const p of this.#opts.ports) this.addPort(p);
    if (this.#opts.srtla !== undefined) {
      const bonded = (this.#bonded = new BondedAdmission(this.#limits.current, {
        sessionPeers: () => this.#sessions.list().map((s) => s.peer),
        pendingGroupsOf: (host) => this.#srtla?.pendingGroupsOf(host) ?? 0,
      }));
      this.#srtla = new SrtlaServer({ ...this.#opts.srtla, ports: this.#listeners.ports, logger: this.#log, admitGroup: (host) => bonded.admit(host) });
      await this.#srtla.start();
    }
    for (const p of this.#opts.pushes) this.addPush(p);
    this.#refusals.start();
    this.#listeners.start();
    this.#trim.start();
    this.#log.info(
      { ports: this.#listeners.srtPorts().map((p) => `${p.host}:${p.port}/${p.direction}`), workers: this.#opts.workers },
      'relay started',
    );
  }

  /** Sets the node's limits, at the start and when a config reload changes them (NodeLimits). */
  setLimits(l: RelayLimits): void {
    this.#limits.set(l, this.#started && !this.#stopped);
  }

  // ---- auth --------------------------------------------------------------------------------

  /** The webhook settings in force (defaults when none were set). */
  authSettings(): AuthSettings {
    return { ...this.#authSettings };
  }

  /** Sets (or with no webhook, turns off) webhook authorization of publishes and plays. */
  setAuth(auth: AuthSettings): void {
    this.#authSettings = { ...(auth.webhook !== undefined ? { webhook: auth.webhook } : {}), timeoutMs: auth.timeoutMs, cacheMs: auth.cacheMs, ...(auth.hold !== undefined ? { hold: auth.hold } : {}) };
    this.#auth?.stop();
    this.#auth = undefined;
    this.#log.info({ webhook: auth.webhook !== undefined, timeoutMs: auth.timeoutMs, cacheMs: auth.cacheMs }, auth.webhook === undefined ? 'auth webhook off' : 'auth webhook set');
    if (auth.webhook === undefined) return;
    this.#auth = new WebhookAuth({
      gate: this.#registry.gate,
      url: auth.webhook,
      timeoutMs: auth.timeoutMs,
      cacheMs: auth.cacheMs,
      ...(auth.hold !== undefined ? { hold: auth.hold } : {}),
      nodeId: this.nodeId,
      logger: this.#log.child({ component: 'auth' }),
      peerOf: (host, port) => this.#peerOf(host, port),
    });
    this.#auth.start();
  }

  // ---- ports -------------------------------------------------------------------------------

  /** The caller's real address: a bonded sender's (its SRTLA group's first link, `via` the group socket), else host:port. */
  #peerOf(host: string, port: number): PeerAddress {
    const real = this.#srtla?.peerOf({ address: host, port });
    return real === undefined ? { host, port } : { host: real.address, port: real.port, via: { host, port } };
  }

  /** Opens an SRT port, at the start and when a config reload adds one. Throws PortInUseError (nothing left open). */
  addPort(p: RelayPortOptions): void {
    this.#listeners.listenPort(p, this.#listeners.srtPorts().length, this.#registry.gate, (c) => this.#admission.accepted(c, p.stream, p.port, p.host));
  }

  /**
   * Closes SRT port host:port (a reload removed it): its listeners, then the sessions that came in
   * on it; returns how many, or undefined when it is not open. Other ports' sessions are untouched.
   */
  removePort(host: string, port: number): number | undefined {
    if (!this.#listeners.closePort(host, port)) return undefined;
    const ended = this.#sessions.closePort(`${host}:${port}`, 'its SRT port was removed from the configuration');
    this.#log.info({ port: `${host}:${port}`, sessionsEnded: ended }, 'SRT port closed');
    return ended;
  }

  /** Who holds this node's UDP ports (see PortRegistry). */
  get ports(): PortRegistry {
    return this.#listeners.ports;
  }

  /** The SRTLA receiver once started (undefined when `srtla` is off). */
  get srtla(): SrtlaServer | undefined {
    return this.#srtla;
  }

  /** The kernel's UDP receive drops per socket role/port/stream since the start (see UdpDropWatch). */
  udpDrops(): Promise<UdpDropCount[]> {
    return this.#listeners.udpDrops();
  }

  /** Handshakes refused since the start, by listener and reject code (drained once a second). */
  refusedHandshakes(): RefusedHandshakes[] {
    return this.#refusals.counts();
  }

  /**
   * Opens the internal listener other nodes pull streams from: play only, streams published
   * here only, every connection encrypted with the cluster passphrase (AES-256).
   */
  listenInternal(host: string, port: number, passphrase: string): void {
    this.#listeners.listenInternal(host, port, passphrase, this.#registry.internalGate(), (c) => {
      const log = this.#log.child({ stream: c.resource, peer: `${c.host}:${c.port}`, streamid: c.streamid, internal: true });
      this.#sessions.acceptViewer({ name: c.resource, socket: c.socket, peer: { host: c.host, port: c.port }, streamid: c.streamid, kind: 'cluster-serve', log });
    });
    this.#log.info({ listen: `${host}:${port}` }, 'internal cluster listener started');
  }

  // ---- streams -----------------------------------------------------------------------------

  listStreams(): Stream[] {
    return this.#streams.list();
  }

  getStream(name: string): Stream | undefined {
    return this.#streams.get(name);
  }

  /** Adds or changes a stream at runtime, all or nothing (see StreamCatalog.put). */
  putStream(name: string, s: RelayStreamOptions): Stream {
    return this.#streams.put(name, s);
  }

  /** Throws PortInUseError when a source of stream `name` would bind a port held by anything else. */
  checkStreamPorts(name: string, sources: readonly string[]): void {
    this.#streams.checkPorts(name, sources);
  }

  /** Removes a stream and closes its sessions. */
  deleteStream(name: string): boolean {
    const deleted = this.#streams.delete(name);
    if (deleted) this.#pushes.streamIdle(name);
    return deleted;
  }

  /** The stream's sources: which is active, how often it switched, each one's state. */
  sourcesOf(name: string): SourcesView | undefined {
    return this.#streams.sourcesOf(name);
  }

  // ---- cluster -----------------------------------------------------------------------------

  setRemoteOwner(name: string, owner: RemoteOwnerSource | undefined): void {
    this.#streams.setRemoteOwner(name, owner);
  }

  setRemoteQuiet(name: string, quiet: boolean): void {
    this.#streams.setRemoteQuiet(name, quiet);
  }

  remoteStreams(): Map<string, string> {
    return this.#streams.remoteStreams();
  }

  /** Redis unreachable: publishes that need a lease are refused with 1503 until it returns. */
  setClusterAvailable(available: boolean): void {
    this.#registry.setClusterDown(!available);
  }

  /** Closes the publisher session `session` of `stream` (its cluster lease went to another node). */
  closePublisher(stream: string, session: number, reason: string): void {
    if (this.#sessions.get(session)?.stream === stream) this.#pool.closeSession(session, reason);
  }

  leasedPublisher(stream: string): number | undefined {
    return this.#sessions.leasedPublisher(stream);
  }

  // ---- pushes ------------------------------------------------------------------------------

  listPushes(): PushInfo[] {
    return this.#pushes.list();
  }

  /** Starts a push of `stream` to an srt:// target (caller: connects out; listener: serves every caller) or a file:// recording. */
  addPush(p: RelayPushOptions): PushInfo {
    return this.#pushes.add(p);
  }

  removePush(id: number): boolean {
    return this.#pushes.remove(id);
  }

  updatePush(id: number, p: RelayPushOptions): PushInfo | undefined { return this.#pushes.update(id, p); } // RelayApi.updatePush

  /** The file:// pushes (recordings) of this node. */
  get recordings(): Recordings {
    return this.#pushes.recordings;
  }

  /** The folder recordings are written under (undefined: file:// pushes are refused). */
  get recordingsRoot(): string | undefined {
    return this.#opts.recordingsRoot;
  }

  // ---- sessions ----------------------------------------------------------------------------

  listSessions(): SessionInfo[] {
    return this.#sessions.list();
  }

  sessionStats(): Promise<Map<number, SessionStats>> {
    return this.#sessions.stats();
  }

  kickSession(id: number): boolean {
    return this.#sessions.close(id, 'kicked by the API');
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
    return nodeHealth(this.#pool.status(), this.#listeners.health());
  }

  /** Closes every session, listener and worker. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#refusals.stop();
    this.#limits.stop();
    this.#trim.stop();
    this.#auth?.stop();
    for (const s of this.#registry.list()) s.setSources(undefined);
    await this.#pushes.stop();
    this.#srtla?.close();
    this.#listeners.close();
    await this.#pool.stop();
    this.#restoreReporter?.();
    this.#registry.close();
    this.#log.info('relay stopped');
  }
}
