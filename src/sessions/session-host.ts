/**
 * SessionHost: runs on a worker thread and owns the SRT sessions the supervisor hands it.
 * Publishers are received straight into their stream's shared ring (native batch receive);
 * viewers are fed from the rings by one FanoutGroup per ring, woken by the ring's channel.
 */
import type { MessagePort } from 'node:worker_threads';
import { PacketRing } from '../ring/packet-ring.js';
import { setHandlerErrorReporter, subscribeChannel, type HandlerErrorContext } from '../srt/reactor.js';
import { SrtSocket } from '../srt/socket.js';
import { FanoutGroup } from './fanout-group.js';
import { HostedSession } from './hosted-session.js';
import { FileSource } from '../sources/file-source.js';
import type { FromWorker, SessionStats, ToWorker } from './messages.js';

/** How often publishers' counters are checked for silence. */
const STALL_CHECK_MS = 100;

interface RingUse {
  ring: PacketRing;
  group: FanoutGroup | undefined;
  users: number;
  unsubscribe: (() => void) | undefined;
}

export class SessionHost {
  readonly #port: MessagePort;
  readonly #worker: number;
  readonly #sessions = new Map<number, HostedSession>();
  /** By ring channel: every postMessage hands over a new SharedArrayBuffer object for the same memory. */
  readonly #rings = new Map<number, RingUse>();
  readonly #files = new Map<number, { source: FileSource; end: (reason: string) => void }>();
  /** Publishers watched for silence: packets at the last check, since when unchanged, reported. */
  readonly #quiet = new Map<number, { stallMs: number; packets: number; since: number; stalled: boolean }>();
  #quietTimer: NodeJS.Timeout | undefined;
  #done: (() => void) | undefined;

  constructor(port: MessagePort, worker: number) {
    this.#port = port;
    this.#worker = worker;
  }

