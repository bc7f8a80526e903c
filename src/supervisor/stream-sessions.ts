/**
 * StreamSessions: the one owner of the node's sessions. It admits a connection as a stream's
 * publisher (per the arbiter: refuse / replace / take over a quiet one / undecided) or viewer,
 * hands its socket to a worker thread, follows what the workers report (media from an undecided
 * caller, a silent one, a quiet publisher, a file source going live) and, when a session ends,
 * undoes everything it was: the stream's publisher, one of its viewers, a source's feed, a push.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../logging.js';
import { SrtSocket } from '../srt/socket.js';
import { parseStreamId } from '../srt/streamid.js';
import { readNegotiated } from '../srt/negotiated.js';
import type { SessionRole, SessionStats, ToWorker } from '../sessions/messages.js';
import type { WorkerPool } from '../sessions/worker-pool.js';
import { ringBytesFor } from '../ring/packet-ring.js';
import { DEFAULT_TAKEOVER_AFTER_MS } from '../streams/defaults.js';
import type { Stream, PeerAddress } from '../streams/stream.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import { decidePublisher } from './arbiter.js';
import type { RelayEvents, RelayLimits, SessionInfo, SessionKind } from './relay-api.js';

type AttachMessage = Extract<ToWorker, { type: 'attach' }>;

/** A connection that is about to become a session. */
export interface Incoming {
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
  /** The node's SRT port (srt.ports) the caller came in on, as `host:port`, when it came in on one. */
  srtPort?: string;
}

export interface StreamSessionsOptions {
  log: Logger;
  registry: StreamRegistry;
  pool: WorkerPool;
  limits: RelayLimits;
  /** Ring slots of a new stream (limits.maxRingMemoryMb must still fit one). */
  ringSlots: number;
  /** Where the events go (the Relay). */
  events: EventEmitter<RelayEvents>;
  /** A stream got a publisher here (not an internal cluster pull): its pushes start. */
  published(stream: string): void;
  /** After a session ended and was undone (pushes, memory trim). */
  ended(session: number, reason: string): void;
}

export class StreamSessions {
  readonly #o: StreamSessionsOptions;
  readonly #log: Logger;
  readonly #registry: StreamRegistry;
  readonly #pool: WorkerPool;
  readonly #sessions = new Map<number, SessionInfo>();
  /** Replaced publisher session → the session to confirm as publisher once it has ended. */
  readonly #confirmAfter = new Map<number, number>();
  #nextSession = 1;
  #limits: RelayLimits;
  /** Session → the SRT port (srt.ports, `host:port`) it came in on; closePort ends them when the port goes. */
  readonly #portOf = new Map<number, string>();

