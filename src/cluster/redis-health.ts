/**
 * Redis connections of a cluster member, and `RedisHealth`: the one place that knows whether
 * Redis can be used right now.
 *
 * Connections (ioredis):
 * - `createCommandConnection`: every command. `enableOfflineQueue: false` and
 *   `maxRetriesPerRequest: 1`, so while Redis is down a command fails at once instead of waiting
 *   in a queue; `commandTimeout` (default 1000 ms), so a Redis that hangs (stopped process,
 *   dropped packets) fails commands within a second instead of never.
 * - `createSubscriberConnection`: pub/sub only (a connection in subscriber mode can do nothing
 *   else). It keeps the offline queue so SUBSCRIBE may be sent before the connection is ready,
 *   and ioredis re-subscribes by itself after a reconnect.
 * Both reconnect forever with capped exponential backoff (`redisBackoff`: 100 ms doubling to 2 s, each ±20 %).
 *
 * `RedisHealth` watches one connection's events ('ready', 'error', 'close', 'reconnecting',
 * 'end') and the outcome of the commands run through `run()`. It logs once per change of state
 * (never once per reconnect attempt), exposes `available`, and emits `unavailable` and
 * `restored` so leases and the node registration can be re-established. A command that times
 * out while the connection looks open marks Redis unavailable too; a PING probe every
 * `probeMs` then notices when it answers again.
 */
import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import { backoffDelay } from '../util/backoff.js';
import type { CommandCounter } from './counter.js';
import { ClusterUnavailableError, classifyRedisError } from './errors.js';

export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_MIN_BACKOFF_MS = 100;
export const DEFAULT_MAX_BACKOFF_MS = 2000;

export interface RedisConnectionOptions {
  /** A command with no reply within this fails (ERR_CLUSTER_UNAVAILABLE). Default 1000 ms. */
  commandTimeoutMs?: number;
  /** TCP (and TLS) connect timeout. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** First reconnect delay; it doubles per failed attempt. Default 100 ms. */
  minBackoffMs?: number;
  /** Reconnect delay cap. Default 2000 ms. */
  maxBackoffMs?: number;
  /** CLIENT SETNAME, shown by `redis-cli client list`. */
  connectionName?: string;
}

/** Delay before reconnect attempt `attempt` (1, 2, ...): min·2^(attempt-1), at most max, ±20 % (backoffDelay). */
export function redisBackoff(attempt: number, minMs = DEFAULT_MIN_BACKOFF_MS, maxMs = DEFAULT_MAX_BACKOFF_MS, random?: () => number): number {
  return backoffDelay(attempt, { baseMs: minMs, maxMs, ...(random !== undefined ? { random } : {}) });
}

function baseOptions(opts: RedisConnectionOptions): RedisOptions {
  const min = opts.minBackoffMs ?? DEFAULT_MIN_BACKOFF_MS;
  const max = opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  return {
    lazyConnect: true,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt: number) => redisBackoff(attempt, min, max),
    // Reconnect (and so re-run the ready check) when a replica is promoted or the server loads.
    reconnectOnError: (err: Error) => /^(READONLY|LOADING)\b/.test(err.message),
    ...(opts.connectionName !== undefined ? { connectionName: opts.connectionName } : {}),
  };
}

/** The command connection: fails fast while Redis is down. Call `connect()` on it. */
export function createCommandConnection(url: string, opts: RedisConnectionOptions = {}): Redis {
  return new Redis(url, {
    ...baseOptions(opts),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
  });
}

/** The pub/sub connection: queues SUBSCRIBE until ready, re-subscribes after reconnects. */
export function createSubscriberConnection(url: string, opts: RedisConnectionOptions = {}): Redis {
  return new Redis(url, {
    ...baseOptions(opts),
    enableOfflineQueue: true,
    autoResubscribe: true,
    maxRetriesPerRequest: null,
  });
}

export type RedisState = 'connecting' | 'ready' | 'unavailable' | 'closed';

export interface RedisHealthOptions {
  logger?: Logger;
  /** Which connection this is, for logs: `commands` or `subscriber`. Default `commands`. */
  role?: string;
  /** PING interval while the connection is open but Redis does not answer. Default 1000 ms. 0: no probe. */
  probeMs?: number;
  /** Counts the probe PINGs (op `health.probe`). */
  counter?: CommandCounter;
}

export interface RedisHealthEvents {
  /** Every change of state, with the reason for `unavailable`. */
  state: [state: RedisState, reason: string | undefined];
  /** Redis became unusable (logged once as a warning). */
  unavailable: [reason: string];
  /** Redis is usable again after being unavailable for `downMs`: re-claim, re-register, resync. */
  restored: [downMs: number];
  /** The connection became usable (the first time, and after every outage). */
  ready: [];
}

/** Watches one ioredis connection; see the module comment. */
export class RedisHealth extends EventEmitter<RedisHealthEvents> {
  readonly #conn: Redis;
  readonly #log: Logger;
  readonly #role: string;
  readonly #probeMs: number;
  readonly #counter: CommandCounter | undefined;
  #state: RedisState;
  #reason: string | undefined;
  #since = Date.now();
  #lastError: string | undefined;
  #probe: NodeJS.Timeout | undefined;
  #probing = false;
  #closing = false;
  readonly #handlers: Array<[string, (...args: never[]) => void]> = [];

