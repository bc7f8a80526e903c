/**
 * StreamSources: what feeds one stream, in priority order (`sources: [primary, backup, ...]`),
 * and when each runs.
 *  - push:// and srt listener inputs are passive: they feed the stream when a sender connects.
 *  - srt caller pulls and file:// sources are active: the relay starts and stops them.
 * On demand (alwaysOn false): active sources run while the stream has viewers and stop after
 * `idleTimeoutMs` without any. Always on: they run from the start and retry forever with backoff.
 * Failover: while the best source is not live, the next active source runs; when a better one
 * goes live, the worse one is stopped (the relay switches at the better one's next keyframe).
 * A source whose publisher is connected but has sent no media for the stream's takeoverAfterMs
 * counts as not live (the same notion of "publisher gone" as takeover): the next source runs
 * and, once live, replaces it.
 * Viewers of a stream with no live source are closed after `failoverTimeoutMs` (when it has one).
 */
import type { Logger } from '../logging.js';
import type { Gate } from '../srt/gate.js';
import type { SrtOptionValue } from '../srt/options.js';
import { boundAddress, type PortClaim, type PortRegistry } from '../srt/port-registry.js';
import { SrtListener, SrtSocket, type AcceptedConnection, type UdpSocketInfo } from '../srt/socket.js';
import type { UdpSocketLabels } from '../srt/udp-drops.js';
import { parseSrtUrl, type SrtUrl } from '../srt/url.js';
import { backoffDelay, RETRY_STEPS_MS } from '../util/backoff.js';

export type SourceKind = 'push' | 'srt-listener' | 'srt-caller' | 'file';

export interface ParsedSource {
  kind: SourceKind;
  text: string;
  url?: SrtUrl;
  path?: string;
}

export interface StreamSourcesOptions {
  alwaysOn: boolean;
  idleTimeoutMs: number;
  /**
   * Viewers are closed after this long without a live source. Undefined: never for that reason
   * (a stream published without configuration, held here as on the node its publisher is on).
   */
  failoverTimeoutMs: number | undefined;
  acceptStreamIds: 'wildcard' | 'ignore' | 'refuse';
  loop: boolean;
  simulatedLive: boolean;
}

/** What StreamSources needs from the relay. */
export interface SourceHost {
  readonly log: Logger;
  readonly gate: Gate;
  /** The node's UDP ports: a listener input claims its address here before it binds. */
  readonly ports: PortRegistry;
  /** Counts the kernel's receive drops of a UDP socket the relay bound. */
  watchUdp(socket: UdpSocketInfo | undefined, labels: UdpSocketLabels): void;
  /** A connected caller pull becomes the stream's publisher; returns its session or undefined. */
  publishPulled(stream: string, socket: SrtSocket, url: SrtUrl, sourceIndex: number): number | undefined;
  /** A caller accepted on a listener input publishes (conflict policy applies). */
  publishFromListener(stream: string, conn: AcceptedConnection, sourceIndex: number): void;
  /** Starts a file source on a worker; returns its session. */
  startFile(stream: string, path: string, opts: { loop: boolean; simulatedLive: boolean }, sourceIndex: number): number;
  closeSession(session: number, reason: string): void;
  /** The stream has had no live source for failoverTimeoutMs: close its viewers. */
  closeViewers(stream: string, reason: string): void;
  /** The pull from the stream's cluster owner failed or ended: find the owner again. */
  remoteFailed(stream: string, reason: string): void;
  /** The pull from the stream's cluster owner brings no media (quiet) or brings it again: the owner may be dead. */
  remoteQuiet(stream: string, quiet: boolean): void;
}

/** Where this node pulls a stream that another node of the cluster owns. */
export interface RemoteSource {
  /** Shown in the API instead of the URL (which holds the cluster passphrase): `cluster://<node>`. */
  label: string;
  url: SrtUrl;
  /** Keep pulling this long after the last local viewer left. */
  idleTimeoutMs: number;
}

type RunnerState = 'idle' | 'starting' | 'live' | 'failed';

interface Runner {
  source: ParsedSource;
  state: RunnerState;
  session: number | undefined;
  attempts: number;
  retryAt: number;
  listener: SrtListener | undefined;
  claim?: PortClaim | undefined;
  connecting: SrtSocket | undefined;
  lastError: string | undefined;
  /** Live, but its publisher has sent no media for takeoverAfterMs: fail over as if it were gone. */
  quiet: boolean;
  /** The internal pull from the stream's cluster owner (always last, only while viewers watch). */
  remote?: RemoteSource;
}

/** Who holds the port of a stream's listener or rendezvous source, in the node's PortRegistry. */
export function sourcePortHolder(stream: string, mode: 'listener' | 'rendezvous'): string {
  return `the ${mode} source of stream '${stream}'`;
}