  /** Serves until the supervisor says shutdown. */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#done = resolve;
      setHandlerErrorReporter((err, context) => this.#handlerError(err, context));
      this.#port.on('message', (m: ToWorker) => {
        try {
          this.#onMessage(m);
        } catch (err) {
          this.#messageFailed(m, err);
        }
      });
      this.#post({ type: 'ready', worker: this.#worker });
    });
  }

  /**
   * A reactor handler threw (the reactor caught it, the other sockets of the batch went on): tell
   * the supervisor, and end the session it belongs to, whose state is now unknown: a session
   * runs properly or is gone.
   */
  #handlerError(err: unknown, context: HandlerErrorContext): void {
    const flat: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(context)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') flat[k] = v;
    const e = err instanceof Error ? err : new Error(String(err));
    this.#post({ type: 'handler-error', context: flat, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}) });
    const session = typeof context.session === 'number' ? context.session : undefined;
    if (session !== undefined) this.#sessions.get(session)?.close(`internal error: ${e.message}`);
  }

  /** A supervisor message could not be carried out: a session it would start ends at once. */
  #messageFailed(m: ToWorker, err: unknown): void {
    const session = 'session' in m ? m.session : undefined;
    this.#handlerError(err, { message: m.type, ...(session !== undefined ? { session } : {}) });
    if ((m.type === 'attach' || m.type === 'attach-file') && !this.#sessions.has(m.session) && !this.#files.has(m.session)) {
      if (m.type === 'attach') SrtSocket.closeDetached(m.sock);
      this.#post({ type: 'session-ended', session: m.session, reason: `could not start on the worker: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  #post(m: FromWorker): void {
    this.#port.postMessage(m);
  }

  #onMessage(m: ToWorker): void {
    switch (m.type) {
      case 'attach':
        this.#attach(m);
        break;
      case 'attach-file':
        this.#attachFile(m);
        break;
      case 'confirm-publisher':
        this.#sessions.get(m.session)?.confirmPublisher();
        break;
      case 'close-session': {
        this.#sessions.get(m.session)?.close(m.reason);
        const file = this.#files.get(m.session);
        if (file !== undefined) {
          void file.source.stop();
          file.end(m.reason);
        }
        break;
      }
      case 'stats-request':
        this.#post({ type: 'stats', id: m.id, worker: this.#worker, sessions: this.#stats() });
        break;
      case 'crash':
        setImmediate(() => {
          throw new Error('worker crash requested (fault injection)');
        });
        break;
      case 'shutdown':
        clearInterval(this.#quietTimer);
        for (const s of [...this.#sessions.values()]) s.close('shutdown');
        for (const f of this.#files.values()) void f.source.stop();
        this.#port.close();
        this.#done?.();
        break;
    }
  }

  #stats(): SessionStats[] {
    const out: SessionStats[] = [];
    for (const s of this.#sessions.values()) {
      const ts = s.tsInfo();
      out.push({
        session: s.id,
        packets: s.packets(),
        skipped: s.skipped,
        srt: s.socket.stats() as Record<string, number> | undefined,
        ...(ts !== undefined ? { ts } : {}),
      });
    }
    for (const [id, f] of this.#files) {
      const ts = f.source.tsInfo();
      out.push({ session: id, packets: f.source.messages, skipped: 0, srt: undefined, ...(ts !== undefined ? { ts } : {}) });
    }
    return out;
  }

  /**
   * Every STALL_CHECK_MS: a publisher whose received count has not moved for its stallMs is
   * reported stalled (once), and resumed when it moves again. Reads counters only: nothing on
   * the packet path.
   */
  #checkQuiet(): void {
    const now = performance.now();
    for (const [id, q] of this.#quiet) {
      const s = this.#sessions.get(id);
      if (s === undefined) {
        this.#quiet.delete(id);
        continue;
      }
      if (s.role !== 'publisher') continue;
      const packets = s.packets();
      if (packets !== q.packets) {
        q.packets = packets;
        q.since = now;
        if (q.stalled) {
          q.stalled = false;
          this.#post({ type: 'publisher-resumed', session: id });
        }
      } else if (!q.stalled && now - q.since >= q.stallMs) {
        q.stalled = true;
        this.#post({ type: 'publisher-stalled', session: id, quietMs: Math.round(now - q.since) });
      }
    }
    if (this.#quiet.size === 0) {
      clearInterval(this.#quietTimer);
      this.#quietTimer = undefined;
    }
  }

  #watchQuiet(id: number, stallMs: number): void {
    this.#quiet.set(id, { stallMs, packets: -1, since: performance.now(), stalled: false });
    if (this.#quietTimer === undefined) {
      this.#quietTimer = setInterval(() => this.#checkQuiet(), STALL_CHECK_MS);
      this.#quietTimer.unref();
    }
  }

  #ringUse(buffer: SharedArrayBuffer): RingUse {
    const channel = PacketRing.channelOf(buffer);
    let use = this.#rings.get(channel);
    if (use === undefined) {
      use = { ring: PacketRing.attach(buffer), group: undefined, users: 0, unsubscribe: undefined };
      this.#rings.set(channel, use);
    }
    return use;
  }

  #group(use: RingUse): FanoutGroup {
    if (use.group === undefined) {
      const group = new FanoutGroup(use.ring);
      use.group = group;
      use.unsubscribe = subscribeChannel(use.ring.channel, () => group.flush());
    }
    use.users++;
    return use.group;
  }

  #releaseGroup(use: RingUse): void {
    if (--use.users > 0) return;
    use.unsubscribe?.();
    use.unsubscribe = undefined;
    use.group = undefined;
    this.#rings.delete(use.ring.channel);
  }

  #attachFile(m: Extract<ToWorker, { type: 'attach-file' }>): void {
    const id = m.session;
    const ring = PacketRing.attach(m.ring);
    let ended = false;
    const end = (reason: string): void => {
      if (ended) return;
      ended = true;
      this.#files.delete(id);
      this.#post({ type: 'session-ended', session: id, reason });
    };
    let live = false;
    const source = new FileSource(m.path, ring, {
      loop: m.loop,
      simulatedLive: m.simulatedLive,
      raw: m.raw === true,
      onFirstWrite: () => {
        if (!live) {
          live = true;
          this.#post({ type: 'source-live', session: id });
        }
      },
      onEnd: (err) => end(err === undefined ? 'file ended' : `file source failed: ${err.message}`),
    });
    this.#files.set(id, { source, end });
    source.start().catch((err: unknown) => end(`file source failed: ${(err as Error).message}`));
  }

  #attach(m: Extract<ToWorker, { type: 'attach' }>): void {
    const use = this.#ringUse(m.ring);
    const id = m.session;
    const join = { join: m.join, raw: m.raw === true, ...(m.timeShiftMs !== undefined ? { timeShiftMs: m.timeShiftMs } : {}) };
    // A session can end inside its constructor (its socket broke before this worker adopted
    // it): the supervisor must still hear of it, or it keeps a session nobody runs.
    let constructed = false;
    let endedEarly: string | undefined;
    const finish = (reason: string): void => {
      this.#post({ type: 'session-ended', session: id, reason });
      if (use.users === 0 && use.group === undefined) this.#rings.delete(use.ring.channel);
    };
    const session = new HostedSession(id, m.sock, use.ring, m.role, m.inferred, join, {
      group: () => this.#group(use),
      releaseGroup: () => this.#releaseGroup(use),
      ended: (reason) => {
        if (!constructed) endedEarly = reason;
        else if (this.#sessions.delete(id)) finish(reason);
      },
      mediaDetected: () => this.#post({ type: 'media-detected', session: id }),
      becameViewer: () => this.#post({ type: 'became-viewer', session: id }),
    });
    constructed = true;
    if (endedEarly !== undefined) {
      finish(endedEarly);
      return;
    }
    this.#sessions.set(id, session);
    if (m.stallMs !== undefined && m.stallMs > 0 && m.role !== 'viewer') this.#watchQuiet(id, m.stallMs);
  }
}