  constructor(conn: Redis, opts: RedisHealthOptions = {}) {
    super();
    this.#conn = conn;
    this.#log = (opts.logger ?? silentLogger()).child({ component: 'redis', connection: opts.role ?? 'commands' });
    this.#role = opts.role ?? 'commands';
    this.#probeMs = opts.probeMs ?? 1000;
    this.#counter = opts.counter;
    this.#state = conn.status === 'ready' ? 'ready' : 'connecting';
    this.#on('ready', () => this.#up());
    this.#on('error', (err: Error) => {
      this.#lastError = err.message || String(err);
      // The first connection attempt failing: unavailable from the start.
      if (this.#state === 'connecting') this.#down(this.#lastError);
    });
    this.#on('close', () => this.#connectionLost());
    this.#on('reconnecting', () => this.#connectionLost());
    this.#on('end', () => {
      if (this.#closing) this.#set('closed', undefined);
      else this.#connectionLost();
    });
  }

  #on(event: string, fn: (...args: never[]) => void): void {
    this.#conn.on(event, fn as (...args: unknown[]) => void);
    this.#handlers.push([event, fn]);
  }

  /** True when commands may be sent (connected, and the last command or probe got a reply). */
  get available(): boolean {
    return this.#state === 'ready';
  }

  get state(): RedisState {
    return this.#state;
  }

  /** Why Redis is unavailable (the last connection error, or "no reply within ..."). */
  get reason(): string | undefined {
    return this.#reason;
  }

  /** When the current state began (ms since the epoch). */
  get since(): number {
    return this.#since;
  }

  /** Resolves true once available, false after `timeoutMs` (or when closed). */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.available) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const onState = (state: RedisState): void => {
        if (state === 'ready' || state === 'closed') finish(state === 'ready');
      };
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.off('state', onState);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.on('state', onState);
    });
  }

  /** Throws ERR_CLUSTER_UNAVAILABLE (`op` names what needed Redis) unless Redis is available. */
  assertAvailable(op: string): void {
    if (!this.available) throw new ClusterUnavailableError(op, this.#reason ?? this.#stateText());
  }

  /**
   * Runs `fn` (which sends Redis commands) if Redis is available. Connection failures and
   * timeouts become ERR_CLUSTER_UNAVAILABLE; other errors (bugs) are rethrown as they are.
   */
  async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    this.assertAvailable(op);
    try {
      return await fn();
    } catch (err) {
      throw this.failure(op, err);
    }
  }

  /**
   * The error to throw for an ioredis failure of `op`: ERR_CLUSTER_UNAVAILABLE for connection
   * trouble (a timeout also marks Redis unavailable), `err` itself otherwise.
   */
  failure(op: string, err: unknown): unknown {
    const kind = classifyRedisError(err);
    if (kind === 'other') return err;
    const message = (err as Error).message;
    if (kind === 'timeout') this.#unresponsive(message);
    return new ClusterUnavailableError(op, kind === 'timeout' ? 'no reply in time' : message, { cause: err });
  }

  /** Stops the probe and marks the connection closed on purpose (no warning when it ends). */
  close(): void {
    this.#closing = true;
    this.#stopProbe();
    if (this.#conn.status === 'end') this.#set('closed', undefined);
  }

  /** Removes this watcher's listeners from the connection (after the connection has ended). */
  detach(): void {
    for (const [event, fn] of this.#handlers) this.#conn.off(event, fn as (...args: unknown[]) => void);
    this.#handlers.length = 0;
    // ioredis reports 'error' events nobody listens to on the console: keep one no-op listener.
    this.#conn.on('error', () => undefined);
  }

  #stateText(): string {
    return this.#state === 'closed' ? 'the cluster connection is closed' : 'not connected yet';
  }

  #set(state: RedisState, reason: string | undefined): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#reason = reason;
    this.#since = Date.now();
    this.emit('state', state, reason);
  }

  #up(): void {
    if (this.#state === 'ready' || this.#closing) return;
    this.#stopProbe();
    const prev = this.#state;
    const downMs = Date.now() - this.#since;
    this.#set('ready', undefined);
    if (prev === 'unavailable') {
      this.#log.info({ downMs }, `Redis available again (${this.#role} connection)`);
      this.emit('ready');
      this.emit('restored', downMs);
    } else {
      this.#log.info(`connected to Redis (${this.#role} connection)`);
      this.emit('ready');
    }
  }

  #connectionLost(): void {
    if (this.#closing) return;
    this.#down(this.#lastError ?? 'connection closed');
  }

  #down(reason: string): void {
    if (this.#closing || this.#state === 'unavailable' || this.#state === 'closed') return;
    this.#set('unavailable', reason);
    this.#log.warn(
      { reason },
      `Redis unavailable (${this.#role} connection): what needs Redis is refused (1503) until it returns; reconnecting with backoff`,
    );
    this.emit('unavailable', reason);
  }

  /** A command timed out on an open connection: Redis hangs. Probe until it answers. */
  #unresponsive(message: string): void {
    if (this.#closing) return;
    this.#down(`Redis does not answer (${message})`);
    if (this.#probe !== undefined || this.#probeMs <= 0) return;
    this.#probe = setInterval(() => this.#runProbe(), this.#probeMs);
    this.#probe.unref();
  }

  #runProbe(): void {
    if (this.#probing || this.#conn.status !== 'ready') return; // a reconnect will emit 'ready'
    this.#probing = true;
    this.#counter?.add('health.probe');
    this.#conn.ping().then(
      () => {
        this.#probing = false;
        this.#up();
      },
      () => {
        this.#probing = false;
      },
    );
  }

  #stopProbe(): void {
    if (this.#probe !== undefined) clearInterval(this.#probe);
    this.#probe = undefined;
  }
}