  constructor(opts: StreamSessionsOptions) {
    this.#o = opts;
    this.#limits = opts.limits;
    this.#log = opts.log;
    this.#registry = opts.registry;
    this.#pool = opts.pool;
    const pool = opts.pool;
    pool.on('session-ended', (id, reason) => this.#sessionEnded(id, reason));
    pool.on('media-detected', (id) => this.#mediaDetected(id));
    pool.on('became-viewer', (id) => this.#becameViewer(id));
    pool.on('source-live', (id) => this.#fileLive(id));
    pool.on('publisher-stalled', (id, quietMs) => this.#publisherQuiet(id, quietMs));
    pool.on('publisher-resumed', (id) => this.#publisherQuiet(id, undefined));
  }

  get(id: number): SessionInfo | undefined {
    return this.#sessions.get(id);
  }

  list(): SessionInfo[] {
    return [...this.#sessions.values()];
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** New limits (a config reload): what the gate refuses for load and viewers is recomputed at once. */
  setLimits(limits: RelayLimits): void {
    this.#limits = limits;
    this.updateLoad();
    for (const s of this.#registry.list()) this.#registry.sync(s);
  }

  /** Closes every session that came in on SRT port `port` (`host:port`, being removed); returns how many. */
  closePort(port: string, reason: string): number {
    let n = 0;
    for (const [id, p] of this.#portOf) {
      if (p === port && this.#sessions.has(id)) {
        this.#pool.closeSession(id, reason);
        n++;
      }
    }
    return n;
  }

  /** limits.maxSessions reached: a caller accepted now is closed at once. */
  get full(): boolean {
    const max = this.#limits.maxSessions;
    return max !== undefined && this.#sessions.size >= max;
  }

  async stats(): Promise<Map<number, SessionStats>> {
    const out = new Map<number, SessionStats>();
    for (const s of await this.#pool.stats()) out.set(s.session, s);
    return out;
  }

  close(id: number, reason: string): boolean {
    if (!this.#sessions.has(id)) return false;
    return this.#pool.closeSession(id, reason);
  }

  /** Closes every session of stream `name`. */
  closeStream(name: string, reason: string): void {
    for (const info of this.#sessions.values()) if (info.stream === name) this.#pool.closeSession(info.id, reason);
  }

  /** Closes the viewers of stream `name` (its sources failed for failoverTimeoutMs). */
  closeViewers(name: string, reason: string): void {
    const s = this.#registry.get(name);
    if (s === undefined) return;
    for (const id of s.viewers) this.#pool.closeSession(id, reason);
  }

  /** Recomputes what the gate refuses for load: sessions, streams, ring memory. */
  updateLoad(): void {
    const l = this.#limits;
    this.#registry.setOverloaded(this.full);
    const streams = this.#registry.list();
    // A new stream's ring: the default size must still fit under the memory limit.
    const ringFull = l.maxRingMemoryMb !== undefined && this.#registry.ringBytes() + ringBytesFor(this.#o.ringSlots) > l.maxRingMemoryMb * 1048576;
    this.#registry.setFull((l.maxStreams !== undefined && streams.length >= l.maxStreams) || ringFull);
  }

  #newSession(kind: SessionKind, stream: string, peer: PeerAddress, streamid: string): SessionInfo {
    const info: SessionInfo = { id: this.#nextSession++, kind, stream, peer, streamid, since: Date.now(), worker: undefined };
    this.#sessions.set(info.id, info);
    this.updateLoad();
    return info;
  }

  acceptPublisher(c: Incoming): number | undefined {
    const { name, socket, peer, streamid, kind, log, inferred = false, enforceConflict = true, sourceIndex, leased = false } = c;
    const stream = this.#registry.forPublish(name);
    if (stream === undefined) {
      log.warn('publish to an unknown stream slipped past the gate; closing');
      socket.close();
      return undefined;
    }
    const info = this.#newSession(inferred ? 'undecided' : kind, name, peer, streamid);
    if (c.srtPort !== undefined) this.#portOf.set(info.id, c.srtPort);
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
      this.#portOf.delete(info.id);
      socket.close();
      return undefined;
    }
    // Same worker as a replaced publisher: it closes the old one before the new one writes.
    this.#handOver(info, socket, () => this.#attachMessage(info, stream, socket, 'publisher', false), old);
    log.info({ session: info.id, worker: info.worker }, 'publisher connected');
    return info.id;
  }

  acceptViewer(c: Incoming): number | undefined {
    const { name, socket, peer, streamid, kind, log, inferred = false } = c;
    const stream = this.#registry.get(name);
    if (stream === undefined || !stream.playable) {
      log.warn('play of a stream that is not live slipped past the gate; closing');
      socket.close();
      return undefined;
    }
    const info = this.#newSession(kind, name, peer, streamid);
    if (c.srtPort !== undefined) this.#portOf.set(info.id, c.srtPort);
    stream.viewers.add(info.id);
    this.#viewersChanged(stream);
    this.#handOver(info, socket, () => this.#attachMessage(info, stream, socket, 'viewer', inferred));
    log.info({ session: info.id, worker: info.worker, kind }, 'viewer connected');
    return info.id;
  }

  /** Starts a file source of `stream` on a worker; its session publishes once the worker says it is live. */
  startFile(stream: string, path: string, opts: { loop: boolean; simulatedLive: boolean }, sourceIndex: number): number {
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
  }

  /** The session that publishes `stream` here from outside (holding its lease), if any. */
  leasedPublisher(stream: string): number | undefined {
    const s = this.#registry.get(stream)?.publisher?.session;
    return s !== undefined && this.#sessions.get(s)?.leased === true ? s : undefined;
  }

  /**
   * Hands the session's socket to a worker. A session is running on a worker or gone: if the
   * hand-over fails, the socket is closed and the session removed from every table at once (the
   * pool itself ends it on the next tick when no worker runs).
   */
  #handOver(info: SessionInfo, socket: SrtSocket, message: () => AttachMessage, sameAs?: number): void {
    info.negotiated ??= readNegotiated(socket);
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
      this.updateLoad(); // a new ring counts against limits.maxRingMemoryMb from now on
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
    if (info === undefined || stream === undefined || stream.publisher?.session !== id) return;
    // Failover to a backup source uses the same notion of "publisher gone" as takeover.
    stream.sources?.publisherQuiet(stream.publisher.sourceIndex, id, quietMs !== undefined);
    // Only publishers from outside (the port, a listener input) can be taken over, under refuse;
    // the relay's own pulls have their source failover (StreamSources).
    if ((info.kind !== 'publisher' && info.leased !== true) || stream.settings.onPublisherConflict !== 'refuse') return;
    const stalled = quietMs !== undefined;
    if (stream.publisherStalled === stalled) return;
    stream.publisherStalled = stalled;
    this.#registry.sync(stream);
    const log = this.#log.child({ stream: stream.name, session: id, peer: `${info.peer.host}:${info.peer.port}` });
    if (stalled) log.warn({ quietMs }, 'publisher sent no media for takeoverAfterMs: a new publisher may take the stream over');
    else log.info('publisher sends media again');
    if (info.leased === true) this.#o.events.emit('publisher-quiet', stream.name, id, stalled);
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
      currentSourceQuiet: old !== undefined && stream.sources?.isQuiet(old.sourceIndex) === true,
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
    stream.sources?.publisherStarted(index, info.id);
    const events = this.#o.events;
    if (old === undefined) events.emit('stream-live', stream.name);
    if (info.leased === true) {
      events.emit('publisher-started', stream.name, info.id, stream.settings.onPublisherConflict);
      // It took over from a quiet publisher here: the lease (kept) must not stay marked quiet.
      if (wasQuiet) events.emit('publisher-quiet', stream.name, info.id, false);
    }
    // Pushes run where the stream is published, not on every node that pulls it.
    if (!fromCluster) this.#o.published(stream.name);
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

  /** A file source's worker reports it live (first packets in the ring). */
  #fileLive(id: number): void {
    const info = this.#sessions.get(id);
    const stream = info === undefined ? undefined : this.#registry.get(info.stream);
    if (info === undefined || stream === undefined) return;
    const log = this.#log.child({ stream: stream.name, session: id });
    if (!this.#takePublisher(stream, info, log, false)) this.#pool.closeSession(id, 'a better source is live');
  }

  #sessionEnded(id: number, reason: string): void {
    const info = this.#sessions.get(id);
    if (info === undefined) {
      this.#o.ended(id, reason);
      return;
    }
    this.#sessions.delete(id);
    this.#portOf.delete(id);
    this.updateLoad();
    const successor = this.#confirmAfter.get(id);
    if (successor !== undefined) {
      this.#confirmAfter.delete(id);
      this.#pool.confirmPublisher(successor);
    }
    const stream = this.#registry.get(info.stream);
    this.#log.info({ session: id, stream: info.stream, kind: info.kind, reason }, 'session ended');
    if (info.leased === true && info.kind !== 'viewer') this.#o.events.emit('publisher-ended', info.stream, id);
    if (stream !== undefined) {
      if (stream.publisher?.session === id) {
        stream.publisher = undefined;
        stream.publisherStalled = false;
        this.#registry.sync(stream);
        this.#o.events.emit('stream-idle', stream.name);
      }
      if (stream.viewers.delete(id)) this.#viewersChanged(stream);
      if (info.sourceIndex !== undefined && info.kind !== 'viewer') stream.sources?.publisherEnded(info.sourceIndex, id, reason);
      this.#registry.collect(stream); // a dynamic stream nobody uses any more goes (its sources stop)
      this.updateLoad();
    }
    this.#o.ended(id, reason);
  }

  #viewersChanged(stream: Stream): void {
    stream.sources?.viewersChanged(stream.viewers.size);
    if (this.#limits.maxViewersPerStream !== undefined) this.#registry.sync(stream);
  }
}
