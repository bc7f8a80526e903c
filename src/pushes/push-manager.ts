/**
 * PushManager: the node's pushes — a stream sent out to an srt:// target, as a caller (one
 * connection out, retried with backoff when `auto`), a rendezvous peer, or a listener serving
 * every caller. A push waits until its stream has a publisher here (pushes run where the stream
 * is published, not on every node that pulls it) and its session is a viewer of the stream.
 * A file:// target is a recording (src/recording/recordings.ts); it shares the pushes' ids.
 */
import type { Logger } from '../logging.js';
import type { Gate } from '../srt/gate.js';
import type { SrtOptionValue } from '../srt/options.js';
import { boundAddress, type PortClaim, type PortRegistry } from '../srt/port-registry.js';
import { SrtSocket, type AcceptedConnection, type SrtListener } from '../srt/socket.js';
import type { UdpSocketInfo } from '../srt/socket.js';
import type { UdpSocketLabels } from '../srt/udp-drops.js';
import { parseSrtUrl, type SrtUrl } from '../srt/url.js';
import { maskUrl } from '../config/secrets.js';
import { backoffDelay, RETRY_STEPS_MS } from '../util/backoff.js';
import type { PeerAddress } from '../streams/stream.js';
import type { PushInfo, RelayPushOptions } from '../supervisor/relay-api.js';
import { Recordings } from '../recording/recordings.js';
import { checkFileTarget, isFileTarget } from '../recording/target.js';

/** What a push needs from the relay. */
export interface PushHost {
  readonly log: Logger;
  readonly gate: Gate;
  readonly ports: PortRegistry;
  /** Opens a listener push's port (claimed in the node's PortRegistry as `holder`). */
  listen(url: SrtUrl, holder: string, stream: string, onConnection: (c: AcceptedConnection) => void): { listener: SrtListener; claim: PortClaim };
  watchUdp(socket: UdpSocketInfo | undefined, labels: UdpSocketLabels): void;
  /** The stream has a publisher on this node. */
  isPublished(stream: string): boolean;
  /** Makes a connected socket a viewer session (kind `push`) of the stream; undefined when it cannot play. */
  serve(stream: string, socket: SrtSocket, peer: PeerAddress, streamid: string, log: Logger): number | undefined;
  closeSession(session: number, reason: string): void;
  readonly nodeId: string;
  /** Absolute folder recordings write under; undefined: file:// pushes are refused. */
  readonly recordingsRoot: string | undefined;
  /** The stream's ring when it is live here from a local publisher (what a recording reads). */
  liveRing(stream: string): SharedArrayBuffer | undefined;
  /** The stream's ring head now (undefined: no ring yet). */
  ringHead(stream: string): number | undefined;
}

interface PushState extends PushInfo {
  url: SrtUrl;
  listener: SrtListener | undefined;
  claim: PortClaim | undefined;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

function view(p: PushState): PushInfo {
  return { id: p.id, stream: p.stream, target: maskUrl(p.target), auto: p.auto, state: p.state, session: p.session, attempts: p.attempts, lastError: p.lastError };
}

export class PushManager {
  readonly #host: PushHost;
  readonly #pushes = new Map<number, PushState>();
  /** The file:// pushes. */
  readonly recordings: Recordings;
  #nextPush = 1;

  constructor(host: PushHost) {
    this.#host = host;
    this.recordings = new Recordings({
      nodeId: host.nodeId,
      root: host.recordingsRoot,
      log: host.log.child({ component: 'recording' }),
      nextId: () => this.#nextPush++,
      live: (name) => host.liveRing(name),
      ringHead: (name) => host.ringHead(name),
    });
  }

