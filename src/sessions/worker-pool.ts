/**
 * WorkerPool: the supervisor's view of the session-hosting worker threads. piscina owns the
 * threads (one long-lived host task per thread, so each task lands on its own worker) and
 * replaces a thread that dies; this class routes sessions to the least-loaded host, relays
 * their messages, and reports the sessions a dead worker took down with it.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from '../logging.js';
import type { FromWorker, SessionStats, ToWorker } from './messages.js';

interface Host {
  index: number;
  port: MessagePort;
  ready: boolean;
  sessions: Set<number>;
}

export interface WorkerPoolEvents {
  'session-ended': [session: number, reason: string];
  'media-detected': [session: number];
  'became-viewer': [session: number];
  'source-live': [session: number];
  'publisher-stalled': [session: number, quietMs: number];
  'publisher-resumed': [session: number];
}

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #threads: number;
  readonly #log: Logger;
  readonly #hosts: Host[] = [];
  readonly #sessionHost = new Map<number, Host>();
  #pool: Piscina | undefined;
  #stopping = false;
  #statsId = 0;
  readonly #statsWaiters = new Map<number, { pending: number; out: SessionStats[]; done: (s: SessionStats[]) => void }>();

  constructor(threads: number, log: Logger) {
    super();
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError('workers must be a positive integer');
    this.#threads = threads;
    this.#log = log;
  }

  get threads(): number {
    return this.#threads;
  }

  async start(): Promise<void> {
    this.#pool = new Piscina({
      filename: new URL('../../workers/session-host.js', import.meta.url).href,
      minThreads: this.#threads,
      maxThreads: this.#threads,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      maxQueue: this.#threads * 2,
    });
    await Promise.all(Array.from({ length: this.#threads }, (_, i) => this.#startHost(i)));
  }

  #startHost(index: number): Promise<void> {
    const pool = this.#pool!;
    const { port1, port2 } = new MessageChannel();
    const host: Host = { index, port: port1, ready: false, sessions: new Set() };
    this.#hosts[index] = host;
    return new Promise<void>((resolve) => {
      port1.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          host.ready = true;
          resolve();
        } else this.#onMessage(host, m);
      });
      pool.run({ port: port2, worker: index }, { transferList: [port2] as never }).then(
        () => this.#hostGone(host, undefined),
        (err: unknown) => this.#hostGone(host, err),
      );
    });
  }

  #hostGone(host: Host, err: unknown): void {
    host.ready = false;
    host.port.close();
    const lost = [...host.sessions];
    host.sessions.clear();
    for (const s of lost) {
      this.#sessionHost.delete(s);
      this.emit('session-ended', s, 'worker thread died');
    }
    if (this.#stopping) return;
    this.#log.error({ err, worker: host.index, sessions: lost.length }, 'worker thread died; replacing it');
    void this.#startHost(host.index);
  }

  #onMessage(host: Host, m: FromWorker): void {
    switch (m.type) {
      case 'session-ended':
        host.sessions.delete(m.session);
        this.#sessionHost.delete(m.session);
        this.emit('session-ended', m.session, m.reason);
        break;
      case 'media-detected':
      case 'became-viewer':
      case 'source-live':
      case 'publisher-resumed':
        this.emit(m.type, m.session);
        break;
      case 'publisher-stalled':
        this.emit('publisher-stalled', m.session, m.quietMs);
        break;
      case 'stats': {
        const w = this.#statsWaiters.get(m.id);
        if (w === undefined) break;
        w.out.push(...m.sessions);
        if (--w.pending === 0) {
          this.#statsWaiters.delete(m.id);
          w.done(w.out);
        }
        break;
      }
      default:
        break;
    }
  }

  /** Hands a session to the least-loaded worker, or to `sameAs`'s worker when given (keeps message order). */
  /** Starts a file source on the least-loaded worker. */
  assignFile(msg: Extract<ToWorker, { type: 'attach-file' }>): number {
    return this.#place(msg, undefined);
  }

  assign(msg: Extract<ToWorker, { type: 'attach' }>, sameAs?: number): number {
    return this.#place(msg, sameAs);
  }

  #place(msg: Extract<ToWorker, { session: number }>, sameAs: number | undefined): number {
    let host = sameAs === undefined ? undefined : this.#sessionHost.get(sameAs);
    if (host === undefined || !host.ready) {
      for (const h of this.#hosts) {
        if (h.ready && (host === undefined || h.sessions.size < host.sessions.size)) host = h;
      }
    }
    if (host === undefined) throw new Error('no worker thread is ready');
    host.sessions.add(msg.session);
    this.#sessionHost.set(msg.session, host);
    host.port.postMessage(msg);
    return host.index;
  }

  workerOf(session: number): number | undefined {
    return this.#sessionHost.get(session)?.index;
  }

  confirmPublisher(session: number): void {
    this.#sessionHost.get(session)?.port.postMessage({ type: 'confirm-publisher', session } satisfies ToWorker);
  }

  closeSession(session: number, reason: string): boolean {
    const host = this.#sessionHost.get(session);
    if (host === undefined) return false;
    host.port.postMessage({ type: 'close-session', session, reason } satisfies ToWorker);
    return true;
  }

  /** Test-only fault injection: makes a worker thread crash. */
  crashWorker(index: number): void {
    this.#hosts[index]?.port.postMessage({ type: 'crash' } satisfies ToWorker);
  }

  /** Statistics of every session on every worker. */
  stats(timeoutMs = 1000): Promise<SessionStats[]> {
    const hosts = this.#hosts.filter((h) => h.ready);
    if (hosts.length === 0) return Promise.resolve([]);
    const id = ++this.#statsId;
    return new Promise((resolve) => {
      const out: SessionStats[] = [];
      const timer = setTimeout(() => {
        this.#statsWaiters.delete(id);
        resolve(out);
      }, timeoutMs);
      this.#statsWaiters.set(id, {
        pending: hosts.length,
        out,
        done: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      });
      for (const h of hosts) h.port.postMessage({ type: 'stats-request', id } satisfies ToWorker);
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const h of this.#hosts) if (h.ready) h.port.postMessage({ type: 'shutdown' } satisfies ToWorker);
    await this.#pool?.destroy();
  }
}
