/**
 * StreamCatalog: configures the node's streams — puts a stream in (all or nothing), takes it
 * out (its sessions closed, its sources stopped), and in a cluster records which other node owns
 * a stream so that viewers here are served through one internal pull. Each Stream owns its
 * sources (StreamSources) and the options it was put with; this module wires them to the
 * sessions (StreamSessions) and the node's ports.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../logging.js';
import { boundAddress, type PortRegistry } from '../srt/port-registry.js';
import type { UdpSocketInfo } from '../srt/socket.js';
import type { UdpSocketLabels } from '../srt/udp-drops.js';
import type { Stream } from '../streams/stream.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import { ringSlotsForBufferTime, sourceTexts, type RelayStreamOptions } from '../streams/stream-options.js';
import { parseSource, sourcePortHolder, StreamSources, type SourceHost, type SourcesView } from '../streams/stream-sources.js';
import type { StreamSessions } from './stream-sessions.js';
import type { RelayEvents, RemoteOwnerSource } from './relay-api.js';

export interface StreamCatalogOptions {
  log: Logger;
  registry: StreamRegistry;
  sessions: StreamSessions;
  ports: PortRegistry;
  watchUdp(socket: UdpSocketInfo | undefined, labels: UdpSocketLabels): void;
  /** Streams one wildcard listener input may create (default 100). */
  maxWildcardStreams?: number;
  events: EventEmitter<RelayEvents>;
}

export class StreamCatalog {
  #o: StreamCatalogOptions;
  readonly #registry: StreamRegistry;
  readonly #sessions: StreamSessions;
  readonly #host: SourceHost;

  constructor(opts: StreamCatalogOptions) {
    this.#o = opts;
    this.#registry = opts.registry;
    this.#sessions = opts.sessions;
    this.#host = this.#makeSourceHost();
  }

  /** limits.maxWildcardStreams changed (a config reload): wildcard inputs check the new value from now on. */
  setMaxWildcardStreams(max: number | undefined): void {
    const { maxWildcardStreams: _old, ...rest } = this.#o;
    this.#o = { ...rest, ...(max !== undefined ? { maxWildcardStreams: max } : {}) };
  }


  list(): Stream[] {
    return this.#registry.list();
  }

  get(name: string): Stream | undefined {
    return this.#registry.get(name);
  }