function newRunner(source: ParsedSource): Runner {
  return { source, state: 'idle', session: undefined, attempts: 0, retryAt: 0, listener: undefined, connecting: undefined, lastError: undefined, quiet: false };
}

export function parseSource(text: string, baseDir?: string): ParsedSource {
  const t = text.trim();
  if (t === 'push://' || t.startsWith('push://')) return { kind: 'push', text: t };
  if (t.startsWith('file://')) {
    let path = decodeURIComponent(t.slice('file://'.length));
    if (!path.startsWith('/') && baseDir !== undefined) path = `${baseDir}/${path}`;
    return { kind: 'file', text: t, path };
  }
  const url = parseSrtUrl(t);
  return { kind: url.mode === 'listener' ? 'srt-listener' : 'srt-caller', text: t, url };
}

export interface SourcesView {
  active: number | undefined;
  activeSource: string | undefined;
  switches: number;
  sources: Array<{ source: string; kind: SourceKind; state: RunnerState; attempts: number; lastError?: string }>;
}

export class StreamSources {
  readonly stream: string;
  readonly #host: SourceHost;
  readonly #runners: Runner[];
  /** Configured sources; the remote runner, when there is one, comes after them. */
  readonly #configured: number;
  readonly #opts: StreamSourcesOptions;
  #viewers = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #failoverTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #switches = 0;
  #lastLive: number | undefined;
  #stopped = false;

  constructor(host: SourceHost, stream: string, sources: ParsedSource[], opts: StreamSourcesOptions) {
    this.#host = host;
    this.stream = stream;
    this.#opts = opts;
    this.#runners = sources.map((source) => newRunner(source));
    this.#configured = sources.length;
  }

  /**
   * Sets (or with undefined removes) the stream's pull from its cluster owner. It runs only
   * while the stream has viewers here, after every configured source, and stops `idleTimeoutMs`
   * after the last viewer left. A new owner replaces the old pull.
   */
  setRemote(remote: RemoteSource | undefined): void {
    const current = this.#runners[this.#configured];
    if (current?.remote !== undefined && remote !== undefined && current.remote.url.raw === remote.url.raw) return;
    if (current !== undefined) {
      this.#stopRunner(current, remote === undefined ? 'stream no longer live in the cluster' : 'the stream moved to another node');
      this.#runners.length = this.#configured;
    }
    if (remote !== undefined) {
      const r = newRunner({ kind: 'srt-caller', text: remote.label, url: remote.url });
      r.remote = remote;
      this.#runners.push(r);
    }
    this.#ensure();
    this.#armIdle();
    this.#armFailover();
  }

  /** True while the pull from the cluster owner runs or starts. */
  get remoteActive(): boolean {
    const r = this.#runners[this.#configured];
    return r !== undefined && (r.state === 'live' || r.state === 'starting');
  }

  /** Index the remote pull's publisher session has (sources before it win). */
  get remoteIndex(): number {
    return this.#configured;
  }

  /** True when a publisher (not a relay-run source) may publish with push://. */
  get acceptsPush(): boolean {
    return this.#runners.some((r) => r.source.kind === 'push');
  }

  /** Index of the push:// source (the priority of a publisher that connects by itself). */
  get pushIndex(): number {
    const i = this.#runners.findIndex((r) => r.source.kind === 'push');
    return i < 0 ? 0 : i;
  }

  get hasActiveSources(): boolean {
    return this.#runners.some((r) => r.remote === undefined && (r.source.kind === 'srt-caller' || r.source.kind === 'file'));
  }

  get onDemand(): boolean {
    return !this.#opts.alwaysOn && this.hasActiveSources;
  }

