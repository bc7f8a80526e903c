/**
 * WorkerPool: the supervisor's view of the session-hosting worker threads. Each worker slot has
 * its own one-thread piscina pool running one long-lived host task, so a slot can be restarted
 * on its own: a worker that dies is replaced at once, one that cannot start (piscina reports
 * ERR_WORKER_INIT_FAILED, e.g. EMFILE) is retried with backoff while the other slots serve. This
 * class routes sessions to the least-loaded running host, relays their messages, and ends the
 * sessions a dead worker took down with it (closing their sockets).
 *
 * A session handed to assign() is always either running on a worker or ended ('session-ended'):
 * when no worker is running, its socket is closed and it ends on the next tick.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { SrtRelayError } from '../errors.js';
import type { Logger } from '../logging.js';
import { SrtSocket } from '../srt/socket.js';
import { backoffDelay, RETRY_STEPS_MS } from '../util/backoff.js';
import type { FromWorker, SessionStats, ToWorker } from './messages.js';

export type WorkerState = 'starting' | 'running' | 'retrying' | 'stopped';

/** One worker slot as the API shows it. */
export interface WorkerStatus {
  index: number;
  state: WorkerState;
  sessions: number;
  /** Times a running worker of this slot died and was replaced. */
  restarts: number;
  /** Failed starts in a row (0 once it runs). */
  failures: number;
  lastError?: string;
  /** When state is 'retrying': the next start attempt, in ms from now. */
  retryInMs?: number;
}

interface Host {
  index: number;
  state: WorkerState;
  pool: Piscina | undefined;
  port: MessagePort | undefined;
  ready: boolean;
  readyAt: number;
  sessions: Set<number>;
  restarts: number;
  failures: number;
  lastError: string | undefined;
  timer: NodeJS.Timeout | undefined;
  retryAt: number;
  /** Bumped on every start and every loss, so callbacks of an older worker are ignored. */
  generation: number;
}

export interface WorkerPoolEvents {
  'session-ended': [session: number, reason: string];
  'media-detected': [session: number];
  'became-viewer': [session: number];
  'source-live': [session: number];
  'publisher-stalled': [session: number, quietMs: number];
  'publisher-resumed': [session: number];
  /** The number of running workers changed. */
  'workers-changed': [running: number];
}

/** Delays between start attempts of a slot that cannot start (the last one repeats). */
export const WORKER_RETRY_MS = RETRY_STEPS_MS;
/** At start-up, every slot failing this many times in a row (none running) is fatal. */
export const WORKER_START_ATTEMPTS = 3;
/** A worker that dies sooner than this after it started counts as a failed start (backoff). */
const MIN_HEALTHY_RUN_MS = 1000;