  list(): PushInfo[] {
    return [...[...this.#pushes.values()].map(view), ...this.recordings.list()].sort((a, b) => a.id - b.id);
  }

  /** Starts a push of `stream` to an srt:// target (caller: connects out; listener: serves every caller). */
  add(p: RelayPushOptions): PushInfo {
    return this.#add(p, undefined);
  }

  /**
   * Replaces push `id` with `p` under the same id: the old push stops (its connection, listener
   * or recording segment closed), the new one starts. All or nothing: when the new target cannot
   * be set up (a listener port in use: ERR_PORT_IN_USE; a file:// target outside
   * recordingsRoot), the old push is put back and the error thrown. Undefined: no push `id`.
   */
  update(id: number, p: RelayPushOptions): PushInfo | undefined {
    const old = this.options(id);
    if (old === undefined) return undefined;
    // Checked before the old push stops: a recording's folder, a port some other holder has.
    if (isFileTarget(p.target)) checkFileTarget(p.target, this.#host.recordingsRoot, { stream: p.stream, node: this.#host.nodeId });
    else {
      const at = boundAddress(parseSrtUrl(p.target));
      const was = isFileTarget(old.target) ? undefined : boundAddress(parseSrtUrl(old.target));
      if (at !== undefined && !(was !== undefined && was.host === at.host && was.port === at.port)) this.#host.ports.ensureFree(at.host, at.port);
    }
    this.remove(id);
    try {
      return this.#add(p, id);
    } catch (err) {
      this.remove(id); // a listener target is recorded before its port binds
      try {
        this.#add(old, id);
      } catch (again) {
        this.#host.log.error({ push: id, err: again instanceof Error ? again.message : String(again) }, 'push edit failed and the old push could not be restored');
      }
      throw err;
    }
  }

  /** What push `id` was added with (the target unmasked), or undefined. */
  options(id: number): RelayPushOptions | undefined {
    const r = this.recordings.options(id);
    if (r !== undefined) return r;
    const p = this.#pushes.get(id);
    return p === undefined ? undefined : { stream: p.stream, target: p.target, auto: p.auto };
  }

  #add(p: RelayPushOptions, given: number | undefined): PushInfo {
    if (isFileTarget(p.target)) return this.recordings.add(p, given);
    const url = parseSrtUrl(p.target);
    const at = url.mode === 'rendezvous' ? boundAddress(url) : undefined;
    const id = given ?? this.#nextPush++;
    const push: PushState = {
      id,
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
      claim: at !== undefined ? this.#host.ports.claim(at.host, at.port, `rendezvous push ${id} of stream '${p.stream}'`) : undefined,
      timer: undefined,
      stopped: false,
    };
    this.#pushes.set(push.id, push);
    if (url.mode === 'listener') this.#listen(push);
    else this.#maybeStart(push);
    return view(push);
  }

  remove(id: number): boolean {
    if (this.recordings.remove(id)) return true;
    const p = this.#pushes.get(id);
    if (p === undefined) return false;
    p.stopped = true;
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.listener?.close();
    p.claim?.release();
    if (p.session !== undefined) this.#host.closeSession(p.session, 'push removed');
    this.#pushes.delete(id);
    return true;
  }

  /** `stream` got a publisher here: its waiting pushes start. */
  streamPublished(stream: string): void {
    for (const p of this.#pushes.values()) if (p.stream === stream) this.#maybeStart(p);
    this.recordings.streamLive(stream);
  }

  /** `stream` lost its publisher here or was deleted: its recordings end their segment. */
  streamIdle(stream: string): void {
    this.recordings.streamIdle(stream);
  }

  /** A session ended: if it was a push's, the push ends (and retries when auto). */
  sessionEnded(session: number, reason: string): void {
    for (const p of this.#pushes.values()) if (p.session === session) this.#ended(p, reason);
  }

  async stop(): Promise<void> {
    for (const id of [...this.#pushes.keys()]) this.remove(id);
    await this.recordings.stop();
  }

  #listen(push: PushState): void {
    const holder = `listener push ${push.id} of stream '${push.stream}'`;
    const { listener, claim } = this.#host.listen(push.url, holder, push.stream, (c) => {
      const log = this.#host.log.child({ stream: push.stream, peer: `${c.host}:${c.port}`, push: push.id });
      this.#host.serve(push.stream, c.socket, { host: c.host, port: c.port }, c.streamid, log);
    });
    push.listener = listener;
    push.claim = claim;
    push.state = 'active';
  }

  #maybeStart(push: PushState): void {
    if (push.stopped || push.listener !== undefined || push.session !== undefined || push.state === 'connecting') return;
    if (push.state === 'done' || push.state === 'failed') return;
    if (!this.#host.isPublished(push.stream)) {
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
        this.#host.watchUdp(socket.udpSocket, { role: 'push', stream: push.stream });
        const log = this.#host.log.child({ stream: push.stream, push: push.id, peer: `${push.url.host}:${push.url.port}` });
        const session = this.#host.serve(push.stream, socket, { host: push.url.host, port: push.url.port }, '', log);
        if (session === undefined) {
          this.#ended(push, 'stream not live');
          return;
        }
        push.session = session;
        push.state = 'active';
        push.attempts = 0;
      },
      (err: unknown) => {
        push.lastError = err instanceof Error ? err.message : String(err);
        this.#host.log.warn({ stream: push.stream, push: push.id, err: push.lastError }, 'push connect failed');
        this.#ended(push, push.lastError);
      },
    );
  }

  #ended(push: PushState, reason: string): void {
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
      this.#maybeStart(push);
    }, delay);
  }
}