  start(): void {
    this.#runners.forEach((r, i) => {
      if (r.source.kind === 'srt-listener') this.#listen(r, i);
      // A rendezvous source binds its local port at each attempt: it holds it while configured.
      const url = r.source.url;
      const at = url?.mode === 'rendezvous' ? boundAddress(url) : undefined;
      if (at !== undefined) r.claim = this.#host.ports.claim(at.host, at.port, sourcePortHolder(this.stream, 'rendezvous'));
    });
    this.#ensure();
  }

  stop(): void {
    this.#stopped = true;
    for (const t of [this.#idleTimer, this.#failoverTimer, this.#retryTimer]) if (t !== undefined) clearTimeout(t);
    this.#runners.forEach((r) => this.#stopRunner(r, 'source removed'));
    for (const r of this.#runners) {
      r.listener?.close();
      r.listener = undefined;
      r.claim?.release();
      r.claim = undefined;
    }
  }

  view(): SourcesView {
    const active = this.#runners.findIndex((r) => r.state === 'live');
    return {
      active: active < 0 ? undefined : active,
      activeSource: active < 0 ? undefined : this.#runners[active]!.source.text,
      switches: this.#switches,
      sources: this.#runners.map((r) => ({
        source: r.source.text,
        kind: r.source.kind,
        state: r.state,
        attempts: r.attempts,
        ...(r.lastError !== undefined ? { lastError: r.lastError } : {}),
      })),
    };
  }

  /** The relay counts viewers; demand starts and stops on-demand sources. */
  viewersChanged(count: number): void {
    this.#viewers = count;
    this.#armIdle();
    this.#ensure();
    this.#armFailover();
  }

  /** Without viewers, on-demand sources and the remote pull stop after their idle timeout. */
  #armIdle(): void {
    if (this.#viewers > 0 && this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    const remote = this.#runners[this.#configured]?.remote;
    if (this.#viewers > 0 || this.#idleTimer !== undefined || (!this.onDemand && remote === undefined)) return;
    const ms = this.onDemand ? Math.min(this.#opts.idleTimeoutMs, remote?.idleTimeoutMs ?? Infinity) : remote!.idleTimeoutMs;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#viewers > 0) return;
      this.#host.log.info({ stream: this.stream }, 'no viewers for idleTimeoutMs: stopping on-demand source');
      this.#runners.forEach((r) => {
        if (!this.#opts.alwaysOn || r.remote !== undefined) this.#stopRunner(r, 'idle');
      });
    }, ms);
    this.#idleTimer.unref();
  }

  /** A publisher from source `index` went live. */
  publisherStarted(index: number, session: number): void {
    const r = this.#runners[index];
    if (r === undefined) return;
    r.state = 'live';
    r.session = session;
    r.quiet = false;
    r.attempts = 0;
    r.lastError = undefined;
    if (this.#lastLive !== undefined && this.#lastLive !== index) this.#switches++;
    this.#lastLive = index;
    if (this.#failoverTimer !== undefined) {
      clearTimeout(this.#failoverTimer);
      this.#failoverTimer = undefined;
    }
    // A better source is live: worse running sources stop.
    for (let j = index + 1; j < this.#runners.length; j++) this.#stopRunner(this.#runners[j]!, 'a better source is live');
  }

  /**
   * The publisher of source `index` has sent no media for takeoverAfterMs (quiet) or sends
   * again. Quiet: the next source that can run starts (failover). Sending again before a worse
   * source took over: the worse ones stop.
   */
  publisherQuiet(index: number, session: number, quiet: boolean): void {
    const r = this.#runners[index];
    if (r === undefined || r.session !== session || r.state !== 'live' || r.quiet === quiet) return;
    r.quiet = quiet;
    if (r.remote !== undefined) this.#host.remoteQuiet(this.stream, quiet);
    if (quiet) {
      this.#host.log.warn({ stream: this.stream, source: index }, 'source sent no media for takeoverAfterMs: failing over to the next source');
      this.#ensure();
    } else {
      for (let j = index + 1; j < this.#runners.length; j++) this.#stopRunner(this.#runners[j]!, 'the better source sends media again');
    }
  }

  /** True while source `index` is live but quiet (a worse source may replace it). */
  isQuiet(index: number): boolean {
    return this.#runners[index]?.quiet === true;
  }

  /** The publisher session of source `index` ended. */
  publisherEnded(index: number, session: number, reason: string): void {
    const r = this.#runners[index];
    if (r === undefined || r.session !== session) return;
    r.session = undefined;
    r.quiet = false;
    if (r.state === 'idle') return; // stopped on purpose
    const active = r.source.kind === 'srt-caller' || r.source.kind === 'file';
    r.state = active ? 'failed' : 'idle';
    r.lastError = reason;
    if (active) r.retryAt = Date.now() + backoffDelay(r.attempts + 1, { steps: RETRY_STEPS_MS });
    if (r.remote !== undefined) this.#host.remoteFailed(this.stream, reason);
    this.#ensure();
    this.#armFailover();
  }

  /** Which source index a relay-run session belongs to. */
  indexOfSession(session: number): number | undefined {
    const i = this.#runners.findIndex((r) => r.session === session);
    return i < 0 ? undefined : i;
  }

  #demand(): boolean {
    return this.#opts.alwaysOn || this.#viewers > 0;
  }

  #armFailover(): void {
    const live = this.#runners.some((r) => r.state === 'live');
    const ms = this.#opts.failoverTimeoutMs;
    if (live || this.#viewers === 0 || ms === undefined) {
      if (this.#failoverTimer !== undefined) clearTimeout(this.#failoverTimer);
      this.#failoverTimer = undefined;
      return;
    }
    if (this.#failoverTimer !== undefined) return;
    this.#failoverTimer = setTimeout(() => {
      this.#failoverTimer = undefined;
      if (this.#runners.some((r) => r.state === 'live')) return;
      this.#host.log.info({ stream: this.stream, failoverTimeoutMs: ms }, 'no source came back: closing viewers');
      this.#host.closeViewers(this.stream, 'no source within failoverTimeoutMs');
    }, ms);
    this.#failoverTimer.unref();
  }

  /** Starts the best source that can run when nothing better is live or starting. */
  #ensure(): void {
    if (this.#stopped || !this.#demand()) return;
    const now = Date.now();
    let nextRetry = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#runners.length; i++) {
      const r = this.#runners[i]!;
      if ((r.state === 'live' && !r.quiet) || r.state === 'starting') return;
      if (r.state === 'live') continue; // quiet: fail over to the next source
      if (r.source.kind === 'push' || r.source.kind === 'srt-listener') continue; // waits for its sender
      if (r.remote !== undefined && this.#viewers === 0) continue; // the cluster pull only serves viewers
      if (r.state === 'failed' && r.retryAt > now) {
        nextRetry = Math.min(nextRetry, r.retryAt);
        continue; // fail over to the next source meanwhile
      }
      this.#startRunner(r, i);
      return;
    }
    if (Number.isFinite(nextRetry) && this.#retryTimer === undefined) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#ensure();
      }, Math.max(50, nextRetry - now));
      this.#retryTimer.unref();
    }
  }

  #startRunner(r: Runner, index: number): void {
    r.state = 'starting';
    r.attempts++;
    if (r.source.kind === 'file') {
      r.session = this.#host.startFile(this.stream, r.source.path!, { loop: this.#opts.loop, simulatedLive: this.#opts.simulatedLive }, index);
      return;
    }
    const url = r.source.url!;
    const socket = SrtSocket.create(url.options as Record<string, SrtOptionValue>);
    r.connecting = socket;
    const connect =
      url.mode === 'rendezvous'
        ? socket.rendezvous(url.adapter ?? '', url.localPort ?? url.port, url.host, url.port)
        : socket.connect(url.host, url.port, { guard: true });
    connect.then(
      () => {
        r.connecting = undefined;
        if (r.state !== 'starting' || this.#stopped) {
          socket.close();
          return;
        }
        this.#host.watchUdp(socket.udpSocket, { role: 'pull', stream: this.stream });
        const session = this.#host.publishPulled(this.stream, socket, url, index);
        if (session === undefined) this.publisherEnded(index, -1, 'refused');
        else r.session = session;
      },
      (err: unknown) => {
        r.connecting = undefined;
        if (r.state !== 'starting') return;
        r.state = 'failed';
        r.lastError = err instanceof Error ? err.message : String(err);
        r.retryAt = Date.now() + backoffDelay(r.attempts, { steps: RETRY_STEPS_MS });
        this.#host.log.warn({ stream: this.stream, source: index, err: r.lastError, attempt: r.attempts }, 'source failed; retrying with backoff');
        if (r.remote !== undefined) this.#host.remoteFailed(this.stream, r.lastError);
        this.#ensure();
      },
    );
  }

  #stopRunner(r: Runner, reason: string): void {
    if (r.source.kind === 'push' || r.source.kind === 'srt-listener') return;
    const wasRunning = r.state !== 'idle';
    r.state = 'idle';
    r.connecting?.close();
    r.connecting = undefined;
    if (r.session !== undefined) this.#host.closeSession(r.session, reason);
    r.session = undefined;
    if (wasRunning) this.#host.log.info({ stream: this.stream, source: r.source.text, reason }, 'source stopped');
  }

  #listen(r: Runner, index: number): void {
    const url = r.source.url!;
    const l = this.#host.ports.bindWith(url.host, url.port, sourcePortHolder(this.stream, 'listener'), (claim) => {
      const created = SrtListener.create(url.host, url.port, url.options as Record<string, SrtOptionValue>);
      claim.track(created.udpSocket);
      r.claim = claim;
      return created;
    });
    l.attachGate(this.#host.gate, 1, this.stream, this.#opts.acceptStreamIds);
    l.listen((c) => this.#host.publishFromListener(this.stream, c, index));
    r.listener = l;
    this.#host.watchUdp(l.udpSocket, { role: 'listener-input', port: url.port, stream: this.stream });
    this.#host.log.info({ stream: this.stream, listen: `${url.host || '0.0.0.0'}:${url.port}` }, 'listening for the stream source');
  }
}