/** Test-only fault injection: the next `count` worker starts fail as if the thread could not start. */
export const workerStartFaults = { count: 0 };

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #threads: number;
  readonly #log: Logger;
  readonly #hosts: Host[] = [];
  readonly #sessionHost = new Map<number, Host>();
  /** Socket of each attached session: closed here if its worker dies before closing it. */
  readonly #sessionSock = new Map<number, number>();
  #stopping = false;
  #statsId = 0;
  readonly #statsWaiters = new Map<number, { pending: number; out: SessionStats[]; done: (s: SessionStats[]) => void }>();
  #startWait: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #running = 0;

  constructor(threads: number, log: Logger) {
    super();
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError('workers must be a positive integer');
    this.#threads = threads;
    this.#log = log;
  }

  get threads(): number {
    return this.#threads;
  }

  /** Workers that run and take sessions now. */
  get running(): number {
    return this.#running;
  }

  /**
   * Starts every worker. Resolves once each slot has started or failed its first attempt, with
   * at least one running (the others keep retrying); rejects with ERR_WORKERS_UNAVAILABLE when
   * every slot failed WORKER_START_ATTEMPTS times in a row.
   */
  start(): Promise<void> {
    for (let i = 0; i < this.#threads; i++) {
      const host: Host = {
        index: i,
        state: 'starting',
        pool: undefined,
        port: undefined,
        ready: false,
        readyAt: 0,
        sessions: new Set(),
        restarts: 0,
        failures: 0,
        lastError: undefined,
        timer: undefined,
        retryAt: 0,
        generation: 0,
      };
      this.#hosts[i] = host;
    }
    const started = new Promise<void>((resolve, reject) => {
      this.#startWait = { resolve, reject };
    });
    for (const h of this.#hosts) this.#startHost(h);
    return started;
  }

  #checkStart(): void {
    const w = this.#startWait;
    if (w === undefined) return;
    const anyRunning = this.#hosts.some((h) => h.ready);
    if (anyRunning && this.#hosts.every((h) => h.ready || h.failures >= 1)) {
      this.#startWait = undefined;
      w.resolve();
    } else if (!anyRunning && this.#hosts.every((h) => h.failures >= WORKER_START_ATTEMPTS)) {
      this.#startWait = undefined;
      const last = this.#hosts.find((h) => h.lastError !== undefined)?.lastError ?? 'unknown error';
      w.reject(
        new SrtRelayError(
          'ERR_WORKERS_UNAVAILABLE',
          `no worker thread could start (${this.#threads} tried ${WORKER_START_ATTEMPTS} times each; last error: ${last}): raise the file-descriptor limit (ulimit -n) or lower workers`,
          { workers: this.#threads, attempts: WORKER_START_ATTEMPTS, lastError: last },
        ),
      );
    }
  }

  #startHost(host: Host): void {
    if (this.#stopping) return;
    const gen = ++host.generation;
    host.state = 'starting';
    host.timer = undefined;
    try {
      if (workerStartFaults.count > 0) {
        workerStartFaults.count--;
        throw Object.assign(new Error('Worker initialization failure: injected fault (test)'), { code: 'ERR_WORKER_INIT_FAILED' });
      }
      // minThreads 0: the slot's one thread exists for its one long task. With 1, piscina replaces
      // a crashed thread by itself, also after (or while) this pool is destroyed: that thread is
      // never terminated and waits in Atomics.wait forever, with its heap and fds (seen: +1 thread,
      // +4 fds, ~8 MB per few worker kills). The slot's restart is ours (#hostGone, backoff).
      const pool = new Piscina({
        filename: new URL('../../workers/session-host.js', import.meta.url).href,
        minThreads: 0,
        maxThreads: 1,
        concurrentTasksPerWorker: 1,
        idleTimeout: Number.POSITIVE_INFINITY,
        maxQueue: 1,
      });
      host.pool = pool;
      // Without a listener an 'error' (a worker that cannot start: ERR_WORKER_INIT_FAILED) kills the process.
      pool.on('error', (err: unknown) => this.#hostGone(host, gen, err));
      const { port1, port2 } = new MessageChannel();
      host.port = port1;
      port1.on('message', (m: FromWorker) => {
        if (gen !== host.generation) return;
        if (m.type === 'ready') this.#hostReady(host);
        else this.#onMessage(host, m);
      });
      pool.run({ port: port2, worker: host.index }, { transferList: [port2] as never }).then(
        () => this.#hostGone(host, gen, undefined),
        (err: unknown) => this.#hostGone(host, gen, err),
      );
    } catch (err) {
      this.#hostGone(host, gen, err);
    }
  }

  #hostReady(host: Host): void {
    host.ready = true;
    host.readyAt = performance.now();
    host.state = 'running';
    if (host.failures > 0) this.#log.info({ worker: host.index, after: host.failures }, 'worker thread started after failed attempts');
    host.failures = 0;
    host.lastError = undefined;
    this.#countRunning();
    this.#checkStart();
  }

  #countRunning(): void {
    const running = this.#hosts.filter((h) => h.ready).length;
    if (running === this.#running) return;
    this.#running = running;
    this.emit('workers-changed', running);
  }

  /** The worker of `host` ended (err: died or could not start; undefined: after shutdown). */
  #hostGone(host: Host, gen: number, err: unknown): void {
    if (gen !== host.generation) return;
    host.generation++;
    const wasReady = host.ready;
    const ranMs = wasReady ? performance.now() - host.readyAt : 0;
    host.ready = false;
    host.port?.close();
    host.port = undefined;
    const pool = host.pool;
    host.pool = undefined;
    if (pool !== undefined) void pool.destroy().catch(() => undefined);
    const lost = [...host.sessions];
    host.sessions.clear();
    for (const s of lost) {
      this.#sessionHost.delete(s);
      const sock = this.#sessionSock.get(s);
      this.#sessionSock.delete(s);
      // Adopted by the dead worker (its clean-up closed it) or still in flight to it: close it either way.
      if (sock !== undefined) SrtSocket.closeDetached(sock);
      this.emit('session-ended', s, 'worker thread died');
    }
    this.#countRunning();
    if (this.#stopping) {
      host.state = 'stopped';
      return;
    }
    host.lastError = errorText(err ?? new Error('worker task ended'));
    if (wasReady && ranMs >= MIN_HEALTHY_RUN_MS) {
      host.restarts++;
      this.#log.error({ err, worker: host.index, sessions: lost.length }, 'worker thread died; replacing it');
      this.#startHost(host);
      return;
    }
    if (wasReady) host.restarts++;
    host.failures++;
    const delay = backoffDelay(host.failures, { steps: WORKER_RETRY_MS });
    host.state = 'retrying';
    host.retryAt = performance.now() + delay;
    this.#log.error(
      { worker: host.index, attempt: host.failures, retryInMs: delay, running: this.#running, workers: this.#threads, err: host.lastError },
      this.#running === 0
        ? 'worker thread could not start and no worker runs: SRT callers are refused with 1503 until one starts (raise the file-descriptor limit, ulimit -n, or lower workers)'
        : 'worker thread could not start; the other workers serve, retrying',
    );
    // Not unref'd: during start() nothing else may keep the process alive; stop() clears it.
    host.timer = setTimeout(() => this.#startHost(host), delay);
    this.#checkStart();
  }

  #onMessage(host: Host, m: FromWorker): void {
    switch (m.type) {
      case 'session-ended':
        host.sessions.delete(m.session);
        this.#sessionHost.delete(m.session);
        this.#sessionSock.delete(m.session);
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
      case 'handler-error':
        this.#log.error({ worker: host.index, ...m.context, err: { message: m.message, stack: m.stack } }, 'a reactor handler threw on a worker thread; its session was closed, the others go on');
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

  /** Starts a file source on the least-loaded worker; undefined (and it ends) when none runs. */
  assignFile(msg: Extract<ToWorker, { type: 'attach-file' }>): number | undefined {
    return this.#place(msg, undefined, undefined);
  }

  /**
   * Hands a session to the least-loaded worker, or to `sameAs`'s worker when given (keeps message
   * order). Returns the worker; undefined when none runs: then the socket is closed and the
   * session ends ('session-ended') on the next tick, so it is never listed without a worker.
   */
  assign(msg: Extract<ToWorker, { type: 'attach' }>, sameAs?: number): number | undefined {
    return this.#place(msg, sameAs, msg.sock);
  }

  #place(msg: Extract<ToWorker, { session: number }>, sameAs: number | undefined, sock: number | undefined): number | undefined {
    let host = sameAs === undefined ? undefined : this.#sessionHost.get(sameAs);
    if (host === undefined || !host.ready) {
      host = undefined;
      for (const h of this.#hosts) {
        if (h.ready && (host === undefined || h.sessions.size < host.sessions.size)) host = h;
      }
    }
    if (host === undefined || host.port === undefined) {
      if (sock !== undefined) SrtSocket.closeDetached(sock);
      const session = msg.session;
      process.nextTick(() => this.emit('session-ended', session, 'no worker thread is running'));
      return undefined;
    }
    host.sessions.add(msg.session);
    this.#sessionHost.set(msg.session, host);
    if (sock !== undefined) this.#sessionSock.set(msg.session, sock);
    host.port.postMessage(msg);
    return host.index;
  }

  workerOf(session: number): number | undefined {
    return this.#sessionHost.get(session)?.index;
  }

  confirmPublisher(session: number): void {
    this.#sessionHost.get(session)?.port?.postMessage({ type: 'confirm-publisher', session } satisfies ToWorker);
  }

  closeSession(session: number, reason: string): boolean {
    const host = this.#sessionHost.get(session);
    if (host?.port === undefined) return false;
    host.port.postMessage({ type: 'close-session', session, reason } satisfies ToWorker);
    return true;
  }

  /** Test-only fault injection: makes a worker thread crash. */
  crashWorker(index: number): void {
    this.#hosts[index]?.port?.postMessage({ type: 'crash' } satisfies ToWorker);
  }

  /** Every worker slot: state, sessions, restarts, failed starts. */
  status(): WorkerStatus[] {
    const now = performance.now();
    return this.#hosts.map((h) => ({
      index: h.index,
      state: h.state,
      sessions: h.sessions.size,
      restarts: h.restarts,
      failures: h.failures,
      ...(h.lastError !== undefined ? { lastError: h.lastError } : {}),
      ...(h.state === 'retrying' ? { retryInMs: Math.max(0, Math.round(h.retryAt - now)) } : {}),
    }));
  }

  /** Statistics of every session on every worker. */
  stats(timeoutMs = 1000): Promise<SessionStats[]> {
    const hosts = this.#hosts.filter((h) => h.ready && h.port !== undefined);
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
      for (const h of hosts) h.port!.postMessage({ type: 'stats-request', id } satisfies ToWorker);
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const pools: Piscina[] = [];
    for (const h of this.#hosts) {
      clearTimeout(h.timer);
      h.timer = undefined;
      if (h.ready) h.port?.postMessage({ type: 'shutdown' } satisfies ToWorker);
      if (h.pool !== undefined) pools.push(h.pool);
    }
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
    for (const h of this.#hosts) h.state = 'stopped';
  }
}