  /**
   * Adds or changes a stream at runtime, all or nothing: when a source cannot be set up (e.g. a
   * listener source's port is taken: PortInUseError), it throws and the stream is as before
   * (a new one not created, a changed one still running with its previous settings).
   */
  put(name: string, s: RelayStreamOptions): Stream {
    this.checkPorts(name, sourceTexts(s));
    const existing = this.#registry.get(name);
    const before = existing?.options;
    const settings = existing?.settings;
    try {
      return this.#apply(name, s);
    } catch (err) {
      // Another process bound a port between the check and the bind: put back what was there.
      const now = this.#registry.get(name);
      now?.setSources(undefined);
      if (now !== undefined) now.options = undefined;
      if (before !== undefined) this.#apply(name, before);
      else if (existing === undefined) this.delete(name);
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
  checkPorts(name: string, sources: readonly string[]): void {
    for (const text of sources) {
      const url = parseSource(text).url;
      const at = url !== undefined ? boundAddress(url) : undefined;
      if (at === undefined || url === undefined || url.mode === 'caller') continue;
      if (this.#o.ports.holderOf(at.host, at.port)?.holder === sourcePortHolder(name, url.mode)) continue;
      this.#o.ports.ensureFree(at.host, at.port);
    }
  }

  #apply(name: string, s: RelayStreamOptions): Stream {
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
      ...(s.bufferTimeMs !== undefined ? { ringSlots: ringSlotsForBufferTime(s.bufferTimeMs) } : {}),
      ...(s.latency !== undefined ? { latency: s.latency } : {}),
    });
    stream.setSources(undefined); // the previous sources stop before the new ones bind their ports
    const sources = new StreamSources(this.#host, name, parsed, {
      alwaysOn: s.alwaysOn ?? false,
      idleTimeoutMs: s.idleTimeoutMs ?? 20000,
      failoverTimeoutMs: s.failoverTimeoutMs ?? 10000,
      acceptStreamIds: s.acceptStreamIds ?? 'ignore',
      loop: s.loop ?? false,
      simulatedLive: s.simulatedLive ?? true,
    });
    stream.setSources(sources);
    sources.start();
    sources.viewersChanged(stream.viewers.size);
    stream.options = s;
    if (stream.remote !== undefined) sources.setRemote(stream.remote.source);
    return stream;
  }

  /** Removes a stream: its sessions are closed, its sources stop. */
  delete(name: string): boolean {
    const s = this.#registry.get(name);
    if (s === undefined) return false;
    this.#sessions.closeStream(name, 'stream deleted');
    this.#registry.remove(name);
    // Still live on another node: it stays playable here as a dynamic stream.
    if (s.remote !== undefined) {
      const { node, epoch, quiet, source } = s.remote;
      this.setRemoteOwner(name, { node, epoch, source, ...(quiet === true ? { quiet } : {}) });
    }
    return true;
  }

  /** The stream's sources: which is active, how often it switched, each one's state. */
  sourcesOf(name: string): SourcesView | undefined {
    return this.#registry.get(name)?.sources?.view();
  }

  // ---- cluster -----------------------------------------------------------------------------

  /**
   * Another node of the cluster owns `name` (holds its lease): viewers here are accepted at once
   * and served through one internal pull from `source`; undefined: no other node owns it.
   */
  setRemoteOwner(name: string, owner: RemoteOwnerSource | undefined): void {
    if (owner === undefined) {
      const stream = this.#registry.get(name);
      if (stream?.remote === undefined) return;
      stream.remote = undefined;
      stream.sources?.setRemote(undefined);
      this.#registry.sync(stream);
      this.#registry.collect(stream);
      return;
    }
    const stream = this.#registry.forRemote(name);
    stream.remote = { node: owner.node, epoch: owner.epoch, source: owner.source, ...(owner.quiet === true ? { quiet: true } : {}) };
    if (stream.sources === undefined) {
      // A dynamic stream: nothing configured feeds it here, only the pull from its owner. Its
      // viewers are held without a source as on the owner node (a dynamic stream there has no
      // failover timer): across an owner's death they wait for the encoder to come back anywhere.
      stream.setSources(
        new StreamSources(this.#host, name, [], {
          alwaysOn: false,
          idleTimeoutMs: owner.source.idleTimeoutMs,
          failoverTimeoutMs: undefined,
          acceptStreamIds: 'ignore',
          loop: false,
          simulatedLive: false,
        }),
      );
      stream.sources!.viewersChanged(stream.viewers.size);
    }
    this.#registry.sync(stream);
    stream.sources!.setRemote(owner.source);
  }

  /** The cluster owner of `name` says its publisher is quiet (a publish here may take over) or not. */
  setRemoteQuiet(name: string, quiet: boolean): void {
    const stream = this.#registry.get(name);
    if (stream?.remote === undefined || (stream.remote.quiet === true) === quiet) return;
    const { node, epoch, source } = stream.remote;
    stream.remote = { node, epoch, source, ...(quiet ? { quiet: true } : {}) };
    this.#registry.sync(stream);
  }

  /** Streams this node knows to be owned by another node, with the owner. */
  remoteStreams(): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of this.#registry.list()) if (s.remote !== undefined) out.set(s.name, s.remote.node);
    return out;
  }

  /** What a stream's sources need from the node. */
  #makeSourceHost(): SourceHost {
    const sessions = this.#sessions;
    const registry = this.#registry;
    const log = this.#o.log;
    return {
      log,
      gate: registry.gate,
      ports: this.#o.ports,
      watchUdp: (socket, labels) => this.#o.watchUdp(socket, labels),
      publishPulled: (stream, socket, url, sourceIndex) => {
        const s = registry.get(stream);
        const fromCluster = s?.remote !== undefined && s.sources?.remoteIndex === sourceIndex;
        // The node's own pull replaces whatever fed the stream before (e.g. a stale pull).
        return sessions.acceptPublisher({
          name: stream,
          socket,
          peer: { host: url.host, port: url.port },
          streamid: '',
          kind: fromCluster ? 'cluster-pull' : 'pull',
          log: log.child({ stream, peer: `${url.host}:${url.port}`, source: sourceIndex }),
          enforceConflict: false,
          sourceIndex,
        });
      },
      publishFromListener: (stream, c, sourceIndex) => {
        const clog = log.child({ stream: c.resource, peer: `${c.host}:${c.port}`, streamid: c.streamid });
        const base = registry.get(stream);
        if (c.resource !== stream && base !== undefined && registry.get(c.resource) === undefined) {
          const max = this.#o.maxWildcardStreams ?? 100;
          const made = registry.list().filter((s) => s.name.startsWith(`${stream}+`)).length;
          if (made >= max) {
            clog.warn({ maxWildcardStreams: max }, 'wildcard input already made its most streams; closing the sender');
            c.socket.close();
            return;
          }
          registry.derive(base, c.resource);
        }
        // A listener input's sender is a publisher like any other: the conflict policy applies.
        sessions.acceptPublisher({ name: c.resource, socket: c.socket, peer: { host: c.host, port: c.port }, streamid: c.streamid, kind: 'pull', log: clog, sourceIndex, leased: true });
      },
      startFile: (stream, path, opts, sourceIndex) => sessions.startFile(stream, path, opts, sourceIndex),
      closeSession: (session, reason) => {
        sessions.close(session, reason);
      },
      remoteFailed: (stream, reason) => {
        this.#o.events.emit('remote-failed', stream, reason);
      },
      remoteQuiet: (stream, quiet) => {
        this.#o.events.emit('remote-quiet', stream, quiet);
      },
      closeViewers: (stream, reason) => sessions.closeViewers(stream, reason),
    };
  }
}
